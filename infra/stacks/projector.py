"""Projector: DynamoDB Streams (INSERTs of ``kind = event`` only) -> ``functions/projector/handler.py``
(powertools BatchProcessor with partial batch failures) -> read views. Poison batches are bisected,
retried a bounded number of times, then their stream coordinates go to an encrypted SQS queue."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.lambda_function import RuntimeLayer, TlmFunction
from infra.constructs.nag import acknowledge_bucket_grants
from infra.packaging import LambdaAssets
from infra.stacks.storage import StorageStack
from runtime.adapters.dynamodb import keys

RETRY_ATTEMPTS = 5
MAX_RECORD_AGE = Duration.days(1)
BATCH_SIZE = 100


def insert_event_filter() -> dict[str, object]:
    """Only new events: INSERTs whose NewImage has kind == "event" (not idempotency rows)."""
    return lambda_.FilterCriteria.filter(
        {
            "eventName": lambda_.FilterRule.is_equal("INSERT"),
            "dynamodb": {"NewImage": {keys.KIND: {"S": lambda_.FilterRule.is_equal(keys.KIND_EVENT)}}},
        }
    )


class ProjectorStack(Stack):
    def __init__(
        self, scope: Construct, id: str, *, storage: StorageStack, assets: LambdaAssets, **kwargs: object
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.dlq = sqs.Queue(
            self,
            "FailedBatches",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        Validations.of(self.dlq).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is itself the dead-letter (on-failure) destination of the stream "
                "mapping; it holds stream coordinates for replay and has no consumer to fail.",
            )
        )
        layer = RuntimeLayer(self, "Runtime", assets=assets)
        self.projector = TlmFunction(
            self,
            "Projector",
            assets=assets,
            layer=layer,
            group="projector",
            handler="functions.projector.handler.handler",
            environment=storage.data_environment(),
            description="TLM projector: events table stream -> read views",
            timeout=Duration.minutes(2),
        )
        fn = self.projector.function
        storage.views_table.grant_read_write_data(fn)
        storage.events_table.grant_read_data(fn)  # a stream whose checkpoint lags re-reads its events
        storage.bucket(self, "blobs").grant_read(fn, keys.PAYLOAD_PREFIX + "*")  # offloaded payloads
        acknowledge_bucket_grants(self.projector.role, [storage.nag_objects("blobs", keys.PAYLOAD_PREFIX + "*")])
        fn.add_event_source(
            sources.DynamoEventSource(
                storage.events_table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=BATCH_SIZE,
                max_batching_window=Duration.seconds(1),
                bisect_batch_on_error=True,
                retry_attempts=RETRY_ATTEMPTS,
                max_record_age=MAX_RECORD_AGE,
                report_batch_item_failures=True,
                parallelization_factor=1,
                on_failure=sources.SqsDlq(self.dlq),
                filters=[insert_event_filter()],
            )
        )
