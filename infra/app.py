"""The TLM CDK app: ``cdk synth`` / ``cdk deploy`` (cdk.json runs ``python -m infra.app``).

Stacks: storage -> {api, projector, upload trigger, workflows} -> observability. cdk-nag's AwsSolutions
pack runs on the whole app; synth fails on any unacknowledged finding.

Context: ``tlm:assets`` = a directory already built by ``python -m infra.packaging --out DIR``
(default: build or reuse ``.cache/lambda``); ``tlm:prefix`` = stack name prefix (default ``Tlm``);
``tlm:web-dist`` = the built UI bundle (default ``web/dist``, from ``make web``; synth fails naming the
command when it is missing).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from infra import packaging
from infra.stacks.api import ApiStack
from infra.stacks.observability import ObservabilityStack
from infra.stacks.projector import ProjectorStack
from infra.stacks.storage import StorageStack
from infra.stacks.uploads import UploadTriggerStack
from infra.stacks.web import WebStack
from infra.stacks.workflows import WorkflowsStack


def build_app(
    app: App,
    *,
    assets: packaging.LambdaAssets | None = None,
    definitions: Mapping[str, dict[str, Any]] | None = None,
    nag: bool = True,
) -> dict[str, object]:
    """Add every TLM stack to ``app``; returns them by short name."""
    if assets is None:
        assets_dir = app.node.try_get_context("tlm:assets")
        assets = packaging.build(Path(assets_dir) if assets_dir else packaging.DEFAULT_OUT)
    if definitions is None:
        from infra.workflow_definitions import rendered_definitions

        definitions = rendered_definitions()
    prefix = app.node.try_get_context("tlm:prefix") or "Tlm"

    storage = StorageStack(app, f"{prefix}Storage", prefix=prefix, description="TLM event log, views, buckets")
    projector = ProjectorStack(
        app,
        f"{prefix}Projector",
        storage=storage,
        assets=assets,
        description="TLM projector (DynamoDB Streams -> views)",
    )
    uploads = UploadTriggerStack(
        app, f"{prefix}Uploads", storage=storage, assets=assets, description="TLM upload verification trigger"
    )
    workflows = WorkflowsStack(
        app,
        f"{prefix}Workflows",
        storage=storage,
        assets=assets,
        definitions=definitions,
        prefix=prefix,
        description="TLM workflows (Step Functions + SageMaker)",
    )
    # the API starts, shows, lists and cancels the workflows' executions and runs jobs directly
    workflows.serving.attach(projector.reactions, "reactions")  # serving-slots: stop slots, start a shadow
    api = ApiStack(app, f"{prefix}Api", storage=storage, assets=assets, workflows=workflows, description="TLM REST API")
    observability = ObservabilityStack(
        app,
        f"{prefix}Observability",
        projector=projector,
        state_machines=workflows.state_machines,
        uploads=uploads,
        functions={
            "api": api.api_function.function,
            "projector": projector.projector.function,
            "upload-trigger": uploads.trigger.function,
            **{f"step-{name}": fn.function for name, fn in workflows.steps.items()},
            **({"release-monitor": workflows.release_monitor.handler.function} if workflows.release_monitor else {}),
        },
        api=api.api,
        description="TLM alarms",
    )
    # the browser UI (web/dist, built by `make web`) and the API on one CloudFront origin, Cognito sign-in
    web = WebStack(app, f"{prefix}Web", storage=storage, api=api, description="TLM browser UI (S3 + CloudFront)")
    Tags.of(app).add("project", "tlm")
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return {
        "storage": storage,
        "api": api,
        "projector": projector,
        "uploads": uploads,
        "workflows": workflows,
        "observability": observability,
        "web": web,
    }


def main() -> None:
    app = App()
    build_app(app)
    app.synth()


if __name__ == "__main__":
    sys.exit(main())
