"""The powertools Lambda entry points log with their invocation's context, cleared between
invocations (a key appended for one request never shows in the next one's lines), and never put
their response into the trace (X-Ray metadata: responses carry user data and can pass a segment's
64 KB). Tracing is off in tests, so these are checked on the source: the decorators, in order."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
# module -> the function the decorators wrap (the API's handler takes a lock around _handle)
HANDLERS = {"functions/api/handler.py": "_handle", "functions/events/handler.py": "handler",
            "functions/triggers/s3_upload.py": "handler"}  # fmt: skip
EXPECTED = [
    "logger.inject_lambda_context(clear_state=True)",
    "tracer.capture_lambda_handler(capture_response=False)",
]


@pytest.mark.parametrize("path", sorted(HANDLERS))
def test_a_handler_logs_its_context_cleared_and_keeps_its_response_out_of_traces(path: str) -> None:
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == HANDLERS[path]]
    assert [ast.unparse(d) for d in fn.decorator_list] == EXPECTED
