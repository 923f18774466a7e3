"""Pipelines through the real Lambda handler on the local container: create from YAML, a new
version per save, history, diff, blame, as-of, export, compile; bad input is a 422 naming node and
port with nothing saved. Projects: overview counts from the view, the activity feed (filters,
pages), invitations by e-mail, ownership transfer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.api import handler as api
from runtime.bootstrap import Container, build_local, set_container
from runtime.settings import Settings
from tlm.server import proxy_event

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pipeline_sentiment.yaml"
OWNER, EDITOR = "owner-p", "editor-p"


class Context:
    function_name = "tlm-pipelines"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tlm-pipelines"
    aws_request_id = "req-pipelines"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def call(user: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    response = api.handler(proxy_event(method, path, headers, raw, user), Context())
    text = response.get("body") or "{}"
    return int(response["statusCode"]), json.loads(text) if text.startswith(("{", "[")) else text


def ok(user: str, method: str, path: str, body: Any = None) -> Any:
    status, doc = call(user, method, path, body)
    assert status < 300, (method, path, status, doc)
    return doc


@pytest.fixture(scope="module")
def container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    c = build_local(Settings(data_dir=tmp_path_factory.mktemp("pipes") / "data", min_part_bytes=1024))
    set_container(c)
    try:
        yield c
    finally:
        set_container(None)
        c.close()


@pytest.fixture(scope="module")
def project(container: Container) -> str:
    pid = str(ok(OWNER, "POST", "/projects", {"name": "pipes"})["project_id"])
    ok(OWNER, "PUT", f"/projects/{pid}/members/{EDITOR}", {"role": "editor"})
    return pid


def _events(container: Container) -> int:
    return len(container.store.read_all(after_position=0, limit=1_000_000))


def test_versions_history_diff_blame_as_of_export(container: Container, project: str) -> None:
    # Given a pipeline created from the YAML file by the owner
    text = FIXTURE.read_text()
    doc = ok(OWNER, "POST", f"/projects/{project}/pipelines", {"file": text})
    pid, v1_time = doc["pipeline_id"], datetime.now(UTC).isoformat()
    assert doc["version"] == 1 and doc["not_available"] == []
    assert doc["stages"][0] == ["model", "data", "params"]
    # When the editor changes one node (a new version) and saves the same file again (no version)
    changed = yaml.safe_load(text)
    changed["nodes"][3]["params"]["max_epochs"] = 3
    v2 = ok(EDITOR, "PUT", f"/pipelines/{pid}", {"definition": changed, "expected_version": 1})
    same = ok(EDITOR, "PUT", f"/pipelines/{pid}", {"definition": changed})
    assert (v2["version"], v2["changed"], same["version"], same["changed"]) == (2, True, 2, False)
    # Then history, diff and blame name the node, the field and who changed it
    history = ok(OWNER, "GET", f"/pipelines/{pid}/history")["items"]
    assert [h["version"] for h in history] == [1, 2] and history[1]["nodes_changed"] == ["train"]
    diff = ok(OWNER, "GET", f"/pipelines/{pid}/diff?from_version=1&to_version=2")
    assert diff["nodes"] == {"added": [], "removed": [], "changed": ["train"]}
    assert diff["changes"] == [{"path": "nodes.train.params.max_epochs", "kind": "changed", "old": 1, "new": 3}]
    blame = {b["node"]: b for b in ok(OWNER, "GET", f"/pipelines/{pid}/blame")["items"]}
    assert blame["train"]["changed"]["actor"] == EDITOR and blame["train"]["added"]["actor"] == OWNER
    assert blame["eval"]["changed"]["version"] == 1
    # and the older version is there by number and by time; the export is the file itself
    assert ok(OWNER, "GET", f"/pipelines/{pid}?version=1")["definition"] == yaml.safe_load(text)
    assert ok(OWNER, "GET", f"/pipelines/{pid}?as_of={v1_time.replace('+00:00', 'Z')}")["version"] == 1
    status, exported = call(OWNER, "GET", f"/pipelines/{pid}/export?version=1")
    assert status == 200 and exported == text
    compiled = ok(OWNER, "GET", f"/pipelines/{pid}/workflow")
    assert compiled["asl"]["StartAt"] == "Stage 1" and "canary" in compiled["asl"]["States"]
    listed = ok(OWNER, "GET", f"/projects/{project}/pipelines")["items"]
    assert [(p["pipeline_id"], p["version"]) for p in listed] == [(pid, 2)]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["nodes"][0].update(after=["onnx"]), "nodes.model.after"),  # a cycle
        (lambda d: d["nodes"][3]["inputs"].update(dataset="model.model"), "nodes.train.inputs.dataset"),
        (lambda d: d["nodes"][7].update(kind="teleport"), "nodes.version.kind"),
        (lambda d: d["nodes"][4]["inputs"].pop("model"), "nodes.eval.inputs.model"),
        (lambda d: d["nodes"][5]["params"].update(expression="bleu >= 3"), "nodes.gate.params.expression"),
    ],
    ids=["cycle", "type-mismatch", "unknown-kind", "missing-input", "condition-no-metric"],
)
def test_bad_pipelines_are_422_naming_node_and_port_and_save_nothing(
    container: Container, project: str, mutate: Any, field: str
) -> None:
    doc = yaml.safe_load(FIXTURE.read_text())
    mutate(doc)
    before = _events(container)
    for path in (f"/projects/{project}/pipelines", "/pipelines/validate"):
        status, body = call(EDITOR, "POST", path, {"definition": doc})
        assert (status, body["field"]) == (422, field), body
        assert body["violations"][0]["field"] == field
    assert _events(container) == before


def test_overview_activity_invite_and_transfer(container: Container, project: str) -> None:
    # Given a config and a pipeline in the project
    ok(EDITOR, "POST", f"/projects/{project}/configs", {"template": "bert-tiny", "name": "c1"})
    ok(EDITOR, "POST", f"/projects/{project}/pipelines", {"file": FIXTURE.read_text()})
    overview = ok(OWNER, "GET", f"/projects/{project}")
    assert overview["counts"]["pipelines"] >= 1 and overview["counts"]["configs"] == 1
    assert overview["members"][OWNER] == "owner"
    # When the owner invites by e-mail, Then the member is the user that e-mail resolves to
    user_id = container.users.add("ling@example.com")
    invited = ok(OWNER, "POST", f"/projects/{project}/members", {"member": "ling@example.com", "role": "viewer"})
    assert invited["members"][user_id] == "viewer"
    status, again = call(OWNER, "POST", f"/projects/{project}/members", {"member": user_id})
    assert (status, again["field"]) == (409, "user_id")
    # And the feed filters by member and kind, newest first, in pages
    mine = ok(OWNER, "GET", f"/projects/{project}/activity?member={EDITOR}&limit=2")
    assert len(mine["items"]) == 2 and all(e["actor"] == EDITOR for e in mine["items"])
    rest = ok(OWNER, "GET", f"/projects/{project}/activity?member={EDITOR}&limit=200&cursor={mine['next_cursor']}")
    seen = [(e["stream_id"], e["version"]) for e in mine["items"] + rest["items"]]
    assert len(seen) == len(set(seen)) and rest["next_cursor"] is None
    configs = ok(OWNER, "GET", f"/projects/{project}/activity?kind=config")["items"]
    assert [e["type"] for e in configs] == ["config.created"]
    ats = [e["at"] for e in ok(OWNER, "GET", f"/projects/{project}/activity?limit=200")["items"]]
    assert ats == sorted(ats, reverse=True)
    # When the editor tries to transfer ownership, Then 403; the owner can, and stays an editor
    status, _ = call(EDITOR, "POST", f"/projects/{project}/owner", {"member": EDITOR})
    assert status == 403
    moved = ok(OWNER, "POST", f"/projects/{project}/owner", {"member": EDITOR})
    assert moved["members"][EDITOR] == "owner" and moved["members"][OWNER] == "editor"
    ok(EDITOR, "POST", f"/projects/{project}/owner", {"member": OWNER})  # and back
    status, body = call(OWNER, "GET", f"/projects/{project}/activity?cursor=bm9wZQ")
    assert (status, body["field"]) == (422, "cursor")
