"""The library service on the local adapters (SQLite, files): time travel, racing writers,
roles, blob reclamation."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.errors import Conflict, Forbidden, NotFound
from runtime.bootstrap import build_local
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = pytest.mark.integration

ALICE, BOB, EVE = Caller("alice"), Caller("bob"), Caller("eve")


@pytest.fixture
def c(tmp_path: Path):
    container = build_local(Settings(data_dir=tmp_path / "data", min_part_bytes=1024))
    yield container
    container.close()


def upload(c, caller, model_id: str, data: bytes, path: str = "w.bin") -> dict:
    lib = c.library
    up = lib.start_upload(caller, model_id, path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    c.blobs.upload_part(up["upload_id"], 1, data)
    c.catch_up()
    done = lib.complete_upload(caller, model_id, up["upload_id"])
    c.catch_up()
    return done


def test_as_of_shows_the_model_as_it_was(c):
    lib = c.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    mid = lib.register_model(ALICE, pid, name="模型", family="bert", description="v1")["model_id"]
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    lib.update_model(ALICE, mid, description="v2", tags=["新"])
    assert lib.get_model(ALICE, mid)["description"] == "v2"
    then = lib.get_model(ALICE, mid, as_of=between)
    assert (then["description"], then["tags"], then["version"]) == ("v1", [], 1)
    with pytest.raises(NotFound) as e:
        lib.get_model(ALICE, mid, as_of=datetime(2000, 1, 1, tzinfo=UTC))
    assert e.value.field == "as_of"


def test_racing_registrations_of_one_name_leave_exactly_one_model(c):
    lib = c.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    results: list[object] = []

    def register() -> None:
        try:
            results.append(lib.register_model(ALICE, pid, name="同名模型", family="bert")["model_id"])
        except Conflict as err:
            results.append(err)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if isinstance(r, str)]
    assert len(winners) == 1 and len(results) == 8
    c.catch_up()
    assert [m["model_id"] for m in lib.list_models(ALICE, project_id=pid)["items"]] == winners
    # and the name claim agrees: one claim, by the winner, and no loser left a model stream behind
    log = c.store.read_all(limit=10_000)
    claims = [e for e in log if e.type == "model_name.claimed"]
    assert [e.data["model_id"] for e in claims] == winners
    assert {e.stream_id for e in log if e.stream_id.startswith("model-")} == {f"model-{winners[0]}"}


def test_roles_are_checked_on_every_call(c):
    lib = c.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    mid = lib.register_model(ALICE, pid, name="m", family="bert")["model_id"]
    lib.set_member(ALICE, pid, "bob", "viewer")
    c.catch_up()
    assert lib.get_model(BOB, mid)["model_id"] == mid
    for call in (
        lambda: lib.update_model(BOB, mid, description="x"),
        lambda: lib.start_upload(BOB, mid, path="a", size=1, sha256="a" * 64),
        lambda: lib.delete_model(BOB, mid),
        lambda: lib.set_member(BOB, pid, "eve", "owner"),
        lambda: lib.get_model(EVE, mid),
        lambda: lib.history(EVE, mid),
        lambda: lib.list_models(EVE, project_id=pid),
    ):
        with pytest.raises(Forbidden):
            call()
    lib.set_member(ALICE, pid, "bob", "editor")
    lib.update_model(BOB, mid, description="by bob")
    with pytest.raises(Forbidden):  # editors write, only owners delete
        lib.delete_model(BOB, mid)
    c.catch_up()
    assert [p["project_id"] for p in lib.list_projects(BOB)] == [pid]
    assert lib.list_projects(EVE) == []
    assert lib.history(ALICE, mid)[-1]["actor"] == "bob"


def test_a_blob_is_reclaimed_only_when_no_live_model_references_it(c):
    lib = c.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    a = lib.register_model(ALICE, pid, name="a", family="bert")["model_id"]
    b = lib.register_model(ALICE, pid, name="b", family="bert")["model_id"]
    data = os.urandom(4096)
    key = "sha256/" + hashlib.sha256(data).hexdigest()
    upload(c, ALICE, a, data)
    upload(c, ALICE, b, data, path="copy.bin")
    lib.delete_model(ALICE, a)
    c.catch_up()
    assert lib.collect_garbage(grace_s=0) == [] and c.blobs.exists(key)
    lib.delete_model(ALICE, b)
    c.catch_up()
    # within the grace period the blob stays (a same-content upload may be about to reference it)
    assert lib.collect_garbage() == [] and c.blobs.exists(key)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert lib.collect_garbage(now=later) == [key] and not c.blobs.exists(key)


def test_a_deleted_name_can_be_used_again(c):
    lib = c.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    first = lib.register_model(ALICE, pid, name="再用", family="bert")["model_id"]
    with pytest.raises(Conflict):  # taken: and the refused registration writes nothing at all
        lib.register_model(ALICE, pid, name="再用", family="bert")
    lib.delete_model(ALICE, first)
    second = lib.register_model(ALICE, pid, name="再用", family="bert")["model_id"]
    assert second != first
    # each registration is its model's first event and its claim in one commit; the deletion
    # and the release likewise (consecutive positions, same recorded_at)
    log = [e for e in c.store.read_all(limit=10_000) if e.stream_id.startswith(("model-", f"modelname-{pid}."))]
    assert [(e.type, e.data.get("model_id")) for e in log] == [
        ("model.registered", first), ("model_name.claimed", first),
        ("model.deleted", None), ("model_name.released", first),
        ("model.registered", second), ("model_name.claimed", second),
    ]  # fmt: skip
    for a, b in zip(log[::2], log[1::2], strict=True):
        assert (b.position - a.position, b.recorded_at) == (1, a.recorded_at)


def test_a_claim_left_by_an_unfinished_registration_is_taken_over_without_a_clock(c):
    # Given a name claim whose model never got registered (logs from before the atomic write)
    from domain.events import EventMetadata
    from domain.library import models as m
    from domain.records import NewEvent

    lib = c.library
    pid = lib.create_project(ALICE, "p")["project_id"]
    stream = m.MODEL_NAMES.stream_id(lib._name_stream(pid, "孤儿", "model"))
    c.store.append(stream, [NewEvent.of(m.NameClaimed(model_id="ghost"), EventMetadata(actor="old"))], 0)
    # When the name is registered right away
    mid = lib.register_model(ALICE, pid, name="孤儿", family="bert")["model_id"]
    # Then it succeeds, and the claim moved to the new model
    assert [e.data["model_id"] for e in c.store.read(stream)] == ["ghost", mid]
