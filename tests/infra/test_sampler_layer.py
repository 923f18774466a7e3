"""optuna lives in a layer of its own (issue 13), attached to the search workflow's ask and watch
step Lambdas only; it repeats no package of the core layer and both fit Lambda's size limit."""

from __future__ import annotations

import pytest

from infra import packaging
from infra.stacks.workflow_access import SAMPLER_STEPS

pytestmark = pytest.mark.infra


def test_the_sampler_layer_holds_optuna_and_nothing_of_the_core_layer(lambda_assets):
    assert lambda_assets.sampler_layer_dir is not None
    sampler = {p.name for p in (lambda_assets.sampler_layer_dir / "python").iterdir()}
    core = {packaging._top_name(p.name) for p in (lambda_assets.layer_dir / "python").iterdir()}
    assert {"optuna", "cmaes"} <= sampler
    assert not {packaging._top_name(n) for n in sampler} & core
    assert not {"torch", "scipy", "runtime", "domain"} & sampler
    total = packaging.tree_bytes(lambda_assets.layer_dir) + packaging.tree_bytes(lambda_assets.sampler_layer_dir)
    assert total + max(packaging.tree_bytes(d) for d in lambda_assets.function_dirs.values()) < (
        packaging.LAYER_LIMIT_BYTES
    )


def test_only_the_ask_and_watch_steps_get_the_sampler_layer(templates):
    resources = templates["Workflows"]["Resources"]
    layers = {k for k, r in resources.items() if r["Type"] == "AWS::Lambda::LayerVersion"}
    sampler = {k for k in layers if "Sampler" in k}
    assert len(sampler) == 1
    steps = {}
    for r in resources.values():
        if r["Type"] == "AWS::Lambda::Function":
            env = r["Properties"].get("Environment", {}).get("Variables", {})
            if "TLM_STEP" in env:
                steps[env["TLM_STEP"]] = [ref["Ref"] for ref in r["Properties"]["Layers"]]
    for name, refs in steps.items():
        assert (set(refs) & sampler != set()) is (name in SAMPLER_STEPS), (name, refs)
        assert len(refs) == (2 if name in SAMPLER_STEPS else 1)
