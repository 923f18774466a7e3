"""Build the Lambda assets: the runtime layer and one code bundle per entry-point group.

Layout under ``out`` (default ``.cache/lambda``)::

    layer/python/{domain,runtime,<core dependencies>}   -> LayerVersion asset
    functions/<group>/functions/{__init__.py,*.py,<group>/} -> Function code asset (group = api, ...)
    manifest.json                                        -> python version, platform, sizes, input hash

Decisions (see also infra/README.md):

* The layer holds ``domain``, ``runtime`` and the *core* ``[project].dependencies`` of pyproject.toml
  (the light set; torch/transformers/sagemaker/onnx live in the ``jobs`` extra and are refused here).
* Dependencies are pip-installed with ``--target --only-binary=:all:`` for the Lambda platform
  (CPython ``LAMBDA_PYTHON`` on ``manylinux2014_x86_64``). Sdist-only dependencies (jieba, zhconv)
  are first built into a local wheelhouse with ``pip wheel --no-deps``; they are pure Python, so the
  ``py3-none-any`` wheels serve every platform.
* Offline, when wheels for the Lambda platform cannot be fetched, the build falls back to the local
  interpreter's platform (this machine: CPython 3.11, linux x86_64, manylinux-compatible) and the
  manifest records that Python version; the stacks take the Lambda runtime from the manifest, so the
  layer and the runtime always agree.
* Nothing is byte-compiled (``--no-compile``): pyc files for the build interpreter would be useless
  (and only add size) for another Python version.
* Function bundles copy ``functions/`` code only: the shared top-level modules of the package plus the
  group folder. Everything else a handler imports comes from the layer.

Run: ``python -m infra.packaging [--out DIR] [--force]``; it prints the manifest (sizes included).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / ".cache" / "lambda"
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAYER_LIMIT_BYTES = 250 * 1024 * 1024  # Lambda: function + layers, unzipped
FUNCTION_GROUPS = ("api", "projector", "triggers", "steps", "events")
# distributions that must never reach a Lambda bundle (heavy ML stacks; DESIGN.md section 5)
FORBIDDEN = ("torch", "transformers", "sagemaker", "onnx")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache")
_SOURCES = (("domain", REPO / "domain"), ("runtime", REPO / "layers" / "runtime" / "runtime"))
# optuna's own layer (DESIGN: never in the core layer), for the search workflow's ask and watch steps
# (runtime.adapters.optuna_sampler, imported lazily). Without scipy (the sobol strategy) and torch
# (gp): those strategies run on the local backend only. Packages the core layer has are left out.
SAMPLER_REQUIREMENTS = ["optuna==5.0.0", "cmaes==0.13.1"]


@dataclass(frozen=True)
class LambdaAssets:
    root: Path
    layer_dir: Path
    function_dirs: dict[str, Path]
    python_version: str
    platform: str
    layer_bytes: int
    sampler_layer_dir: Path | None = None

    @property
    def layer_mb(self) -> float:
        return self.layer_bytes / 1024 / 1024


def core_requirements(pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    deps = list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])
    bad = [d for d in deps if forbidden_name(_dist_name(d))]
    if bad:
        raise ValueError(f"core dependencies must stay light; refusing {bad}")
    return deps


def _dist_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def forbidden_name(name: str) -> bool:
    """True for torch*, transformers*, sagemaker*, onnx* (onnxruntime, onnxscript ...)."""
    n = name.lower().replace("_", "-")
    return any(n == f or n.startswith(f) for f in FORBIDDEN)


def forbidden_packages(site_dir: Path) -> list[str]:
    """Top-level packages, modules and ``*.dist-info`` folders of an install dir (a layer's
    ``python/`` or a function bundle root) that are forbidden in a Lambda bundle. Only the top level
    counts: botocore legitimately ships ``botocore/data/sagemaker`` API models."""
    found = []
    for path in site_dir.iterdir():
        name = path.name.split("-")[0] if path.suffix in (".dist-info", ".egg-info") else path.stem
        if forbidden_name(name):
            found.append(path.name)
    return sorted(found)


def tree_bytes(tree: Path) -> int:
    return sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and not p.is_symlink())


def _digest_files(h: hashlib._Hash, root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
            h.update(str(p.relative_to(REPO)).encode())
            h.update(p.read_bytes())


def _deps_key(reqs: list[str]) -> str:
    return hashlib.sha256(json.dumps([reqs, LAMBDA_PYTHON, LAMBDA_PLATFORM]).encode()).hexdigest()[:16]


def _sources_key(deps_key: str) -> str:
    h = hashlib.sha256(deps_key.encode())
    for _, src in _SOURCES:
        _digest_files(h, src)
    _digest_files(h, REPO / "functions")
    return h.hexdigest()[:16]


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603


def _install_deps(reqs: list[str], target: Path, wheelhouse: Path) -> tuple[str, str]:
    """pip install the core dependencies into ``target``; returns (python version, platform tag)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    built = _pip("wheel", "--no-deps", "-q", "-w", str(wheelhouse), *reqs)
    if built.returncode != 0:
        raise RuntimeError(f"pip wheel failed:\n{built.stderr[-4000:]}")
    common = ["install", "-q", "--no-compile", "--only-binary=:all:", "--find-links", str(wheelhouse)]
    abi = "cp" + LAMBDA_PYTHON.replace(".", "")
    lam = _pip(
        *common,
        "--target",
        str(target),
        "--platform",
        LAMBDA_PLATFORM,
        "--python-version",
        LAMBDA_PYTHON,
        "--implementation",
        "cp",
        "--abi",
        abi,
        *reqs,
    )
    if lam.returncode == 0:
        return LAMBDA_PYTHON, LAMBDA_PLATFORM
    shutil.rmtree(target, ignore_errors=True)
    local = _pip(*common, "--target", str(target), *reqs)
    if local.returncode != 0:
        raise RuntimeError(
            f"pip install failed for the Lambda platform:\n{lam.stderr[-3000:]}\n"
            f"and for the local platform:\n{local.stderr[-3000:]}"
        )
    print(
        f"warning: no {LAMBDA_PLATFORM} wheels for CPython {LAMBDA_PYTHON} (offline?); the layer "
        f"was built for the local interpreter and the stacks will use its Python version",
        file=sys.stderr,
    )
    return f"{sys.version_info.major}.{sys.version_info.minor}", "local"


def _copy_functions(out: Path) -> dict[str, Path]:
    src = REPO / "functions"
    dirs = {}
    for group in FUNCTION_GROUPS:
        dest = out / "functions" / group
        pkg = dest / "functions"
        pkg.mkdir(parents=True)
        for f in src.glob("*.py"):
            shutil.copy2(f, pkg / f.name)
        if (src / group).is_dir():
            shutil.copytree(src / group, pkg / group, ignore=_IGNORE)
        dirs[group] = dest
    return dirs


JOBS_IMAGE_FILES = ("pyproject.toml", "README.md", ".dockerignore")


def stage_jobs_image(dest: Path) -> Path:
    """The jobs image's Docker build context: ``pyproject.toml`` (the ``jobs`` extra's pins),
    ``README.md`` (the project's readme), ``jobs/`` with ``jobs/Dockerfile`` - nothing else, so CDK
    hashes and copies a few hundred kB, not the repository. Rewritten only when it changed."""
    staging = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in JOBS_IMAGE_FILES:
        shutil.copy2(REPO / name, staging / name)
    shutil.copytree(REPO / "jobs", staging / "jobs", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    h_new, h_old = hashlib.sha256(), hashlib.sha256()
    for h, root in ((h_new, staging), (h_old, dest)):
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    if h_new.digest() == h_old.digest():
        shutil.rmtree(staging)
    else:
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    return dest


def build(out: Path = DEFAULT_OUT, *, force: bool = False) -> LambdaAssets:
    """Build (or reuse) the layer and function bundles under ``out``; cheap when nothing changed."""
    out = Path(out)
    reqs = core_requirements()
    deps_key = _deps_key(reqs)
    key = _sources_key(deps_key + _deps_key(SAMPLER_REQUIREMENTS))
    manifest_path = out / "manifest.json"
    if not force and manifest_path.exists():
        m = json.loads(manifest_path.read_text())
        if m.get("input_hash") == key:
            return _assets(out, m)

    deps_dir = out / "deps" / deps_key
    deps_meta = deps_dir.with_suffix(".json")
    if force or not deps_meta.exists():
        shutil.rmtree(deps_dir, ignore_errors=True)
        py, plat = _install_deps(reqs, deps_dir, out / "wheelhouse")
        deps_meta.write_text(json.dumps({"python": py, "platform": plat, "requirements": reqs}))
    deps = json.loads(deps_meta.read_text())

    for stale in ("layer", "functions"):
        shutil.rmtree(out / stale, ignore_errors=True)
    python_dir = out / "layer" / "python"
    shutil.copytree(deps_dir, python_dir, ignore=_IGNORE, copy_function=_link_or_copy)
    shutil.rmtree(python_dir / "bin", ignore_errors=True)  # console scripts: nothing runs them on Lambda
    for name, src in _SOURCES:
        shutil.copytree(src, python_dir / name, ignore=_IGNORE)
    function_dirs = _copy_functions(out)
    sampler_bytes = _build_sampler(out, python_dir)

    layer_bytes = tree_bytes(out / "layer")
    manifest = {
        "input_hash": key,
        "python": deps["python"],
        "platform": deps["platform"],
        "requirements": reqs,
        "layer_bytes": layer_bytes,
        "layer_mb": round(layer_bytes / 1024 / 1024, 1),
        "function_bytes": {g: tree_bytes(d) for g, d in function_dirs.items()},
        "limit_bytes": LAYER_LIMIT_BYTES,
        "sampler_requirements": SAMPLER_REQUIREMENTS,
        "sampler_bytes": sampler_bytes,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return _assets(out, manifest)


def _top_name(entry: str) -> str:
    """``PyYAML-6.0.4.dist-info`` -> ``pyyaml``; ``yaml`` -> ``yaml``; ``six.py`` -> ``six``."""
    base = entry.split("-")[0] if entry.endswith((".dist-info", ".data")) else entry.removesuffix(".py")
    return base.lower().replace("-", "_")


def _build_sampler(out: Path, core_python: Path) -> int:
    """``out/sampler/python``: SAMPLER_REQUIREMENTS minus what the core layer has (layers merge into
    one /opt/python; a second copy of a package would overwrite the core layer's)."""
    deps_dir = out / "deps" / f"sampler-{_deps_key(SAMPLER_REQUIREMENTS)}"
    meta = deps_dir.with_suffix(".json")
    if not meta.exists():
        shutil.rmtree(deps_dir, ignore_errors=True)
        py, plat = _install_deps(SAMPLER_REQUIREMENTS, deps_dir, out / "wheelhouse")
        meta.write_text(json.dumps({"python": py, "platform": plat, "requirements": SAMPLER_REQUIREMENTS}))
    shutil.rmtree(out / "sampler", ignore_errors=True)
    dest = out / "sampler" / "python"
    dest.mkdir(parents=True)
    core = {_top_name(p.name) for p in core_python.iterdir()}
    for entry in sorted(deps_dir.iterdir()):
        if entry.name == "bin" or _top_name(entry.name) in core:
            continue
        if entry.is_dir():
            shutil.copytree(entry, dest / entry.name, ignore=_IGNORE, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(dest / entry.name))
    return tree_bytes(out / "sampler")


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _assets(out: Path, m: dict) -> LambdaAssets:
    return LambdaAssets(
        root=out,
        layer_dir=out / "layer",
        function_dirs={g: out / "functions" / g for g in FUNCTION_GROUPS},
        python_version=m["python"],
        platform=m["platform"],
        layer_bytes=m["layer_bytes"],
        sampler_layer_dir=out / "sampler" if m.get("sampler_bytes") else None,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--force", action="store_true", help="rebuild the dependencies too")
    args = p.parse_args(argv)
    assets = build(args.out, force=args.force)
    manifest = json.loads((assets.root / "manifest.json").read_text())
    print(json.dumps(manifest, indent=2))
    bad = forbidden_packages(assets.layer_dir / "python")
    if bad or assets.layer_bytes >= LAYER_LIMIT_BYTES:
        print(f"layer rejected: forbidden={bad} size={assets.layer_mb:.1f} MB", file=sys.stderr)
        return 1
    print(f"layer unzipped: {assets.layer_mb:.1f} MB (limit 250 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
