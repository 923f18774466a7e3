"""Runs and reactions on AWS, on moto: DynamoDB (events table with its stream, views), S3, Step
Functions. Stream records are read from moto's DynamoDB Streams and handed to both consumers, the
projector Lambda and the reactions Lambda, as their event source mappings would; Step Functions
status changes are handed to the ``functions/events`` Lambda in the exact shape EventBridge sends
(moto's Step Functions emits no EventBridge events, so the test builds them from
DescribeExecution)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from domain.compiles.compile import COMPILES, RequestCompile
from domain.trainings import TRAININGS, RequestTraining
from functions.events import handler as status_lambda
from functions.projector import handler as projector
from functions.projector import reactions as reactions_lambda
from runtime import projections as registry
from runtime.adapters.dynamodb.event_store import DynamoDbEventStore
from runtime.adapters.stepfunctions.names import state_machine_name
from runtime.bootstrap import Container, build_aws, set_container
from runtime.services.commands import Caller, execute
from runtime.settings import Settings
from runtime.workflows.asl import KIND_SEQUENCE, SEQUENCE_PREFIX
from tests.aws_tables import create_events_table, create_idempotency_table, create_views_table

pytestmark = pytest.mark.integration
REGION = "us-east-1"
PREFIX = "TlmTest"
ALICE = Caller("alice")
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


class FakeContext:
    function_name = "tlm-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:tlm-test"
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/tlm-test"
    log_stream_name = "2026/01/01/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


@dataclass
class Aws:
    c: Container
    ddb: Any
    sfn: Any
    streams: Any
    stream_arn: str
    iterators: dict[str, str] = field(default_factory=dict)
    delivered: list[dict[str, Any]] = field(default_factory=list)

    def pump(self) -> list[dict[str, Any]]:
        """New stream records to the projector and the reactions Lambda (both must take all)."""
        records = []
        for shard in self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            sid = shard["ShardId"]
            if sid not in self.iterators:
                self.iterators[sid] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while True:
                out = self.streams.get_records(ShardIterator=self.iterators[sid], Limit=100)
                self.iterators[sid] = out["NextShardIterator"]
                if not out["Records"]:
                    break
                records += [{**json.loads(json.dumps(r, default=str)), "eventSourceARN": self.stream_arn}
                            for r in out["Records"]]  # fmt: skip
        if records:
            self.deliver(records)
        self.delivered += records
        return records

    def deliver(self, records: list[dict[str, Any]]) -> None:
        assert projector.handler({"Records": records}, FakeContext())["batchItemFailures"] == []
        assert reactions_lambda.handler({"Records": records}, FakeContext())["batchItemFailures"] == []

    def status_event(self, run_id: str, workflow: str, status: str, **detail: Any) -> dict[str, Any]:
        """What EventBridge delivers for a status change of this execution (detail from
        DescribeExecution, the status and its end fields as given)."""
        machine = self.c.workflows.machines[workflow]
        arn = f"{machine.replace(':stateMachine:', ':execution:')}:{run_id}"
        desc = self.sfn.describe_execution(executionArn=arn)
        ended = status != "RUNNING"
        return {
            "version": "0",
            "id": f"evt-{run_id}-{status}",
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": DEFAULT_ACCOUNT_ID,
            "time": "2026-01-01T00:00:00Z",
            "region": REGION,
            "resources": [arn],
            "detail": {
                "executionArn": arn,
                "stateMachineArn": desc["stateMachineArn"],
                "name": desc["name"],
                "status": status,
                "startDate": _ms(desc["startDate"]),
                "stopDate": _ms(desc["startDate"]) + 65_000 if ended else None,
                "input": desc["input"],
                "output": None,
                "inputDetails": {"included": True},
                "outputDetails": None,
                "error": None,
                "cause": None,
                "stateMachineVersionArn": None,
                "stateMachineAliasArn": None,
                "redriveCount": 0,
                "redriveDate": None,
                "redriveStatus": "NOT_REDRIVABLE",
                "redriveStatusReason": "Execution is RUNNING and cannot be redriven",
                **detail,
            },
        }

    def on_status(self, event: dict[str, Any]) -> str:
        return str(status_lambda.handler(event, FakeContext())["result"])

    def stream(self, stream_id: str) -> list[tuple[int, str]]:
        return [(r.version, r.type) for r in self.c.store.read(stream_id)]

    def executions(self, workflow: str) -> list[str]:
        page = self.sfn.list_executions(stateMachineArn=self.c.workflows.machines[workflow])
        return [e["name"] for e in page["executions"]]


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_events_table(ddb, "tlm-events")
        create_views_table(ddb, "tlm-views")
        create_idempotency_table(ddb, "tlm-idempotency")
        boto3.client("s3", region_name=REGION).create_bucket(Bucket="tlm-blobs")
        sfn = boto3.client("stepfunctions", region_name=REGION)
        for wf in ("compile", "train"):
            sfn.create_state_machine(name=state_machine_name(PREFIX, wf), definition=PASS,
                                     roleArn=f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/tlm-sfn")  # fmt: skip
        c = build_aws(
            Settings(backend="aws", region=REGION, state_machine_prefix=PREFIX, account_id=DEFAULT_ACCOUNT_ID)
        )
        set_container(c)
        store: Any = c.store
        projector.use(projector.Dependencies(c.views, registry.all(), store.load_payload))  # type: ignore[arg-type]
        streams = boto3.client("dynamodbstreams", region_name=REGION)
        arn = ddb.describe_table(TableName="tlm-events")["Table"]["LatestStreamArn"]
        try:
            yield Aws(c, ddb, sfn, streams, arn)
        finally:
            projector.use(None)
            set_container(None)


def request_compile(c: Container, project: str) -> tuple[str, str]:
    cmd = RequestCompile(compile_id="c1", project_id=project, model_id="m1", model_version=3, target="onnx",
                         params={"target": "onnx", "opset": 18}, run_id="run-c1")  # fmt: skip
    execute(c.store, COMPILES, "c1", cmd, ALICE)
    return "c1", "run-c1"


def failure_tail(aws: Aws, run_id: str) -> None:
    """What the state machine's RecordFailure state writes (runtime.workflows.asl RecordTask):
    the next version from the stream's sequence item, then a conditional put."""
    stream = f"workflowrun-{run_id}"
    seq = aws.ddb.update_item(
        TableName="tlm-events", Key={"stream_id": {"S": SEQUENCE_PREFIX + stream}, "version": {"N": "0"}},
        UpdateExpression="ADD #seq :one SET #kind = :kind", ExpressionAttributeNames={"#seq": "seq", "#kind": "kind"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":kind": {"S": KIND_SEQUENCE}}, ReturnValues="UPDATED_NEW",
    )["Attributes"]["seq"]["N"]  # fmt: skip
    data = {"workflow": "compile", "error": "TLM.InvalidModel", "cause": "pytorch_model.bin is pickled"}
    meta = {"actor": "stepfunctions", "occurred_at": "2026-01-01T00:00:30Z", "correlation_id": run_id}
    aws.ddb.put_item(
        TableName="tlm-events",
        Item={"stream_id": {"S": stream}, "version": {"N": seq}, "kind": {"S": "event"},
              "type": {"S": "workflowrun.failure_recorded"}, "schema_version": {"N": "1"},
              "data": {"S": json.dumps(data)}, "metadata": {"S": json.dumps(meta)},
              "recorded_at": {"S": "2026-01-01T00:00:30+00:00"}},
        ConditionExpression="attribute_not_exists(#v)", ExpressionAttributeNames={"#v": "version"},
    )  # fmt: skip


def test_a_request_starts_one_execution_and_status_changes_append_the_runs_life_once(aws: Aws) -> None:
    c = aws.c
    project = c.library.create_project(ALICE, "p")["project_id"]
    config = c.configs.create_from_template(ALICE, project, "bert-tiny")
    # Given a compile and a training requested (each service's only write)
    compile_id, run_id = request_compile(c, project)
    execute(c.store, TRAININGS, "t1", RequestTraining(training_id="t1", project_id=project, name="m",
            config_id=config["config_id"], config_version=config["version"], family="bert", dataset_id="d1",
            run_id="t1"), ALICE)  # fmt: skip
    # When the stream delivers them to the reactions Lambda, twice (a redelivery)
    records = aws.pump()
    aws.deliver(records)
    # Then each request started exactly one execution, named by the run id it recorded
    assert aws.executions("compile") == [run_id] and aws.executions("train") == ["t1"]
    train_input = json.loads(
        aws.sfn.describe_execution(
            executionArn=aws.c.workflows.machines["train"].replace(":stateMachine:", ":execution:") + ":t1"
        )["input"]
    )
    assert train_input["config"]["family"] == "bert" and train_input["output_uri"] == "s3://tlm-blobs/trainings/t1"

    # When EventBridge says the compile's execution is RUNNING (and says it again)
    running = aws.status_event(run_id, "compile", "RUNNING")
    assert aws.on_status(running) == "recorded" and aws.on_status(running) == "duplicate"
    # and the execution's failure tail records its error (versions from the same sequence)
    failure_tail(aws, run_id)
    # and then that it FAILED, delivered twice
    failed = aws.status_event(run_id, "compile", "FAILED", error="TLM.WorkflowFailed", cause="the run failed")
    assert aws.on_status(failed) == "recorded" and aws.on_status(failed) == "duplicate"
    # Then the run's stream holds its start, the failure record and its end, each once, gapless
    assert aws.stream(f"workflowrun-{run_id}") == [
        (1, "workflowrun.started"), (2, "workflowrun.failure_recorded"), (3, "workflowrun.failed")]  # fmt: skip
    # When the projector and the reactions take the new records (and get them again)
    aws.deliver(aws.pump() + aws.delivered)
    # Then the runs view has the run with Step Functions' times, and the compile its failure
    row = c.views.get("runs", run_id)
    assert row is not None and row["status"] == "failed" and row["project_id"] == project
    assert row["owner"] == {"kind": "compile", "id": compile_id} and row["error"] == "TLM.WorkflowFailed"
    start_ms = running["detail"]["startDate"]
    assert datetime.fromisoformat(row["started_at"]).timestamp() * 1000 == pytest.approx(start_ms, abs=1)
    assert datetime.fromisoformat(row["ended_at"]).timestamp() * 1000 == pytest.approx(start_ms + 65_000, abs=1)
    assert [t for _, t in aws.stream(f"compile-{compile_id}")] == ["compile.requested", "compile.failed"]
    failed_event = c.store.read(f"compile-{compile_id}")[-1]
    assert (
        failed_event.data["reason"] == "pytorch_model.bin is pickled"
        and failed_event.data["error"] == "TLM.InvalidModel"
    )
    # and nothing started twice
    assert aws.executions("compile") == [run_id] and aws.executions("train") == ["t1"]


def test_an_end_delivered_before_its_start_records_both_in_order(aws: Aws) -> None:
    project = aws.c.library.create_project(ALICE, "p")["project_id"]
    _, run_id = request_compile(aws.c, project)
    aws.pump()  # the reaction starts the execution
    done = aws.status_event(run_id, "compile", "SUCCEEDED", output=json.dumps({"ok": True}))
    assert aws.on_status(done) == "recorded"
    assert aws.on_status(aws.status_event(run_id, "compile", "RUNNING")) == "duplicate"
    assert aws.stream(f"workflowrun-{run_id}") == [(1, "workflowrun.started"), (2, "workflowrun.succeeded")]
    assert aws.c.store.read(f"workflowrun-{run_id}")[1].data["output"] == {"ok": True}
    other = {**done, "detail": {**done["detail"], "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:X-y"}}
    assert aws.on_status(other) == "ignored"  # not one of TLM's state machines


def test_listing_a_projects_runs_never_scans(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    c = aws.c
    project = c.library.create_project(ALICE, "p")["project_id"]
    other = c.library.create_project(Caller("bob"), "q")["project_id"]
    _, mine = request_compile(c, project)
    aws.pump()
    aws.on_status(aws.status_event(mine, "compile", "RUNNING"))
    aws.pump()

    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("a global scan")

    # Given every global scan of the store refused (the log's and DynamoDB's Scan)
    monkeypatch.setattr(DynamoDbEventStore, "read_all", boom)
    monkeypatch.setattr(DynamoDbEventStore, "iter_all", boom)
    monkeypatch.setattr(c.store.dynamodb, "scan", boom)  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="a global scan"):  # (the guard is live)
        c.store.dynamodb.scan(TableName="tlm-views")  # type: ignore[attr-defined]
    # When the project's runs are listed and one is shown
    listed = c.project_runs.list(ALICE, project_id=project)
    # Then they come from the runs view
    assert [(r["run_id"], r["status"], r["owner"]) for r in listed] == [
        (mine, "running", {"kind": "compile", "id": "c1"})
    ]
    assert c.project_runs.show(ALICE, mine)["project_id"] == project
    assert c.project_runs.list(Caller("bob")) == [] and c.project_runs.list(Caller("bob"), project_id=other) == []
    assert c.training.list(ALICE, project) == []


def test_a_projects_runs_are_read_from_its_own_partition_of_the_view(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given runs in two projects (the runs view is partitioned by project, like the models view)
    c = aws.c
    mine = c.library.create_project(ALICE, "p")["project_id"]
    other = c.library.create_project(ALICE, "q")["project_id"]
    for project, n in ((mine, 1), (other, 2), (other, 3)):
        cmd = RequestCompile(compile_id=f"c{n}", project_id=project, model_id="m1", model_version=3, target="onnx",
                             params={"target": "onnx", "opset": 18}, run_id=f"run-c{n}")  # fmt: skip
        execute(c.store, COMPILES, f"c{n}", cmd, ALICE)
        aws.pump()
        aws.on_status(aws.status_event(f"run-c{n}", "compile", "RUNNING"))
    aws.pump()
    queried: list[str] = []
    query = c.views.dynamodb.query  # type: ignore[attr-defined]

    def recording(**kw: Any) -> Any:
        if kw["TableName"] == c.views.table:  # type: ignore[attr-defined]
            queried.append(kw["ExpressionAttributeValues"][":pk"]["S"])
        return query(**kw)

    monkeypatch.setattr(c.views.dynamodb, "query", recording)  # type: ignore[attr-defined]
    # When one project's runs are listed
    listed = c.project_runs.list(ALICE, project_id=mine)
    # Then only that project's partition of the runs view was read
    assert [r["run_id"] for r in listed] == ["run-c1"]
    assert set(queried) == {f"runs@{mine}"}, queried
    assert sorted(r["run_id"] for r in c.project_runs.list(ALICE, project_id=other)) == ["run-c2", "run-c3"]
    assert c.project_runs.show(ALICE, "run-c2")["project_id"] == other  # a run is still found by its id alone


def test_a_child_execution_is_recorded_with_its_parent_run(aws: Aws) -> None:
    # Given an execution started by a parent's ChildWorkflow state (its input names the parent's ARN)
    parent = aws.c.workflows.machines["train"].replace(":stateMachine:", ":execution:") + ":parent-run"
    child_input = {"compile_id": "c9", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parent}
    aws.sfn.start_execution(stateMachineArn=aws.c.workflows.machines["compile"], name="child-run",
                            input=json.dumps(child_input))  # fmt: skip
    # When EventBridge says it is RUNNING
    assert aws.on_status(aws.status_event("child-run", "compile", "RUNNING")) == "recorded"
    # Then the child's start names its parent run, and its input is the child's own
    (started,) = aws.c.store.read("workflowrun-child-run")
    assert started.data["parent_run_id"] == "parent-run" and started.data["input"] == {"compile_id": "c9"}
