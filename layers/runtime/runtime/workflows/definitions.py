"""The workflows TLM ships, defined once as data, and the building blocks later workflows
(search loops, release, user pipelines) reuse.

Every workflow here ends in ``Done`` (Succeed) or, through a catch on every task, in
``RecordFailure`` (a ``workflowrun.failure_recorded`` event in the run's stream) then ``Failed``.

Inputs:

- ``compile``: ``{"compile_id", "model_version_id", "model_uri", "target", "recipe", "output_uri"}``
  (``recipe``: the validated recipe fields); the ``validate_compile_request`` step checks the
  model and lays its files out at ``model_uri`` (the compile job's channel).
- ``train``: ``{"training_id", "dataset", "config", "output_uri"}``; the ``prepare_training_data``
  step returns ``{"train_uri", "validation_uri", "test_uri", "init_uri", "init_model"}`` (``init``:
  the library model a fine-tuning starts from, see ``runtime.workflows.steps.train``).

Step functions (Lambda ``functions/steps`` on AWS, registered callables locally) are named in
``STEP_FUNCTIONS``. Instance types are infra placeholders (``${TrainingInstanceType}``, a GPU
type, a CDK parameter); ``DEFAULT_SUBSTITUTIONS`` holds the defaults the local runner uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from domain.workflows import model as m

TRANSIENT_STEP_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
WORKFLOW_FAILED = "TLM.WorkflowFailed"
DEFAULT_SUBSTITUTIONS = {
    "TrainingInstanceType": "ml.g5.xlarge",
    "EvaluateInstanceType": "ml.g5.xlarge",
    "CompileInstanceType": "ml.c6i.2xlarge",
    "PackageInstanceType": "ml.m5.xlarge",
    "ArchTestInstanceType": "ml.m5.xlarge",
    "ImportInstanceType": "ml.m5.large",
}


# ------------------------------------------------------------------ building blocks


def job_step(
    name: str,
    job: m.JobTemplate,
    *,
    result_path: str | None,
    next: str | None = None,
    retries: int = 1,
    retry_interval_s: int = 60,
    catch_to: str | None = "RecordFailure",
    poll_seconds: int = 60,
) -> m.JobTask:
    """A job task: retried on job failure or loss, caught into the failure tail."""
    retry = (m.Retry(errors=(m.JOB_FAILED, m.JOB_LOST), interval_s=retry_interval_s, max_attempts=retries),)
    return m.JobTask(
        name=name,
        job=job,
        result_path=result_path,
        next=next,
        end=next is None,
        retry=retry if retries else (),
        catch=(m.Catch(next=catch_to),) if catch_to else (),
        poll_seconds=poll_seconds,
    )


def step(
    name: str,
    function: str,
    *,
    parameters: dict[str, Any] | None = None,
    result_path: str | None = "$",
    next: str | None = None,
    catch_to: str | None = "RecordFailure",
    timeout_s: int | None = 300,
) -> m.StepTask:
    """A step-function task, retried on transient Lambda errors, caught into the failure tail."""
    return m.StepTask(
        name=name,
        function=function,
        parameters=parameters,
        result_path=result_path,
        next=next,
        end=next is None,
        retry=(m.Retry(errors=TRANSIENT_STEP_ERRORS, interval_s=2, max_attempts=3),),
        catch=(m.Catch(next=catch_to),) if catch_to else (),
        timeout_s=timeout_s,
    )


def poll_loop(
    name: str,
    function: str,
    *,
    parameters: dict[str, Any] | None,
    result_path: str,
    done_path: str,
    next: str,
    wait_seconds: int = 30,
    catch_to: str | None = "RecordFailure",
) -> list[Any]:
    """Call ``function`` until ``done_path`` is true: ``<name>`` -> ``<name> done?`` -> ``<name>
    wait`` -> ``<name>``. For anything that is not a job but must be waited on (an endpoint)."""
    return [
        step(
            name,
            function,
            parameters=parameters,
            result_path=result_path,
            next=f"{name} done",
            catch_to=catch_to,
        ),
        m.Choice(
            name=f"{name} done",
            choices=(m.ChoiceRule(variable=done_path, op="boolean_equals", value=True, next=next),),
            default=f"{name} wait",
        ),
        m.Wait(name=f"{name} wait", seconds=wait_seconds, next=name),
    ]


def map_step(
    name: str,
    iterator: m.Workflow,
    *,
    items_path: str,
    result_path: str | None,
    next: str | None = None,
    max_concurrency: int = 4,
    tolerated_failure_percentage: float = 0,
    catch_to: str | None = "RecordFailure",
) -> m.MapState:
    """Run ``iterator`` per item (e.g. one training job per trial), ``max_concurrency`` at once;
    up to ``tolerated_failure_percentage`` of the items may fail (each then an ``{"Error",
    "Cause"}`` entry of the result); past that the step fails into the failure tail."""
    return m.MapState(
        name=name,
        items_path=items_path,
        iterator=iterator,
        max_concurrency=max_concurrency,
        tolerated_failure_percentage=tolerated_failure_percentage,
        result_path=result_path,
        next=next,
        end=next is None,
        catch=(m.Catch(next=catch_to),) if catch_to else (),
    )


def child_step(
    name: str,
    workflow: str,
    *,
    parameters: dict[str, Any] | None,
    result_path: str | None,
    next: str | None = None,
    catch_to: str | None = "RecordFailure",
) -> m.ChildWorkflow:
    """Run workflow ``workflow`` as a child run and wait for it (its output at
    ``<result_path>.output``); a failed child is caught into the failure tail."""
    return m.ChildWorkflow(
        name=name,
        workflow=workflow,
        parameters=parameters,
        result_path=result_path,
        next=next,
        end=next is None,
        catch=(m.Catch(next=catch_to),) if catch_to else (),
    )


def failure_tail(workflow: str) -> list[Any]:
    """``RecordFailure`` (the caught error as a failure event) then ``Failed``."""
    return [
        m.RecordTask(
            name="RecordFailure",
            event_type="workflowrun.failure_recorded",
            data={"workflow": workflow, "error": "$.error.Error", "cause": "$.error.Cause"},
            next="Failed",
        ),
        m.Fail(name="Failed", error=WORKFLOW_FAILED, cause=f"{workflow} failed; see the recorded failure"),
    ]


def linear(name: str, tasks: Sequence[Any], *, comment: str = "") -> m.Workflow:
    """Chain ``tasks`` in order (each one's ``next`` is the following one; the last goes to
    ``Done``) and add the success and failure ends. A job task is wrapped in its job slot's admit
    and release states (``runtime.workflows.job_slot_states``)."""
    from runtime.workflows.job_slot_states import job_slot_states  # every job step holds a job slot

    def first(t: Any) -> str:
        return f"{t.name} admit" if isinstance(t, m.JobTask) else str(t.name)

    wired: list[Any] = []
    for i, t in enumerate(tasks):
        target = first(tasks[i + 1]) if i + 1 < len(tasks) else "Done"
        if isinstance(t, m.JobTask):
            wired += job_slot_states(t, target)
        else:
            wired.append(t.model_copy(update={"next": target, "end": False}))
    return m.Workflow(
        name=name,
        comment=comment,
        start_at=wired[0].name,
        states=(*wired, m.Succeed(name="Done"), *failure_tail(name)),
    )


# ------------------------------------------------------------------ the workflows


def compile_workflow(
    *, job_retries: int = 1, retry_interval_s: int = 60, poll_seconds: int = 60
) -> m.Workflow:
    jobs: dict[str, Any] = {"retries": job_retries, "retry_interval_s": retry_interval_s, "poll_seconds": poll_seconds}
    return linear(
        "compile",
        [
            step("Validate", "validate_compile_request", result_path="$.validated"),
            job_step(
                "Compile",
                m.JobTemplate(
                    program="compile",
                    name_prefix="tlm-compile",
                    hyperparameters={"target": "$.target", "recipe": "$.recipe", "compile_id": "$.compile_id"},
                    channels={"model": "$.model_uri"},
                    output_uri="$.output_uri",
                    instance_type="${CompileInstanceType}",
                    max_runtime_s=2 * 3600,
                ),
                result_path="$.compile",
                **jobs,
            ),
            step(
                "Verify",
                "verify_compile",
                parameters={"compile_id": "$.compile_id", "job": "$.compile"},
                result_path="$.verification",
            ),
            job_step(
                "Package",
                m.JobTemplate(
                    program="package",
                    name_prefix="tlm-package",
                    hyperparameters={"model_version_id": "$.model_version_id", "compile_id": "$.compile_id"},
                    channels={"model": "$.compile.model_artifacts"},
                    output_uri="$.output_uri",
                    instance_type="${PackageInstanceType}",
                ),
                result_path="$.package",
                **jobs,
            ),
            step(
                "Record",
                "record_compile",
                parameters={
                    "compile_id": "$.compile_id",
                    "compile": "$.compile",
                    "package": "$.package",
                    "verification": "$.verification",
                },
                result_path="$.recorded",
            ),
        ],
        comment="validate -> compile job -> verify -> package job -> record",
    )


def train_workflow(
    *, job_retries: int = 1, retry_interval_s: int = 60, poll_seconds: int = 60, use_spot: bool = False
) -> m.Workflow:
    jobs: dict[str, Any] = {"retries": job_retries, "retry_interval_s": retry_interval_s, "poll_seconds": poll_seconds}
    return linear(
        "train",
        [
            step(
                "PrepareData",
                "prepare_training_data",
                parameters={"training_id": "$.training_id", "dataset": "$.dataset", "config": "$.config"},
                result_path="$.prepared",
            ),
            job_step(
                "Train",
                m.JobTemplate(
                    program="train",
                    name_prefix="tlm-train",
                    hyperparameters={"config": "$.config", "training_id": "$.training_id",
                                     "init_model": "$.prepared.init_model"},  # fmt: skip
                    channels={"train": "$.prepared.train_uri", "validation": "$.prepared.validation_uri",
                              "init": "$.prepared.init_uri"},  # fmt: skip
                    output_uri="$.output_uri",
                    checkpoint_uri="${CheckpointsUri}" if use_spot else None,
                    instance_type="${TrainingInstanceType}",
                    use_spot=use_spot,
                    max_runtime_s=6 * 3600,
                    max_wait_s=12 * 3600 if use_spot else None,
                ),
                result_path="$.train",
                **jobs,
            ),
            job_step(
                "Evaluate",
                m.JobTemplate(
                    program="evaluate",
                    name_prefix="tlm-evaluate",
                    hyperparameters={"training_id": "$.training_id"},
                    channels={"model": "$.train.model_artifacts", "test": "$.prepared.test_uri"},
                    output_uri="$.output_uri",
                    instance_type="${EvaluateInstanceType}",
                ),
                result_path="$.evaluation",
                **jobs,
            ),
            step(
                "Register",
                "register_artifacts",
                parameters={"training_id": "$.training_id", "model": "$.train", "evaluation": "$.evaluation"},
                result_path="$.registered",
            ),
        ],
        comment="prepare data -> training job (GPU) -> evaluation job -> register artifacts",
    )


WORKFLOWS: dict[str, Callable[..., m.Workflow]] = {"compile": compile_workflow, "train": train_workflow}
STEP_FUNCTIONS: tuple[str, ...] = (
    "validate_compile_request",
    "verify_compile",
    "record_compile",
    "prepare_training_data",
    "register_artifacts",
)


from runtime.workflows.job_slot_states import SLOT_STEP_FUNCTIONS  # noqa: E402
from runtime.workflows.release_workflow import STEPS as _RELEASE_STEPS  # noqa: E402
from runtime.workflows.release_workflow import release_workflow  # noqa: E402

STEP_FUNCTIONS = (*STEP_FUNCTIONS, *SLOT_STEP_FUNCTIONS)  # the job steps' admit / release (issue 11)
WORKFLOWS["release"] = release_workflow  # issue 14: the release center's update process
STEP_FUNCTIONS = (*STEP_FUNCTIONS, *_RELEASE_STEPS)

# one-job workflows for what users ask for through the API (architecture tests, the demo import)
from runtime.workflows.job_workflows import (  # noqa: E402
    JOB_STEP_FUNCTIONS,
    arch_test_workflow,
    demo_import_workflow,
)

WORKFLOWS.update({"arch-test": arch_test_workflow, "demo-import": demo_import_workflow})
STEP_FUNCTIONS = (*STEP_FUNCTIONS, *JOB_STEP_FUNCTIONS)


def all_workflows(**options: Any) -> dict[str, m.Workflow]:
    """Every shipped workflow, built with the same options (as infra renders them)."""
    return {name: build(**options) for name, build in WORKFLOWS.items()}


def _add_study() -> None:
    """The search workflow (``runtime.workflows.study_workflow``) and its step functions."""
    from runtime.workflows import study_workflow

    WORKFLOWS["study"] = study_workflow.study_workflow
    global STEP_FUNCTIONS
    STEP_FUNCTIONS = (*STEP_FUNCTIONS, *study_workflow.STEP_FUNCTIONS)


_add_study()
