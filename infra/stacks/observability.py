"""Observability: alarms on the projector's dead-letter queue and stream lag, and on failed
workflow executions; notifications to one encrypted SNS topic. (Functions emit powertools metrics
under the ``TLM`` namespace and X-Ray traces; see infra/constructs/lambda_function.py.)"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.stacks.projector import ProjectorStack
from infra.stacks.uploads import UploadTriggerStack


class ObservabilityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        projector: ProjectorStack,
        state_machines: dict[str, sfn.StateMachine],
        uploads: UploadTriggerStack | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.topic = sns.Topic(
            self,
            "Alarms",
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )
        action = actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        dlq_depth = projector.dlq.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        )
        self._alarm(
            "ProjectorDlqNotEmpty",
            dlq_depth,
            threshold=0,
            description="Projector batches failed for good: replay them from the DLQ",
            action=action,
        )
        if uploads is not None:
            self._alarm(
                "UploadVerificationFailed",
                uploads.failed.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=0,
                description="Upload verifications failed for good: replay the S3 events from the queue",
                action=action,
            )
        iterator_age = projector.projector.function.metric(
            "IteratorAge", period=Duration.minutes(5), statistic="Maximum"
        )
        self._alarm(
            "ProjectorLagging",
            iterator_age,
            threshold=5 * 60 * 1000,
            description="Read views lag the event log by more than 5 minutes",
            action=action,
        )
        for name, machine in sorted(state_machines.items()):
            cid = "".join(p.capitalize() for p in name.replace("-", "_").split("_"))
            self._alarm(
                f"{cid}ExecutionsFailed",
                machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                threshold=0,
                description=f"Workflow {name}: an execution failed",
                action=action,
            )
        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)

    def _alarm(
        self, id: str, metric: cw.IMetric, *, threshold: float, description: str, action: cw.IAlarmAction
    ) -> None:
        alarm = cw.Alarm(
            self,
            id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(action)
        self.alarms.append(alarm)
