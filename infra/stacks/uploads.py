"""Upload trigger: S3 ObjectCreated under the blobs bucket's staging prefix ->
``functions/triggers/s3_upload.py`` (verifies size and sha256, then records the file)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as notifications
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.lambda_function import RuntimeLayer, TlmFunction
from infra.packaging import LambdaAssets
from infra.stacks.storage import STAGING_PREFIX, StorageStack
from runtime.adapters.dynamodb import keys


class UploadTriggerStack(Stack):
    def __init__(
        self, scope: Construct, id: str, *, storage: StorageStack, assets: LambdaAssets, **kwargs: object
    ) -> None:
        super().__init__(scope, id, **kwargs)
        layer = RuntimeLayer(self, "Runtime", assets=assets)
        self.trigger = TlmFunction(
            self,
            "S3Upload",
            assets=assets,
            layer=layer,
            group="triggers",
            handler="functions.triggers.s3_upload.handler",
            environment=storage.data_environment(),
            description="TLM upload trigger: verify staged uploads and record them",
            timeout=Duration.minutes(5),  # hashing a large object
        )
        fn = self.trigger.function
        # exactly what verification does (held both ways by tests/infra/test_aws_chain.py): read the
        # model's stream and append to it, look the upload up in the "uploads" view
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[storage.events_table.table_arn],
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[storage.views_table.table_arn])
        )
        # S3 invokes asynchronously: two retries, then the event lands here for replay (e.g. when
        # the projector lagged behind the upload), and an alarm fires (observability stack).
        self.failed = sqs.Queue(
            self,
            "FailedVerifications",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Validations.of(self.failed).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself the on-failure destination of the upload trigger; it holds "
                "S3 events for replay and has no consumer to fail.",
            )
        )
        fn.configure_async_invoke(retry_attempts=2, on_failure=destinations.SqsDestination(self.failed))
        # The notification lives in this stack (on a by-name view of the bucket) so that the storage
        # stack does not depend on this one (a native cross-stack notification is a dependency cycle).
        blobs = storage.bucket(self, "blobs")
        # read the staged upload and its manifest, write the verified blob (sha256/<hex>), delete the
        # staged copy; payloads/: offloaded event payloads (> ~350 KB) of the model's stream
        objects = {
            "s3:GetObject": (STAGING_PREFIX + "*", "upload-manifests/*", "sha256/*", keys.PAYLOAD_PREFIX + "*"),
            "s3:PutObject": ("sha256/*", "upload-manifests/*"),
            "s3:DeleteObject": (STAGING_PREFIX + "*",),
        }
        for action, patterns in objects.items():
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=[action], resources=[blobs.arn_for_objects(p) for p in patterns])
            )
        Validations.of(self.trigger.role).acknowledge(
            *(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{storage.nag_objects('blobs', p)}]",
                    reason="Staged uploads, manifests and blobs are named per upload or content hash; one "
                    "action per prefix of the blobs bucket.",
                )
                for p in sorted({p for patterns in objects.values() for p in patterns})
            )
        )
        blobs.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            notifications.LambdaDestination(fn),
            s3.NotificationKeyFilter(prefix=STAGING_PREFIX),
        )
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                reason="CDK's BucketNotificationsHandler custom resource (deploy-time only) uses the "
                "AWS-managed basic execution policy; it cannot take a custom role.",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="s3:PutBucketNotification of CDK's BucketNotificationsHandler is granted on * by "
                "CDK; it manages bucket configuration only, no object data.",
            ),
        )
