"""Projector: DynamoDB Streams (INSERTs of ``kind = event`` only) -> ``functions/projector/handler.py``
(powertools BatchProcessor with partial batch failures) -> read views. Poison batches are bisected,
retried a bounded number of times, then their stream coordinates go to an encrypted SQS queue.

The same stream, with the same filter and failure handling, feeds the reactions Lambda
(``functions/projector/reactions.py``: a request starts its run, a run's end is recorded on its
owner); it may start only the state machines its reactions start. An EventBridge rule on TLM's
state machines' execution status changes feeds ``functions/events/handler.py``, which appends a
run's start and end to its stream (retried, then kept in the same queue)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.grants import grant_access
from infra.constructs.lambda_function import RuntimeLayer, TlmFunction
from infra.packaging import LambdaAssets
from infra.stacks.role_access import PROJECTOR_ACCESS, REACTIONS_ACCESS, RUN_STATUS_ACCESS
from infra.stacks.storage import StorageStack
from runtime.adapters.dynamodb import keys
from runtime.adapters.stepfunctions.names import state_machine_name
from runtime.reactions.runs import STARTS
from runtime.workflows.run_status import DETAIL_TYPE, SOURCE

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
                "mappings and of the run-status rule; it holds stream coordinates and undelivered "
                "status events for replay and has no consumer to fail.",
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
        # exactly what each handler calls (infra/stacks/role_access.py), held both ways by the IAM audit
        grant_access(self.projector.role, storage, PROJECTOR_ACCESS)
        fn.add_event_source(self._stream_source(storage))
        blobs = storage.bucket(self, "blobs")
        workflows = {
            "TLM_STATE_MACHINE_PREFIX": storage.prefix,
            "TLM_ACCOUNT_ID": Aws.ACCOUNT_ID,
            "TLM_AWS_PARTITION": Aws.PARTITION,
        }
        self.reactions = self._reactions(storage, assets, layer, blobs, workflows)
        self.run_status = self._run_status(storage, assets, layer, blobs, workflows)

    def _stream_source(self, storage: StorageStack) -> sources.DynamoEventSource:
        return sources.DynamoEventSource(
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

    def _reactions(
        self, storage: StorageStack, assets: LambdaAssets, layer: RuntimeLayer, blobs: s3.IBucket, env: dict[str, str]
    ) -> TlmFunction:
        reactions = TlmFunction(
            self,
            "Reactions",
            assets=assets,
            layer=layer,
            group="projector",
            handler="functions.projector.reactions.handler",
            environment={**storage.data_environment(), **env},
            description="TLM reactions: events table stream -> start requested runs, record run outcomes",
            timeout=Duration.minutes(2),
        )
        fn = reactions.function
        grant_access(reactions.role, storage, REACTIONS_ACCESS)
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[
                    f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:stateMachine:"
                    + state_machine_name(storage.prefix, w)
                    for w in STARTS
                ],
            )
        )
        fn.add_event_source(self._stream_source(storage))
        return reactions

    def _run_status(
        self, storage: StorageStack, assets: LambdaAssets, layer: RuntimeLayer, blobs: s3.IBucket, env: dict[str, str]
    ) -> TlmFunction:
        status = TlmFunction(
            self,
            "RunStatus",
            assets=assets,
            layer=layer,
            group="events",
            handler="functions.events.handler.handler",
            environment={**storage.data_environment(), "TLM_STATE_MACHINE_PREFIX": env["TLM_STATE_MACHINE_PREFIX"]},
            description="TLM run status: Step Functions execution status changes -> the run's stream",
        )
        fn = status.function
        grant_access(status.role, storage, RUN_STATUS_ACCESS)
        machines = f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:stateMachine:{storage.prefix}-"
        self.run_status_rule = events.Rule(
            self,
            "RunStatusChanges",
            description="TLM state machines' execution status changes -> the run status function",
            event_pattern=events.EventPattern(
                source=[SOURCE],
                detail_type=[DETAIL_TYPE],
                detail={"stateMachineArn": events.Match.prefix(machines)},
            ),
            targets=[
                targets.LambdaFunction(
                    fn, dead_letter_queue=self.dlq, retry_attempts=RETRY_ATTEMPTS, max_event_age=Duration.hours(6)
                )
            ],
        )
        return status
