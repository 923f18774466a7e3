"""Every step the workflows name has one implementation, reachable from the Lambda handler."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.steps import handler as step_handler
from runtime.bootstrap import build_local, set_container
from runtime.settings import Settings
from runtime.workflows.definitions import STEP_FUNCTIONS, all_workflows
from runtime.workflows.steps import registry

pytestmark = pytest.mark.integration


@pytest.fixture
def container(tmp_path: Path):
    c = build_local(Settings(data_dir=tmp_path / "data"))
    set_container(c)
    yield c
    set_container(None)
    c.close()


def test_every_step_function_the_workflows_name_is_implemented(container):
    named = {s.function for w in all_workflows().values() for s in w.states if hasattr(s, "function")}
    assert named  # the shipped workflows do call step functions
    assert named <= set(STEP_FUNCTIONS)
    # + the compiled pipelines' steps (issue 15; local engine only so far, so infra deploys none of them)
    from domain.pipelines.compile import STEP_FUNCTIONS as PIPELINE_STEPS

    assert set(registry(container)) == set(STEP_FUNCTIONS) | set(PIPELINE_STEPS)


def test_the_lambda_handler_dispatches_on_tlm_step(container, monkeypatch):
    monkeypatch.setenv("TLM_STEP", "no_such_step")
    with pytest.raises(LookupError, match="no_such_step"):
        step_handler.handler({}, None)
    calls = []
    monkeypatch.setenv("TLM_STEP", "verify_compile")
    monkeypatch.setattr(
        "runtime.workflows.steps.registry", lambda c: {"verify_compile": lambda e: calls.append(e) or {"ok": True}}
    )
    assert step_handler.handler({"compile_id": "c1"}, None) == {"ok": True}
    assert calls == [{"compile_id": "c1"}]


def test_a_step_error_reaches_step_functions_under_its_tlm_name(container, monkeypatch):
    # Lambda's runtime reports type(exception).__name__ as errorType: what Retry/Catch match on
    from domain.workflows.model import StepError

    def fails(doc):
        raise StepError("TLM.InvalidModel", "model m1 cannot be compiled: no config.json")

    monkeypatch.setenv("TLM_STEP", "validate_compile_request")
    monkeypatch.setattr("runtime.workflows.steps.registry", lambda c: {"validate_compile_request": fails})
    with pytest.raises(Exception) as info:
        step_handler.handler({"compile_id": "c1"}, None)
    assert type(info.value).__name__ == "TLM.InvalidModel"
    assert str(info.value) == "model m1 cannot be compiled: no config.json"
    assert isinstance(info.value.__cause__, StepError)
