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
import importlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import requests

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


class Chain:
    def __init__(self, templates: dict[str, dict[str, Any]], tmp: Path) -> None:
        self.cloud = Cloud(templates)
        self.tmp = tmp
        self.rec = Recorder(principal=TEST, ignored={TEST})
        self.session = self.rec.install(boto3.session.Session(region_name=REGION))
        boto3.DEFAULT_SESSION = self.session  # clients made with boto3.client() are recorded too
        self.jobs: list[dict[str, Any]] = []  # every CreateTrainingJob request, as sent (by anyone)
        # (before any client exists: a client copies the session's hooks when it is made)
        self.session.events.register("before-parameter-build.sagemaker.CreateTrainingJob", self._created)
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
        self.sagemaker_role = "TlmWorkflows." + next(
            lid
            for lid, r in self.cloud.resources("TlmWorkflows", "AWS::IAM::Role").items()
            if "sagemaker.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
        )
        self.iterators: dict[str, str] = {}
        self.played: set[str] = set()
        self.done: set[str] = set()

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
    def api(self, method: str, path: str, body: Any = None, *, user: str = "alice", query: dict | None = None):
        event = {
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": {"Content-Type": "application/json", "Host": "api.example.com"},
            "multiValueHeaders": {"Content-Type": ["application/json"], "Host": ["api.example.com"]},
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
        """Stream records -> the projector, as the event source mapping delivers them."""
        projector = self.function("functions.projector.handler.handler")
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
                    response = self.invoke(projector, {"Records": records})
                    assert response["batchItemFailures"] == [], response
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
        self.invoke(trigger, _s3_event(self.blobs, key, head))
        self.pump()
        return self.ok("GET", f"/models/{model_id}/uploads/{up['upload_id']}")

    # ------------------------------------------------------------------ Step Functions
    def run_executions(self) -> list[dict[str, Any]]:
        """Run every execution the API started (and not yet run) to its end."""
        results = []
        for arn, machine in self.machines.items():
            for ex in self.sfn.list_executions(stateMachineArn=arn)["executions"]:
                if ex["executionArn"] in self.done:
                    continue
                self.done.add(ex["executionArn"])
                doc = json.loads(self.sfn.describe_execution(executionArn=ex["executionArn"])["input"])
                status, out = self.run(machine, ex["name"], doc)
                self._settle(ex["executionArn"], status, out)
                self.pump()
                results.append({"workflow": machine["name"], "name": ex["name"], "status": status, "output": out})
        return results

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
        states, current = machine["definition"]["States"], machine["definition"]["StartAt"]
        ctx = {"Execution": {"Name": name, "Input": doc}, "State": {}}
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
            elif kind == "Task":
                params = payload(st["Parameters"], doc, ctx) if "Parameters" in st else doc
                try:
                    result = self.task(machine, st["Resource"], params)
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

    def task(self, machine: dict[str, Any], resource: str, params: Any) -> Any:
        role = machine["role"]
        if resource.startswith("arn:aws:lambda:"):
            fn = next(f for f in self.functions.values() if f.arn == resource)
            # Step Functions invokes the step Lambda with the state machine's role
            self.rec.calls.setdefault(role, set()).update(_invoke_requests(resource))
            try:
                return self.invoke(fn, params)
            except Exception as e:  # Lambda reports the exception's class name as the error
                raise TaskFailed(type(e).__name__, str(e)) from e
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

    # ------------------------------------------------------------------ SageMaker, played
    def _created(self, params: dict[str, Any], **_: Any) -> None:
        self.jobs.append(json.loads(json.dumps(params)))

    def play_new_jobs(self) -> list[str]:
        """Run every training job created (by the API) and not run yet."""
        names = []
        for req in list(self.jobs):
            if req["TrainingJobName"] not in self.played:
                self.play_training_job(req)
                names.append(req["TrainingJobName"])
        return names

    def play_training_job(self, req: dict[str, Any]) -> None:
        """What SageMaker does with a CreateTrainingJob request, run here: channels in, the
        image's ``train``, model.tar.gz + output.tar.gz out, the outcome on moto's job."""
        from moto.sagemaker.models import sagemaker_backends

        name = req["TrainingJobName"]
        self.played.add(name)
        root = self.tmp / "jobs" / name
        (root / "input" / "config").mkdir(parents=True)
        for d in ("input/data", "model", "output/data", "checkpoints"):
            (root / d).mkdir(parents=True, exist_ok=True)
        (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(req["HyperParameters"]))
        with self.rec.acting(self.sagemaker_role):
            for ch in req.get("InputDataConfig", []):
                bucket, prefix = _split(ch["DataSource"]["S3DataSource"]["S3Uri"])
                target = root / "input" / "data" / ch["ChannelName"]
                target.mkdir()
                pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for obj in [o for p in pages for o in p.get("Contents", [])]:
                    rel = obj["Key"][len(prefix) :].lstrip("/") or obj["Key"].rsplit("/", 1)[-1]
                    (target / rel).parent.mkdir(parents=True, exist_ok=True)
                    (target / rel).write_bytes(self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            if req.get("CheckpointConfig"):  # a restarted job gets its checkpoints back
                self._sync_down(req["CheckpointConfig"]["S3Uri"], root / "checkpoints")
        env = {
            k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "TORCHINDUCTOR_CACHE_DIR")
        }
        env.update(req.get("Environment") or {})
        env.update(
            TLM_JOB_ROOT=str(root),  # the image sets /opt/ml
            PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
            PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "layers" / "runtime")]),
            OMP_NUM_THREADS="2",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        proc = subprocess.run(  # noqa: S603
            ["sh", str(TRAIN_SCRIPT)], env=env, cwd=root, capture_output=True, text=True, timeout=900
        )
        (root / "log.txt").write_text(proc.stdout + proc.stderr)
        job = sagemaker_backends[ACCOUNT][REGION].training_jobs[name]
        job.final_metric_data_list = _final_metrics(
            req["AlgorithmSpecification"].get("MetricDefinitions", []), proc.stdout
        )
        if proc.returncode != 0:
            failure = root / "output" / "failure"
            job.training_job_status = "Failed"
            job.failure_reason = failure.read_text()[:1024] if failure.exists() else proc.stderr[-1024:]
            return
        out_bucket, out_prefix = _split(req["OutputDataConfig"]["S3OutputPath"])
        base = "/".join(p for p in (out_prefix.rstrip("/"), name, "output") if p)
        with self.rec.acting(self.sagemaker_role):
            if req.get("CheckpointConfig"):
                ck_bucket, ck_prefix = _split(req["CheckpointConfig"]["S3Uri"])
                for p in sorted((root / "checkpoints").rglob("*")):
                    if p.is_file():
                        key = f"{ck_prefix.rstrip('/')}/{p.relative_to(root / 'checkpoints')}"
                        self.s3.put_object(Bucket=ck_bucket, Key=key, Body=p.read_bytes())
            self.s3.put_object(Bucket=out_bucket, Key=f"{base}/model.tar.gz", Body=_tar(root / "model"))
            self.s3.put_object(Bucket=out_bucket, Key=f"{base}/output.tar.gz", Body=_tar(root / "output" / "data"))
        job.model_artifacts = {"S3ModelArtifacts": f"s3://{out_bucket}/{base}/model.tar.gz"}

    def _sync_down(self, uri: str, dest: Path) -> None:
        bucket, prefix = _split(uri)
        prefix = prefix.rstrip("/") + "/"
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for obj in [o for p in pages for o in p.get("Contents", [])]:
            target = dest / obj["Key"][len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())


def _invoke_requests(function_arn: str) -> set[Any]:
    from tests.iam_audit import requests_for

    return set(requests_for("lambda", "Invoke", {"FunctionName": function_arn}))


def _final_metrics(defs: list[dict[str, str]], log: str) -> list[dict[str, Any]]:
    out = []
    for d in defs:
        values = re.findall(d["Regex"], log)
        if values:
            out.append({"MetricName": d["Name"], "Value": float(values[-1]), "Timestamp": datetime.now(UTC)})
    return out


def _tar(src: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                tar.add(p, arcname=str(p.relative_to(src)))
    return buf.getvalue()


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(type(value))


def _s3_event(bucket: str, key: str, head: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:CompleteMultipartUpload",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "tlm-upload-trigger",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key),
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


# ---------------------------------------------------------------------- ASL paths and intrinsics


def get_path(doc: Any, path: str, ctx: dict[str, Any]) -> Any:
    if path.startswith("$$"):
        doc, path = ctx, path[1:]
    if path == "$":
        return doc
    value = doc
    for part in path[2:].split("."):
        value = value[part]
    return value


def set_result(doc: Any, path: str | None, result: Any) -> Any:
    if path is None:
        return doc
    if path == "$":
        return result
    out = json.loads(json.dumps(doc))
    node = out
    parts = path[2:].split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = result
    return out


def payload(template: Any, doc: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(template, list):
        return [payload(v, doc, ctx) for v in template]
    if not isinstance(template, dict):
        return template
    out = {}
    for key, value in template.items():
        if key.endswith(".$"):
            out[key[:-2]] = evaluate(value, doc, ctx)
        else:
            out[key] = payload(value, doc, ctx)
    return out


def evaluate(expr: str, doc: Any, ctx: dict[str, Any]) -> Any:
    value, rest = _expr(expr.strip(), doc, ctx)
    assert not rest.strip(), (expr, rest)
    return value


def _expr(s: str, doc: Any, ctx: dict[str, Any]) -> tuple[Any, str]:
    s = s.lstrip()
    if s.startswith("'"):
        end = s.index("'", 1)
        return s[1:end], s[end + 1 :]
    if s.startswith("$"):
        m = re.match(r"^\$\$?[A-Za-z0-9_.\[\]*]*", s)
        assert m
        return get_path(doc, m.group(0), ctx), s[m.end() :]
    m = re.match(r"^(States\.\w+)\(", s)
    assert m, s
    fn, s = m.group(1), s[m.end() :]
    args = []
    while not s.lstrip().startswith(")"):
        value, s = _expr(s, doc, ctx)
        args.append(value)
        s = s.lstrip()
        if s.startswith(","):
            s = s[1:]
    s = s.lstrip()[1:]
    if fn == "States.Format":
        text = args[0]
        for a in args[1:]:
            text = text.replace("{}", a if isinstance(a, str) else json.dumps(a), 1)
        return text, s
    if fn == "States.UUID":
        return str(uuid.uuid4()), s
    if fn == "States.JsonToString":
        return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False), s
    raise AssertionError(f"intrinsic {fn} is not interpreted here")
