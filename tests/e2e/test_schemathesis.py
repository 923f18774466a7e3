"""Schemathesis against the running local server, with a token: every operation of the OpenAPI
document, up to 5 seeded examples each (examples and fuzzing phases, positive and negative data). The
coverage phase is left out of make test: with 118 operations it generated ~4,000 more cases and took
~210 s of the 20-minute budget; run it by hand with ``--phases examples,coverage,fuzzing``.

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

CHECKS = ",".join(
    (
        "not_a_server_error", "status_code_conformance", "response_schema_conformance", "content_type_conformance",
        "unsupported_method",  # an undocumented method on a documented path: 405 with Allow
        "ignored_auth",  # the bearer scheme is enforced: no or a wrong token is a 401
    )
)  # fmt: skip


def _st() -> list[str]:
    exe = shutil.which("st", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "schemathesis.cli"]


def _config(tmp: Path, ids: dict[str, str], per_path: dict[str, dict[str, str]]) -> Path:
    lines = ["[parameters]", *(f'{k} = "{v}"' for k, v in ids.items()), ""]
    for path, params in per_path.items():  # one filter per entry: schemathesis ORs an entry's filters
        values = ", ".join(f'{k} = "{v}"' for k, v in params.items())
        lines += ["[[operations]]", f'include-path = "{path}"', f"parameters = {{ {values} }}", ""]
    cfg = tmp / "schemathesis.toml"
    cfg.write_text("\n".join(lines))
    return cfg


def _entities(platform: Platform) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Real ids for every operation, and per path the exceptions: operations that would start real
    jobs (a corpus import, an arch test, a compile) get an id that exists nowhere, and the
    deleting ones get entities of their own (the others' would be gone after the first delete)."""
    with platform.http() as http:
        pid = http.post("/projects", json={"name": "fuzzed"}).json()["project_id"]

        def model(name: str) -> str:
            return str(http.post(f"/projects/{pid}/models", json={"name": name, "family": "bert"}).json()["model_id"])

        def config(name: str) -> str:
            body = {"template": "bert-tiny", "name": name}
            return str(http.post(f"/projects/{pid}/configs", json=body).json()["config_id"])

        mid, doomed_model = model("fuzz-model"), model("fuzz-doomed")
        cid, doomed_config = config("fuzz-config"), config("fuzz-doomed")
        did = http.post(f"/projects/{pid}/datasets", json={"name": "fuzz-data"}).json()["model_id"]
        up = http.post(f"/models/{mid}/uploads", json={"path": "w.bin", "size": 10, "sha256": "a" * 64}).json()
        assert http.put(f"/projects/{pid}/members/bob", json={"role": "viewer"}).status_code == 200
        pipeline_file = (Path(__file__).resolve().parents[1] / "fixtures" / "pipeline_sentiment.yaml").read_text()
        pipe, doomed_pipe = (
            http.post(f"/projects/{pid}/pipelines", json={"file": pipeline_file}).json()["pipeline_id"] for _ in "ab"
        )
    ids = {
        "project_id": pid, "model_id": mid, "dataset_id": did, "config_id": cid, "upload_id": up["upload_id"],
        "user_id": "bob", "name": "bert-tiny", "pipeline_id": pipe,
    }  # fmt: skip
    per_path = {
        "/projects/{project_id}/datasets/demo-sentiment": {"project_id": "no-such-id"},
        "/configs/{config_id}/arch-test": {"config_id": "no-such-id"},
        "/models/{model_id}/compiles": {"model_id": "no-such-id"},
        "/models/{model_id}": {"model_id": doomed_model},
        "/configs/{config_id}": {"config_id": doomed_config},
        "/pipelines/{pipeline_id}": {"pipeline_id": doomed_pipe},
        "/projects/{project_id}/owner": {"project_id": "no-such-id"},  # the fuzzed project keeps its owner
    }
    return ids, per_path


def test_schemathesis_finds_no_5xx_and_no_undocumented_status(platform: Platform, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # Given the platform with its default token, a project, model, dataset, config and open upload
    cfg = _config(tmp_path, *_entities(platform))
    cmd = [
        *_st(), "--config-file", str(cfg), "run", f"{platform.url}/openapi.json",
        "-H", f"Authorization: Bearer {platform.token}",
        "--checks", CHECKS,
        "--phases", "examples,fuzzing",
        "--max-examples", "5", "--seed", "7", "--no-shrink",
        "--workers", "1", "--request-timeout", "30",
    ]  # fmt: skip
    # When Schemathesis runs every operation
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=540, env=platform.env, cwd=tmp_path)
    output = res.stdout + res.stderr
    at = output.find("=== SUMMARY ===")
    summary = output[output.rfind("\n", 0, at) + 1 :] if at >= 0 else output[-4000:]
    with capsys.disabled():
        print("\n--- Schemathesis summary ---\n" + summary.strip())
    # Then it finds nothing, and the server logged no 5xx for any of its requests
    assert res.returncode == 0, output[:12000] + "\n...\n" + output[-8000:]  # the failures come first
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert tested and int(tested.group(1)) >= 50, summary
    log = platform.log.read_text(errors="replace")
    assert not re.findall(r"tlm\.access \S+ \S+ 5\d\d ", log), [ln for ln in log.splitlines() if " 5" in ln][:20]
    assert re.search(r"tlm\.access GET /openapi.json 200 ", log)
