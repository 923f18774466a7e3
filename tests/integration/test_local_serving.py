"""The local serving backend as the platform builds it (``Container.serving``): a package stored
as a blob (its ``model.tar.gz``) is unpacked and served; a runtime that does not match the compiled
package is refused before anything starts. Real parts: SQLite container, blob store, processes."""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from pathlib import Path

import pytest

from domain.errors import Invalid
from runtime.adapters.local_serving import LocalServingBackend
from runtime.bootstrap import build_local
from runtime.ports import ServingSpec
from runtime.settings import Settings
from tests.serving_package import TEXTS, make_package, reference_predictions

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_package(tmp_path_factory.mktemp("pkg") / "package")


def _store_tarball(blobs, package: Path) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(package.iterdir()):
            tar.add(f, arcname=f.name)
    data = buf.getvalue()
    upload = blobs.create_upload(expected_size=len(data), expected_sha256=hashlib.sha256(data).hexdigest(),
                                 part_size=max(len(data), blobs.min_part_bytes))
    blobs.upload_part(upload.upload_id, 1, data)
    return str(blobs.complete_upload(upload.upload_id))


def test_container_serves_a_package_stored_as_a_blob(tmp_path: Path, package: Path) -> None:
    # Given the local platform and a compiled package stored as one tar.gz blob
    c = build_local(Settings(data_dir=tmp_path / "data"))
    try:
        serving = c.serving
        assert isinstance(serving, LocalServingBackend) and serving.root == tmp_path / "data" / "serving"
        key = _store_tarball(c.blobs, package)
        # When a slot is started from the blob key
        serving.start(ServingSpec("d-blob", "green", key))
        deadline = time.monotonic() + 60
        while serving.health("d-blob", "green").status != "healthy":
            assert time.monotonic() < deadline, serving.health("d-blob", "green")
            time.sleep(0.1)
        # Then it serves the unpacked package, under the data dir
        got = serving.invoke("d-blob", "green", TEXTS[:3])
        assert [p.label for p in got] == [w["label"] for w in reference_predictions(package, TEXTS[:3])]
        assert list((tmp_path / "data" / "serving" / "d-blob" / "green").glob("package-*/model.onnx"))
        serving.stop("d-blob", "green")
    finally:
        c.close()


def test_a_runtime_other_than_the_compiled_one_is_refused(tmp_path: Path, package: Path) -> None:
    backend = LocalServingBackend(tmp_path / "serving", supervise=False)
    with pytest.raises(Invalid) as e:
        backend.start(ServingSpec("d-rt", "blue", str(package), runtime="onnxruntime-fp32"))
    assert e.value.field == "runtime"
    with pytest.raises(Invalid) as missing:
        backend.start(ServingSpec("d-rt", "blue", "sha256/" + "0" * 64))
    assert missing.value.field == "model_uri"
    assert backend.list() == []
