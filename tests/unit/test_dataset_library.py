"""Datasets in the library (SQLite in a temp dir): upload -> validation event -> show, list by kind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from domain.errors import NotFound
from runtime.bootstrap import build_local, set_container
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = pytest.mark.unit
ALICE = Caller("alice")


@pytest.fixture
def c(tmp_path: Path):
    container = build_local(Settings(data_dir=tmp_path / "data", min_part_bytes=1024))
    set_container(container)  # the local upload trigger runs through the process's container
    yield container
    set_container(None)
    container.close()


def upload(c, dataset_id: str, path: str, data: bytes) -> dict:
    lib = c.library
    up = lib.start_upload(ALICE, dataset_id, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    c.blobs.upload_part(up["upload_id"], 1, data)
    c.catch_up()
    done = lib.complete_upload(ALICE, dataset_id, up["upload_id"])
    c.catch_up()
    return done


def test_a_dataset_is_validated_when_its_files_are_verified(c):
    lib = c.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    model = lib.register_model(ALICE, pid, name="评论", family="bert")
    ds = lib.register_model(ALICE, pid, name="评论", family="other", kind="dataset")  # own namespace
    did = ds["model_id"]

    # When a good train file and a test file with a missing label are uploaded
    good = upload(c, did, "train.jsonl", '{"text": "很好", "label": "pos"}\n{"text": "差", "label": "neg"}\n'.encode())
    bad = upload(c, did, "test.jsonl", '{"text": "好", "label": "pos"}\n{"text": "无标签"}\n'.encode())

    # Then each completion answers with the file's validation, and the dataset is invalid, naming why
    assert good["validation"]["valid"] and good["validation"]["report"]["counts"] == {"neg": 1, "pos": 1}
    assert not bad["validation"]["valid"] and bad["validation"]["field"] == "label"
    shown = lib.get_dataset(ALICE, did)
    assert shown["kind"] == "dataset" and shown["validation"]["state"] == "invalid"
    assert shown["validation"]["problems"][0]["reason"] == "test.jsonl line 2: missing label"
    assert [f["validation"]["valid"] for f in shown["files"]] == [False, True]
    assert [h["type"] for h in lib.history(ALICE, did)][-1] == "model.file_validated"

    # When the test file is replaced by a good one, the dataset becomes valid
    upload(c, did, "test.jsonl", '{"text": "好", "label": "pos"}\n'.encode())
    again = lib.get_dataset(ALICE, did)
    assert again["validation"]["state"] == "valid" and again["validation"]["rows"] == 3
    assert set(again["validation"]["splits"]) == {"train", "test"}

    # And listing by kind keeps models and datasets apart (a model is no dataset)
    assert [r["model_id"] for r in lib.list_models(ALICE)["items"]] == [model["model_id"]]
    listed = lib.list_models(ALICE, kind="dataset")["items"]
    assert [r["model_id"] for r in listed] == [did] and listed[0]["validation"]["state"] == "valid"
    assert len(lib.list_models(ALICE, kind="all")["items"]) == 2
    with pytest.raises(NotFound):
        lib.get_dataset(ALICE, model["model_id"])

    # And a rebuilt view equals the live one
    live = c.views.get("models", did)
    c.projector.rebuild()
    assert c.views.get("models", did) == live
