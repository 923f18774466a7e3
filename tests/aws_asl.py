"""What the chain test needs of Step Functions and S3 that moto does not do for it: the ASL
JSONPath / intrinsic subset the shipped definitions use, and the S3 ObjectCreated notification."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from tests.iam_audit import REGION


def s3_event(bucket: str, key: str, head: dict[str, Any]) -> dict[str, Any]:
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


def choice_matches(rule: dict[str, Any], doc: Any, ctx: dict[str, Any]) -> bool:
    """One Choice rule (the comparators the shipped definitions use, And / Or / Not)."""
    if "And" in rule:
        return all(choice_matches(r, doc, ctx) for r in rule["And"])
    if "Or" in rule:
        return any(choice_matches(r, doc, ctx) for r in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], doc, ctx)
    try:
        value = get_path(doc, rule["Variable"], ctx)
    except (KeyError, TypeError):
        return rule.get("IsPresent") is False
    for op, expected in rule.items():
        if op == "IsPresent":
            return bool(expected)
        if op in ("StringEquals", "BooleanEquals", "NumericEquals"):
            return bool(value == expected)
        if op == "NumericGreaterThan":
            return bool(value > expected)
        if op == "NumericLessThan":
            return bool(value < expected)
    raise AssertionError(f"choice rule {rule} is not interpreted here")
