"""Observability: alarms that reach a person.

- One SNS topic encrypted with a customer-managed KMS key (rotated) whose key policy lets
  CloudWatch alarms and AWS Budgets use it (the AWS-managed ``alias/aws/sns`` key cannot be used
  by CloudWatch, so alarms published there are dropped). Parameter ``AlarmEmail``: when set, an
  e-mail subscription (the recipient confirms it once).
- Alarms: every Lambda's ``Errors`` and ``Throttles``; the API's 5XX; each state machine's
  ``ExecutionsFailed``; the projector's and the upload trigger's dead-letter queue depth; the
  projector's stream lag.
- Parameter ``MonthlyBudgetUsd`` (0 = none): an AWS Budgets cost budget tagged ``project=tlm``
  that notifies the topic at 80 % actual and 100 % forecast.
(Functions emit powertools metrics under the ``TLM`` namespace and X-Ray traces; see
infra/constructs/lambda_function.py.)
"""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, CfnOutput, CfnParameter, Duration, Fn, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
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
        functions: dict[str, lambda_.IFunction] | None = None,
        api: apigw.RestApi | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        email = CfnParameter(
            self, "AlarmEmail", type="String", default="", description="E-mail that receives the alarms (empty: none)"
        )
        budget = CfnParameter(
            self,
            "MonthlyBudgetUsd",
            type="Number",
            default=0,
            min_value=0,
            description="Monthly cost budget in USD for resources tagged project=tlm (0: no budget)",
        )
        self.key = kms.Key(
            self, "AlarmsKey", enable_key_rotation=True, description="TLM alarm topic (CloudWatch and Budgets publish)"
        )
        for service in ("cloudwatch.amazonaws.com", "budgets.amazonaws.com"):
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Publish{service.split('.')[0].capitalize()}",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )
        self.topic = sns.Topic(self, "Alarms", enforce_ssl=True, master_key=self.key)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        has_email = CfnCondition(self, "HasAlarmEmail", expression=Fn.condition_not(Fn.condition_equals(email, "")))
        sub = sns.CfnSubscription(
            self,
            "AlarmEmailSubscription",
            topic_arn=self.topic.topic_arn,
            protocol="email",
            endpoint=email.value_as_string,
        )
        sub.cfn_options.condition = has_email
        self._budget(budget, has_email)

        action = actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []
        minute = Duration.minutes(1)
        self._alarm(
            "ProjectorDlqNotEmpty",
            projector.dlq.metric_approximate_number_of_messages_visible(period=minute, statistic="Maximum"),
            threshold=0,
            description="Projector batches failed for good: replay them from the DLQ",
            action=action,
        )
        if uploads is not None:
            self._alarm(
                "UploadVerificationFailed",
                uploads.failed.metric_approximate_number_of_messages_visible(period=minute, statistic="Maximum"),
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
            cid = _cid(name)
            self._alarm(
                f"{cid}ExecutionsFailed",
                machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                threshold=0,
                description=f"Workflow {name}: an execution failed",
                action=action,
            )
        for name, fn in sorted((functions or {}).items()):
            cid = _cid(name)
            self._alarm(
                f"{cid}Errors",
                fn.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                threshold=0,
                description=f"Lambda {name}: invocations failed",
                action=action,
            )
            self._alarm(
                f"{cid}Throttles",
                fn.metric_throttles(period=Duration.minutes(5), statistic="Sum"),
                threshold=0,
                description=f"Lambda {name}: invocations throttled (reserved concurrency or account limit)",
                action=action,
            )
        if api is not None:
            self._alarm(
                "Api5xx",
                api.metric_server_error(period=Duration.minutes(5), statistic="Sum"),
                threshold=0,
                description="The API answered 5XX",
                action=action,
            )
        CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)

    def _budget(self, amount: CfnParameter, has_email: CfnCondition) -> None:
        del has_email  # the budget notifies the topic; the topic's e-mail subscription forwards it
        has_budget = CfnCondition(
            self, "HasBudget", expression=Fn.condition_not(Fn.condition_equals(amount.value_as_string, "0"))
        )
        notify = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=self.topic.topic_arn)]
        cfn = budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=amount.value_as_number, unit="USD"),
                cost_filters={"TagKeyValue": ["user:project$tlm"]},
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        comparison_operator="GREATER_THAN", notification_type=kind, threshold=pct
                    ),
                    subscribers=notify,
                )
                for kind, pct in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
        )
        cfn.cfn_options.condition = has_budget

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


def _cid(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("-", "_").split("_"))
