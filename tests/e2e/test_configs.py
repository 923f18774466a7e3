"""Configuration management end to end, over HTTP and through the `tlm` CLI: templates, configs
with history, export/import, batch edit, diff, blame, architecture derivation and its test job."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Platform
from tlm.auth import TokenBook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LR = "training.learning_rate"


def cli_json(platform: Platform, *args: str, token: str | None = None) -> Any:
    return json.loads(platform.cli("--json", *args, token=token).stdout)


def event_count(platform: Platform) -> int:
    with sqlite3.connect(f"file:{platform.data_dir / 'tlm.db'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM events").fetchone()[0])


def test_configs_from_template_to_architecture_test(platform: Platform, tmp_path: Path) -> None:
    # Given two projects and the built-in templates
    team = cli_json(platform, "projects", "create", "预训练组")["project_id"]
    other = cli_json(platform, "projects", "create", "下游任务组")["project_id"]
    names = {t["name"] for t in cli_json(platform, "configs", "templates")["items"]}
    assert {
        f"{f}-{s}"
        for f in ("bert", "roberta", "albert", "electra", "xlnet")
        for s in ("tiny", "small", "base")
    } <= names

    # When a config is created from the BERT template
    bert = cli_json(platform, "configs", "create", team, "--template", "bert-base", "--name", "中文BERT基线")
    cid = bert["config_id"]
    assert bert["version"] == 1 and bert["values"]["architecture"]["num_hidden_layers"] == 12

    # Then it exports (YAML and JSON) and imports into another project, round-tripping exactly
    exported = tmp_path / "bert.yaml"
    platform.cli("configs", "export", cid, "--format", "yaml", "--output", str(exported))
    imported = cli_json(platform, "configs", "import", other, str(exported))
    assert imported["project_id"] == other and imported["values"] == bert["values"]
    assert (
        platform.cli("configs", "export", imported["config_id"], "--format", "yaml").stdout
        == exported.read_text()
    )
    with platform.http() as http:
        as_json = http.get(f"/configs/{cid}/export", params={"format": "json"})
        assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
        assert json.loads(as_json.text)["values"] == bert["values"]

    # When the learning rate of three configs is batch-edited in one command
    small = cli_json(platform, "configs", "create", team, "--template", "bert-small")["config_id"]
    ids = [cid, small, imported["config_id"]]
    res = cli_json(platform, "configs", "batch-edit", *ids, "--set", f"{LR}=3e-5")
    assert [c["version"] for c in res["configs"]] == [2, 2, 2]
    for i in ids:
        assert cli_json(platform, "configs", "show", i)["values"]["training"]["learning_rate"] == 3e-5
    platform.cli("configs", "edit", cid, "--set", "training.epochs=5", "--description", "更长的训练")

    # Then versions 1 and 3 differ in exactly the batch-edited and hand-edited fields
    diff = cli_json(platform, "configs", "diff", cid, "--from", "1", "--to", "3")
    changed = {c["path"]: (c["old"], c["new"]) for c in diff["changes"]}
    assert changed == {LR: (bert["values"]["training"]["learning_rate"], 3e-5), "training.epochs": (3, 5)}
    assert "training.epochs" in platform.cli("configs", "diff", cid, "--from", "1", "--to", "3").stdout

    # And blame says who set the learning rate, when, and in which (batch) command
    (entry,) = cli_json(platform, "configs", "blame", cid, "--path", LR)["items"]
    assert entry["value"] == 3e-5 and entry["version"] == 2 and entry["actor"] == "local"
    assert entry["batch_id"] == res["batch_id"]  # the batch is the command (its events carry no command_id)
    (epochs,) = cli_json(platform, "configs", "blame", cid, "--path", "training.epochs")["items"]
    assert epochs["version"] == 3 and epochs["command_id"]
    history = cli_json(platform, "configs", "history", cid)["items"]
    assert [h["version"] for h in history] == [1, 2, 3]

    # Given a tiny BERT with 4 layers, when an architecture with 2 layers and relu is derived
    with platform.http() as http:
        r = http.post(
            f"/projects/{team}/configs",
            json={
                "template": "bert-tiny",
                "name": "tiny-4",
                "overrides": {"architecture.num_hidden_layers": 4},
            },
        )
        assert r.status_code == 201, r.text
        parent = r.json()
    child = cli_json(
        platform,
        "arch",
        "derive",
        parent["config_id"],
        "tiny-2-relu",
        "--layers",
        "2",
        "--activation",
        "relu",
    )
    arch = child["values"]["architecture"]
    assert (arch["num_hidden_layers"], arch["hidden_act"]) == (2, "relu")
    assert child["derived_from"]["config_id"] == parent["config_id"]
    assert child["derived_from"]["layer_map"] == {"0": 0, "1": 1}

    # Then its test runs as a job and prints the side-by-side report
    shown = platform.cli(
        "arch", "test", child["config_id"], "--seq-len", "16", "--repeats", "1", "--weights"
    ).stdout
    assert "parameters" in shown and "FLOPs / token" in shown and "carried weights" in shown
    job_name = re.search(r"job (archtest-\S+) completed", shown).group(1)  # type: ignore[union-attr]
    with platform.http() as http:
        job = http.get(f"/jobs/{job_name}").json()
        logs = http.get(f"/jobs/{job_name}/logs", params={"start": 0}).json()
    assert job["state"] == "Completed" and logs["lines"]
    report = job["report"]
    assert report["child"]["params"] < report["parent"]["params"]
    assert report["child"]["smoke"]["finite"] and report["parent"]["smoke"]["finite"]
    carried = {t["name"]: t["from"] for t in report["carried"]["tensors"]}
    assert "bert.encoder.layer.1.attention.self.query.weight" in carried
    assert not any(".layer.2." in n or ".layer.3." in n for n in carried)
    dropped = {t["name"] for t in report["carried"]["dropped"]}
    assert "bert.encoder.layer.3.output.dense.weight" in dropped
    assert report["carried"]["shape_mismatch"] == [] and report["carried"]["verified"]["equal"]


def test_bad_input_is_a_clear_4xx_naming_the_field_and_writes_nothing(
    platform: Platform, tmp_path: Path
) -> None:
    # Given alice's project with a config, and bob with his own project and config
    alice = platform.http()
    bob_token = TokenBook(platform.data_dir).issue("bob")
    bob = platform.http(bob_token)
    project = alice.post("/projects", json={"name": "alice"}).json()["project_id"]
    cid = alice.post(f"/projects/{project}/configs", json={"template": "bert-tiny"}).json()["config_id"]
    bob_project = bob.post("/projects", json={"name": "bob"}).json()["project_id"]
    bob_cid = bob.post(f"/projects/{bob_project}/configs", json={"template": "roberta-tiny"}).json()[
        "config_id"
    ]
    newer = alice.get(f"/configs/{cid}/export").text.replace('"schema_version": 1', '"schema_version": 2')
    before = event_count(platform)

    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("unknown family", f"/projects/{project}/configs", {"template": "gpt-base"}, 404, "template"),
        ("invalid YAML", f"/projects/{project}/configs",
         {"file": "a: [1, 2\n b: :", "format": "yaml"}, 422, "file"),
        ("hidden 100 / 12 heads", f"/configs/{cid}",
         {"set": {"architecture.hidden_size": 100, "architecture.num_attention_heads": 12}},
         422, "architecture.hidden_size"),
        ("negative learning rate", f"/configs/{cid}", {"set": {LR: -1e-5}}, 422, LR),
        ("newer schema version", f"/projects/{project}/configs/import",
         {"file": newer}, 422, "schema_version"),
        ("batch edit into bob's project", "/configs/batch-edit",
         {"config_ids": [cid, bob_cid], "set": {LR: 3e-5}}, 403, "config_ids[1]"),
    ]  # fmt: skip
    for label, path, body, status, field in cases:
        # When alice sends it
        method = alice.patch if path == f"/configs/{cid}" else alice.post
        r = method(path, json=body)
        # Then it is refused with a status and a body naming the field
        assert r.status_code == status, (label, r.status_code, r.text)
        err = r.json()
        assert err["field"] == field and err["message"], (label, err)

    # And nothing was written: no event anywhere, histories unchanged
    assert event_count(platform) == before
    assert len(alice.get(f"/configs/{cid}/history").json()["items"]) == 1
    assert len(bob.get(f"/configs/{bob_cid}/history").json()["items"]) == 1
    assert alice.get(f"/configs/{cid}").json()["values"]["training"]["learning_rate"] == 1e-3

    # And the CLI shows the same errors plainly (exit code 2, the field named)
    res = platform.cli("configs", "create", project, "--template", "gpt-base", check=False)
    assert res.returncode == 2 and "field: template" in res.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n b: :", encoding="utf-8")
    res = platform.cli("configs", "create", project, "--file", str(bad), check=False)
    assert res.returncode == 2 and "field: file" in res.stderr
    # And bob can neither read alice's config nor start or read her jobs
    assert bob.get(f"/configs/{cid}").status_code == 403
    assert bob.post(f"/configs/{cid}/arch-test", json={}).status_code == 403
    assert bob.get(f"/jobs/archtest-{cid}-00000000").status_code == 403
    # And a config that was not derived cannot be tested
    r = alice.post(f"/configs/{cid}/arch-test", json={})
    assert r.status_code == 422 and r.json()["field"] == "config_id"
    assert event_count(platform) == before
    alice.close()
    bob.close()
