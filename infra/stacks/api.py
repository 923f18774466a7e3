"""API: API Gateway REST (Cognito authorizer, throttling, access logs, X-Ray) proxying to the one
powertools resolver in ``functions/api/handler.py``."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.lambda_function import RuntimeLayer, TlmFunction
from infra.constructs.nag import acknowledge_bucket_grants
from infra.packaging import LambdaAssets
from infra.stacks.storage import StorageStack

THROTTLE_RATE = 50  # steady requests/second per stage
THROTTLE_BURST = 100


class ApiStack(Stack):
    def __init__(
        self, scope: Construct, id: str, *, storage: StorageStack, assets: LambdaAssets, **kwargs: object
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
            environment=storage.data_environment(),
            description="TLM REST API (powertools APIGatewayRestResolver)",
        )
        fn = self.api_function.function
        storage.events_table.grant_read_write_data(fn)
        storage.views_table.grant_read_data(fn)
        storage.idempotency_table.grant_read_write_data(fn)
        storage.bucket(self, "blobs").grant_read_write(fn)  # presigned multipart uploads and downloads
        storage.bucket(self, "artifacts").grant_read(fn)  # release downloads
        acknowledge_bucket_grants(
            self.api_function.role, [storage.nag_objects("blobs"), storage.nag_objects("artifacts")]
        )

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
        self.client = self.user_pool.add_client(
            "Cli", auth_flows=cognito.AuthFlow(user_srp=True), generate_secret=False
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
