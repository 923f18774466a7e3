"""Workflow definitions: graph validation, paths, choice rules, retry/catch matching, and the
shape of the rendered ASL."""

from __future__ import annotations

import pytest

from domain.errors import Invalid
from domain.workflows import model as m
from domain.workflows import paths
from runtime.workflows import asl
from runtime.workflows import definitions as d

pytestmark = pytest.mark.unit


def wf(*states: object, start: str = "A") -> m.Workflow:
    return m.Workflow(name="t", start_at=start, states=states)


@pytest.mark.parametrize(
    ("states", "field"),
    [
        ((m.Pass(name="A", next="Z"), m.Succeed(name="B")), "states.A.next"),
        ((m.Pass(name="A", end=True), m.Succeed(name="B")), "states.B"),
        ((m.Pass(name="A"),), "states.A.next"),
        ((m.Pass(name="A", end=True), m.Pass(name="A", end=True)), "states.A"),
        (
            (m.Choice(name="A", choices=(m.ChoiceRule(variable="$.x", op="is_present", value=True, next="Q"),)),),
            "states.A.choices[0].next",
        ),
        (
            (m.StepTask(name="A", function="f", end=True, catch=(m.Catch(next="Nope"),)),),
            "states.A.catch[0].next",
        ),
    ],
    ids=["unknown-next", "unreachable", "missing-end", "duplicate", "choice-target", "catch-target"],
)
def test_bad_graphs_are_invalid_and_name_the_state(states: tuple[object, ...], field: str) -> None:
    with pytest.raises(Invalid) as err:
        wf(*states)
    assert err.value.field == field


def test_paths_resolve_put_and_context() -> None:
    doc = {"a": {"b": 1}}
    assert paths.resolve(
        {"x": "$.a.b", "y": [1, "lit"], "r": "$$.Execution.Name"}, doc, {"Execution": {"Name": "run1"}}
    ) == {"x": 1, "y": [1, "lit"], "r": "run1"}
    assert paths.put(doc, "$.c.d", 2) == {"a": {"b": 1}, "c": {"d": 2}} and doc == {"a": {"b": 1}}
    assert paths.put(doc, None, 2) is doc and paths.put(doc, "$", 3) == 3
    with pytest.raises(paths.PathError):
        paths.get(doc, "$.a.zz")


def test_choice_rules_and_error_matching() -> None:
    rule = m.ChoiceRule(variable="$.n", op="numeric_greater_than", value=3, next="B")
    assert m.choice_matches(rule, True, 4) and not m.choice_matches(rule, True, True)
    assert not m.choice_matches(rule, False, None)
    assert m.error_matches((m.TASK_FAILED,), m.JOB_FAILED) and not m.error_matches((m.TASK_FAILED,), m.TIMEOUT)
    assert m.Retry(interval_s=2, backoff=3).delay_s(3) == 18


def test_spot_jobs_need_a_max_wait() -> None:
    with pytest.raises(Invalid) as err:
        m.JobTemplate(program="train", name_prefix="t", use_spot=True)
    assert err.value.field == "max_wait_s"


def test_render_poll_loop_and_sync_variants() -> None:
    train = d.train_workflow(use_spot=True)
    poll = asl.render(train)
    job = poll["States"]["Train"]
    assert job["Type"] == "Parallel" and job["Retry"][0]["ErrorEquals"] == [m.JOB_FAILED, m.JOB_LOST]
    inner = job["Branches"][0]["States"]
    create = inner["Train: create"]
    assert create["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob"
    assert create["Parameters"]["ResourceConfig"]["InstanceType"] == "${TrainingInstanceType}"
    assert create["Parameters"]["EnableManagedSpotTraining"] is True
    assert create["Parameters"]["CheckpointConfig"] == {"S3Uri": "${CheckpointsUri}"}
    assert create["Parameters"]["StoppingCondition"]["MaxWaitTimeInSeconds"] >= 6 * 3600
    assert inner["Train: check"]["Default"] == "Train: wait"
    sync = asl.render(train, sync_jobs=True)["States"]["Train"]
    assert sync["Resource"].endswith("createTrainingJob.sync")
    assert sync["Retry"][0]["ErrorEquals"] == [m.TASK_FAILED]
    assert sync["Catch"][0]["Next"] == "Train release after failure"  # the job slot's release, then RecordFailure
    assert asl.render(train, sync_jobs=True)["States"]["Register"]["Resource"] == "${Step_register_artifacts}"


def test_every_state_rendered_and_placeholders_substituted() -> None:
    for defn in d.all_workflows().values():
        body = asl.render(defn)
        for s in defn.states:
            assert s.name in body["States"]
        names = asl.placeholders(body)
        has_jobs = any(isinstance(s, m.JobTask) for s in defn.states)  # the release workflow has none
        assert {"EventsTable", *(("SageMakerRoleArn", "TrainingImage") if has_jobs else ())} <= names
        filled = asl.render(defn, substitutions={n: "x" for n in names})
        assert asl.placeholders(filled) == set()


def test_poll_loop_helper_builds_a_valid_cycle() -> None:
    states = d.poll_loop(
        "Endpoint",
        "check_endpoint",
        parameters=None,
        result_path="$.ep",
        done_path="$.ep.ready",
        next="Done",
        wait_seconds=5,
    )
    w = m.Workflow(name="release", start_at="Endpoint", states=(*states, m.Succeed(name="Done"), *d.failure_tail("r")))
    assert asl.render(w)["States"]["Endpoint wait"] == {"Type": "Wait", "Seconds": 5, "Next": "Endpoint"}


def test_fan_out_and_child_building_blocks_render_with_their_catch() -> None:
    trial = d.linear("trial", [d.step("Score", "score_trial", result_path="$.score")])
    w = d.linear(
        "study",
        [
            d.map_step("Trials", trial, items_path="$.trials", result_path="$.scores", tolerated_failure_percentage=25),
            d.child_step("Release", "release", parameters={"model": "$.best"}, result_path="$.release"),
        ],
    )
    body = asl.render(w)
    trials, release = body["States"]["Trials"], body["States"]["Release"]
    assert trials["Type"] == "Map" and trials["ToleratedFailurePercentage"] == 25 and trials["MaxConcurrency"] == 4
    assert trials["Catch"][0]["Next"] == "RecordFailure" and trials["Next"] == "Release"
    assert release["Resource"].endswith("states:startExecution.sync:2") and release["Next"] == "Done"
    assert release["Parameters"]["StateMachineArn"] == "${StateMachine_release}"
    with pytest.raises(ValueError):  # pydantic's bounds
        m.MapState(name="M", items_path="$.x", iterator=trial, tolerated_failure_percentage=101, end=True)
    with pytest.raises(ValueError):
        m.ParallelState(name="P", branches=(), end=True)
