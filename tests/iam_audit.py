"""The synthesized CloudFormation templates as a deployed cloud would see them, and IAM on top.

``Cloud`` resolves template values (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::ImportValue``,
``Fn::Select``/``Split``/``If``/``Sub``, parameters' defaults, pseudo parameters) to the physical
names and ARNs a deployment in ``ACCOUNT``/``REGION`` gets (physical names: ``<stack>-<logical
id>`` unless the template names the resource). ``Cloud.policy(role)`` gathers the role's Allow and
Deny statements (inline and ``AWS::IAM::Policy``), resolved.

``Recorder`` is a botocore ``before-parameter-build`` hook: every API call (and presigned URL)
becomes the IAM requests it needs — ``(action, resource ARN, condition context)`` — under the
principal (role logical id) currently acting. ``evaluate`` applies IAM's rules (explicit deny
wins, then any allow; ``*``/``?`` wildcards; ``StringEquals``/``StringLike``/``ArnLike``/``Bool``
conditions; a missing condition key fails the condition).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}


@dataclass(frozen=True)
class Request:
    action: str  # "s3:GetObject"
    resource: str  # ARN
    context: tuple[tuple[str, str], ...] = ()  # condition keys (sorted pairs)
    api: str = ""  # the API call it came from ("s3.CopyObject")


class Cloud:
    def __init__(self, templates: dict[str, dict[str, Any]], *, prefix: str = "Tlm") -> None:
        self.templates = {f"{prefix}{short}": t for short, t in templates.items()}
        self.overrides: dict[tuple[str, str, str], Any] = {}  # (stack, logical id, attr) -> value
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack, t in self.templates.items():
            for out in (t.get("Outputs") or {}).values():
                if "Export" in out:
                    self._exports[self.resolve(stack, out["Export"]["Name"])] = (stack, out["Value"])

    # ------------------------------------------------------------------ resources
    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == type_}

    def physical_name(self, stack: str, logical_id: str) -> str:
        res = self.templates[stack]["Resources"][logical_id]
        props = res.get("Properties") or {}
        named = {
            "AWS::DynamoDB::Table": "TableName",
            "AWS::S3::Bucket": "BucketName",
            "AWS::IAM::Role": "RoleName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::Logs::LogGroup": "LogGroupName",
        }.get(res["Type"])
        if named and named in props:
            return str(self.resolve(stack, props[named]))
        return f"{stack}-{logical_id}".lower() if res["Type"] == "AWS::S3::Bucket" else f"{stack}-{logical_id}"

    def arn(self, stack: str, logical_id: str) -> str:
        if (stack, logical_id, "Arn") in self.overrides:
            return str(self.overrides[(stack, logical_id, "Arn")])
        type_ = self.templates[stack]["Resources"][logical_id]["Type"]
        name = self.physical_name(stack, logical_id)
        a, r = ACCOUNT, REGION
        return {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{r}:{a}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{a}:role/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{r}:{a}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{r}:{a}:stateMachine:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{r}:{a}:{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{r}:{a}:log-group:{name}:*",
            "AWS::Lambda::LayerVersion": f"arn:aws:lambda:{r}:{a}:layer:{name}:1",
        }.get(type_, f"arn:aws:cloudformation:{r}:{a}:{stack}/{logical_id}")

    def _ref(self, stack: str, name: str) -> Any:
        if name in PSEUDO:
            return PSEUDO[name]
        t = self.templates[stack]
        if name in (t.get("Parameters") or {}):
            return t["Parameters"][name].get("Default", "")
        res = t["Resources"][name]
        if res["Type"] in ("AWS::StepFunctions::StateMachine", "AWS::Lambda::LayerVersion"):
            return self.arn(stack, name)
        if res["Type"] == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.physical_name(stack, name)}"
        return self.physical_name(stack, name)

    def _getatt(self, stack: str, logical_id: str, attr: str) -> Any:
        if (stack, logical_id, attr) in self.overrides:
            return self.overrides[(stack, logical_id, attr)]
        if attr == "Arn":
            return self.arn(stack, logical_id)
        if attr == "QueueName":
            return self.physical_name(stack, logical_id)
        raise KeyError(f"{stack}.{logical_id}.{attr}: set Cloud.overrides for it")

    def _condition(self, stack: str, name: str) -> bool:
        return bool(self.resolve(stack, self.templates[stack]["Conditions"][name]))

    def resolve(self, stack: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(stack, v) for k, v in value.items()}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self._ref(stack, arg)
        if fn == "Fn::GetAtt":
            lid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._getatt(stack, lid, attr)
        if fn == "Fn::Join":
            return str(arg[0]).join(str(self.resolve(stack, p)) for p in self.resolve(stack, arg[1]))
        if fn == "Fn::ImportValue":
            src, expr = self._exports[self.resolve(stack, arg)]
            return self.resolve(src, expr)
        if fn == "Fn::Select":
            return self.resolve(stack, arg[1])[int(self.resolve(stack, arg[0]))]
        if fn == "Fn::Split":
            return str(self.resolve(stack, arg[1])).split(arg[0])
        if fn == "Fn::If":
            return self.resolve(stack, arg[1] if self._condition(stack, arg[0]) else arg[2])
        if fn == "Fn::Equals":
            a, b = (self.resolve(stack, x) for x in arg)
            return a == b
        if fn == "Fn::Not":
            return not self.resolve(stack, arg[0])
        if fn == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

            def sub(m: re.Match[str]) -> str:
                key = m.group(1)
                if key in names:
                    return str(self.resolve(stack, names[key]))
                if "." in key:
                    lid, attr = key.split(".", 1)
                    return str(self._getatt(stack, lid, attr))
                return str(self._ref(stack, key))

            return re.sub(r"\$\{([^}!]+)\}", sub, text)
        if fn == "Condition":
            return self._condition(stack, arg)
        return {fn: self.resolve(stack, arg)}

    # ------------------------------------------------------------------ IAM
    def role_of_function(self, stack: str, function_id: str) -> str:
        role = self.templates[stack]["Resources"][function_id]["Properties"]["Role"]
        return role["Fn::GetAtt"][0]

    def policy(self, stack: str, role_id: str) -> list[dict[str, Any]]:
        """Every statement attached to the role (inline + AWS::IAM::Policy), resolved."""
        out = []
        role = self.templates[stack]["Resources"][role_id]
        for pol in (role.get("Properties") or {}).get("Policies") or []:
            out += pol["PolicyDocument"]["Statement"]
        for pol in self.resources(stack, "AWS::IAM::Policy").values():
            if {"Ref": role_id} in pol["Properties"].get("Roles", []):
                out += pol["Properties"]["PolicyDocument"]["Statement"]
        return [self.resolve(stack, st) for st in out]


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    for op, tests in (conditions or {}).items():
        for key, expected in tests.items():
            values = [str(v) for v in _listify(expected)]
            actual = context.get(key)
            if actual is None:
                return False
            if op in ("StringEquals", "ArnEquals"):
                ok = actual in values
            elif op in ("StringLike", "ArnLike"):
                ok = any(_like(v, actual) for v in values)
            elif op == "Bool":
                ok = actual.lower() in [v.lower() for v in values]
            else:
                raise AssertionError(f"condition operator {op} is not modelled here")
            if not ok:
                return False
    return True


def statement_matches(st: dict[str, Any], req: Request) -> bool:
    if not any(_like(a, req.action, case=False) for a in _listify(st.get("Action", []))):
        return False
    if not any(_like(str(r), req.resource) for r in _listify(st.get("Resource", []))):
        return False
    return _conditions_hold(st.get("Condition") or {}, dict(req.context))


def allowed(statements: list[dict[str, Any]], req: Request) -> bool:
    if any(st["Effect"] == "Deny" and statement_matches(st, req) for st in statements):
        return False
    return any(st["Effect"] == "Allow" and statement_matches(st, req) for st in statements)


def unused_grants(statements: list[dict[str, Any]], requests: Iterable[Request]) -> list[tuple[str, str]]:
    """What Allow statements grant that no request needed: ``(action pattern, "*any resource of the
    statement*")`` for an action no request used on any of the statement's resources, and
    ``("*any action of the statement*", resource pattern)`` for a resource no request used with
    any of the statement's actions (conditions apply in both)."""
    reqs = list(requests)
    out: list[tuple[str, str]] = []
    for st in statements:
        if st["Effect"] != "Allow":
            continue
        for action in _listify(st["Action"]):
            if not any(statement_matches({**st, "Action": action}, r) for r in reqs):
                out.append((action, "<any resource of its statement>"))
        for resource in _listify(st["Resource"]):
            if not any(statement_matches({**st, "Resource": resource}, r) for r in reqs):
                out.append(("<any action of its statement>", str(resource)))
    return out


# ---------------------------------------------------------------------- the recorder


def _s3(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def _ddb_table(name: str, index: str | None = None) -> str:
    base = name if name.startswith("arn:") else f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    return base + (f"/index/{index}" if index else "")


def requests_for(service: str, op: str, params: dict[str, Any]) -> list[Request]:
    """The IAM requests one API call needs (the services and calls TLM makes)."""
    api = f"{service}.{op}"

    def one(action: str, resource: str, **ctx: str) -> Request:
        return Request(action, resource, tuple(sorted(ctx.items())), api)

    if service == "s3":
        b, k = params.get("Bucket"), params.get("Key")
        if op in ("GetObject", "HeadObject"):
            return [one("s3:GetObject", _s3(b, k))]
        if op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
            return [one("s3:PutObject", _s3(b, k))]
        if op == "UploadPartCopy" or op == "CopyObject":
            src = params["CopySource"]
            if isinstance(src, str):
                sb, _, sk = src.lstrip("/").partition("/")
            else:
                sb, sk = src["Bucket"], src["Key"]
            return [one("s3:GetObject", _s3(sb, sk)), one("s3:PutObject", _s3(b, k))]
        if op == "AbortMultipartUpload":
            return [one("s3:AbortMultipartUpload", _s3(b, k))]
        if op == "ListParts":
            return [one("s3:ListMultipartUploadParts", _s3(b, k))]
        if op == "DeleteObject":
            return [one("s3:DeleteObject", _s3(b, k))]
        if op == "DeleteObjects":
            return [one("s3:DeleteObject", _s3(b, o["Key"])) for o in params["Delete"]["Objects"]]
        if op in ("ListObjectsV2", "ListObjects"):
            return [one("s3:ListBucket", _s3(b), **{"s3:prefix": params.get("Prefix", "")})]
        if op == "HeadBucket":
            return [one("s3:ListBucket", _s3(b))]
    if service == "dynamodb":
        if op in ("TransactWriteItems",):
            verbs = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
            }
            return [
                one(f"dynamodb:{verbs[kind]}", _ddb_table(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
        if op == "TransactGetItems":
            return [one("dynamodb:GetItem", _ddb_table(i["Get"]["TableName"])) for i in params["TransactItems"]]
        if op in ("BatchGetItem", "BatchWriteItem"):
            return [one(f"dynamodb:{op}", _ddb_table(t)) for t in params["RequestItems"]]
        return [one(f"dynamodb:{op}", _ddb_table(params["TableName"], params.get("IndexName")))]
    if service == "sagemaker":
        kind = re.match(r"^(Create|Describe|Stop)(Training|Processing)Job$", op)
        if kind:
            name = params.get("TrainingJobName") or params.get("ProcessingJobName")
            arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind.group(2).lower()}-job/{name.lower()}"
            out = [one(f"sagemaker:{op}", arn)]
            if kind.group(1) == "Create":
                out.append(one("iam:PassRole", params["RoleArn"], **{"iam:PassedToService": "sagemaker.amazonaws.com"}))
                if params.get("Tags"):
                    out.append(one("sagemaker:AddTags", arn))
            return out
    if service == "sagemaker":  # real-time endpoints (runtime.adapters.sagemaker_serving)
        kinds = {"Model": "model", "EndpointConfig": "endpoint-config", "Endpoint": "endpoint"}
        verb = re.match(r"^(Create|Describe|Delete|Invoke)(Model|EndpointConfig|Endpoint)$", op)
        if verb:
            name = params[f"{verb.group(2)}Name"] if verb.group(2) != "Endpoint" else params["EndpointName"]
            arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kinds[verb.group(2)]}/{name.lower()}"
            out = [one(f"sagemaker:{op}", arn)]
            if verb.group(1) == "Create" and params.get("Tags"):
                out.append(one("sagemaker:AddTags", arn))
            if op == "CreateModel":
                passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
                out.append(one("iam:PassRole", params["ExecutionRoleArn"], **passed))
            return out
        if op in ("ListEndpoints", "ListEndpointConfigs"):
            return [one(f"sagemaker:{op}", "*")]
    if service == "monitoring" and op == "GetMetricData":  # CloudWatch: no resource-level permissions
        return [one("cloudwatch:GetMetricData", "*")]
    if service == "states":
        if op in ("StartExecution", "ListExecutions"):
            return [one(f"states:{op}", params["stateMachineArn"])]
        if op in ("DescribeExecution", "StopExecution", "GetExecutionHistory"):
            return [one(f"states:{op}", params["executionArn"])]
    if service == "logs":
        group = params.get("logGroupName", "")
        base = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
        if op == "GetLogEvents":
            return [one("logs:GetLogEvents", f"{base}:log-stream:{params['logStreamName']}")]
        return [one(f"logs:{op}", f"{base}:*")]
    if service == "lambda" and op == "Invoke":
        return [one("lambda:InvokeFunction", params["FunctionName"])]
    raise AssertionError(f"the audit does not know the IAM requests of {api}; add them to requests_for")


@dataclass
class Recorder:
    """Every AWS call, as IAM requests, per acting principal (a role's logical id)."""

    principal: str | None = None
    calls: dict[str, set[Request]] = field(default_factory=dict)
    ignored: set[str] = field(default_factory=set)  # the test's own principal (setup, checks)

    def install(self, session: Any) -> Any:
        """``session``: a boto3 Session; its clients (and presigned URLs) are recorded."""
        session.events.register("before-parameter-build", self._hook)
        return session

    def _hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        who = self.principal
        if who is None or who in self.ignored:
            return
        service = model.service_model.signing_name or model.service_model.endpoint_prefix
        if service == "dynamodb" and model.service_model.endpoint_prefix == "streams.dynamodb":
            service = "dynamodb"
        for req in requests_for(service, model.name, dict(params)):
            self.calls.setdefault(who, set()).add(req)

    def acting(self, principal: str | None) -> _Acting:
        return _Acting(self, principal)


class _Acting:
    def __init__(self, rec: Recorder, who: str | None) -> None:
        self.rec, self.who, self.before = rec, who, None

    def __enter__(self) -> Recorder:
        self.before, self.rec.principal = self.rec.principal, self.who
        return self.rec

    def __exit__(self, *exc: object) -> None:
        self.rec.principal = self.before


def denials(statements: list[dict[str, Any]], calls: Iterable[Request]) -> list[Request]:
    return sorted((r for r in calls if not allowed(statements, r)), key=lambda r: (r.action, r.resource))


def describe(requests: Iterable[Request]) -> str:
    return json.dumps([[r.api, r.action, r.resource, dict(r.context)] for r in requests], indent=1, ensure_ascii=False)
