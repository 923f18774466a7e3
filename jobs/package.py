"""Package a model as a deployable bundle in SageMaker's ``model.tar.gz`` layout.
``python -m jobs.package``

Channel ``model``: a model dir from ``jobs.train`` (safetensors) or ``jobs.compile`` (model.onnx).
Hyperparameters: ``config_id`` and ``model_version_id`` (recorded in the manifest), ``name``.

Layout (written to the model dir, which SageMaker itself tars into model.tar.gz; locally the job
also writes ``<output>/model.tar.gz`` with the same content)::

    model.onnx | model.safetensors, config.json, labels.json, tokenizer.json, tokenizer_config.json, ...
    code/inference.py  code/requirements.txt
    manifest.json      {"files": {path: {"sha256", "size"}}, "source_config_id", "model_version_id", ...}
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

from jobs import contract

MODEL_FILES = ("model.onnx", "model.safetensors", "config.json", "labels.json", "tokenizer.json",
               "tokenizer_config.json", "special_tokens_map.json", "tlm_config.json", "compile_report.json",
               "evaluation.json")
REQUIREMENTS = {
    "onnxruntime": ["onnxruntime==1.31.1", "tokenizers==0.23.3", "numpy"],
    "torch": ["torch==2.13.0", "transformers==5.23.0", "tokenizers==0.23.3", "safetensors==0.8.0", "numpy"],
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_manifest(bundle: Path) -> list[str]:
    """Problems found when checking a bundle against its manifest (empty list: intact)."""
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    listed = set(manifest["files"])
    present = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()} - {"manifest.json"}
    for rel in sorted(present - listed):
        problems.append(f"{rel}: not in manifest")
    for rel, meta in sorted(manifest["files"].items()):
        p = bundle / rel
        if not p.exists():
            problems.append(f"{rel}: missing")
        elif sha256(p) != meta["sha256"]:
            problems.append(f"{rel}: sha256 mismatch")
    return problems


def main(hp: dict[str, Any]) -> None:
    src = contract.channel("model", required=True)
    config_id, version_id = hp.get("config_id"), hp.get("model_version_id")
    for k, v in (("config_id", config_id), ("model_version_id", version_id)):
        if v is not None and not isinstance(v, (str, int)):
            raise ValueError(f"{k}: must be a string")
    has_onnx = (src / "model.onnx").exists()
    if not has_onnx and not (src / "model.safetensors").exists():
        raise ValueError(f"model: {src} has neither model.onnx nor model.safetensors")
    for need in ("config.json", "labels.json", "tokenizer.json"):
        if not (src / need).exists():
            raise ValueError(f"model: {src} lacks {need}")
    out = contract.model_dir()
    for name in MODEL_FILES:
        if (src / name).exists() and not (has_onnx and name == "model.safetensors"):
            shutil.copy(src / name, out / name)
    code = out / "code"
    code.mkdir(exist_ok=True)
    shutil.copy(Path(__file__).parent / "inference" / "inference.py", code / "inference.py")
    backend = "onnxruntime" if has_onnx else "torch"
    (code / "requirements.txt").write_text("\n".join(REQUIREMENTS[backend]) + "\n", encoding="utf-8")
    files = {str(p.relative_to(out)): {"sha256": sha256(p), "size": p.stat().st_size}
             for p in sorted(out.rglob("*")) if p.is_file() and p.name != "manifest.json"}
    manifest = {"format": "sagemaker-model-tar/v1", "backend": backend, "name": hp.get("name"),
                "source_config_id": None if config_id is None else str(config_id),
                "model_version_id": None if version_id is None else str(version_id),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    tar_path = contract.output_data_dir() / "model.tar.gz"
    with tarfile.open(tar_path, "w:gz") as tar:
        for p in sorted(out.rglob("*")):
            if p.is_file():
                tar.add(p, arcname=str(p.relative_to(out)))
    info = {"tarball": str(tar_path), "tarball_sha256": sha256(tar_path), "size_bytes": tar_path.stat().st_size,
            "backend": backend, "files": len(files) + 1}
    (contract.output_data_dir() / "package.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    print(f"packaged: {json.dumps(info)}", flush=True)


if __name__ == "__main__":
    contract.run(main)
