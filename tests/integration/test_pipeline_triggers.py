"""Pipeline triggers on the local platform (issue 15 item 4): a schedule fires once per scheduled
minute, however often the loop looks and across a restart (the run id is keyed by the minute); a new
version of a watched dataset fires once (a redelivered event finds its run); a removed trigger fires
nothing; bad input is a 422 naming the field, with nothing written. Runs are of a two-node pipeline
(a dataset and a config template), so no job starts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.pipelines.triggers import REGISTRY, REGISTRY_ID, fire_id
from runtime.bootstrap import Container, build_local, set_container
from runtime.services.commands import Caller, load
from runtime.services.pipeline_triggers import PipelineTriggerService
from runtime.settings import Settings
from tests.integration.test_library_service import upload
from tests.integration.test_pipelines_api import call, ok

pytestmark = pytest.mark.integration

OWNER, VIEWER = "owner-t", "viewer-t"


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    c = build_local(Settings(data_dir=tmp_path_factory.mktemp("triggers") / "data", min_part_bytes=1024))
    set_container(c)
    try:
        yield c
    finally:
        set_container(None)
        c.close()


def _runs(pipeline_id: str) -> list[dict[str, Any]]:
    return ok(OWNER, "GET", f"/pipelines/{pipeline_id}/runs")["items"]  # type: ignore[no-any-return]


def _ended(run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (doc := ok(OWNER, "GET", f"/pipeline-runs/{run_id}"))["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    return doc  # type: ignore[no-any-return]


def test_schedules_and_new_versions_fire_once_each(container: Container) -> None:
    # Given a project with a dataset and a pipeline reading it, and a viewer
    pid = ok(OWNER, "POST", "/projects", {"name": "triggers"})["project_id"]
    ok(OWNER, "PUT", f"/projects/{pid}/members/{VIEWER}", {"role": "viewer"})
    dataset = ok(OWNER, "POST", f"/projects/{pid}/datasets", {"name": "reviews"})["model_id"]
    definition = {"format": "tlm.pipeline", "schema_version": 1, "name": "nightly", "nodes": [
        {"id": "data", "kind": "dataset", "params": {"dataset_id": dataset}},
        {"id": "params", "kind": "config", "params": {"template": "bert-tiny"}},
    ]}  # fmt: skip
    pipe = ok(OWNER, "POST", f"/projects/{pid}/pipelines", {"definition": definition})["pipeline_id"]
    base = f"/pipelines/{pipe}/triggers"

    # When triggers are bad, Then 422 naming the field (and the cron part), and nothing is written
    for body, field in (
        ({"kind": "schedule", "cron": "0 24 * * *"}, "cron"),
        ({"kind": "schedule"}, "cron"),
        ({"kind": "new_version", "watch": {"kind": "dataset", "id": "nope"}}, "watch.id"),
        ({"kind": "new_version", "watch": {"kind": "model", "id": dataset}}, "watch.id"),  # a dataset, not a model
        ({"kind": "schedule", "cron": "0 3 * * *", "version": 2}, "version"),
    ):
        status, doc = call(OWNER, "POST", base, body)
        assert (status, doc["field"]) in ((422, field), (404, field)), (body, status, doc)
    bad_hour = call(OWNER, "POST", base, {"kind": "schedule", "cron": "0 24 * * *"})[1]
    assert "hour 24 is out of 0-23" in bad_hour["message"]
    assert call(VIEWER, "POST", base, {"kind": "schedule", "cron": "0 3 * * *"})[0] == 403
    assert ok(OWNER, "GET", base)["items"] == [] and load(container.store, REGISTRY, REGISTRY_ID)[0].live == {}

    # Given a schedule every 5 minutes, made at 03:02
    made = datetime(2026, 12, 2, 3, 2, tzinfo=UTC)
    container.pipeline_triggers.clock = lambda: made
    sched = ok(OWNER, "POST", base, {"kind": "schedule", "cron": "*/5 * * * *"})
    assert sched["next_fire_at"] == "2026-12-02T03:05:00+00:00" and sched["created_by"] == OWNER
    # When the loop looks before, at and after 03:05, again and again, and after a restart
    svc = container.pipeline_triggers
    assert svc.fire_due(made + timedelta(minutes=2)) == []
    fired = svc.fire_due(made + timedelta(minutes=3, seconds=10))
    again = svc.fire_due(made + timedelta(minutes=4))
    restarted = PipelineTriggerService(container.store, svc.authorize, lambda: container.pipeline_runs)
    after_restart = restarted.fire_due(made + timedelta(minutes=3, seconds=40))
    # Then 03:05 fired one run, as the trigger's creator, naming its trigger and minute
    assert len(fired) == 1 and again == [] and after_restart == []
    run = _ended(fired[0])
    assert run["status"] == "succeeded" and run["trigger"]["trigger_id"] == sched["trigger_id"]
    assert run["trigger"]["cause"] == "schedule 2026-12-02T03:05:00+00:00"
    # (a long stop: only the latest missed minute fires, once)
    late = svc.fire_due(made + timedelta(minutes=19))
    assert len(late) == 1 and _ended(late[0])["trigger"]["cause"].endswith("03:20:00+00:00")
    assert svc.fire_due(made + timedelta(minutes=19, seconds=30)) == []

    # Given a trigger on the dataset's new versions
    watch = ok(OWNER, "POST", base, {"kind": "new_version", "watch": {"kind": "dataset", "id": dataset}})
    assert watch["watch"] == {"kind": "dataset", "id": dataset} and watch["next_fire_at"] is None
    before = len(_runs(pipe))
    # When a file is added to the dataset (a new version), and the event is delivered again
    upload(container, Caller(OWNER), dataset, '{"text": "好", "label": "pos"}\n'.encode(), path="train.jsonl")
    added = next(r for r in container.store.read(f"model-{dataset}") if r.type == "model.file_added")
    container.pipeline_triggers.on_new_version(added)
    # Then one run, naming the dataset's version
    cause = f"model-{dataset} v{added.version}"
    new = _ended(fire_id(watch["trigger_id"], cause))
    assert len(_runs(pipe)) == before + 1
    assert new["trigger"] == {"trigger_id": watch["trigger_id"], "kind": "new_version", "cause": cause}
    assert new["nodes"]["data"]["outputs"]["dataset"]["version"] >= added.version

    # When the triggers are removed, Then they are gone and fire nothing; a second removal is a 404
    listed = ok(OWNER, "GET", base)["items"]
    assert {t["trigger_id"] for t in listed} == {sched["trigger_id"], watch["trigger_id"]}
    for t in listed:
        assert ok(OWNER, "DELETE", f"{base}/{t['trigger_id']}")["removed"] is True
    assert ok(OWNER, "GET", base)["items"] == [] and svc.fire_due(made + timedelta(minutes=30)) == []
    status, doc = call(OWNER, "DELETE", f"{base}/{sched['trigger_id']}")
    assert (status, doc["field"]) == (404, "trigger_id")
    # And the pipeline's trigger history is in its own stream (the pipeline's versions did not move)
    types = [r.type for r in container.store.read(f"pipelinetriggers-{pipe}")]
    assert types == ["pipelinetrigger.created"] * 2 + ["pipelinetrigger.removed"] * 2
    assert ok(OWNER, "GET", f"/pipelines/{pipe}")["version"] == 1
