"""What the IAM audit of the AWS chain (tests/infra/test_aws_chain.py) does not hold against a role's
grants: actions AWS itself uses on the role's behalf (``PLATFORM``), and grants for paths the chain
scenario does not take, each with that path (``RARE``: any role; ``RARE_FOR_ROLE``: one role)."""

from __future__ import annotations

# Grants the scenario cannot see used, because AWS itself uses them for the role: statements whose
# actions are all of these are left out of the unused-grant check.
PLATFORM = {
    "logs:CreateLogStream": "Lambda / SageMaker write the function's or job's logs",
    "logs:PutLogEvents": "Lambda / SageMaker write the function's or job's logs",
    "logs:CreateLogGroup": "SageMaker creates /aws/sagemaker/TrainingJobs on first use",
    "logs:DescribeLogStreams": "SageMaker's log agent",
    "xray:PutTraceSegments": "active tracing",
    "xray:PutTelemetryRecords": "active tracing",
    "xray:GetSamplingRules": "Step Functions tracing",
    "xray:GetSamplingTargets": "Step Functions tracing",
    "logs:CreateLogDelivery": "Step Functions execution logging (the same for the other *LogDelivery)",
    "logs:GetLogDelivery": "Step Functions execution logging",
    "logs:UpdateLogDelivery": "Step Functions execution logging",
    "logs:DeleteLogDelivery": "Step Functions execution logging",
    "logs:ListLogDeliveries": "Step Functions execution logging",
    "logs:PutResourcePolicy": "Step Functions execution logging",
    "logs:DescribeResourcePolicies": "Step Functions execution logging",
    "logs:DescribeLogGroups": "Step Functions execution logging",
    "events:PutTargets": "the .sync integration's managed EventBridge rule",
    "events:PutRule": "the .sync integration's managed EventBridge rule",
    "events:DescribeRule": "the .sync integration's managed EventBridge rule",
    "sagemaker:StopTrainingJob": ".sync: Step Functions stops the job when an execution is stopped",
    "sqs:SendMessage": "Lambda's on-failure destination of the asynchronous S3 trigger",
    "sqs:GetQueueAttributes": "Lambda's on-failure destination",
    "sqs:GetQueueUrl": "Lambda's on-failure destination",
    "ecr:BatchCheckLayerAvailability": "SageMaker pulls the jobs image",
    "ecr:BatchGetImage": "SageMaker pulls the jobs image",
    "ecr:GetDownloadUrlForLayer": "SageMaker pulls the jobs image",
    "ecr:GetAuthorizationToken": "SageMaker pulls the jobs image",
    "cloudwatch:PutMetricData": "SageMaker publishes the MetricDefinitions' metrics",
    "dynamodb:DescribeStream": "Lambda's DynamoDB Streams event source mapping reads the stream as the function",
    "dynamodb:GetRecords": "Lambda's DynamoDB Streams event source mapping reads the stream as the function",
    "dynamodb:GetShardIterator": "Lambda's DynamoDB Streams event source mapping reads the stream as the function",
    "dynamodb:ListStreams": "Lambda's DynamoDB Streams event source mapping reads the stream as the function",
}
# Grants for paths the scenario does not take, each with the path: (action or "", resource suffix)
RARE = {
    ("", "event-payloads/sha256/*"): "read only when a stream holds an event whose payload was offloaded (> ~350 KB)",
    ("s3:AbortMultipartUpload", ""): "a failed part upload is aborted (runtime.services.artifacts.Artifacts._send)",
    ("", "jobs/checkpoints/*"): "a restarted (or spot-interrupted) API-started job gets and puts its checkpoints",
}
# Grants of one role for a path the scenario does not take: (role prefix, action or "", resource
# suffix or "") -> the path. Every other unused grant of every role fails the test.
RARE_FOR_ROLE = {
    ("TlmApi.Api", "dynamodb:BatchGetItem", ""): "events: version checks of an append_batch whose checks do not "
    "fit in its one TransactWriteItems (the views' BatchGetItem is used)",
    ("TlmApi.Api", "dynamodb:GetItem", ""): "views: views.get of one row by its key (the events' GetItem is used)",
    ("TlmApi.Api", "dynamodb:DeleteItem", ""): "powertools deletes the Idempotency-Key record of a request that "
    "raised, so that its retry runs again",
    ("TlmApi.Api", "s3:AbortMultipartUpload", ""): "DELETE /models/<id>/uploads/<upload id>",
    ("TlmApi.Api", "", "/sha256/*"): "GET /models/<id>/files/<path>: a presigned download of a blob",
    ("TlmApi.Api", "", ":training-job/*"): "stop (arch test cancel) and create (pretraining) a training job",
    ("TlmApi.Api", "cognito-idp:ListUsers", ""): "a member added by e-mail is resolved to the Cognito sub",
    ("TlmApi.Api", "", ":TlmApi/Users"): "a member added by e-mail is resolved to the Cognito sub",
    **{
        (f"TlmProjector.{fn}", "s3:GetObject", ""): "an event whose payload was offloaded (> ~350 KB) to S3"
        for fn in ("Projector", "Reactions", "RunStatus")
    },
    ("TlmApi.Api", "states:ListExecutions", ""): "the leaderboard lists the train machine's runs",
    ("TlmApi.Api", "", ":stateMachine:Tlm-train"): "the leaderboard lists the train machine's runs",
    ("TlmApi.Api", "states:StopExecution", ""): "cancel a run (tlm runs cancel, a training or compile cancel)",
    ("TlmApi.Api", "sagemaker:StopTrainingJob", ""): "cancel a running architecture test (POST /jobs/<name>/cancel)",
    ("TlmApi.Api", "sagemaker:CreateTrainingJob", ""): "tlm train pretrain: the one job the API still starts",
    ("TlmApi.Api", "sagemaker:AddTags", ""): "tlm train pretrain: the one job the API still starts",
    ("TlmApi.Api", "iam:PassRole", ""): "tlm train pretrain passes the SageMaker role to its job",
    ("TlmApi.Api", "", ":role/TlmWorkflows-SageMakerExecutionRole"): "tlm train pretrain passes the SageMaker role",
    ("TlmApi.Api", "logs:GetLogEvents", ""): "a job's log lines, once SageMaker wrote its stream (moto's writes none)",
    ("TlmProjector.Projector", "dynamodb:BatchWriteItem", ""): "a row update that drops more search postings than "
    "fit in its transaction",
    ("TlmProjector.Projector", "dynamodb:Query", ""): "a stream whose checkpoint lags re-reads its events",
    ("TlmProjector.Projector", "", ":table/TlmStorage-Events"): "a stream whose checkpoint lags re-reads its events",
    **{
        (f"TlmWorkflows.{machine}Role", action, resource): f"the failure tail (RecordFailure) of a failed {machine} "
        "run: the same RecordTask that the scenario's failed compile and train runs use"
        for machine in ("ArchTest", "DemoImport")
        for action, resource in (
            ("dynamodb:PutItem", ""), ("dynamodb:UpdateItem", ""), ("", ":table/TlmStorage-Events")
        )
    },
    # the release path (issue 14): what the scenario's one healthy start, prediction and stop do not take
    **{
        (f"TlmWorkflows.{machine}Role", action, resource): f"the failure tail (RecordFailure) of a failed {machine} "
        "run (a step that fails for good; the scenario's failed compile and train runs take it)"
        for machine in ("Release", "Study")
        for action, resource in (
            ("dynamodb:PutItem", ""), ("dynamodb:UpdateItem", ""), ("", ":table/TlmStorage-Events")
        )
    },
    ("TlmWorkflows.ReleaseRole", "", ":function:TlmWorkflows-StepReleaseRollback"): "a breach while baking or a "
    "candidate that never gets healthy rolls back (moto's endpoints are InService at once, and moto 5.2.5 fails "
    "GetMetricData's percentiles once latency data exists, so no breach can be played)",
    ("TlmWorkflows.StudyRole", "", ":function:TlmWorkflows-StepStudyTrialError"): "a trial step that fails for good "
    "is recorded as a failed trial",
    **{
        (role, "s3:GetObject", ""): "an event whose payload was offloaded (> ~350 KB) to S3"
        for role in ("TlmWorkflows.StepRelease", "TlmWorkflows.StepStudyAsk", "TlmWorkflows.StepStudyLaunchTrial",
                     "TlmWorkflows.StepStudyWatchTrial", "TlmWorkflows.ReleaseMonitor")
    },
    **{
        (role, "sagemaker:ListEndpointConfigs", ""): "a slot whose endpoint is gone (stopped, or never started) "
        "answers stopped or NotFound from its configs (ServingBackend.health/metrics/stop)"
        for role in ("TlmApi.Api", "TlmProjector.Reactions", "TlmWorkflows.StepRelease", "TlmWorkflows.ReleaseMonitor")
    },
    **{
        (role, "", "*"): "its statement on * holds only sagemaker:ListEndpointConfigs (no resource-level "
        "permissions) besides X-Ray: a slot whose endpoint is gone"
        for role in ("TlmProjector.Reactions", "TlmWorkflows.StepReleaseHealth", "TlmWorkflows.StepReleaseLaunch")
    },
    ("TlmWorkflows.StepReleaseLaunch", "sagemaker:DeleteEndpoint", ""): "a slot left by an earlier update with "
    "other parameters is stopped before the candidate starts",
    ("TlmWorkflows.StepReleaseBake", "dynamodb:GetItem", ""): "a second bake poll appends to the samples stream "
    "(a single-event append checks the expected version with GetItem)",
    ("TlmWorkflows.StepStudyAsk", "dynamodb:GetItem", ""): "a round of one trial (parallelism 1, or the budget's "
    "last) is a single-event append (GetItem of the expected version)",
    **{
        ("TlmProjector.Reactions", action, resource): "serving-slots: a shadow test starts its slot "
        "(POST /deployments/<id>/shadow)"
        for action, resource in (
            ("sagemaker:CreateModel", ""), ("sagemaker:CreateEndpointConfig", ""), ("sagemaker:CreateEndpoint", ""),
            ("sagemaker:AddTags", ""), ("", ":endpoint-config/tlm-*"), ("", ":model/tlm-*"), ("iam:PassRole", ""),
            ("", ":role/TlmWorkflows-ServingRole"),
        )
    },
    ("TlmWorkflows.SageMakerExecutionRole", "s3:ListBucket", ""): "a pretraining job (started by the API) lists its "
    "jobs/checkpoints/ on a restart",
    ("TlmWorkflows.SageMakerExecutionRole", "", ":::tlm-artifacts-123456789012-us-east-1"): "a pretraining job "
    "(started by the API) lists its jobs/checkpoints/ on a restart",
}
