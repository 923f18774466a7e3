"""State machine names and ARNs, shared by the CDK app and the runtime (infra imports this).

A workflow's state machine is named ``<prefix>-<workflow>`` (e.g. ``Tlm-compile``): the API function
gets the prefix, the account id and the partition as settings and builds the ARNs itself, so
it needs no lookup (and no extra IAM) at run time. An execution is named by its run id.
"""

from __future__ import annotations

import re

from domain.errors import Invalid

EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")  # a subset of Step Functions' rule


def state_machine_name(prefix: str, workflow: str) -> str:
    return f"{prefix}-{workflow}"


def state_machine_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"


def execution_arn(state_machine: str, run_id: str) -> str:
    """The ARN of execution ``run_id`` of the state machine ``state_machine`` (an ARN)."""
    head, _, name = state_machine.rpartition(":stateMachine:")
    if not head:
        raise Invalid(f"not a state machine ARN: {state_machine!r}", field="state_machine")
    return f"{head}:execution:{name}:{run_id}"


def check_run_id(run_id: str) -> str:
    if not EXECUTION_NAME.match(run_id):
        raise Invalid("a run id is 1-80 letters, digits, '-' or '_' (the execution name)", field="run_id")
    return run_id
