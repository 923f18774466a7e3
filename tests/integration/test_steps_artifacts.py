"""Artifacts on the local adapters: a directory ingested as a library entry through the upload
path, laid out again as a job channel of hard links, and single files stored as blobs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from domain.errors import Invalid, NotFound
from runtime.bootstrap import build_local
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = pytest.mark.integration
ALICE = Caller("alice")


@pytest.fixture
def c(tmp_path: Path):
    container = build_local(Settings(data_dir=tmp_path / "data", min_part_bytes=1024, max_part_bytes=4096))
    yield container
    container.close()


def make_tree(root: Path) -> dict[str, bytes]:
    files = {"config.json": b'{"model_type": "bert"}', "sub/dir/weights.bin": os.urandom(10_000), "empty.txt": b""}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_ingest_then_materialize_round_trips_every_file(c, tmp_path: Path) -> None:
    # Given a directory with nested files, one larger than a part
    files = make_tree(tmp_path / "src")
    pid = c.library.create_project(ALICE, "p")["project_id"]
    # When it is ingested as a library entry
    mid = c.artifacts.ingest_dir(ALICE, pid, tmp_path / "src", name="导入模型", family="bert", tags=["x"])
    # Then every file is a verified file of the entry, recorded like a user upload
    model = c.library.get_model(ALICE, mid)
    # (the empty file is left out: no empty blobs, as for a user upload)
    assert {f["path"]: f["sha256"] for f in model["files"]} == {
        p: hashlib.sha256(d).hexdigest() for p, d in files.items() if d
    }
    types = [h["type"] for h in c.library.history(ALICE, mid)]
    assert types.count("model.upload_started") == 2 and types.count("model.file_added") == 2
    assert {h["actor"] for h in c.library.history(ALICE, mid) if h["type"] == "model.file_added"} == {
        "system:finalizer"
    }
    # When it is laid out as a job channel
    uri = c.artifacts.materialize(mid, "run1/model")
    assert uri == c.artifacts.channel_uri("run1/model")
    root = Path(uri)
    assert root.is_relative_to((tmp_path / "data").resolve())
    # Then each file is there under its path, a hard link to the blob
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data if data else not (root / rel).exists()
    blob = c.blobs.root / f"sha256/{hashlib.sha256(files['config.json']).hexdigest()}"
    assert (root / "config.json").stat().st_ino == blob.stat().st_ino
    # And laying it out again (a step run twice) gives the same tree
    assert c.artifacts.materialize(mid, "run1/model") == uri and (root / "sub/dir/weights.bin").exists()


def test_channel_names_cannot_escape_and_unknown_models_are_not_found(c, tmp_path: Path) -> None:
    pid = c.library.create_project(ALICE, "p")["project_id"]
    make_tree(tmp_path / "src")
    mid = c.artifacts.ingest_dir(ALICE, pid, tmp_path / "src", name="m", family="bert")
    for bad in ("../x", "a/../../b", "a//b"):
        with pytest.raises(Invalid):
            c.artifacts.materialize(mid, bad)
    with pytest.raises(NotFound):
        c.artifacts.materialize("nope", "run/x")
    empty = c.library.register_model(ALICE, pid, name="empty", family="bert")["model_id"]
    with pytest.raises(Invalid):
        c.artifacts.materialize(empty, "run/y")


def test_put_file_stores_a_verified_blob(c, tmp_path: Path) -> None:
    data = os.urandom(9000)
    (tmp_path / "a.bin").write_bytes(data)
    out = c.artifacts.put_file(tmp_path / "a.bin")
    assert out == {
        "blob": f"sha256/{hashlib.sha256(data).hexdigest()}",
        "size": 9000,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert b"".join(c.blobs.open_range(out["blob"])) == data
