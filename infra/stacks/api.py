"""API: API Gateway REST (Cognito authorizer, throttling, access logs, X-Ray) proxying to the one
powertools resolver in ``functions/api/handler.py``.

With the workflows stack given, the API function also drives workflows and jobs on AWS
(``runtime.adapters.stepfunctions``, ``runtime.adapters.sagemaker``): env ``TLM_STATE_MACHINE_PREFIX``,
``TLM_ACCOUNT_ID``, ``TLM_AWS_PARTITION`` (it builds the ``<prefix>-<workflow>`` ARNs itself, no
lookup), ``TLM_SAGEMAKER_ROLE_ARN`` and ``TLM_JOB_IMAGE_URI``. IAM, exactly what its handlers call
(least privilege, held both ways by the IAM audit): the tables and bucket prefixes of
``infra/stacks/role_access.API_ACCESS``, ``states:DescribeExecution`` / ``GetExecutionHistory`` /
``StopExecution`` on the machines' executions and ``ListExecutions`` on the train machine (the API
never starts a run: the reactions do), SageMaker job describe/stop/logs, and create + PassRole (to
SageMaker only) for the pretraining job it still starts itself."""

from __future__ import annotations

from typing import cast

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    Aws,
    CfnCondition,
    CfnOutput,
    CfnParameter,
    Fn,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.grants import grant_access
from infra.constructs.lambda_function import RuntimeLayer, TlmFunction
from infra.packaging import LambdaAssets
from infra.stacks.role_access import API_ACCESS
from infra.stacks.storage import StorageStack
from infra.stacks.workflows import WorkflowsStack
from runtime.adapters.stepfunctions.names import state_machine_name

THROTTLE_RATE = 50  # steady requests/second per stage
THROTTLE_BURST = 100


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        storage: StorageStack,
        assets: LambdaAssets,
        workflows: WorkflowsStack | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        layer = RuntimeLayer(self, "Runtime", assets=assets)
        self.api_function = TlmFunction(
            self,
            "Api",
            assets=assets,
            layer=layer,
            group="api",
            handler="functions.api.handler.handler",
            environment={**storage.data_environment(), **(_workflow_environment(workflows) if workflows else {})},
            description="TLM REST API (powertools APIGatewayRestResolver)",
        )
        fn = self.api_function.function
        reserved = CfnParameter(
            self,
            "ApiReservedConcurrency",
            type="Number",
            default=0,
            min_value=0,
            description="Reserved concurrency of the API function (caps its cost and protects the account's "
            "other functions; 0: none, it shares the account pool)",
        )
        unreserved = CfnCondition(self, "ApiUnreserved", expression=Fn.condition_equals(reserved.value_as_string, "0"))
        cast(lambda_.CfnFunction, fn.node.default_child).add_property_override(
            "ReservedConcurrentExecutions",
            Fn.condition_if(unreserved.logical_id, Aws.NO_VALUE, reserved.value_as_number),
        )
        # exactly what the handlers call (infra/stacks/role_access.py), held both ways by the IAM audit
        self.add_stack_dependency(storage)  # the buckets are addressed by name (storage.bucket_name)
        grant_access(self.api_function.role, storage, API_ACCESS)
        if workflows is not None:
            self._grant_workflows(workflows)
            self._grant_jobs(workflows)
            workflows.serving.attach(self.api_function, "api")  # predictions, deployment metrics

        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # tlm login signs in with USER_PASSWORD_AUTH (the password goes to Cognito over TLS, never to
        # the API); SRP stays allowed for other clients. Refresh tokens are always allowed.
        self.client = self.user_pool.add_client(
            "Cli", auth_flows=cognito.AuthFlow(user_srp=True, user_password=True), generate_secret=False
        )
        # members are added by e-mail: the API resolves it to the user's sub (runtime.users)
        fn.add_environment("TLM_USER_POOL_ID", self.user_pool.user_pool_id)
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["cognito-idp:ListUsers"], resources=[self.user_pool.user_pool_arn])
        )
        authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[self.user_pool])

        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.RETAIN
        )
        self.api = apigw.LambdaRestApi(
            self,
            "RestApi",
            handler=fn,
            proxy=True,
            cloud_watch_role=True,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            default_method_options=apigw.MethodOptions(
                authorizer=authorizer, authorization_type=apigw.AuthorizationType.COGNITO
            ),
            deploy_options=apigw.StageOptions(
                stage_name="v1",
                tracing_enabled=True,
                throttling_rate_limit=THROTTLE_RATE,
                throttling_burst_limit=THROTTLE_BURST,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                data_trace_enabled=False,  # never log request bodies (uploads, tokens)
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
            ),
        )
        self.api.add_request_validator("Validator", validate_request_parameters=True, validate_request_body=False)
        Validations.of(self.api).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG2",
                reason="A single {proxy+} integration: the powertools resolver validates every request "
                "against its pydantic/OpenAPI models (APIGatewayRestResolver(enable_validation=True)).",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="The account-level API Gateway logging role; this AWS-managed policy is the "
                "documented one and only grants CloudWatch Logs writes.",
            ),
        )
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-APIG3",
                reason="WAF is attached per environment by the operators (cost); the stage throttles every method.",
            )
        )
        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.client.user_pool_client_id)

    # ------------------------------------------------------------------ workflows and jobs

    def _grant_workflows(self, workflows: WorkflowsStack) -> None:
        """Describe/history/stop on the named machines' executions (a run's details and cancel);
        list the train machine's (the leaderboard). Runs are started by the reactions, never here."""
        fn = self.api_function.function
        names = [state_machine_name(workflows.state_machine_prefix, w) for w in sorted(workflows.state_machines)]
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:ListExecutions"],
                resources=[self._arn("states", "stateMachine", state_machine_name(workflows.state_machine_prefix,
                                                                                  "train"))],
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"],
                resources=[self._arn("states", "execution", f"{n}:*") for n in names],
            )
        )
        Validations.of(self.api_function.role).acknowledge(
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                    f"execution:{n}:*]",
                    reason="Execution names are run ids chosen at run time; the grant covers the executions "
                    "of this one TLM state machine only (describe, history, stop).",
                )
                for n in names
            )
        )

    def _grant_jobs(self, workflows: WorkflowsStack) -> None:
        """What ``runtime.adapters.sagemaker.SageMakerJobRunner`` calls from the API, scoped to this
        account: describe a job (either kind: the runner looks a name up in both), stop a training
        job, read its logs; create one only for a pretraining (the one job the API still starts
        itself; every other job is a workflow's), passing the SageMaker role to SageMaker only."""
        fn = self.api_function.function
        jobs = [self._arn("sagemaker", f"{k}-job", "*", colon=False) for k in ("training", "processing")]
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeTrainingJob", "sagemaker:DescribeProcessingJob"],
                                resources=jobs)  # fmt: skip
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:StopTrainingJob", "sagemaker:CreateTrainingJob", "sagemaker:AddTags"],
                resources=jobs[:1],
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[workflows.sagemaker_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["logs:DescribeLogStreams", "logs:GetLogEvents"],
                resources=[self._arn("logs", "log-group", "/aws/sagemaker/TrainingJobs:*")],
            )
        )
        Validations.of(self.api_function.role).acknowledge(
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:"
                    f"{k}-job/*]",
                    reason="Job names are generated per job (tlm-<program>-<id>); the actions are limited to "
                    f"this account's {k} jobs.",
                )
                for k in ("training", "processing")
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
                "log-group:/aws/sagemaker/TrainingJobs:*]",
                reason="SageMaker writes one log stream per job under this log group; read only.",
            ),
        )

    def _arn(self, service: str, resource: str, name: str, *, colon: bool = True) -> str:
        return self.format_arn(
            service=service,
            resource=resource,
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME if colon else ArnFormat.SLASH_RESOURCE_NAME,
        )


def _workflow_environment(workflows: WorkflowsStack) -> dict[str, str]:
    """The TLM_* settings (runtime/settings.py) for Step Functions runs and SageMaker jobs."""
    return {
        "TLM_STATE_MACHINE_PREFIX": workflows.state_machine_prefix,
        "TLM_ACCOUNT_ID": Aws.ACCOUNT_ID,
        "TLM_AWS_PARTITION": Aws.PARTITION,
        "TLM_SAGEMAKER_ROLE_ARN": workflows.sagemaker_role.role_arn,
        "TLM_JOB_IMAGE_URI": workflows.job_image_uri,
    }
