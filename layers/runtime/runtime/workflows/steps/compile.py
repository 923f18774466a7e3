"""The compile workflow's steps: ``validate_compile_request``, ``verify_compile``,
``record_compile`` (validate -> compile job -> verify -> package job -> record).

- validate: the model still exists and its files can be compiled (``config.json`` of a known
  family, safetensors weights, ``tokenizer.json``; pickled weights are refused), then lays the
  files out as the compile job's ``model`` channel and marks the compile running. A model that
  cannot be compiled fails with ``TLM.InvalidModel`` and a reason naming what is wrong.
- verify: reads the job's ``compile_report.json`` and refuses a report whose verification did not
  pass (``TLM.VerificationFailed``), records the verification on the compile.
- record: stores ``model.onnx``, ``compile_report.json`` and the package's ``model.tar.gz`` as
  content-addressed blobs and appends ``compile.succeeded`` with them and the manifest.

Every step is safe to run twice (a restarted run repeats the step it was in).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from domain.compiles.compile import COMPILES, RecordVerification, StartCompile, SucceedCompile
from domain.errors import DomainError
from domain.workflows.model import StepError
from runtime.services.commands import Caller, execute, load
from runtime.workflows.steps import outputs

INVALID_MODEL = "TLM.InvalidModel"
VERIFICATION_FAILED = "TLM.VerificationFailed"
MISSING_OUTPUT = outputs.MISSING_OUTPUT
FAMILIES = ("bert", "roberta", "albert", "electra", "xlnet")
PICKLED = (".bin", ".pt", ".pth", ".pkl", ".ckpt")
MAX_CONFIG_BYTES = 1024 * 1024


def trained_test_split(container: Any, model_id: str) -> tuple[str, str] | None:
    """(dataset id, test file path) of the dataset a trained model learned from, if it still has one."""
    from domain.library.models import MODELS
    from domain.trainings import TRAININGS

    model, _ = load(container.store, MODELS, model_id)
    source = (model.source or "") if model.exists else ""
    if not source.startswith("training-run:"):
        return None
    training, _ = load(container.store, TRAININGS, source.removeprefix("training-run:"))
    if not training.exists:
        return None
    dataset, _ = load(container.store, MODELS, training.dataset_id)
    if not dataset.exists:
        return None
    tests = sorted(p for p in dataset.files if p.rsplit("/", 1)[-1].rsplit(".", 1)[0] == "test")
    return (training.dataset_id, tests[0]) if tests else None


def _caller(doc: dict[str, Any]) -> Caller:
    return Caller(user_id="workflow:compile", correlation_id=str(doc.get("run_id") or doc.get("compile_id")))


def check_model_files(files: dict[str, Any], read_config: Any) -> list[str]:
    """Why these model files cannot be compiled (empty: they can). ``read_config()`` returns the
    bytes of config.json."""
    names = set(files)
    problems = []
    if not names:
        return ["the model has no files"]
    pickled = sorted(n for n in names if n.endswith(PICKLED))
    if not any(n.endswith(".safetensors") for n in names):
        problems.append(
            "no safetensors weights"
            + (f" ({', '.join(pickled)} are pickled weights, which TLM never loads)" if pickled else "")
        )
    if "tokenizer.json" not in names:
        problems.append("no tokenizer.json (a fast tokenizer saved with save_pretrained)")
    if "config.json" not in names:
        problems.append("no config.json")
    else:
        try:
            config = json.loads(read_config())
            family = config.get("model_type") if isinstance(config, dict) else None
            if family not in FAMILIES:
                problems.append(f"config.json model_type {family!r} is not one of {', '.join(FAMILIES)}")
        except (ValueError, UnicodeDecodeError) as e:
            problems.append(f"config.json is not valid JSON ({e})")
    return problems


def _local_job_file(container: Any, job: dict[str, Any], name: str, tmp: Path) -> Path:
    """A file a job wrote into its model dir: from the local artifacts dir, or out of the
    model.tar.gz SageMaker made (downloaded and read as a stream)."""
    return outputs.model_file(container, job, name, tmp)


def _package_tarball(container: Any, job: dict[str, Any], tmp: Path) -> Path | str:
    """The package job's model.tar.gz: SageMaker's artifacts object, or locally the tarball the
    job wrote to its output data dir (the same content)."""
    uri = str(job.get("model_artifacts") or "")
    if uri.startswith("s3://") and uri.endswith(".tar.gz"):
        return uri
    root = getattr(container.jobs, "root", None)
    if root is not None:
        tar = Path(root) / str(job.get("name")) / "output" / "data" / "model.tar.gz"
        if tar.is_file():
            return tar
    raise StepError(MISSING_OUTPUT, f"package job {job.get('name')} left no model.tar.gz")


def steps(container: Any) -> dict[str, Any]:
    def validate_compile_request(doc: dict[str, Any]) -> dict[str, Any]:
        compile_id = doc["compile_id"]
        state, _ = load(container.store, COMPILES, compile_id)
        artifacts = container.artifacts
        try:
            files = artifacts.files_of(state.model_id or doc["model_id"])
        except DomainError as e:
            raise StepError(INVALID_MODEL, e.message) from None

        def read_config() -> bytes:
            f = files["config.json"]
            if f.size > MAX_CONFIG_BYTES:
                raise ValueError(f"{f.size} bytes is too large for a config")
            return b"".join(container.blobs.open_range(f.blob))

        problems = check_model_files(files, read_config)
        if problems:
            raise StepError(INVALID_MODEL, f"model {doc['model_id']} cannot be compiled: " + "; ".join(problems))
        uri = artifacts.materialize(doc["model_id"], f"{doc['run_id']}/model")
        if uri != doc["model_uri"]:
            raise StepError(INVALID_MODEL, f"the model channel is at {uri}, the workflow expects {doc['model_uri']}")
        trained_on = trained_test_split(container, state.model_id or doc["model_id"])
        if trained_on is not None:  # the compile job also reports accuracy on it (jobs.compile_accuracy)
            artifacts.materialize(trained_on[0], f"{doc['run_id']}/model/eval", only={trained_on[1]})
        execute(container.store, COMPILES, compile_id, StartCompile(files=sorted(files)), _caller(doc), retries=3)
        return {"model_uri": uri, "files": sorted(files)}

    def verify_compile(doc: dict[str, Any]) -> dict[str, Any]:
        job = doc["job"]
        with tempfile.TemporaryDirectory() as tmp:
            path = _local_job_file(container, job, "compile_report.json", Path(tmp))
            report = json.loads(path.read_text(encoding="utf-8"))
        verification = report.get("verification") or {}
        if not verification.get("passed"):
            raise StepError(VERIFICATION_FAILED, f"compile verification did not pass: {json.dumps(verification)}")
        cmd = RecordVerification(job_name=str(job["name"]), verification=verification)
        execute(container.store, COMPILES, doc["compile_id"], cmd, _caller(doc), retries=3)
        return verification

    def record_compile(doc: dict[str, Any]) -> dict[str, Any]:
        compiled, package = doc["compile"], doc["package"]
        artifacts: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            for name in ("model.onnx", "compile_report.json"):
                artifacts[name] = container.artifacts.put_file(_local_job_file(container, compiled, name, tmp))
            report = json.loads(_local_job_file(container, compiled, "compile_report.json", tmp).read_text("utf-8"))
            manifest = json.loads(_local_job_file(container, package, "manifest.json", tmp).read_text("utf-8"))
            artifacts["model.tar.gz"] = container.artifacts.put_file(_package_tarball(container, package, tmp))
        summary = {k: report[k] for k in ("export", "verification", "latency", "onnx_size_bytes") if k in report}
        if "quantization" in report:
            summary["quantization"] = report["quantization"]
        cmd = SucceedCompile(
            artifacts=artifacts,
            jobs={"Compile": str(compiled["name"]), "Package": str(package["name"])},
            report=summary,
            manifest=manifest,
        )
        execute(container.store, COMPILES, doc["compile_id"], cmd, _caller(doc), retries=3)
        return {"artifacts": artifacts}

    return {
        "validate_compile_request": validate_compile_request,
        "verify_compile": verify_compile,
        "record_compile": record_compile,
    }
