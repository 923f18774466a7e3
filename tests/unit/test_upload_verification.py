"""Upload verification, end to end on the local adapters (SQLite, blob files): the blob store's
join (parts in order, sha256 checked before anything is stored under ``sha256/``, parts spent on
a mismatch, idempotent completion) and the library's verification (file recorded with the blob's
size and hash, wrong bytes rejected and recorded, a part-layout problem leaving the upload open,
redelivered triggers answered from the log, the AWS two-step flow)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from domain.errors import Invalid, NotFound
from runtime.adapters.fs import blob_store as fs_blob_store
from runtime.adapters.fs.blob_store import LocalBlobStore
from runtime.bootstrap import build_local
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = pytest.mark.unit
ALICE = Caller("alice")
PART = 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- the blob store's join
@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", "http://localhost", min_part_bytes=PART)


def leftovers(store: LocalBlobStore, upload_id: str) -> list[str]:
    updir = store.root / "uploads" / upload_id
    names = [p.name for p in updir.iterdir()] if updir.exists() else []
    return sorted(n for n in names if n.startswith(("part-", ".join")))


def test_parts_sent_out_of_order_are_joined_in_order_through_a_small_buffer(blobs, monkeypatch):
    # Given three parts (the last one short) sent 3, 1, 2, and a join buffer smaller than a part
    monkeypatch.setattr(fs_blob_store, "_JOIN_CHUNK", 300)
    data = bytes(range(256)) * 10 + b"tail"  # 2564 bytes: parts of 1024, 1024, 516
    up = blobs.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART)
    for n in (3, 1, 2):
        blobs.upload_part(up.upload_id, n, data[(n - 1) * PART : n * PART])
    # When it completes
    key = blobs.complete_upload(up.upload_id)
    # Then the blob is the bytes in order under their content address, and the parts are gone
    assert key == f"sha256/{sha(data)}" and blobs.exists(key) and blobs.size(key) == len(data)
    assert b"".join(blobs.open_range(key)) == data
    assert leftovers(blobs, up.upload_id) == []
    assert blobs.list_uploads() == []  # completed: no longer open


def test_completion_is_idempotent_and_notices_a_lost_blob(blobs):
    data = b"a" * 1500
    up = blobs.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART,
                             part_crc32=None)  # fmt: skip
    blobs.upload_part(up.upload_id, 1, data[:PART])
    blobs.upload_part(up.upload_id, 2, data[PART:])
    key = blobs.complete_upload(up.upload_id)
    assert blobs.complete_upload(up.upload_id) == key  # a redelivered completion
    blobs.delete(key)
    with pytest.raises(NotFound) as err:
        blobs.complete_upload(up.upload_id)
    assert err.value.field == "upload_id"


def test_the_same_bytes_twice_share_one_blob(blobs):
    data = b"same" * 100
    keys = []
    for _ in range(2):
        up = blobs.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART)
        blobs.upload_part(up.upload_id, 1, data)
        keys.append(blobs.complete_upload(up.upload_id))
        assert leftovers(blobs, up.upload_id) == []  # no part or .join temp file left
    assert keys[0] == keys[1] and b"".join(blobs.open_range(keys[0])) == data


def test_wrong_bytes_store_nothing_and_spend_the_parts(blobs):
    # Given parts whose content is not what the upload announced
    good, bad = b"g" * 2000, b"b" * 2000
    up = blobs.create_upload(expected_size=len(good), expected_sha256=sha(good), part_size=PART)
    blobs.upload_part(up.upload_id, 1, bad[:PART])
    blobs.upload_part(up.upload_id, 2, bad[PART:])
    # When it completes, Then the sha256 is the problem and nothing is stored under either hash
    with pytest.raises(Invalid) as err:
        blobs.complete_upload(up.upload_id)
    assert err.value.field == "sha256"
    assert not blobs.exists(f"sha256/{sha(good)}") and not blobs.exists(f"sha256/{sha(bad)}")
    assert not (blobs.root / "uploads" / up.upload_id).exists()  # like S3: the upload is spent
    assert list((blobs.root / "sha256").rglob("*.tmp")) == []


def test_parts_that_do_not_add_up_leave_the_upload_open(blobs):
    data = b"p" * 2500
    up = blobs.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART)
    blobs.upload_part(up.upload_id, 1, data[:PART])
    blobs.upload_part(up.upload_id, 3, data[2 * PART :])
    with pytest.raises(Invalid) as err:
        blobs.complete_upload(up.upload_id)
    assert err.value.field == "parts"
    # the client sends the missing part and completes
    blobs.upload_part(up.upload_id, 2, data[PART : 2 * PART])
    assert blobs.complete_upload(up.upload_id) == f"sha256/{sha(data)}"


def test_a_completed_upload_keeps_its_announced_part_checksums(blobs):
    from runtime.adapters.fs.blob_rules import crc32_b64

    data = b"c" * 1500
    crcs = [crc32_b64(data[:PART]), crc32_b64(data[PART:])]
    up = blobs.create_upload(expected_size=len(data), expected_sha256=sha(data), part_size=PART, part_crc32=crcs)
    blobs.upload_part(up.upload_id, 1, data[:PART])
    blobs.upload_part(up.upload_id, 2, data[PART:])
    blobs.complete_upload(up.upload_id)
    done = blobs.get_upload(up.upload_id)
    assert done.completed_key == f"sha256/{sha(data)}" and list(done.part_crc32 or ()) == crcs
    assert (done.expected_size, done.expected_sha256, done.part_size) == (len(data), sha(data), PART)


# ---------------------------------------------------------------- the library's verification
@pytest.fixture
def c(tmp_path: Path):  # type: ignore[no-untyped-def]
    container = build_local(Settings(data_dir=tmp_path / "data", min_part_bytes=PART))
    yield container
    container.close()


def started(c, data: bytes, *, path: str = "w.bin", kind: str = "model", announced: bytes | None = None,  # type: ignore[no-untyped-def]
            skip: tuple[int, ...] = ()):
    lib = c.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    mid = lib.register_model(ALICE, pid, name="m", family="bert", kind=kind)["model_id"]
    want = data if announced is None else announced
    up = lib.start_upload(ALICE, mid, path=path, size=len(want), sha256=sha(want), part_size=PART)
    for n in [n for n in range(1, -(-len(data) // PART) + 1) if n not in skip]:
        c.blobs.upload_part(up["upload_id"], n, data[(n - 1) * PART : n * PART])
    c.catch_up()
    return mid, up["upload_id"]


def test_a_verified_upload_becomes_the_file_with_the_blobs_size_and_hash(c):
    data = b"w" * 1800
    mid, uid = started(c, data)
    done = c.library.complete_upload(ALICE, mid, uid)
    assert done == {"upload_id": uid, "state": "completed", "path": "w.bin", "size": 1800, "sha256": sha(data)}
    (f,) = c.library.get_model(ALICE, mid)["files"]
    assert (f["path"], f["size"], f["sha256"]) == ("w.bin", 1800, sha(data))
    added = [r for r in c.store.read(f"model-{mid}") if r.type == "model.file_added"]
    assert [(r.data["upload_id"], r.data["blob"], r.metadata.actor) for r in added] == [
        (uid, f"sha256/{sha(data)}", "system:finalizer")
    ]
    # a redelivered trigger finds it done and adds nothing
    c.catch_up()
    assert c.uploads.verify_upload_id(uid) == {"upload_id": uid, "state": "completed"}
    assert sum(r.type == "model.file_added" for r in c.store.read(f"model-{mid}")) == 1


@pytest.mark.parametrize(("announced", "field"), [(b"x" * 1800, "sha256"), (b"w" * 1700, "size")])
def test_wrong_bytes_are_rejected_recorded_and_answered_again(c, announced, field):
    # Given parts that are not what was announced (other bytes, or another length)
    mid, uid = started(c, b"w" * 1800, announced=announced)
    # When the client completes, Then a 422 names what is wrong, and the log says why
    with pytest.raises(Invalid) as err:
        c.library.complete_upload(ALICE, mid, uid)
    assert err.value.field == field
    (rej,) = [r for r in c.store.read(f"model-{mid}") if r.type == "model.upload_rejected"]
    assert (rej.data["upload_id"], rej.data["field"], rej.metadata.actor) == (uid, field, "system:finalizer")
    assert c.library.get_model(ALICE, mid)["files"] == [] and c.blobs.list_uploads() == []
    # And a redelivered trigger gets the recorded rejection
    c.catch_up()
    again = c.uploads.verify_upload_id(uid)
    assert (again["state"], again["reason"]) == ("rejected", rej.data["reason"])


def test_a_missing_part_leaves_the_upload_open_for_the_client(c):
    mid, uid = started(c, b"m" * 2500, skip=(2,))  # parts 1 and 3 of 3 sent
    with pytest.raises(Invalid) as err:
        c.library.complete_upload(ALICE, mid, uid)
    assert err.value.field == "parts"
    assert [u["upload_id"] for u in c.library.list_uploads(ALICE, mid)] == [uid]
    assert not any(r.type == "model.upload_rejected" for r in c.store.read(f"model-{mid}"))


def test_on_aws_completion_answers_verifying_and_the_trigger_verifies(c):
    # Given the two-step flow (no in-process verification: the S3 trigger does it)
    c.library.on_assembled = None
    data = b"a" * 1200
    mid, uid = started(c, data)
    assert c.library.complete_upload(ALICE, mid, uid) == {"upload_id": uid, "state": "verifying"}
    assert c.library.get_model(ALICE, mid)["files"] == []
    # When the trigger runs, Then the file is there
    out = c.uploads.verify_object(f"uploads/{uid}")
    assert out is not None and (out["state"], out["sha256"]) == ("completed", sha(data))
    assert c.uploads.verify_object("sha256/abc") is None  # not a staging key


def test_an_upload_the_views_do_not_know_yet_is_retried_and_an_aborted_one_is_gone(c):
    with pytest.raises(NotFound) as err:
        c.library.verify_upload("0" * 32)
    assert err.value.field == "upload_id"
    mid, uid = started(c, b"g" * 100)
    c.library.abort_upload(ALICE, mid, uid)
    c.catch_up()
    assert c.library.verify_upload(uid) == {"upload_id": uid, "state": "gone"}
    with pytest.raises(NotFound):
        c.library.finalize_upload(mid, uid, f"sha256/{sha(b'g' * 100)}")


def test_a_dataset_file_is_validated_when_verified(c):
    rows = "".join(f'{{"text": "第{i}条评论", "label": "{"pos" if i % 2 else "neg"}"}}\n' for i in range(6))
    mid, uid = started(c, rows.encode(), path="train.jsonl", kind="dataset")
    done = c.library.complete_upload(ALICE, mid, uid)
    assert done["state"] == "completed" and done["validation"]["valid"] is True
    assert done["validation"]["report"]["counts"] == {"neg": 3, "pos": 3}


ROWS = "".join(f'{{"text": "第{i}条", "label": "{"pos" if i % 2 else "neg"}"}}\n' for i in range(4)).encode()


@pytest.mark.parametrize(("kind", "path", "validated"), [
    ("dataset", "train.jsonl", True), ("dataset", "README.md", False), ("model", "train.jsonl", False),
])  # fmt: skip
def test_only_a_datasets_data_files_are_validated(c, kind, path, validated):
    data = ROWS if path.endswith(".jsonl") else b"# notes\n"
    mid, uid = started(c, data, path=path, kind=kind)
    done = c.library.complete_upload(ALICE, mid, uid)
    assert ("validation" in done) is validated
    checked = [r.data["path"] for r in c.store.read(f"model-{mid}") if r.type == "model.file_validated"]
    assert checked == ([path] if validated else [])


@pytest.mark.parametrize(("kind", "validated"), [("dataset", True), ("model", False)])
def test_a_redelivered_trigger_finishes_a_validation_cut_short(c, kind, validated):
    # Given a data file recorded (FileAdded) by a verification that died before validating it
    from domain.library import models as m
    from runtime.services.commands import execute

    mid, uid = started(c, ROWS, path="train.jsonl", kind=kind)
    key = c.blobs.complete_upload(uid)
    execute(c.store, m.MODELS, mid, m.AddFile(upload_id=uid, blob=key, size=len(ROWS), sha256=sha(ROWS)), ALICE)
    assert not any(r.type == "model.file_validated" for r in c.store.read(f"model-{mid}"))
    # When the trigger's redelivery finalizes it again
    assert c.library.finalize_upload(mid, uid, key) == {"upload_id": uid, "state": "completed"}
    # Then a dataset's file is validated now (once), a model's never
    checked = [r for r in c.store.read(f"model-{mid}") if r.type == "model.file_validated"]
    assert len(checked) == (1 if validated else 0)
    assert sum(r.type == "model.file_added" for r in c.store.read(f"model-{mid}")) == 1
