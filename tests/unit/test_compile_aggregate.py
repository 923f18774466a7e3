"""The compile aggregate: lifecycle, idempotent step commands, terminal states stay terminal."""

from __future__ import annotations

import pytest

from domain.compiles import compile as c
from domain.errors import Conflict, Invalid, NotFound

pytestmark = pytest.mark.unit

ART = {p: {"blob": f"sha256/{'a' * 64}", "size": 1, "sha256": "a" * 64} for p in c.ARTIFACT_PATHS}
REQ = c.RequestCompile(
    compile_id="c1",
    project_id="p",
    model_id="m",
    model_version=3,
    target="onnx-int8",
    params={"opset": 18},
    run_id="r1",
)


def run(*cmds: c.Command, state: c.Compile | None = None) -> c.Compile:
    s = state or c.Compile()
    for cmd in cmds:
        s = c.COMPILES.fold(c.decide(s, cmd), s)
    return s


def test_happy_path_requested_running_succeeded() -> None:
    s = run(REQ)
    assert (s.status, s.run_id, s.params) == ("requested", "r1", {"opset": 18})
    s = run(
        c.StartCompile(files=["config.json"]),
        c.RecordVerification(job_name="j1", verification={"passed": True}),
        state=s,
    )
    assert s.status == "running" and s.jobs == {"Compile": "j1"}
    s = run(c.SucceedCompile(artifacts=ART, jobs={"Package": "j2"}, report={"x": 1}), state=s)
    assert s.status == "succeeded" and s.terminal and s.jobs == {"Compile": "j1", "Package": "j2"}
    assert set(s.artifacts) == set(c.ARTIFACT_PATHS)


def test_step_commands_repeated_after_a_restart_decide_nothing() -> None:
    s = run(REQ, c.StartCompile(files=[]))
    assert c.decide(s, c.StartCompile(files=[])) == []
    s = run(c.RecordVerification(job_name="j", verification={"passed": True}), state=s)
    assert c.decide(s, c.RecordVerification(job_name="j", verification={"passed": True})) == []
    s = run(c.SucceedCompile(artifacts=ART, jobs={}), state=s)
    assert c.decide(s, c.SucceedCompile(artifacts=ART, jobs={})) == []


def test_success_needs_every_artifact() -> None:
    s = run(REQ, c.StartCompile(files=[]))
    with pytest.raises(Invalid) as e:
        c.decide(s, c.SucceedCompile(artifacts={"model.onnx": ART["model.onnx"]}, jobs={}))
    assert e.value.field == "artifacts"


@pytest.mark.parametrize("end", [c.FailCompile(reason="boom", step="Compile"), c.CancelCompile(reason="stop")])
def test_failed_or_cancelled_is_final(end: c.Command) -> None:
    s = run(REQ, end)  # straight from requested (the validate step refused, or an early cancel)
    assert s.terminal and s.status in ("failed", "cancelled")
    assert c.decide(s, end) == []  # idempotent
    other = c.CancelCompile() if isinstance(end, c.FailCompile) else c.FailCompile(reason="x")
    for cmd in (other, c.SucceedCompile(artifacts=ART, jobs={}), c.StartCompile(files=[])):
        with pytest.raises(Conflict):
            c.decide(s, cmd)


def test_unknown_and_duplicate_compiles() -> None:
    with pytest.raises(NotFound):
        c.decide(c.Compile(), c.StartCompile(files=[]))
    with pytest.raises(Conflict):
        c.decide(run(REQ), REQ)
    with pytest.raises(Conflict):  # verification only while running
        c.decide(run(REQ), c.RecordVerification(job_name="j", verification={}))
