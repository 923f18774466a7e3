"""The release path on AWS (issue 14, ADR 0014): SageMaker real-time endpoints serving ``jobs.serve``.

- ``Serving`` (in the workflows stack): the serving image (an ECR image asset built from
  ``jobs/Dockerfile.serve``, or the ``ServingImageUri`` parameter), the endpoints' own execution
  role (reads the version packages under the blobs bucket's ``sha256/``, pulls the serving image,
  writes the endpoint logs; nothing else), and ``attach(fn, user)``: the ``TLM_SERVING_*`` settings
  plus exactly the SageMaker / CloudWatch actions that function's handlers call through
  ``runtime.adapters.sagemaker_serving`` (``infra.stacks.role_access.SERVING_USES``), on this
  account's endpoints, endpoint configs and models named ``<serving prefix>-*`` only, and
  ``iam:PassRole`` of the serving role (to SageMaker only) where a handler creates a model.
- ``ReleaseMonitor``: an EventBridge schedule (every ``tlm:release-monitor-minutes`` minutes, context,
  default 5) invoking ``functions/events/release_monitor.py``, which calls
  ``ReleaseMonitor.watch()`` as the local server does every 30 s.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnCondition,
    CfnOutput,
    CfnParameter,
    Duration,
    Fn,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.grants import grant_access, grant_objects
from infra.constructs.lambda_function import RuntimeLayer, TlmFunction
from infra.packaging import LambdaAssets
from infra.stacks.role_access import MONITOR_ACCESS, SERVING_ACTIONS, SERVING_ROLE_ACCESS, SERVING_USES
from infra.stacks.storage import StorageStack

DEFAULT_MONITOR_MINUTES = 5
MONITOR_CONTEXT = "tlm:release-monitor-minutes"
_KINDS = {"endpoint": "endpoint", "endpoint-config": "endpoint-config", "model": "model"}


class Serving(Construct):
    def __init__(self, scope: Construct, id: str, *, storage: StorageStack, image_dir: Path) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.prefix = storage.prefix.lower()  # endpoints are "<prefix>-<deployment>-<slot>"
        self.image = ecr_assets.DockerImageAsset(
            self, "Image", directory=str(image_dir), file="jobs/Dockerfile.serve",
            platform=ecr_assets.Platform.LINUX_AMD64,
        )  # fmt: skip
        self.prebuilt = CfnParameter(
            stack,
            "ServingImageUri",
            type="String",
            default="",
            allowed_pattern=r"^$|^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[a-f0-9]{64})$",
            description="A prebuilt serving image (ECR URI <repository>:<tag>); empty: the image CDK builds from "
            "jobs/Dockerfile.serve",
        )
        prebuilt = CfnCondition(
            stack, "UsePrebuiltServingImage",
            expression=Fn.condition_not(Fn.condition_equals(self.prebuilt.value_as_string, "")),
        )  # fmt: skip
        image_uri = Token.as_string(
            Fn.condition_if(prebuilt.logical_id, self.prebuilt.value_as_string, self.image.image_uri)
        )
        repo = Fn.select(0, Fn.split(":", Fn.select(1, Fn.split("/", self.prebuilt.value_as_string))))
        repo_arn = Token.as_string(Fn.condition_if(
            prebuilt.logical_id, stack.format_arn(service="ecr", resource="repository", resource_name=repo),
            self.image.repository.repository_arn))  # fmt: skip
        # an explicit export: a condition's Fn::If cannot travel in CDK's automatic references
        export = f"{stack.stack_name}-ServingImageUri"
        CfnOutput(stack, "ServingImageUriOutput", value=image_uri, export_name=export)
        self._image_uri, self._export = image_uri, export

        # the role the endpoints run as: the packages, the serving image, the endpoint logs
        self.role = iam.Role(
            stack, "ServingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="TLM serving endpoints (SageMaker real-time inference)",
        )  # fmt: skip
        grant_objects(self.role, storage, SERVING_ROLE_ACCESS)
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=[repo_arn]))  # fmt: skip
        self.role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[stack.format_arn(service="logs", resource="log-group",
                                        resource_name="/aws/sagemaker/Endpoints/*",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)]))  # fmt: skip
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
                "log-group:/aws/sagemaker/Endpoints/*]",
                reason="SageMaker writes endpoint logs to /aws/sagemaker/Endpoints/<endpoint>; the grant is "
                "limited to that log-group path.",
            ),
            Acknowledgment(id="AwsSolutions-IAM5[Resource::*]",
                           reason="ecr:GetAuthorizationToken has no resource-level permissions."),
        )  # fmt: skip

    def environment(self, *, imported: bool = False) -> dict[str, str]:
        """The ``TLM_SERVING_*`` settings (runtime/settings.py); ``imported`` in another stack."""
        return {
            "TLM_SERVING_IMAGE_URI": Fn.import_value(self._export) if imported else self._image_uri,
            "TLM_SERVING_ROLE_ARN": self.role.role_arn,
            "TLM_SERVING_PREFIX": self.prefix,
        }

    def attach(self, fn: TlmFunction, user: str) -> None:
        """The settings and the serving actions of ``SERVING_USES[user]`` on ``fn``'s role."""
        stack = Stack.of(fn)
        for key, value in self.environment(imported=stack is not Stack.of(self)).items():
            fn.function.add_environment(key, value)
        by_resource: dict[str, list[str]] = {}
        for use in SERVING_USES[user]:
            for action, kinds in SERVING_ACTIONS[use].items():
                for kind in kinds:
                    by_resource.setdefault(kind, []).append(action)
        acks = []
        for kind, actions in sorted(by_resource.items()):
            if kind == "*":
                resources = ["*"]
                acks.append(Acknowledgment(id="AwsSolutions-IAM5[Resource::*]",
                                           reason="sagemaker:ListEndpoint(Config)s and cloudwatch:GetMetricData have "
                                           "no resource-level permissions."))  # fmt: skip
            else:
                name = f"{self.prefix}-*"
                resources = [stack.format_arn(service="sagemaker", resource=_KINDS[kind], resource_name=name)]
                acks.append(Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                    f"{kind}/{name}]",
                    reason=f"Serving {kind} names are made per deployment and slot at run time; the grant covers "
                    f"this account's TLM {kind}s ({name}) only."))  # fmt: skip
            fn.function.add_to_role_policy(iam.PolicyStatement(actions=sorted(set(actions)), resources=resources))
        if "create" in SERVING_USES[user]:
            fn.function.add_to_role_policy(iam.PolicyStatement(
                actions=["iam:PassRole"], resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}))  # fmt: skip
        Validations.of(fn.role).acknowledge(*acks)


class ReleaseMonitor(Construct):
    """Every N minutes: one sample of every live deployment (``ReleaseMonitor.watch``)."""

    def __init__(self, scope: Construct, id: str, *, storage: StorageStack, assets: LambdaAssets,
                 layer: RuntimeLayer, serving: Serving) -> None:  # fmt: skip
        super().__init__(scope, id)
        minutes = int(self.node.try_get_context(MONITOR_CONTEXT) or DEFAULT_MONITOR_MINUTES)
        if minutes < 1:
            raise ValueError(f"{MONITOR_CONTEXT} must be at least 1 (minutes), got {minutes}")
        self.minutes = minutes
        self.handler = TlmFunction(
            self, "Function", assets=assets, layer=layer, group="events",
            handler="functions.events.release_monitor.handler", environment=storage.data_environment(),
            description="TLM release monitor: a metrics and health sample of every live deployment",
            timeout=Duration.minutes(2),
        )  # fmt: skip
        grant_access(self.handler.role, storage, MONITOR_ACCESS)
        serving.attach(self.handler, "monitor")
        self.rule = events.Rule(
            self, "Schedule", schedule=events.Schedule.rate(Duration.minutes(minutes)),
            description=f"TLM release monitor: every {minutes} min",
            targets=[targets.LambdaFunction(self.handler.function, retry_attempts=0)],
        )  # fmt: skip
