"""The release center on the local platform: real SQLite, the real local workflow runner and
reactions, the ``release`` workflow's steps; the serving backend is ``FakeServing`` (the real one
runs in tests/e2e/test_release_center.py). Versions, params history and diff, approvals and the
production alias, start -> canary update -> automatic rollback of an erroring version -> manual
rollback -> stop, with the bad inputs refused before anything is written."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.errors import Conflict, DomainError, Forbidden, Invalid, TooLarge
from runtime.bootstrap import Container, build_local
from runtime.services.commands import Caller
from runtime.settings import Settings
from tests.integration._release_fixtures import FakeServing, model_file, recorded_compile

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ANN, BOB, VIC = Caller("ann"), Caller("bob"), Caller("vic")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    fake = FakeServing()
    monkeypatch.setattr(Container, "serving", property(lambda self: fake), raising=False)
    c = build_local(Settings(data_dir=tmp_path / "data"))
    pid = c.library.create_project(ANN, "发布")["project_id"]
    c.library.set_member(ANN, pid, "bob", "editor")
    c.library.set_member(ANN, pid, "vic", "viewer")
    mid = c.library.register_model(ANN, pid, name="情感", family="bert")["model_id"]
    try:
        yield {"c": c, "fake": fake, "pid": pid, "mid": mid}
    finally:
        for row in c.project_runs.rows():
            if row["status"] in ("running", "cancelling"):
                with contextlib.suppress(Conflict):  # it may have ended since the view was read
                    c.workflows.cancel(row["run_id"], reason="test over")
                c.workflows.wait(row["run_id"], timeout=30)
        c.close()


def settle(c: Container, did: str, check: Any, timeout: float = 45) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        c.catch_up()
        doc = c.releases.show(ANN, did)
        if check(doc):
            return doc
        assert time.monotonic() < deadline, doc
        time.sleep(0.2)


def version_from_compile(w: dict[str, Any], **params: Any) -> tuple[str, str]:
    cid, blob = recorded_compile(w["c"], "ann", w["pid"], w["mid"])
    return w["c"].versions.create(ANN, compile_id=cid, params=params or None)["version_id"], blob


def unchanged(c: Container, stream: str) -> Any:
    before = c.store.version(stream)
    return lambda: c.store.version(stream) == before


def test_versions_params_approvals_and_aliases(world: dict[str, Any]) -> None:
    c, mid = world["c"], world["mid"]
    v1, _ = version_from_compile(world)
    v2, _ = version_from_compile(world, threads=2)
    doc = c.versions.show(ANN, v1)
    assert doc["number"] == 1 and doc["deployable"] and doc["params"]["runtime"] == "onnxruntime-int8"
    assert doc["lineage"]["compile_id"] == doc["compile_id"] and doc["metrics"]["compile.accuracy"] == 0.9
    assert c.versions.show(ANN, v2)["lineage"]["parent_version_id"] == v1
    assert [d["version_id"] for d in c.versions.list_versions(VIC, mid)] == [v2, v1]
    changed = {ch["path"] for ch in c.versions.diff(VIC, v1, v2)["changes"]}
    assert "params.threads" in changed and "compile_id" in changed
    # the torch runtime is refused when set (a compiled package holds no torch weights), nothing written
    same_registry = unchanged(c, f"versionregistry-{mid}")
    with pytest.raises(Invalid) as e:
        version_from_compile(world, runtime="torch")
    assert e.value.field == "params.runtime" and same_registry()
    with pytest.raises(Invalid) as e:
        c.versions.update_params(BOB, v2, {"runtime": "torch"})
    assert e.value.field == "params.runtime"

    # params: history and diff; a bad value names its field and changes nothing
    c.versions.update_params(BOB, v1, {"max_batch": 32})
    same = unchanged(c, f"modelversion-{v1}")
    with pytest.raises(Invalid) as e:
        c.versions.update_params(BOB, v1, {"max_batch": 100000})
    assert e.value.field == "params.max_batch" and same()
    history = c.versions.params_history(VIC, v1)
    assert [h["revision"] for h in history] == [0, 1] and history[1]["by"] == "bob"
    assert history[1]["changes"] == [{"path": "max_batch", "kind": "changed", "old": 16, "new": 32}]
    with pytest.raises(Forbidden):
        c.versions.update_params(VIC, v1, {"threads": 2})

    # production needs someone else's approval, with the evidence recorded
    with pytest.raises(Conflict) as e:
        c.versions.move_alias(BOB, mid, "production", v1)
    assert e.value.field == "version_id"
    c.versions.request_approval(BOB, v1, "production")
    same = unchanged(c, f"modelversion-{v1}")
    with pytest.raises(Forbidden) as e:
        c.versions.approve(BOB, v1, "production")
    assert e.value.field == "approver" and same()
    approved = c.versions.approve(ANN, v1, "production", comment="looks good")
    approval = approved["approvals"]["production"]
    assert approval["decided_by"] == "ann" and approval["evidence"]["metrics"]["compile.accuracy"] == 0.9
    c.versions.move_alias(BOB, mid, "production", v1)
    c.versions.move_alias(BOB, mid, "staging", v2)  # not protected
    t_before_move = c.store.read(f"modelaliases-{mid}")[-1].recorded_at
    c.versions.move_alias(BOB, mid, "staging", v1)
    aliases = c.versions.aliases(VIC, mid)
    assert aliases["aliases"] == {"production": v1, "staging": v1}
    assert [h["by"] for h in aliases["history"]] == ["bob", "bob", "bob"]
    assert c.versions.aliases(VIC, mid, as_of=t_before_move)["aliases"]["staging"] == v2
    assert c.versions.show(VIC, v1)["aliases"] == ["production", "staging"]


def test_deploy_canary_auto_rollback_manual_rollback_stop(world: dict[str, Any]) -> None:
    c, fake = world["c"], world["fake"]
    v1, _ = version_from_compile(world)
    v2, _ = version_from_compile(world)
    v3, bad_blob = version_from_compile(world)
    fake.erroring.add(bad_blob)

    # Bad input first: nothing is written
    raw = c.library.register_model(ANN, world["pid"], name="未编译", family="bert")["model_id"]
    model_file(c, "ann", raw, "model.safetensors", b"weights")
    uncompiled = c.versions.create(ANN, model_id=raw)
    assert uncompiled["source"] == "upload" and not uncompiled["deployable"]
    registry = unchanged(c, f"deploymentregistry-{world['pid']}")
    with pytest.raises(Invalid) as e:
        c.releases.start(BOB, uncompiled["version_id"])
    assert e.value.field == "version_id" and "no compiled artifact" in e.value.message and registry()
    with pytest.raises(Forbidden):
        c.releases.start(VIC, v1)

    # Given v1 deployed (all at once)
    did = c.releases.start(BOB, v1, name="线上")["deployment_id"]
    doc = settle(c, did, lambda d: d["status"] == "running")
    assert doc["primary_version"] == v1 and doc["weights"] == {"blue": 100}
    out = c.releases.predict(VIC, did, ["质量很好", "太差了"])
    assert [p["label"] for p in out["predictions"]] == ["positive", "negative"] and out["version_id"] == v1

    # bad input on a live deployment: each a clear 4xx, nothing changed
    same = unchanged(c, f"deployment-{did}")
    for strategy in ({"kind": "canary", "percent": 0}, {"kind": "canary", "percent": 100}):
        with pytest.raises(Invalid) as e:
            c.releases.update(BOB, did, v2, strategy=strategy)
        assert e.value.field == "strategy.percent"
    with pytest.raises(TooLarge) as e:
        c.releases.predict(VIC, did, ["好"] * 65)
    assert e.value.field == "texts" and "limits.max_predict_texts" in e.value.message
    assert same()

    # When v2 goes out with a 20 % canary
    c.releases.update(BOB, did, v2, strategy={"kind": "canary", "percent": 20, "bake_s": 1})
    doc = settle(c, did, lambda d: d["status"] == "running" and d["primary_version"] == v2)
    shifts = [h for h in doc["history"] if h["type"] == "deployment.traffic_shifted"]
    assert [s["weights"] for s in shifts[-2:]] == [{"blue": 80, "green": 20}, {"green": 100}]
    settle(c, did, lambda d: fake.live(did) == {"green"})  # the retired slot is stopped

    # When v3, whose serving fails every request, goes out: it is rolled back automatically
    c.releases.update(BOB, did, v3, strategy={"kind": "canary", "percent": 50, "bake_s": 8},
                      thresholds={"max_error_rate": 0.2, "min_invocations": 3})  # fmt: skip
    settle(c, did, lambda d: d["weights"].get("blue") == 50)
    failed = 0
    deadline = time.monotonic() + 30
    while c.releases.show(ANN, did)["status"] == "updating":
        assert time.monotonic() < deadline
        try:
            c.releases.predict(VIC, did, ["好"])
        except DomainError:
            failed += 1
        time.sleep(0.05)
    doc = settle(c, did, lambda d: d["status"] == "running")
    rolled = [h for h in doc["history"] if h["type"] == "deployment.rolled_back"]
    assert failed > 0 and len(rolled) == 1 and "error rate" in rolled[0]["cause"] and rolled[0]["automatic"]
    assert doc["primary_version"] == v2 and doc["weights"] == {"green": 100}
    settle(c, did, lambda d: fake.live(did) == {"green"})

    # When the user rolls back by hand: to v1, health-checked before traffic moves
    c.releases.rollback(BOB, did, reason="v2 misbehaves")
    doc = settle(c, did, lambda d: d["status"] == "running" and d["primary_version"] == v1)
    assert doc["previous_version"] == v2
    monitor = c.release_monitor.metrics(VIC, did, sample=True)
    assert {s["version_id"] for s in monitor["series"]} >= {v2, v3}
    assert any(x["errors"] > 0 for x in monitor["versions"] if x["version_id"] == v3)

    # When it is stopped, predictions are refused and every slot is stopped
    c.releases.stop(BOB, did)
    settle(c, did, lambda d: d["status"] == "stopped" and not fake.live(did))
    with pytest.raises(Conflict) as e:
        c.releases.predict(VIC, did, ["好"])
    assert e.value.field == "deployment_id"
    kinds = [h["type"] for h in c.releases.show(VIC, did)["history"]]
    assert kinds.count("deployment.update_requested") == 4 and kinds[-1] == "deployment.stopped"
    assert [d["deployment_id"] for d in c.releases.list_deployments(VIC, world["pid"])] == [did]


def test_a_never_healthy_first_version_fails_the_deployment(world: dict[str, Any]) -> None:
    c, fake = world["c"], world["fake"]
    v1, blob = version_from_compile(world, startup_timeout_s=2.0)
    fake.broken.add(blob)
    did = c.releases.start(BOB, v1)["deployment_id"]
    doc = settle(c, did, lambda d: d["status"] == "failed")
    rolled = [h for h in doc["history"] if h["type"] == "deployment.rolled_back"]
    assert "did not become healthy" in rolled[0]["cause"] and doc["weights"] == {}
    assert not any(h["type"] == "deployment.traffic_shifted" for h in doc["history"])
    with pytest.raises(Conflict):
        c.releases.predict(VIC, did, ["好"])


def test_linear_update_and_shadow_copies(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    c, fake = world["c"], world["fake"]
    v1, _ = version_from_compile(world)
    v2, _ = version_from_compile(world)
    did = c.releases.start(BOB, v1)["deployment_id"]
    settle(c, did, lambda d: d["status"] == "running")

    # Given a shadow test of v2 on every request: answers stay v1's, v2's are compared
    c.releases.shadow(BOB, did, v2, 100)
    settle(c, did, lambda d: "green" in fake.live(did))
    monkeypatch.setattr("runtime.services.releases.SHADOW_FLUSH_TEXTS", 4)
    for _ in range(3):
        assert c.releases.predict(VIC, did, ["好", "差"])["version_id"] == v1
    shadow = c.releases.show(VIC, did)["shadow"]
    assert shadow["compared"] == {"copied": 6, "agreed": 6, "errors": 0}  # 4 written, 2 not yet
    # the written counts survive the process (a restart loses at most one batch)
    c.releases._shadow.clear()
    assert c.releases.show(VIC, did)["shadow"]["compared"] == {"copied": 4, "agreed": 4, "errors": 0}
    c.releases.predict(VIC, did, ["好"])
    with pytest.raises(Conflict):  # no update while a shadow test runs
        c.releases.update(BOB, did, v2)
    c.releases.stop_shadow(BOB, did)  # writes the counts not written yet first
    counted = [e.data for e in c.store.read(f"deployment-{did}") if e.type == "deployment.shadow_compared"]
    assert [(d["copied"], d["agreed"]) for d in counted] == [(4, 4), (1, 1)]
    settle(c, did, lambda d: fake.live(did) == {"blue"})

    # When v2 goes out linearly in 50 % steps
    c.releases.update(BOB, did, v2, strategy={"kind": "linear", "percent": 50, "bake_s": 0})
    doc = settle(c, did, lambda d: d["status"] == "running" and d["primary_version"] == v2)
    shifts = [h["weights"] for h in doc["history"] if h["type"] == "deployment.traffic_shifted"]
    assert shifts[-2:] == [{"blue": 50, "green": 50}, {"green": 100}]
    t_mid = next(h["at"] for h in doc["history"] if h["type"] == "deployment.shadow_stopped")
    from datetime import datetime

    then = c.releases.show(VIC, did, as_of=datetime.fromisoformat(t_mid))
    assert then["primary_version"] == v1 and then["shadow"] is None


def test_an_unhealthy_slot_is_an_event_and_so_is_its_healing(world: dict[str, Any]) -> None:
    c, fake = world["c"], world["fake"]
    v1, blob = version_from_compile(world)
    did = c.releases.start(BOB, v1)["deployment_id"]
    settle(c, did, lambda d: d["status"] == "running")
    # Given the serving slot stops answering its health check
    fake.broken.add(blob)
    assert c.release_monitor.watch() == 1  # what the local server does every 30 s
    c.release_monitor.sample(did)  # a second failed check is the same episode: no second event
    doc = c.releases.show(VIC, did)
    assert doc["unhealthy"] == {"blue": "exit 1: model.onnx is not an ONNX graph"}
    assert [h["type"] for h in doc["history"]].count("deployment.unhealthy") == 1
    # When it answers again, the healing is recorded too; the samples show both
    fake.broken.discard(blob)
    c.release_monitor.sample(did)
    doc = c.releases.show(VIC, did)
    assert doc["unhealthy"] == {} and doc["history"][-1]["type"] == "deployment.healed"
    points = c.release_monitor.metrics(VIC, did)["series"][0]["points"]
    assert [p["healthy"] for p in points][-3:] == [False, False, True]
