"""The model aggregate as the services see it: every state loaded back from a real SQLite log (ids
and paths decoded from JSON, so equal strings are not the same objects), with the edges of its
rules: the size limit, unknown uploads, which files and validations a change keeps, tags, and
name claims whose holder sorts before or after the claimant."""

from __future__ import annotations

import hashlib

import pytest

from domain.errors import Conflict, Invalid, NotFound
from domain.library import models as m
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.services.commands import Caller, execute, load

pytestmark = pytest.mark.unit
ALICE = Caller("alice")
TIB = 1024**4


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "tlm.db", synchronous="OFF")
    yield SqliteEventStore(db)
    db.close()


def run(store, command, mid: str = "ds-1") -> m.Model:
    execute(store, m.MODELS, mid, command, ALICE)
    return load(store, m.MODELS, mid)[0]


def add(store, upload_id: str, path: str, mid: str = "ds-1") -> m.Model:
    run(store, m.StartUpload(upload_id=upload_id, path=path, size=3, sha256=sha(upload_id), part_size=3), mid)
    digest = sha(upload_id)
    return run(store, m.AddFile(upload_id=upload_id, blob=f"sha256/{digest}", size=3, sha256=digest), mid)


def register(store, kind: str = "dataset", mid: str = "ds-1") -> m.Model:
    return run(store, m.RegisterModel(model_id=mid, project_id="p1", name="数据", family="bert", kind=kind), mid)


def test_finished_uploads_leave_the_open_set_and_validations_follow_their_own_file(store) -> None:
    # Given a dataset with three files, two of them validated
    register(store)
    for i, path in enumerate(["a.jsonl", "b.jsonl", "c.jsonl"]):
        add(store, f"up-{i}", path)
    for i, path in enumerate(["a.jsonl", "b.jsonl"]):
        state = run(store, m.RecordValidation(path=path, sha256=sha(f"up-{i}"), valid=True))
    assert set(state.validations) == {"a.jsonl", "b.jsonl"} and state.uploads == {}
    # When b is uploaded again, one upload is aborted and one rejected
    state = add(store, "up-b2", "b.jsonl")
    run(store, m.StartUpload(upload_id="up-x", path="x.jsonl", size=3, sha256=sha("x"), part_size=3))
    run(store, m.StartUpload(upload_id="up-y", path="y.jsonl", size=3, sha256=sha("y"), part_size=3))
    run(store, m.AbortUpload(upload_id="up-x"))
    state = run(store, m.RejectUpload(upload_id="up-y", reason="sha256 differs", field="sha256"))
    # Then no upload is open, a's validation stays and b's old one is gone
    assert state.uploads == {} and state.rejected == {"up-y": "sha256 differs"}
    assert set(state.validations) == {"a.jsonl"}
    # When b is removed, the files either side of it stay
    state = run(store, m.RemoveFile(path="b.jsonl"))
    assert sorted(state.files) == ["a.jsonl", "c.jsonl"] and set(state.validations) == {"a.jsonl"}


def test_unknown_uploads_are_not_found_naming_the_upload(store) -> None:
    register(store)
    for command in (m.AddFile(upload_id="nope", blob="sha256/x", size=1, sha256=sha("x")),
                    m.RejectUpload(upload_id="nope", reason="r"), m.AbortUpload(upload_id="nope")):  # fmt: skip
        with pytest.raises(NotFound) as e:
            run(store, command)
        assert e.value.field == "upload_id"


def test_a_file_may_be_exactly_5_tib(store) -> None:
    register(store, kind="model")
    assert run(store, m.StartUpload(upload_id="big", path="w.bin", size=5 * TIB, sha256=sha("w"), part_size=TIB))
    with pytest.raises(Invalid) as e:
        run(store, m.StartUpload(upload_id="bigger", path="v.bin", size=5 * TIB + 1, sha256=sha("v"), part_size=TIB))
    assert e.value.field == "size"


def test_tags_update_as_a_tuple_and_only_datasets_are_validated(store) -> None:
    state = register(store)
    state = run(store, m.UpdateModel(tags=["情感", "demo"]))
    assert isinstance(state.tags, tuple) and set(state.tags) == {"情感", "demo"}
    state = run(store, m.UpdateModel(description="新的"))
    assert state.description == "新的" and set(state.tags) == {"情感", "demo"}
    add(store, "up-0", "train.jsonl")
    assert run(store, m.RecordValidation(path="train.jsonl", sha256=sha("up-0"), valid=True)).validations
    register(store, kind="model", mid="m-1")
    add(store, "up-m", "train.jsonl", mid="m-1")
    with pytest.raises(Invalid) as e:
        run(store, m.RecordValidation(path="train.jsonl", sha256=sha("up-m"), valid=True), "m-1")
    assert e.value.field == "kind"


@pytest.mark.parametrize(("holder", "claimant"), [("m-1", "m-9"), ("m-9", "m-1")])
def test_a_name_held_by_another_model_is_refused_whichever_sorts_first(store, holder: str, claimant: str) -> None:
    execute(store, m.MODEL_NAMES, "p1.n", m.ClaimName(model_id=holder), ALICE)
    with pytest.raises(Conflict):
        execute(store, m.MODEL_NAMES, "p1.n", m.ClaimName(model_id=claimant), ALICE)
    assert load(store, m.MODEL_NAMES, "p1.n")[0] == holder


@pytest.mark.parametrize(("old", "new"), [("m-1", "m-9"), ("m-9", "m-1")])
def test_a_stale_release_of_an_earlier_holder_keeps_the_current_one(old: str, new: str) -> None:
    # a log written before claims and releases were atomic: the old holder's release came late
    events = [m.NameClaimed(model_id=old), m.NameClaimed(model_id=new), m.NameReleased(model_id=old)]
    assert m.MODEL_NAMES.fold(events) == new
    assert m.MODEL_NAMES.fold([*events, m.NameReleased(model_id=new)]) is None
