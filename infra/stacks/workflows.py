"""Workflows: Step Functions Standard state machines from rendered ASL, SageMaker jobs with
``.sync`` integrations, a SageMaker execution role scoped to the platform's buckets.

The ASL comes from ``runtime.workflows`` (rendered with ``sync_jobs=True``) as plain dicts. It may hold
``${Name}`` placeholders (see runtime/workflows/asl.py); this stack substitutes
``Step_<function>`` (a Lambda per step: ``functions.steps.handler.handler`` with ``TLM_STEP``), ``EventsTable``,
``SageMakerRoleArn``, ``TrainingImage`` (the jobs image: an ECR image asset built from
``jobs/Dockerfile``, or the ``JobsImageUri`` parameter), ``ArtifactsBucket``, ``BlobsBucket`` and ``<Kind>InstanceType``
(a CfnParameter each) and refuses any other, so a renamed placeholder fails at synth, not at run time."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnCondition,
    CfnOutput,
    CfnParameter,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import packaging
from infra.constructs.grants import grant_objects
from infra.constructs.lambda_function import RuntimeLayer, SamplerLayer, TlmFunction
from infra.packaging import LambdaAssets
from infra.stacks.role_access import SERVING_USES
from infra.stacks.serving import ReleaseMonitor, Serving
from infra.stacks.storage import StorageStack, bucket_name
from infra.stacks.workflow_access import (
    SAGEMAKER_ACCESS,
    SAMPLER_STEPS,
    STEP_ACCESS,
    STUDY_JOBS,
    STUDY_LOGS,
    STUDY_PROCESSING_LOOKUP,
)
from runtime.adapters.stepfunctions.names import state_machine_name

GPU_INSTANCE_TYPES = [
    "ml.g4dn.xlarge",
    "ml.g4dn.2xlarge",
    "ml.g5.xlarge",
    "ml.g5.2xlarge",
    "ml.g5.12xlarge",
    "ml.g6.xlarge",
    "ml.g6.12xlarge",
    "ml.p3.2xlarge",
    "ml.p4d.24xlarge",
    "ml.p5.48xlarge",
]
# defaults when runtime.workflows.definitions.DEFAULT_SUBSTITUTIONS lacks one
INSTANCE_TYPE_DEFAULTS = {"TrainingInstanceType": "ml.g5.xlarge", "EvaluateInstanceType": "ml.g5.xlarge"}
_INSTANCE_TYPE = re.compile(r"^[A-Z][A-Za-z]*InstanceType$")
_STEP = "Step_"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# Step Functions' managed EventBridge rules for .sync SageMaker integrations
_SYNC_RULES = (
    "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "StepFunctionsGetEventsForSageMakerProcessingJobsRule",
)


class WorkflowsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        storage: StorageStack,
        assets: LambdaAssets,
        definitions: Mapping[str, dict],
        prefix: str = "Tlm",
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        # state machines are named "<prefix>-<workflow>": the API builds their ARNs from the name
        self.state_machine_prefix = prefix
        used = set().union(*(_PLACEHOLDER.findall(json.dumps(asl)) for asl in definitions.values()))
        # instance types are stack parameters, one per placeholder the definitions use (GPU kinds
        # restricted to GPU instance types)
        self.instance_types = {
            name: self._instance_type_parameter(name) for name in sorted(used) if _INSTANCE_TYPE.match(name)
        }
        # --- the jobs image: built from jobs/Dockerfile and pushed by CDK (an ECR image asset), or a
        # prebuilt image named by the JobsImageUri parameter
        base_image = self.node.try_get_context("tlm:jobs-base-image")
        image_dir = packaging.stage_jobs_image(assets.root / "jobs-image")
        self.jobs_image = ecr_assets.DockerImageAsset(
            self,
            "JobsImage",
            directory=str(image_dir),
            file="jobs/Dockerfile",
            platform=ecr_assets.Platform.LINUX_AMD64,
            # `cdk deploy -c tlm:jobs-base-image=<a PyTorch GPU image>` (default: the Dockerfile's)
            build_args={"BASE_IMAGE": base_image} if base_image else None,
        )
        self.prebuilt_image = CfnParameter(
            self,
            "JobsImageUri",
            type="String",
            default="",
            allowed_pattern=r"^$|^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[a-f0-9]{64})$",
            description="A prebuilt jobs image (ECR URI <repository>:<tag>); empty: the image CDK builds from "
            "jobs/Dockerfile",
        )
        prebuilt = CfnCondition(
            self,
            "UsePrebuiltJobsImage",
            expression=Fn.condition_not(Fn.condition_equals(self.prebuilt_image.value_as_string, "")),
        )
        image_uri = Token.as_string(
            Fn.condition_if(prebuilt.logical_id, self.prebuilt_image.value_as_string, self.jobs_image.image_uri)
        )
        self._image_uri = image_uri  # the study steps start trial jobs with it
        # <account>.dkr.ecr.<region>.<suffix>/<repository>:<tag> -> the repository's ARN
        prebuilt_repo = Fn.select(0, Fn.split(":", Fn.select(1, Fn.split("/", self.prebuilt_image.value_as_string))))
        repo_arn = Token.as_string(
            Fn.condition_if(
                prebuilt.logical_id,
                self.format_arn(service="ecr", resource="repository", resource_name=prebuilt_repo),
                self.jobs_image.repository.repository_arn,
            )
        )

        # --- the role SageMaker jobs run as: their buckets, their logs, their image; nothing else
        self.sagemaker_role = iam.Role(
            self,
            "SageMakerExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="TLM jobs (training/processing) on SageMaker",
        )
        self.add_stack_dependency(storage)  # the buckets are addressed by name (storage.bucket_name)
        self._storage = storage
        self._grant_objects(self.sagemaker_role, SAGEMAKER_ACCESS)
        Validations.of(self.sagemaker_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
                "log-group:/aws/sagemaker/*]",
                reason="SageMaker writes job logs to /aws/sagemaker/{TrainingJobs,ProcessingJobs} with "
                "per-job streams; the grant is limited to that log-group path.",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="ecr:GetAuthorizationToken has no resource-level permissions; "
                "cloudwatch:PutMetricData is conditioned on the /aws/sagemaker/* namespace.",
            ),
        )
        self.sagemaker_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    self.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/sagemaker/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.sagemaker_role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[repo_arn],
            )
        )
        self.sagemaker_role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],
            )
        )
        self.sagemaker_role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            )
        )

        # --- the release path: the serving image and the endpoints' role (infra/stacks/serving.py)
        self.serving = Serving(self, "Serving", storage=storage, image_dir=image_dir)

        # --- Lambda task handlers: functions.steps.handler with TLM_STEP, one Lambda per Step_<function>
        self.layer = RuntimeLayer(self, "Runtime", assets=assets)
        self.sampler_layer = (
            SamplerLayer(self, "Sampler", assets=assets, runtime=self.layer.runtime)
            if assets.sampler_layer_dir is not None and any(_STEP + s in used for s in SAMPLER_STEPS)
            else None
        )
        self._assets = assets
        self.steps: dict[str, TlmFunction] = {
            name[len(_STEP) :]: self._step_function(name[len(_STEP) :])
            for name in sorted(used)
            if name.startswith(_STEP)
        }
        self._values = {
            "SageMakerRoleArn": self.sagemaker_role.role_arn,
            "ArtifactsBucket": bucket_name(storage.prefix, "artifacts"),
            "BlobsBucket": bucket_name(storage.prefix, "blobs"),
            "EventsTable": storage.events_table.table_name,
            "TrainingImage": image_uri,
            **{name: p.value_as_string for name, p in self.instance_types.items()},
            **{_STEP + name: f.function.function_arn for name, f in self.steps.items()},
        }
        # for other stacks (the API runs jobs too): an explicit export, as a condition's Fn::If cannot
        # travel in CDK's automatic cross-stack references
        export = f"{self.stack_name}-JobsImageUri"
        CfnOutput(self, "JobsImageUriOutput", value=image_uri, export_name=export)
        self.job_image_uri = Fn.import_value(export)
        self.state_machines: dict[str, sfn.StateMachine] = {
            name: self._state_machine(name, asl) for name, asl in sorted(definitions.items())
        }
        # the release monitor on a schedule (what the local server does every 30 s)
        self.release_monitor = (
            ReleaseMonitor(self, "ReleaseMonitor", storage=storage, assets=assets, layer=self.layer,
                           serving=self.serving) if "release" in definitions else None
        )  # fmt: skip

    def _instance_type_parameter(self, name: str) -> CfnParameter:
        try:
            from runtime.workflows.definitions import DEFAULT_SUBSTITUTIONS as defaults
        except ImportError:  # pragma: no cover - the definitions ship with the runtime
            defaults = {}
        default = defaults.get(name) or INSTANCE_TYPE_DEFAULTS.get(name, "ml.m5.xlarge")
        limits: dict[str, object] = (
            {"allowed_values": GPU_INSTANCE_TYPES}
            if default in GPU_INSTANCE_TYPES
            else {"allowed_pattern": r"^ml\.[a-z0-9]+\.[a-z0-9]+$"}
        )
        kind = "GPU instance type" if default in GPU_INSTANCE_TYPES else "instance type"
        return CfnParameter(
            self,
            name,
            type="String",
            default=default,
            description=f"{kind} of {name[: -len('InstanceType')].lower()} jobs",
            **limits,
        )

    def _step_function(self, name: str) -> TlmFunction:
        cid = "Step" + "".join(p.capitalize() for p in name.split("_"))
        fn = TlmFunction(
            self,
            cid,
            assets=self._assets,
            layer=self.layer,
            group="steps",
            handler="functions.steps.handler.handler",
            environment={
                **self._storage.data_environment(),
                "TLM_STEP": name,
                "TLM_SAGEMAKER_ROLE_ARN": self.sagemaker_role.role_arn,
            },
            description=f"TLM workflow step {name}",
            timeout=Duration.minutes(5),
            extra_layers=(self.sampler_layer.layer,) if self.sampler_layer and name in SAMPLER_STEPS else (),
        )
        access = STEP_ACCESS[name]
        fn.function.add_to_role_policy(
            iam.PolicyStatement(actions=list(access["events"]), resources=[self._storage.events_table.table_arn])
        )
        if "views" in access:
            fn.function.add_to_role_policy(
                iam.PolicyStatement(actions=list(access["views"]), resources=[self._storage.views_table.table_arn])
            )
        self._grant_objects(fn.role, access)
        if name in STUDY_JOBS:
            self._study_jobs(fn, name)
        if name in SERVING_USES:  # the release steps drive the serving endpoints (issue 14)
            self.serving.attach(fn, name)
        return fn

    def _study_jobs(self, fn: TlmFunction, name: str) -> None:
        """The search workflow's steps run the trials' SageMaker jobs themselves (issue 13)."""
        fn.function.add_environment("TLM_JOB_IMAGE_URI", self._image_uri)
        fn.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(STUDY_JOBS[name]),
                resources=[self.format_arn(service="sagemaker", resource="training-job", resource_name="*")],
            )
        )
        if name in STUDY_PROCESSING_LOOKUP:
            fn.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeProcessingJob"],
                    resources=[self.format_arn(service="sagemaker", resource="processing-job", resource_name="*")],
                )
            )
            Validations.of(fn.role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                    "processing-job/*]",
                    reason="The job runner looks a trial's job name up as a processing job too; describe only, "
                    "this account's processing jobs.",
                )
            )
        if "sagemaker:CreateTrainingJob" in STUDY_JOBS[name]:
            fn.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.sagemaker_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                )
            )
        if name in STUDY_LOGS:
            fn.function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["logs:GetLogEvents", "logs:DescribeLogStreams"],
                    resources=[self.format_arn(service="logs", resource="log-group",
                                               resource_name="/aws/sagemaker/TrainingJobs:*",
                                               arn_format=ArnFormat.COLON_RESOURCE_NAME)],
                )
            )  # fmt: skip
        Validations.of(fn.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                "training-job/*]",
                reason="Trial job names are made per study and trial at run time; the actions are limited to "
                "this account's training jobs.",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
                "log-group:/aws/sagemaker/TrainingJobs:*]",
                reason="A trial's log stream is named after its job; read access is limited to the training jobs' "
                "log group.",
            ),
        )

    def _grant_objects(self, role: iam.IRole, access: Mapping[str, object]) -> None:
        """S3 statements for ``access`` (``infra.constructs.grants.grant_objects``)."""
        grant_objects(role, self._storage, access)

    def _state_machine(self, name: str, asl: dict) -> sfn.StateMachine:
        text = json.dumps(asl)
        used = set(_PLACEHOLDER.findall(text))
        unknown = used - set(self._values)
        if unknown:
            raise ValueError(f"workflow {name!r}: unknown ASL placeholders {sorted(unknown)}")
        cid = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]", name) if part)
        log_group = logs.LogGroup(
            self, f"{cid}Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.RETAIN
        )
        machine = sfn.StateMachine(
            self,
            cid,
            state_machine_name=state_machine_name(self.state_machine_prefix, name),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(text),
            definition_substitutions={k: self._values[k] for k in sorted(used)},
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            comment=f"TLM workflow {name}",
        )
        self._grant_tasks(machine, text)
        Validations.of(machine.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Step Functions log delivery (logs:*LogDelivery, DescribeResourcePolicies...) and "
                "X-Ray tracing support no resource-level permissions.",
            ),
        )
        return machine

    def _grant_tasks(self, machine: sfn.StateMachine, text: str) -> None:
        """What the definition's Task resources need, scoped to this account and TLM's resources."""
        for step, fn in self.steps.items():
            if "${" + _STEP + step + "}" not in text:
                continue
            # the unqualified ARN the definition names (no versions or aliases: CDK's grantInvoke adds ARN:*)
            machine.add_to_role_policy(
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[fn.function.function_arn])
            )
        if "${EventsTable}" in text:  # RecordTask: sequence UpdateItem + conditional PutItem
            self._storage.events_table.grant(machine, "dynamodb:UpdateItem", "dynamodb:PutItem")
        jobs = {"training": "createTrainingJob" in text, "processing": "createProcessingJob" in text}
        for kind, used in jobs.items():
            if not used:
                continue
            title = kind.capitalize()
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=[
                        f"sagemaker:Create{title}Job",
                        f"sagemaker:Describe{title}Job",
                        f"sagemaker:Stop{title}Job",  # .sync: an aborted execution stops its job
                    ],
                    resources=[self.format_arn(service="sagemaker", resource=f"{kind}-job", resource_name="*")],
                )
            )
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[
                        self.format_arn(service="events", resource="rule", resource_name=rule)
                        for rule in _SYNC_RULES
                        if title in rule
                    ],
                )
            )
            Validations.of(machine.role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
                    f"<AWS::AccountId>:{kind}-job/*]",
                    reason="Job names are generated per execution; the actions are limited to this account's "
                    f"{kind} jobs.",
                )
            )
        if any(jobs.values()):
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.sagemaker_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                )
            )
