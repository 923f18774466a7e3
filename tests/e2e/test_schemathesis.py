"""Schemathesis against the running local server, with a token: every operation of the OpenAPI
document, a few seeded examples each (examples, coverage and fuzzing phases).

Checks: no 5xx, only documented status codes, answers that match the declared read models
(and content types). Its summary is printed into the test output.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"


def _st() -> list[str]:
    exe = shutil.which("st", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "schemathesis.cli"]


def test_schemathesis_finds_no_5xx_and_no_undocumented_status(platform: Platform, capsys) -> None:  # type: ignore[no-untyped-def]
    # Given the platform with its default token
    cmd = [
        *_st(), "run", f"{platform.url}/openapi.json",
        "-H", f"Authorization: Bearer {platform.token}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", "3", "--seed", "7", "--no-shrink",
        "--workers", "2", "--request-timeout", "30",
    ]  # fmt: skip
    # When Schemathesis runs every operation
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=540, env=platform.env)
    output = res.stdout + res.stderr
    at = output.find("=== SUMMARY ===")
    summary = output[output.rfind("\n", 0, at) + 1 :] if at >= 0 else output[-4000:]
    with capsys.disabled():
        print("\n--- Schemathesis summary ---\n" + summary.strip())
    # Then it finds nothing, and the server logged no 5xx for any of its requests
    assert res.returncode == 0, output[-20000:]
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert tested and int(tested.group(1)) >= 50, summary
    log = platform.log.read_text(errors="replace")
    assert not re.findall(r"tlm\.access \S+ \S+ 5\d\d ", log), [ln for ln in log.splitlines() if " 5" in ln][:20]
    assert re.search(r"tlm\.access GET /openapi.json 200 ", log)
