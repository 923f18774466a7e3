"""A job step holds a job slot: the states around every ``JobTask`` of a linear workflow
(``definitions.linear``), so the per-user and per-project caps on concurrent jobs hold for the
jobs a workflow starts itself, on Step Functions (a native ``createTrainingJob``) as locally.

    <N> admit --> <N> admitted --yes--> <N> (the job) --> <N> release --> next
        ^              |no                   |caught
        '-- <N> queued (Wait) <--'           '--> <N> release after failure --> the job's catch

``admit_job`` / ``release_job`` are step functions (``runtime.workflows.steps.job_slots`` over
``runtime.services.job_slots``); the admit's answer stays in the run document at ``$.job_slot``
(``{"slot", "admitted", "position"}``: a queued job's place shows in the run's step output). A
run that ends without reaching a release (aborted, timed out, cancelled) is released by
``functions/events`` on AWS and by the ``release-run-job-slots`` reaction locally. A JobTask inside
a Map or Parallel iterator is not wrapped (one slot key per step and run).
"""

from __future__ import annotations

from typing import Any

from domain.workflows import model as m

SLOT_STEP_FUNCTIONS = ("admit_job", "release_job")
SLOT_PATH = "$.job_slot"
OWNER_KEYS = ("training_id", "compile_id", "job_request")  # what job_queue.owner_scope reads


def slot_parameters(job: m.JobTask) -> dict[str, Any]:
    owner = {k: v for k, v in job.job.hyperparameters.items() if k in OWNER_KEYS}
    fixed = {"job": job.job.name} if job.job.name else {}
    return {"run_id": "$$.Execution.Name", "step": job.name, **fixed, "owner": owner}


def job_slot_states(job: m.JobTask, next: str) -> list[Any]:
    """The job task ``job`` (going on to ``next``) between its admit loop and its releases."""
    from runtime.workflows.definitions import step  # definitions imports this module

    n = job.name
    where = slot_parameters(job)
    release = {k: v for k, v in where.items() if k != "owner"}
    catch = job.catch[0] if job.catch else None
    caught = catch.next if catch else None
    states: list[Any] = [
        step(f"{n} admit", "admit_job", parameters=where, result_path=SLOT_PATH, next=f"{n} admitted"),
        m.Choice(
            name=f"{n} admitted",
            choices=(m.ChoiceRule(variable=f"{SLOT_PATH}.admitted", op="boolean_equals", value=True, next=n),),
            default=f"{n} queued",
        ),
        m.Wait(name=f"{n} queued", seconds=max(1, job.poll_seconds), next=f"{n} admit"),
        job.model_copy(
            update={
                "next": f"{n} release",
                "end": False,
                "catch": (catch.model_copy(update={"next": f"{n} release after failure"}),) if catch else (),
            }
        ),
        step(f"{n} release", "release_job", parameters=release, result_path=None, next=next),
    ]
    if caught:
        after = step(f"{n} release after failure", "release_job", parameters={**release, "state": "Failed"},
                     result_path=None, next=caught)  # fmt: skip
        # a release that fails goes on to the job's catch too, keeping the job's error (the run's end releases)
        states.append(after.model_copy(update={"catch": (m.Catch(next=caught, result_path="$.job_slot_error"),)}))
    return states
