"""Pass states render to ASL as declared: parameters as a payload template (``key.$`` for a
reference), else a fixed result, with their result path and flow."""

from __future__ import annotations

import pytest

from domain.workflows import model as m
from runtime.workflows.asl import render

pytestmark = pytest.mark.unit


def test_a_pass_renders_its_parameters_or_its_result() -> None:
    wf = m.Workflow(
        name="pass-probe",
        start_at="Shape",
        states=(
            m.Pass(name="Shape", parameters={"id": "$.id", "kind": "x"}, result_path="$.shaped", next="Fixed"),
            m.Pass(name="Fixed", result={"ok": True}, result_path="$.fixed", next="Whole"),
            m.Pass(name="Whole", end=True),
        ),
    )
    states = render(wf)["States"]
    assert states["Shape"] == {"Type": "Pass", "Parameters": {"id.$": "$.id", "kind": "x"},
                               "ResultPath": "$.shaped", "Next": "Fixed"}  # fmt: skip
    assert states["Fixed"] == {"Type": "Pass", "Result": {"ok": True}, "ResultPath": "$.fixed", "Next": "Whole"}
    assert states["Whole"] == {"Type": "Pass", "ResultPath": "$", "End": True}


def test_render_takes_its_options_by_keyword_only() -> None:
    wf = m.Workflow(name="kw-probe", start_at="Only", states=(m.Pass(name="Only", end=True),))
    with pytest.raises(TypeError):
        render(wf, True)  # type: ignore[misc]  # sync_jobs by position: a silent mix-up with poll_seconds
    assert render(wf, sync_jobs=True)["StartAt"] == "Only"
