"""The release center's pure decisions: versions and approvals, aliases under the release policy,
deployment updates (strategies, shifts, finish, rollback, shadow), routing, the bake verdict."""

from __future__ import annotations

import pytest

from domain.errors import Conflict, Forbidden, Invalid
from domain.releases import aliases as al
from domain.releases import deployment as dep
from domain.releases import versions as v
from domain.releases.monitoring import series
from domain.releases.params import validate_params
from domain.releases.traffic import Thresholds, route, split, validate_strategy
from domain.releases.verdict import bake_verdict

pytestmark = pytest.mark.unit

FILES = {"model.onnx": {"blob": "sha256/aa", "size": 1}, "model.tar.gz": {"blob": "sha256/bb", "size": 2}}


def version(**kw: object) -> v.ModelVersion:
    cmd = v.CreateVersion(version_id="m-v1", project_id="p", model_id="m", number=1, source="compile", files=FILES)
    state = v.VERSIONS.fold(v.decide(v.ModelVersion(), cmd))
    return state.model_copy(update=kw)


def run(state: dep.Deployment, *cmds: object) -> dep.Deployment:
    for c in cmds:
        state = dep.DEPLOYMENTS.fold(dep.decide(state, c), state)  # type: ignore[arg-type]
    return state


def request(update_id: str, version_id: str, kind: str = "update",
            strategy: dict[str, object] | None = None) -> dep.RequestUpdate:  # fmt: skip
    return dep.RequestUpdate(update_id=update_id, run_id=f"r-{update_id}", kind=kind,  # type: ignore[arg-type]
                             version_id=version_id, params={}, strategy=validate_strategy(strategy).model_dump(),
                             thresholds=Thresholds().model_dump(), model_uri="sha256/bb")  # fmt: skip


def started() -> dep.Deployment:
    create = dep.CreateDeployment(deployment_id="d1", project_id="p", model_id="m", name="n",
                                  first=request("u1", "m-v1", "start"))  # fmt: skip
    return run(dep.Deployment(), create, dep.MarkHealthy(update_id="u1"), dep.Shift(update_id="u1", stage=0),
               dep.Finish(update_id="u1"))  # fmt: skip


def test_params_name_the_field_and_keep_defaults() -> None:
    assert validate_params({"threads": 4}).max_batch == 16
    with pytest.raises(Invalid) as e:
        validate_params({"max_batch": 0})
    assert e.value.field == "params.max_batch"
    with pytest.raises(Invalid) as e:
        validate_params({"min_instances": 3, "max_instances": 2})
    assert e.value.field == "params.max_instances"
    with pytest.raises(Invalid) as e:
        validate_params({"runtime": "tensorrt"})
    assert e.value.field == "params.runtime"


def test_approval_needs_someone_else_and_records_evidence() -> None:
    state = version()
    state = v.VERSIONS.fold(v.decide(state, v.RequestApproval(stage="production", requested_by="ann",
                                                              evidence={"metrics": {"acc": 0.9}})), state)  # fmt: skip
    with pytest.raises(Forbidden) as e:
        v.decide(state, v.Approve(stage="production", approver="ann"))
    assert e.value.field == "approver"
    state = v.VERSIONS.fold(v.decide(state, v.Approve(stage="production", approver="bob")), state)
    assert state.approved_for("production") and state.approvals["production"].evidence == {"metrics": {"acc": 0.9}}
    with pytest.raises(Conflict):
        v.decide(state, v.Approve(stage="production", approver="cat"))


def test_params_update_keeps_revisions_and_repeats_are_no_ops() -> None:
    state = version(params={"threads": 1})
    assert v.decide(state, v.UpdateParams(params={"threads": 1})) == []
    state = v.VERSIONS.fold(v.decide(state, v.UpdateParams(params={"threads": 2})), state)
    assert state.params_revision == 1 and state.params == {"threads": 2}


def test_protected_alias_needs_an_approval() -> None:
    move = al.MoveAlias(model_id="m", alias="production", version_id="m-v1", version_model_id="m", protected=True)
    with pytest.raises(Conflict) as e:
        al.ALIASES.decide(al.Aliases(), move)
    assert e.value.field == "version_id"
    events = al.ALIASES.decide(al.Aliases(), move.model_copy(update={"approved": True}))
    assert events[0].previous_version_id is None  # type: ignore[attr-defined]
    with pytest.raises(Invalid):
        al.ALIASES.decide(al.Aliases(), move.model_copy(update={"version_model_id": "other"}))
    with pytest.raises(Invalid):
        al.clean_alias("Prod!")


def test_canary_percent_outside_1_99_is_refused() -> None:
    for bad in (0, 100, -5):
        with pytest.raises(Invalid) as e:
            validate_strategy({"kind": "canary", "percent": bad, "bake_s": 5})
        assert e.value.field == "strategy.percent"
    assert validate_strategy({"kind": "canary", "percent": 20}).schedule() == [20, 100]
    assert validate_strategy({"kind": "linear", "percent": 30}).schedule() == [30, 60, 90, 100]
    assert validate_strategy(None).schedule() == [100]


def test_start_shift_finish_then_canary_update() -> None:
    state = started()
    assert state.status == "running" and state.primary == "blue" and state.weights == {"blue": 100}
    state = run(state, request("u2", "m-v2", strategy={"kind": "canary", "percent": 20}))
    assert state.status == "updating" and state.update is not None and state.update.slot == "green"
    with pytest.raises(Conflict):  # no traffic before the health check passed
        dep.decide(state, dep.Shift(update_id="u2", stage=0))
    with pytest.raises(Conflict):  # one update at a time
        dep.decide(state, request("u3", "m-v3"))
    state = run(state, dep.MarkHealthy(update_id="u2"), dep.Shift(update_id="u2", stage=0))
    assert state.weights == {"blue": 80, "green": 20}
    assert dep.decide(state, dep.Shift(update_id="u2", stage=0)) == []  # a repeated step
    with pytest.raises(Conflict):
        dep.decide(state, dep.Finish(update_id="u2"))  # not at 100 % yet
    state = run(state, dep.Shift(update_id="u2", stage=1), dep.Finish(update_id="u2"))
    assert state.primary == "green" and state.weights == {"green": 100} and "blue" not in state.slots
    assert state.history == ("m-v1", "m-v2") and state.previous_version == "m-v1"


def test_rollback_sends_traffic_back_and_is_idempotent() -> None:
    state = run(started(), request("u2", "m-v2", kind="update"), dep.MarkHealthy(update_id="u2"),
                dep.Shift(update_id="u2", stage=0))  # fmt: skip
    events = dep.decide(state, dep.RollBack(update_id="u2", cause="error rate 0.5 > 0.05"))
    assert events[0].weights == {"blue": 100} and events[0].cause.startswith("error rate")  # type: ignore[attr-defined]
    state = run(state, dep.RollBack(update_id="u2", cause="x"))
    assert state.status == "running" and state.update is None and state.primary_version == "m-v1"
    assert dep.decide(state, dep.RollBack(update_id="u2", cause="again")) == []


def test_first_start_that_rolls_back_fails_and_stop_ends_everything() -> None:
    create = dep.CreateDeployment(deployment_id="d1", project_id="p", model_id="m", name="n",
                                  first=request("u1", "m-v1", "start"))  # fmt: skip
    state = run(dep.Deployment(), create, dep.RollBack(update_id="u1", cause="never healthy"))
    assert state.status == "failed" and state.weights == {}
    state = run(started(), dep.Stop(reason="done"))
    assert state.status == "stopped" and state.weights == {}
    with pytest.raises(Conflict):
        dep.decide(state, request("u9", "m-v2"))


def test_shadow_and_health_events() -> None:
    state = run(started(), dep.StartShadow(version_id="m-v2", percent=10))
    assert state.shadow == {"slot": "green", "version_id": "m-v2", "percent": 10}
    with pytest.raises(Conflict):
        dep.decide(state, request("u2", "m-v2"))
    state = run(state, dep.StopShadow())
    assert state.shadow is None
    state = run(state, dep.ReportHealth(slot="blue", healthy=False, cause="no answer"))
    assert state.unhealthy == {"blue": "no answer"}
    assert dep.decide(state, dep.ReportHealth(slot="blue", healthy=False)) == []  # one event per episode
    assert run(state, dep.ReportHealth(slot="blue", healthy=True)).unhealthy == {}


def test_route_is_a_weighted_choice() -> None:
    weights = split("blue", "green", 20)
    picks = [route(weights, i / 1000) for i in range(1000)]
    assert picks.count("green") == 200 and picks.count("blue") == 800
    assert route({"blue": 100, "green": 0}, 0.99) == "blue"


def test_bake_verdict_breaches_on_errors_or_latency_and_passes_after_bake() -> None:
    t = Thresholds(max_error_rate=0.1, max_p99_ms=50)
    ok = [{"invocations": 10, "errors": 0, "p99_ms": 5}, {"invocations": 30, "errors": 1, "p99_ms": 8}]
    assert bake_verdict(ok, t, elapsed_s=1, bake_s=5).outcome == "baking"
    assert bake_verdict(ok, t, elapsed_s=6, bake_s=5).outcome == "passed"
    errs = [{"invocations": 10, "errors": 0}, {"invocations": 30, "errors": 8}]
    verdict = bake_verdict(errs, t, elapsed_s=1, bake_s=5)
    assert verdict.outcome == "breach" and verdict.observed["error_rate"] == 0.4 and "error rate" in verdict.cause
    slow = [{"invocations": 10, "errors": 0, "p99_ms": 80}]
    assert "p99" in bake_verdict(slow, t, elapsed_s=1, bake_s=5).cause
    down = [{"invocations": 1, "errors": 0, "healthy": False}, {"invocations": 1, "errors": 0, "healthy": False}]
    assert bake_verdict(down, t, elapsed_s=0, bake_s=5).outcome == "breach"


def test_series_turns_counters_into_intervals() -> None:
    rows = [{"slot": "blue", "version_id": "a", "at": 1, "invocations": 5, "errors": 1},
            {"slot": "blue", "version_id": "a", "at": 2, "invocations": 9, "errors": 1},
            {"slot": "green", "version_id": "b", "at": 2, "invocations": 3, "errors": 3}]  # fmt: skip
    out = {s["slot"]: s for s in series(rows)}
    assert [p["invocations"] for p in out["blue"]["points"]] == [5, 4] and out["blue"]["invocations"] == 9
    assert out["green"]["errors"] == 3
