"""A deployable model version for the release-center browser test, cheaply: the tiny hand-built
ONNX package (``tests.serving_package``, ~1 s) stored as the model's ``model.onnx`` and
``model.tar.gz`` blobs straight in the platform's blob store and log (as a finished upload
records them), then a version created through the API. A deployment of it is a real serving
process (``jobs/serve.py``) started by the server."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

from domain.events import new_id
from tests.e2e.conftest import Platform
from tests.serving_package import make_package


def _blob(blobs: Any, data: bytes) -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    up = blobs.create_upload(
        expected_size=len(data), expected_sha256=sha, part_size=max(len(data), blobs.min_part_bytes)
    )
    blobs.upload_part(up.upload_id, 1, data)
    return {"blob": str(blobs.complete_upload(up.upload_id)), "size": len(data), "sha256": sha}


def deployable_version(p: Platform, project_id: str, tmp: Path, name: str) -> tuple[str, str]:
    """(model id, version id) of a deployable version of a new model in ``project_id``."""
    from domain.library.models import MODELS, AddFile, StartUpload
    from runtime.adapters.fs.blob_store import LocalBlobStore
    from runtime.adapters.sqlite.db import Database
    from runtime.adapters.sqlite.event_store import SqliteEventStore
    from runtime.services.commands import Caller, execute

    with p.http() as http:
        model_id = str(
            http.post(f"/projects/{project_id}/models", json={"name": name, "family": "bert"}).json()["model_id"]
        )
    package = make_package(tmp / "package")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(package.iterdir()):
            tar.add(f, arcname=f.name)
    data_dir = p.data_dir
    blobs = LocalBlobStore(data_dir / "blobs", p.url, data_dir / "secret.key", min_part_bytes=64 * 1024)
    store = SqliteEventStore(Database(data_dir / "tlm.db"))
    for path, data in (("model.onnx", (package / "model.onnx").read_bytes()), ("model.tar.gz", buf.getvalue())):
        blob = _blob(blobs, data)
        uid = new_id()
        execute(store, MODELS, model_id, StartUpload(upload_id=uid, path=path, size=blob["size"], sha256=blob["sha256"],
                                                     part_size=max(1, blob["size"])), Caller("local"))  # fmt: skip
        execute(store, MODELS, model_id, AddFile(upload_id=uid, **blob), Caller("local"))
    with p.http() as http:
        r = http.post(f"/models/{model_id}/versions", json={"description": "browser test"})
        assert r.status_code == 201, r.text
        return model_id, str(r.json()["version_id"])
