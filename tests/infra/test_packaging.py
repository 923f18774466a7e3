"""Lambda packaging: the layer and the function bundles stay light and under Lambda's size limit."""

from __future__ import annotations

import re

import pytest

from infra import packaging

pytestmark = pytest.mark.infra

HEAVY_IMPORT = re.compile(r"^\s*(?:import|from)\s+(torch|transformers|sagemaker|onnx\w*)\b", re.M)


def test_core_requirements_exclude_heavy_packages():
    reqs = packaging.core_requirements()
    assert reqs, "pyproject has no core dependencies"
    assert not [r for r in reqs if packaging.forbidden_name(packaging._dist_name(r))]
    assert packaging.forbidden_name("onnxruntime") and packaging.forbidden_name("torch")
    assert not packaging.forbidden_name("boto3")


def test_layer_holds_runtime_domain_and_core_deps_without_heavy_packages(lambda_assets):
    # Given the built layer
    python_dir = lambda_assets.layer_dir / "python"
    top = {p.name for p in python_dir.iterdir()}
    # Then it has our packages and the core dependencies, and nothing heavy
    assert {"runtime", "domain", "pydantic", "aws_lambda_powertools", "jieba"} <= top
    assert packaging.forbidden_packages(python_dir) == []
    assert not any(n.startswith(("torch", "transformers", "sagemaker", "onnx")) for n in top)
    # And our own code in it imports none of them
    offenders = [
        str(p)
        for sub in ("runtime", "domain")
        for p in (python_dir / sub).rglob("*.py")
        if HEAVY_IMPORT.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_function_bundles_hold_only_functions_code(lambda_assets):
    for group, bundle in lambda_assets.function_dirs.items():
        assert [p.name for p in bundle.iterdir()] == ["functions"], group
        assert (bundle / "functions" / "__init__.py").exists()
        assert packaging.forbidden_packages(bundle) == []
        others = {p.name for p in (bundle / "functions").iterdir() if p.is_dir()} - {group}
        assert others == set(), f"{group} bundle carries other groups: {others}"
        offenders = [str(p) for p in bundle.rglob("*.py") if HEAVY_IMPORT.search(p.read_text(encoding="utf-8"))]
        assert offenders == [], offenders


def test_layer_unzipped_size_is_under_the_lambda_limit(lambda_assets):
    size = packaging.tree_bytes(lambda_assets.layer_dir)
    largest_function = max(packaging.tree_bytes(d) for d in lambda_assets.function_dirs.values())
    print(
        f"\nlayer unzipped: {size / 1024 / 1024:.1f} MB ({lambda_assets.platform}, python "
        f"{lambda_assets.python_version}); largest function bundle: {largest_function / 1024:.1f} KB"
    )
    assert size == lambda_assets.layer_bytes
    assert size + largest_function < packaging.LAYER_LIMIT_BYTES
