"""Limits through the API resolver on the local adapters (real SQLite, files): the storage
quota and free disk refuse an upload before any byte is sent, an owner changes a project's
limits, a too-large config is refused before an architecture test job starts, arch tests are
cancelled, and a project's configs are listed."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from functions.api.app import app
from runtime.bootstrap import build_local, set_container
from runtime.services.commands import Caller
from runtime.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def c(tmp_path: Path):
    container = build_local(Settings(data_dir=tmp_path / "data", min_part_bytes=1024, limit_storage_bytes=10_000))
    set_container(container)
    yield container
    set_container(None)
    container.close()


def call(method: str, path: str, user: str = "alice", body: Any = None, query: dict | None = None) -> tuple[int, Any]:
    event = {
        "httpMethod": method, "path": path, "resource": path, "headers": {"content-type": "application/json"},
        "queryStringParameters": query, "body": None if body is None else json.dumps(body),
        "requestContext": {"authorizer": {"claims": {"sub": user}}, "requestId": "r1"},
    }  # fmt: skip
    res = app.resolve(event, None)
    return res["statusCode"], json.loads(res["body"]) if res.get("body") else None


def start_upload(model_id: str, size: int, path: str = "w.bin") -> tuple[int, Any]:
    body = {"path": path, "size": size, "sha256": hashlib.sha256(b"x").hexdigest()}
    return call("POST", f"/models/{model_id}/uploads", "alice", body)


def test_storage_quota_and_owner_overrides(c):
    pid = c.library.create_project(Caller("alice"), "p")["project_id"]
    c.library.set_member(Caller("alice"), pid, "bob", "editor")
    mid = c.library.register_model(Caller("alice"), pid, name="m", family="bert")["model_id"]
    # Given a 10 kB quota, When a 20 kB upload starts, Then a 413 names the size and the limit
    status, body = start_upload(mid, 20_000)
    assert status == 413 and body["field"] == "size" and "limits.storage_bytes" in body["message"]
    assert start_upload(mid, 5_000)[0] == 201
    # an editor may not raise the quota; the owner may, and the limit holds at once
    status, body = call("PUT", f"/projects/{pid}/limits", "bob", {"limits": {"storage_bytes": 10**6}})
    assert status == 403
    status, body = call("PUT", f"/projects/{pid}/limits", "alice", {"limits": {"storage_bytes": 10**6}})
    assert status == 200 and body["limits"]["storage_bytes"] == 10**6
    assert start_upload(mid, 20_000, "big.bin")[0] == 201
    status, body = call("PUT", f"/projects/{pid}/limits", "alice", {"limits": {"max_jobz": 1}})
    assert status == 422 and body["field"] == "limits.max_jobz"
    status, body = call("GET", f"/projects/{pid}/limits", "bob")
    assert status == 200 and body["limits"]["max_jobs"] == 8


def test_an_upload_larger_than_the_free_disk_is_refused(c):
    pid = c.library.create_project(Caller("alice"), "p")["project_id"]
    mid = c.library.register_model(Caller("alice"), pid, name="m", family="bert")["model_id"]
    c.limits.defaults = c.limits.defaults.with_overrides({"storage_bytes": 10**15})
    c.limits.free_bytes = lambda: 1_000_000_000
    status, body = start_upload(mid, 2 * 10**9)
    assert status == 413 and body["field"] == "size" and "disk" in body["message"]


def test_a_too_large_config_is_refused_before_its_arch_test_starts(c):
    alice = Caller("alice")
    pid = c.library.create_project(alice, "p")["project_id"]
    parent = c.configs.create_from_template(alice, pid, "bert-base", name="base")
    child = c.configs.derive(alice, parent["config_id"], {"num_layers": 6}, name="six")
    c.limits.set(alice, pid, {"max_params": 50_000_000})
    status, body = call("POST", f"/configs/{child['config_id']}/arch-test", body={})
    assert status == 413 and body["field"] == "limits.max_params"
    assert not list((c.settings.data_dir / "jobs").glob("archtest-*"))


def test_an_arch_test_is_cancelled_through_the_api(c, tmp_path):
    alice = Caller("alice")
    pid = c.library.create_project(alice, "p")["project_id"]
    parent = c.configs.create_from_template(alice, pid, "bert-tiny", name="tiny")
    child = c.configs.derive(alice, parent["config_id"], {"num_layers": 1}, name="one")
    slow = tmp_path / "slow_job.py"  # a stand-in for jobs.arch_test that runs until stopped
    slow.write_text("import time\nprint('working', flush=True)\ntime.sleep(60)\n")
    c.jobs.inner.register_program("arch_test", str(slow))
    c.limits.set(alice, pid, {"max_jobs_per_user": 1})
    status, first = call("POST", f"/configs/{child['config_id']}/arch-test", body={})
    assert status == 202 and first["job_name"]
    second = call("POST", f"/configs/{child['config_id']}/arch-test", body={})[1]
    # each request's run launches its job; whichever comes second waits for alice's only slot
    names = [first["job_name"], second["job_name"]]
    deadline = time.monotonic() + 20
    while True:
        states = {n: call("GET", f"/jobs/{n}")[1] for n in names}
        queued = [n for n, st in states.items() if (st["state"], st["queue_position"]) == ("Pending", 1)]
        running = [n for n, st in states.items() if st["state"] == "InProgress"]
        if queued and running:
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.1)
    (waiting,), (working,) = queued, running
    status, st = call("POST", f"/jobs/{waiting}/cancel")
    assert status == 200 and st["state"] == "Stopped"
    status, st = call("POST", f"/jobs/{working}/cancel")
    assert status == 200 and st["state"] in ("Stopping", "Stopped")
    deadline = time.monotonic() + 20
    while call("GET", f"/jobs/{working}")[1]["state"] == "Stopping":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert call("GET", f"/jobs/{working}")[1]["state"] == "Stopped"
    assert call("POST", f"/jobs/{working}/cancel")[0] == 409
    status, body = call("POST", f"/jobs/{working}/cancel", "bob")
    assert status in (403, 404)


def test_a_projects_configs_are_listed_newest_first(c):
    alice = Caller("alice")
    pid = c.library.create_project(alice, "p")["project_id"]
    other = c.library.create_project(alice, "q")["project_id"]
    a = c.configs.create_from_template(alice, pid, "bert-tiny", name="a")
    b = c.configs.create_from_template(alice, pid, "xlnet-tiny", name="b")
    c.configs.create_from_template(alice, other, "bert-tiny", name="elsewhere")
    c.configs.edit(alice, a["config_id"], name="a2")
    status, body = call("GET", f"/projects/{pid}/configs")
    assert status == 200
    assert [(i["config_id"], i["name"], i["version"]) for i in body["items"]] == [
        (a["config_id"], "a2", 2),
        (b["config_id"], "b", 1),
    ]
    assert [i["name"] for i in call("GET", f"/projects/{pid}/configs", query={"family": "xlnet"})[1]["items"]] == ["b"]
    c.configs.delete(alice, b["config_id"])
    assert [i["name"] for i in call("GET", f"/projects/{pid}/configs")[1]["items"]] == ["a2"]
    assert call("GET", f"/projects/{pid}/configs", "bob")[0] == 403


def test_open_uploads_count_against_the_quota_until_completed_or_aborted(c):
    pid = c.library.create_project(Caller("alice"), "p")["project_id"]
    mid = c.library.register_model(Caller("alice"), pid, name="m", family="bert")["model_id"]
    # Given a 10 kB quota and an open 6 kB upload (nothing stored yet)
    status, first = start_upload(mid, 6_000, "a.bin")
    assert status == 201
    status, body = call("GET", f"/projects/{pid}/limits", "alice")
    assert (body["storage_used"], body["storage_in_open_uploads"]) == (6_000, 6_000)
    # When a second 6 kB upload starts in parallel, Then it does not fit beside the first
    status, body = start_upload(mid, 6_000, "b.bin")
    assert status == 413 and body["field"] == "size" and "open uploads" in body["message"], body
    # When the first is aborted, Then its bytes are free again
    assert call("DELETE", f"/models/{mid}/uploads/{first['upload_id']}", "alice")[0] == 200
    assert call("GET", f"/projects/{pid}/limits", "alice")[1]["storage_used"] == 0
    # And a completed upload counts once, as a file
    data = b"z" * 6_000
    body = {"path": "c.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    status, up = call("POST", f"/models/{mid}/uploads", "alice", body)
    c.blobs.upload_part(up["upload_id"], 1, data)
    c.catch_up()  # the uploads view names the upload's model for the verification
    assert call("POST", f"/models/{mid}/uploads/{up['upload_id']}/complete", "alice")[0] == 200
    status, body = call("GET", f"/projects/{pid}/limits", "alice")
    assert (body["storage_used"], body["storage_in_open_uploads"]) == (6_000, 0)
    assert start_upload(mid, 6_000, "d.bin")[0] == 413
