"""The deployed TLM app on moto, driven the way AWS drives it (used by tests/infra/test_aws_chain.py).

From the synthesized templates (``tests.iam_audit.Cloud``): the tables (key schemas and stream
as CloudFormation would create them), the buckets, every TLM Lambda with its own environment
(resolved: table names, bucket names, role ARNs, the jobs image URI) and role, the state machines
with their deployed definitions (substitutions applied). Then:

- ``api(method, path, body)``: an API Gateway proxy event (Cognito claims in the authorizer
  context) into ``functions.api.handler.handler``;
- ``pump()``: the events table's stream records (read with ``dynamodbstreams``, as the event
  source mapping does) into ``functions.projector.handler.handler``;
- ``upload(...)``: presigned part PUTs, then the S3 ``ObjectCreated`` notification into
  ``functions.triggers.s3_upload.handler``;
- ``run_executions()``: every execution the API started, interpreted state by state from the
  deployed ASL: Lambda tasks invoke the step Lambda (``TLM_STEP``), ``createTrainingJob.sync``
  creates the job in moto's SageMaker with the state machine's role, then **plays SageMaker**: the
  channels are downloaded into an ``/opt/ml``-shaped temp tree, the image's entry point
  (``jobs/bin/train``) runs the program, the model dir goes up as ``model.tar.gz`` and the output
  data as ``output.tar.gz``, and moto's job gets the outcome and the final metrics its
  ``MetricDefinitions`` read from the log.

Every AWS call is recorded (``Recorder``) under the role that makes it: a Lambda's role while its
handler runs, the state machine's role for its integrations, the SageMaker execution role while
the job runs. The test itself (setup, reads, the event source mapping's stream reads) acts as
``TEST``, which is not audited.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import requests

from tests.aws_asl import choice_matches, get_path, payload, s3_event, set_result
from tests.aws_sagemaker import PlaysSageMaker
from tests.aws_serving import PlaysSageMakerEndpoints
from tests.iam_audit import ACCOUNT, REGION, Cloud, Recorder

REPO = Path(__file__).resolve().parents[1]
TEST = "test"  # the test's own principal: not audited
TRAIN_SCRIPT = REPO / "jobs" / "bin" / "train"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class TaskFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


class Context:
    """What powertools reads from a Lambda context."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


class Function:
    def __init__(self, cloud: Cloud, stack: str, logical_id: str) -> None:
        props = cloud.templates[stack]["Resources"][logical_id]["Properties"]
        self.stack, self.logical_id = stack, logical_id
        self.name = cloud.physical_name(stack, logical_id)
        self.arn = cloud.arn(stack, logical_id)
        self.handler = props["Handler"]
        self.role = f"{stack}.{cloud.role_of_function(stack, logical_id)}"  # the principal
        self.env = {k: str(cloud.resolve(stack, v)) for k, v in props["Environment"]["Variables"].items()}
        self.container: Any = None  # a warm Lambda keeps its container


class Chain(PlaysSageMaker):
    def __init__(self, templates: dict[str, dict[str, Any]], tmp: Path) -> None:
        self.cloud = Cloud(templates)
        self.tmp = tmp
        self.rec = Recorder(principal=TEST, ignored={TEST})
        self.session = self.rec.install(boto3.session.Session(region_name=REGION))
        boto3.DEFAULT_SESSION = self.session  # clients made with boto3.client() are recorded too
        self.jobs: list[dict[str, Any]] = []  # every CreateTrainingJob request, as sent (by anyone)
        # (before any client exists: a client copies the session's hooks when it is made)
        self.session.events.register("before-parameter-build.sagemaker.CreateTrainingJob", self._created)
        # every request to SageMaker (jobs, endpoints), its runtime and CloudWatch, and every Lambda
        # invoke Step Functions makes, as sent (the test checks them against botocore's models)
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        for service in ("sagemaker", "sagemaker-runtime", "cloudwatch"):
            self.session.events.register(f"before-parameter-build.{service}", self._request)
        self.ddb = self.session.client("dynamodb")
        self.s3 = self.session.client("s3")
        self.sm = self.session.client("sagemaker")
        self.sfn = self.session.client("stepfunctions")
        self.streams = self.session.client("dynamodbstreams")
        self._create_storage()
        self.functions = {
            f"{stack}.{lid}": Function(self.cloud, stack, lid)
            for stack in self.cloud.templates
            for lid, res in self.cloud.resources(stack, "AWS::Lambda::Function").items()
            if str(res["Properties"].get("Handler", "")).startswith("functions.")
        }
        self.machines = self._create_state_machines()
        sagemaker_roles = [
            lid
            for lid, r in self.cloud.resources("TlmWorkflows", "AWS::IAM::Role").items()
            if "sagemaker.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
        ]
        # the jobs' role, and the serving endpoints' role (the release path)
        self.sagemaker_role = "TlmWorkflows." + next(r for r in sagemaker_roles if r.startswith("SageMaker"))
        self.serving_role = "TlmWorkflows." + next(r for r in sagemaker_roles if r.startswith("Serving"))
        self.endpoints = ChainEndpoints(self)
        self.session.events.register_first("before-send.sagemaker-runtime.InvokeEndpoint", self.endpoints.send)
        self.iterators: dict[str, str] = {}
        self.played: set[str] = set()
        self.done: set[str] = set()

    def _request(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    # ------------------------------------------------------------------ setup
    def _create_storage(self) -> None:
        stack = "TlmStorage"
        for lid, res in self.cloud.resources(stack, "AWS::DynamoDB::Table").items():
            p = res["Properties"]
            kw: dict[str, Any] = {
                "TableName": self.cloud.physical_name(stack, lid),
                "KeySchema": p["KeySchema"],
                "AttributeDefinitions": p["AttributeDefinitions"],
                "BillingMode": p["BillingMode"],
            }
            if "StreamSpecification" in p:
                kw["StreamSpecification"] = {"StreamEnabled": True, **p["StreamSpecification"]}
            table = self.ddb.create_table(**kw)["TableDescription"]
            if "LatestStreamArn" in table:
                self.cloud.overrides[(stack, lid, "StreamArn")] = table["LatestStreamArn"]
                self.stream_arn = table["LatestStreamArn"]
        for lid in self.cloud.resources(stack, "AWS::S3::Bucket"):
            self.s3.create_bucket(Bucket=self.cloud.physical_name(stack, lid))
        self.blobs = next(
            self.cloud.physical_name(stack, lid)
            for lid in self.cloud.resources(stack, "AWS::S3::Bucket")
            if "-blobs-" in self.cloud.physical_name(stack, lid)
        )

    def _create_state_machines(self) -> dict[str, dict[str, Any]]:
        out = {}
        stack = "TlmWorkflows"
        for lid, res in self.cloud.resources(stack, "AWS::StepFunctions::StateMachine").items():
            p = res["Properties"]
            text = self.cloud.resolve(stack, p["DefinitionString"])
            subs = {k: str(self.cloud.resolve(stack, v)) for k, v in p["DefinitionSubstitutions"].items()}
            text = _PLACEHOLDER.sub(lambda m: subs[m.group(1)], text)
            name = self.cloud.physical_name(stack, lid)
            role = p["RoleArn"]["Fn::GetAtt"][0]
            arn = self.sfn.create_state_machine(
                name=name, definition=text, roleArn=self.cloud.arn(stack, role), type="STANDARD"
            )["stateMachineArn"]
            out[arn] = {"name": name, "role": f"{stack}.{role}", "definition": json.loads(text)}
        return out

    def function(self, handler: str, step: str | None = None) -> Function:
        found = [
            f
            for f in self.functions.values()
            if f.handler == handler and (step is None or f.env.get("TLM_STEP") == step)
        ]
        assert len(found) == 1, (handler, step, [f.logical_id for f in found])
        return found[0]

    # ------------------------------------------------------------------ invoking a Lambda
    @contextlib.contextmanager
    def _as(self, fn: Function) -> Iterator[None]:
        from functions.projector import handler as projector
        from runtime import settings as settings_module
        from runtime.bootstrap import build_aws, set_container

        saved = dict(os.environ)
        os.environ.update(fn.env)
        settings_module.get_settings.cache_clear()
        try:
            with self.rec.acting(fn.role):
                if fn.container is None:
                    fn.container = build_aws(settings_module.Settings(), session=self.session)
                set_container(fn.container)
                projector.use(None)
                yield
        finally:
            set_container(None)
            projector.use(None)
            os.environ.clear()
            os.environ.update(saved)
            settings_module.get_settings.cache_clear()

    def invoke(self, fn: Function, event: Any) -> Any:
        module, attr = fn.handler.rsplit(".", 1)
        with self._as(fn):
            return getattr(importlib.import_module(module), attr)(json.loads(json.dumps(event)), Context(fn.name))

    # ------------------------------------------------------------------ entry points
    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str = "alice",
        query: dict | None = None,
        headers: dict[str, str] | None = None,
    ):
        sent = {"Content-Type": "application/json", "Host": "api.example.com", **(headers or {})}
        event = {
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": sent,
            "multiValueHeaders": {k: [v] for k, v in sent.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": {"proxy": path.lstrip("/")},
            "stageVariables": None,
            "requestContext": {
                "resourcePath": "/{proxy+}",
                "httpMethod": method,
                "path": f"/v1{path}",
                "stage": "v1",
                "requestId": str(uuid.uuid4()),
                "accountId": ACCOUNT,
                "apiId": "tlmapi",
                "identity": {"sourceIp": "127.0.0.1"},
                "authorizer": {"claims": {"sub": user, "email": f"{user}@example.com"}},
            },
            "body": json.dumps(body, ensure_ascii=False) if body is not None else None,
            "isBase64Encoded": False,
        }
        out = self.invoke(self.function("functions.api.handler.handler"), event)
        return out["statusCode"], json.loads(out["body"]) if out.get("body") else None

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, doc = self.api(method, path, body, **kw)
        assert 200 <= status < 300, (method, path, status, doc)
        return doc

    def pump(self) -> int:
        """Stream records -> the projector and the reactions Lambda (two event source mappings on
        the same stream, each with its own position), as they deliver them."""
        consumers = [
            self.function("functions.projector.handler.handler"),
            self.function("functions.projector.reactions.handler"),
        ]
        delivered = 0
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            sid = shard["ShardId"]
            if sid not in self.iterators:
                self.iterators[sid] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while True:
                out = self.streams.get_records(ShardIterator=self.iterators[sid], Limit=100)
                self.iterators[sid] = out["NextShardIterator"]
                records = [
                    {**json.loads(json.dumps(r, default=_epoch)), "eventSourceARN": self.stream_arn}
                    for r in out["Records"]
                    if r["eventName"] == "INSERT"
                    and r["dynamodb"].get("NewImage", {}).get("kind", {}).get("S") == "event"  # the ESM filter
                ]
                if not out["Records"]:
                    break
                if records:
                    for consumer in consumers:
                        response = self.invoke(consumer, {"Records": records})
                        assert response["batchItemFailures"] == [], (consumer.handler, response)
                    delivered += len(records)
        return delivered

    def upload(self, model_id: str, path: str, data: bytes) -> dict[str, Any]:
        import hashlib

        up = self.ok(
            "POST",
            f"/models/{model_id}/uploads",
            {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        )
        ps = up["part_size"]
        for t in up["parts"]:
            n = t["part_number"]
            r = requests.put(t["url"], data=data[(n - 1) * ps : n * ps], headers=t.get("headers") or {}, timeout=60)
            assert r.status_code == 200, r.text
        done = self.ok("POST", f"/models/{model_id}/uploads/{up['upload_id']}/complete", {})
        assert done["state"] == "verifying", done
        self.pump()
        key = f"uploads/{up['upload_id']}"
        head = self.s3.head_object(Bucket=self.blobs, Key=key)
        trigger = self.function("functions.triggers.s3_upload.handler")
        self.invoke(trigger, s3_event(self.blobs, key, head))
        self.pump()
        return self.ok("GET", f"/models/{model_id}/uploads/{up['upload_id']}")

    # ------------------------------------------------------------------ Step Functions
    def run_executions(self) -> list[dict[str, Any]]:
        """Run every execution the reactions started (and not yet run) to its end; EventBridge's
        status changes (RUNNING, then the end) go to the run-status Lambda, as the rule sends them."""
        results = []
        for arn, machine in self.machines.items():
            for ex in self.sfn.list_executions(stateMachineArn=arn)["executions"]:
                if ex["executionArn"] in self.done:
                    continue
                self.done.add(ex["executionArn"])
                self.status_change(ex["executionArn"], "RUNNING")
                doc = json.loads(self.sfn.describe_execution(executionArn=ex["executionArn"])["input"])
                status, out = self.run(machine, ex["name"], doc)
                self._settle(ex["executionArn"], status, out)
                self.status_change(ex["executionArn"], status)
                self.pump()
                results.append({"workflow": machine["name"], "name": ex["name"], "status": status, "output": out})
        return results

    def status_change(self, execution_arn: str, status: str) -> None:
        """An EventBridge "Step Functions Execution Status Change" into the run-status Lambda."""
        desc = self.sfn.describe_execution(executionArn=execution_arn)
        ended = status != "RUNNING"
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "account": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [execution_arn],
            "detail": {
                "executionArn": execution_arn,
                "stateMachineArn": desc["stateMachineArn"],
                "name": desc["name"],
                "status": status,
                "startDate": int(desc["startDate"].timestamp() * 1000),
                "stopDate": int(datetime.now(UTC).timestamp() * 1000) if ended else None,
                "input": desc["input"],
                "output": desc.get("output") if ended else None,
                "error": desc.get("error") if ended else None,
                "cause": desc.get("cause") if ended else None,
            },
        }
        self.invoke(self.function("functions.events.handler.handler"), event)
        self.pump()

    @staticmethod
    def _settle(arn: str, status: str, out: Any) -> None:
        """Give moto's execution the end this run reached (DescribeExecution then tells the API)."""
        from moto.stepfunctions.models import stepfunctions_backends

        ex = stepfunctions_backends[ACCOUNT][REGION].describe_execution(arn)
        ex.status, ex.stop_date = status, datetime.now(UTC)
        if status == "SUCCEEDED":
            ex.output = json.dumps(out)
        else:
            ex.error, ex.cause = out.get("error"), out.get("cause")

    def run(self, machine: dict[str, Any], name: str, doc: Any) -> tuple[str, Any]:
        ctx = {"Execution": {"Name": name, "Input": doc}, "State": {}}
        return self._states(machine, machine["definition"], doc, ctx)

    def _states(self, machine: dict[str, Any], definition: dict[str, Any], doc: Any, ctx: dict) -> tuple[str, Any]:
        """Interpret one state list (a machine's, or a Map's item processor) to its end. Wait states
        do not wait (moto's endpoints and jobs are done at once; a poll loop is bounded here)."""
        states, current = definition["States"], definition["StartAt"]
        for _ in range(200):
            st = states[current]
            ctx["State"] = {"Name": current, "EnteredTime": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
            kind = st["Type"]
            if kind == "Succeed":
                return "SUCCEEDED", doc
            if kind == "Fail":
                return "FAILED", {"error": st.get("Error"), "cause": st.get("Cause")}
            if kind == "Pass":
                result = payload(st["Parameters"], doc, ctx) if "Parameters" in st else st.get("Result", doc)
                doc = set_result(doc, st.get("ResultPath", "$"), result)
            elif kind == "Choice":
                current = next((r["Next"] for r in st["Choices"] if choice_matches(r, doc, ctx)), None) or st["Default"]
                continue
            elif kind == "Wait":  # e.g. a job step's admit loop: nothing to wait for in one scenario
                pass
            elif kind in ("Task", "Map"):
                try:
                    if kind == "Task":
                        params = payload(st["Parameters"], doc, ctx) if "Parameters" in st else doc
                        result = self.task(machine, st["Resource"], params)
                    else:
                        result = self._map(machine, st, doc, ctx)
                except TaskFailed as e:
                    catch = next(
                        (
                            c
                            for c in st.get("Catch", [])
                            if e.error in c["ErrorEquals"] or "States.ALL" in c["ErrorEquals"]
                        ),
                        None,
                    )
                    if catch is None:
                        return "FAILED", {"error": e.error, "cause": e.cause}
                    doc = set_result(doc, catch.get("ResultPath", "$"), {"Error": e.error, "Cause": e.cause})
                    current = catch["Next"]
                    continue
                if "ResultSelector" in st:
                    result = payload(st["ResultSelector"], result, ctx)
                doc = set_result(doc, st.get("ResultPath", "$"), result)
            else:
                raise AssertionError(f"state type {kind} is not interpreted here")
            if st.get("End"):
                return "SUCCEEDED", doc
            current = st["Next"]
        raise AssertionError("the execution did not end")

    def _map(self, machine: dict[str, Any], st: dict[str, Any], doc: Any, ctx: dict) -> list[Any]:
        """An inline Map: its items one after another (the chain is sequential), each through the
        item processor; a failed item fails the Map (no tolerance here)."""
        items = get_path(doc, st.get("ItemsPath", "$"), ctx)
        selector = st.get("ItemSelector") or st.get("Parameters")
        processor = st.get("ItemProcessor") or st["Iterator"]
        out = []
        for index, item in enumerate(items):
            item_ctx = {**ctx, "Map": {"Item": {"Index": index, "Value": item}}}
            given = payload(selector, doc, item_ctx) if selector else item
            status, result = self._states(machine, processor, given, item_ctx)
            if status != "SUCCEEDED":
                raise TaskFailed(str(result.get("error")), str(result.get("cause")))
            out.append(result)
        return out

    def task(self, machine: dict[str, Any], resource: str, params: Any) -> Any:
        role = machine["role"]
        if resource.startswith("arn:aws:lambda:"):
            fn = next(f for f in self.functions.values() if f.arn == resource)
            # Step Functions invokes the step Lambda with the state machine's role
            self.rec.calls.setdefault(role, set()).update(_invoke_requests(resource))
            invoke = {"FunctionName": resource, "Payload": json.dumps(params).encode()}
            self.requests.append(("lambda", "Invoke", invoke))
            try:
                result = self.invoke(fn, params)
            except Exception as e:  # Lambda reports the exception's class name as the error
                raise TaskFailed(type(e).__name__, str(e)) from e
            if fn.env.get("TLM_STEP") == "study_launch_trial":
                self.play_trial_jobs()  # SageMaker runs the trial jobs the step started
            return result
        if resource == "arn:aws:states:::sagemaker:createTrainingJob.sync":
            with self.rec.acting(role):
                self.sm.create_training_job(**params)
            self.play_training_job(params)
            with self.rec.acting(role):  # .sync: Step Functions describes the job when it ends
                desc = self.sm.describe_training_job(TrainingJobName=params["TrainingJobName"])
            desc = json.loads(json.dumps(desc, default=str))
            if desc["TrainingJobStatus"] != "Completed":
                raise TaskFailed("States.TaskFailed", json.dumps({"FailureReason": desc.get("FailureReason")}))
            return desc
        m = re.match(r"^arn:aws:states:::dynamodb:(\w+)$", resource)
        if m:
            op = re.sub(r"(?<!^)(?=[A-Z])", "_", m.group(1)).lower()
            with self.rec.acting(role):
                return json.loads(json.dumps(getattr(self.ddb, op)(**params), default=str))
        raise AssertionError(f"task resource {resource} is not interpreted here")


class ChainEndpoints(PlaysSageMakerEndpoints):
    """SageMaker's endpoints for the chain (``tests.aws_serving``): the test's own clients (not
    audited) look the endpoint up and run its container; the package is downloaded under the
    serving role, as SageMaker does for the endpoint."""

    def __init__(self, chain: Chain) -> None:
        super().__init__(chain.sm, chain.s3, chain.session.client("cloudwatch"), chain.tmp / "endpoints")
        self.chain = chain

    def send(self, request: Any, **kw: Any) -> Any:
        with self.chain.rec.acting(TEST):
            return self._send(request, **kw)

    def _download(self, container: dict[str, Any], target: Path) -> None:
        with self.chain.rec.acting(self.chain.serving_role):
            super()._download(container, target)


def _invoke_requests(function_arn: str) -> set[Any]:
    from tests.iam_audit import requests_for

    return set(requests_for("lambda", "Invoke", {"FunctionName": function_arn}))


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(type(value))
