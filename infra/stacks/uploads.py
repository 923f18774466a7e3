"""Upload trigger: S3 ObjectCreated under the blobs bucket's staging prefix ->
``functions/triggers/s3_upload.py`` (verifies size and sha256, then records the file)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as notifications
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.lambda_function import RuntimeLayer, TlmFunction
from infra.constructs.nag import acknowledge_bucket_grants
from infra.packaging import LambdaAssets
from infra.stacks.storage import STAGING_PREFIX, StorageStack


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
        storage.events_table.grant_read_write_data(fn)
        storage.views_table.grant_read_data(fn)  # upload id -> model id (the "uploads" view)
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
        blobs.grant_read_write(fn)  # read staging/, write sha256/<hex>, delete the staged copy
        acknowledge_bucket_grants(self.trigger.role, [storage.nag_objects("blobs")])
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
