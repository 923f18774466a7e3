"""Reading what a job left behind, on either backend.

A job's result (``model_artifacts``) is a local directory (the local runner's published model dir)
or, on SageMaker, one ``s3://.../<job>/output/model.tar.gz`` (the model dir, tarred). Its output
data dir (``metrics.json``, ``compile_report.json``...) is ``<jobs root>/<job>/output/data`` locally
and ``output.tar.gz`` next to ``model.tar.gz`` on SageMaker. Tarballs are read as streams (no
seek, no temporary copy of the archive) and unpacked with tarfile's ``data`` filter (no absolute
paths, no links out of the destination).
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path
from typing import Any

from domain.workflows.model import StepError

MISSING_OUTPUT = "TLM.MissingJobOutput"
MODEL_TARBALL = "model.tar.gz"
OUTPUT_TARBALL = "output.tar.gz"


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _s3_body(container: Any, uri: str, *, missing_ok: bool = False) -> Any:
    s3 = container.blobs.s3
    bucket, key = _split(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"]
    except s3.exceptions.NoSuchKey:
        if missing_ok:
            return None
        raise StepError(MISSING_OUTPUT, f"{uri} does not exist") from None


def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return name


def model_uri(job: dict[str, Any]) -> str:
    uri = str(job.get("model_artifacts") or "")
    if not uri:
        raise StepError(MISSING_OUTPUT, f"job {job.get('name')} reported no model artifacts")
    return uri


def model_dir(container: Any, job: dict[str, Any], dest: Path) -> Path:
    """The job's model dir as local files: the local dir itself, or ``model.tar.gz`` unpacked
    into ``dest``."""
    uri = model_uri(job)
    if not uri.startswith("s3://"):
        path = Path(uri)
        if not path.is_dir():
            raise StepError(MISSING_OUTPUT, f"job {job.get('name')} left no model dir at {uri}")
        return path
    if not uri.endswith(".tar.gz"):
        raise StepError(MISSING_OUTPUT, f"job {job.get('name')}: {uri} is not a model.tar.gz")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=_s3_body(container, uri), mode="r|gz") as tar:
        tar.extractall(dest, filter="data")
    return dest


def _from_tarball(container: Any, uri: str, name: str, tmp: Path, *, missing_ok: bool) -> Path | None:
    body = _s3_body(container, uri, missing_ok=missing_ok)
    if body is None:
        return None
    with tarfile.open(fileobj=body, mode="r|gz") as tar:
        for member in tar:
            if member.isfile() and _member_name(member) == name:
                out = tmp / name.replace("/", "_")
                with tar.extractfile(member) as src, open(out, "wb") as dst:  # type: ignore[union-attr]
                    shutil.copyfileobj(src, dst)
                return out
    return None


def model_file(container: Any, job: dict[str, Any], name: str, tmp: Path) -> Path:
    """One file of the job's model dir (``StepError`` if the job did not write it)."""
    uri = model_uri(job)
    if uri.startswith("s3://"):
        found = _from_tarball(container, uri, name, tmp, missing_ok=False)
    else:
        found = Path(uri) / name if (Path(uri) / name).is_file() else None
    if found is None:
        raise StepError(MISSING_OUTPUT, f"job {job.get('name')} wrote no {name} ({uri})")
    return found


def output_file(container: Any, job: dict[str, Any], name: str, tmp: Path) -> Path | None:
    """One file of the job's output data dir, or None when the job wrote none."""
    uri = str(job.get("model_artifacts") or "")
    if uri.startswith("s3://"):
        if not uri.endswith("/" + MODEL_TARBALL):
            return None
        return _from_tarball(container, uri[: -len(MODEL_TARBALL)] + OUTPUT_TARBALL, name, tmp, missing_ok=True)
    root = getattr(container.jobs, "root", None)
    path = Path(root) / str(job.get("name")) / "output" / "data" / name if root is not None else None
    return path if path is not None and path.is_file() else None


def job_report(container: Any, name: str, file: str) -> dict[str, Any] | None:
    """A JSON file a finished job wrote to its output data dir (None when it wrote none)."""
    import json
    import tempfile

    status = container.jobs.describe(name)
    job = {"name": name, "model_artifacts": status.model_artifacts}
    with tempfile.TemporaryDirectory(prefix="tlm-report-") as tmp:
        path = output_file(container, job, file, Path(tmp))
        if path is None:
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return None
    return doc if isinstance(doc, dict) else None
