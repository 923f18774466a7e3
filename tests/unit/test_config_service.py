"""ConfigService on a real SQLite event store: create, edit, batch edit (all or nothing), history,
diff, blame, as-of reads, export/import and the bad-input cases of issue 4."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from domain.configs import ConfigInvalid
from domain.errors import ConcurrencyConflict, Forbidden, Invalid, NotFound
from runtime.adapters.sqlite.db import Database
from runtime.adapters.sqlite.event_store import SqliteEventStore
from runtime.services.commands import Caller
from runtime.services.configs import ConfigService

pytestmark = pytest.mark.unit

ALICE, BOB = Caller("alice"), Caller("bob")
WRITERS = {"p1": {"alice"}, "p2": {"alice", "bob"}, "p3": {"bob"}}


def authorize(caller: Caller, project_id: str, action: str) -> None:
    if caller.user_id not in WRITERS.get(project_id, set()):
        raise Forbidden(f"{caller.user_id} cannot {action} {project_id}", field="project_id")


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "tlm.db", synchronous="OFF")
    yield SqliteEventStore(db)
    db.close()


@pytest.fixture
def svc(store):
    return ConfigService(store, authorize)


def lr(svc, cid):
    return svc.get(ALICE, cid)["values"]["training"]["learning_rate"]


def test_create_edit_history_diff_blame(svc):
    # Given a config from the BERT template
    c = svc.create_from_template(ALICE, "p2", "bert-tiny", name="baseline")
    cid = c["config_id"]
    assert c["version"] == 1 and c["origin"] == "template" and c["origin_ref"] == "bert-tiny"
    # When alice and bob edit it
    svc.edit(ALICE, cid, set={"training.learning_rate": 1e-4}, description="first try")
    svc.edit(BOB, cid, set={"architecture.num_hidden_layers": 4}, unset=["architecture.initializer_range"])
    # Then history, diff and blame tell who changed what
    hist = svc.history(ALICE, cid)
    assert [h["type"] for h in hist] == ["config.created", "config.edited", "config.edited"]
    d = svc.diff(ALICE, cid, 1, 3)
    assert d["summary"]["changed"] == {
        "training.learning_rate": {"old": 1e-3, "new": 1e-4},
        "architecture.num_hidden_layers": {"old": 2, "new": 4},
    }
    assert d["summary"]["removed"] == {"architecture.initializer_range": 0.02}
    assert d["description"] == {"old": "", "new": "first try"}
    back = svc.diff(ALICE, cid, 3, 1)
    assert back["summary"]["added"] == {"architecture.initializer_range": 0.02}
    blame = {b["path"]: b for b in svc.blame(ALICE, cid)}
    assert blame["training.learning_rate"]["actor"] == "alice" and blame["training.learning_rate"]["version"] == 2
    assert blame["architecture.num_hidden_layers"]["actor"] == "bob"
    assert blame["architecture.num_hidden_layers"]["command_id"] == hist[2]["command_id"] is not None
    assert blame["architecture.hidden_size"]["version"] == 1
    assert "architecture.initializer_range" not in blame
    only = svc.blame(ALICE, cid, path="training.learning_rate")
    assert [b["value"] for b in only] == [1e-4]
    assert svc.blame(ALICE, cid, version=1, path="training.learning_rate")[0]["value"] == 1e-3


def test_get_as_of_and_version(svc):
    cid = svc.create_from_template(ALICE, "p1", "bert-tiny")["config_id"]
    mid = datetime.now(UTC)
    svc.edit(ALICE, cid, set={"training.learning_rate": 3e-4})
    assert svc.get(ALICE, cid, as_of=mid)["values"]["training"]["learning_rate"] == 1e-3
    assert svc.get(ALICE, cid, version=2)["values"]["training"]["learning_rate"] == 3e-4
    with pytest.raises(NotFound):
        svc.get(ALICE, cid, as_of=datetime(2000, 1, 1, tzinfo=UTC))


def test_invalid_edit_writes_nothing(svc, store):
    cid = svc.create_from_template(ALICE, "p1", "bert-tiny")["config_id"]
    with pytest.raises(ConfigInvalid) as e:
        svc.edit(ALICE, cid, set={"architecture.hidden_size": 100, "architecture.num_attention_heads": 12})
    assert e.value.field == "architecture.hidden_size"
    with pytest.raises(Invalid) as e:
        svc.edit(ALICE, cid, set={"training.learning_rate": -0.001})
    assert e.value.field == "training.learning_rate"
    assert store.version(f"config-{cid}") == 1
    # a no-op edit records nothing either
    assert svc.edit(ALICE, cid, set={"training.learning_rate": 1e-3})["version"] == 1
    with pytest.raises(ConcurrencyConflict):
        svc.edit(ALICE, cid, set={"training.seed": 1}, expected_version=7)


def test_forbidden_and_missing(svc):
    with pytest.raises(Forbidden):
        svc.create_from_template(BOB, "p1", "bert-tiny")
    with pytest.raises(NotFound) as e:
        svc.create_from_template(ALICE, "p1", "gpt-tiny")
    assert e.value.field == "template"
    cid = svc.create_from_template(ALICE, "p1", "bert-tiny")["config_id"]
    with pytest.raises(Forbidden):
        svc.get(BOB, cid)
    svc.delete(ALICE, cid)
    with pytest.raises(NotFound):
        svc.get(ALICE, cid)
    assert len(svc.history(ALICE, cid)) == 2


def three_configs(svc):
    return [svc.create_from_template(ALICE, "p2", t)["config_id"] for t in ("bert-tiny", "roberta-tiny", "xlnet-tiny")]


def test_batch_edit_sets_learning_rate_on_three_configs_one_event_each(svc, store):
    ids = three_configs(svc)
    out = svc.batch_edit(ALICE, ids, set={"training.learning_rate": 3e-5})
    assert [c["version"] for c in out["configs"]] == [2, 2, 2]
    for cid in ids:
        assert lr(svc, cid) == 3e-5
        last = store.read(f"config-{cid}")[-1]
        assert last.type == "config.edited" and last.data["batch_id"] == out["batch_id"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [("invalid", ConfigInvalid), ("forbidden", Forbidden), ("missing", NotFound)],
)
def test_batch_edit_one_bad_target_changes_nothing_anywhere(svc, store, case, expected):
    # Given three good configs and one bad target in the middle of the list
    ids = three_configs(svc)
    if case == "invalid":  # hidden 64 is fine, but this config's heads make 64 indivisible
        bad = svc.create_from_template(ALICE, "p2", "bert-tiny", overrides={"architecture.hidden_size": 66})
        bad_id = bad["config_id"]
        patch = {"training.learning_rate": 3e-5, "architecture.num_attention_heads": 4}
    elif case == "forbidden":
        bad_id = svc.create_from_template(BOB, "p3", "bert-tiny")["config_id"]  # alice cannot write p3
        patch = {"training.learning_rate": 3e-5}
    else:
        bad_id, patch = "nope", {"training.learning_rate": 3e-5}
    if case == "invalid":
        ids = ids[:1]  # roberta / xlnet would reject heads=4 for other reasons; keep the point sharp
    targets = [*ids, bad_id]
    before = {cid: store.version(f"config-{cid}") for cid in targets}
    # When alice batch-edits them
    with pytest.raises(expected) as e:
        svc.batch_edit(ALICE, targets, set=patch)
    # Then the error names the target and nothing was appended anywhere
    assert f"config_ids[{len(targets) - 1}]" in e.value.message
    assert {cid: store.version(f"config-{cid}") for cid in targets} == before
    assert all(lr(svc, cid) == 1e-3 for cid in ids)


def test_batch_edit_where_one_config_moved_writes_nothing_anywhere(store, monkeypatch):
    # Given three configs, and a service that does not re-plan after a conflict
    svc = ConfigService(store, authorize, retries=0)
    ids = three_configs(svc)
    real_batch = store.append_batch
    raced: list[int] = []
    seeds = iter((7, 8))

    def racing_batch(appends, **kw):
        # another writer edits the 3rd config after the batch was planned, just before it writes
        if not raced:
            raced.append(svc.edit(BOB, ids[2], set={"training.seed": next(seeds)})["version"])
        return real_batch(appends, **kw)

    monkeypatch.setattr(store, "append_batch", racing_batch)
    # When alice's batch edit writes
    with pytest.raises(ConcurrencyConflict) as e:
        svc.batch_edit(ALICE, ids, set={"training.learning_rate": 3e-5})
    # Then the conflict names the config that moved, and no config got the batch: the first two
    # still have only their creation, the third only bob's edit
    assert e.value.stream_id == f"config-{ids[2]}"
    assert [store.version(f"config-{cid}") for cid in ids] == [1, 1, 2]
    assert all(lr(svc, cid) == 1e-3 for cid in ids)
    assert svc.get(ALICE, ids[2])["values"]["training"]["seed"] == 7  # bob's write is kept
    # And with re-planning allowed, the same race ends with the batch applied whole on top of bob's
    raced.clear()
    out = ConfigService(store, authorize, retries=1).batch_edit(ALICE, ids, set={"training.learning_rate": 3e-5})
    assert raced == [3] and [c["version"] for c in out["configs"]] == [2, 2, 4]
    assert all(lr(svc, cid) == 3e-5 for cid in ids)
    assert svc.get(ALICE, ids[2])["values"]["training"]["seed"] == 8


def test_batch_edit_input_checks(svc):
    ids = three_configs(svc)
    with pytest.raises(Invalid) as e:
        svc.batch_edit(ALICE, [ids[0], ids[0]], set={"training.seed": 1})
    assert e.value.field == "config_ids"
    with pytest.raises(Invalid):
        svc.batch_edit(ALICE, [], set={"training.seed": 1})


def test_export_import_round_trip_across_projects(svc):
    cid = svc.create_from_template(ALICE, "p1", "albert-tiny", name="共享配置", description="给别的团队")["config_id"]
    for fmt in ("json", "yaml"):
        text = svc.export(ALICE, cid, fmt=fmt)
        imported = svc.import_(BOB, "p3", text)
        assert imported["project_id"] == "p3" and imported["origin"] == "import"
        assert imported["values"] == svc.get(ALICE, cid)["values"]
        assert svc.export(BOB, imported["config_id"], fmt=fmt) == text  # byte-exact round trip


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("family: bert\narchitecture: [unclosed", "file"),
        (json.dumps({"family": "gpt9", "architecture": {}}), "family"),
        ("format: tlm.config\nschema_version: 2\nname: x\nfamily: bert\nvalues: {}\n", "schema_version"),
        ("- just\n- a list\n", "file"),
    ],
)
def test_bad_files_are_4xx_naming_the_field_and_write_nothing(svc, store, content, field):
    with pytest.raises(Invalid) as e:
        svc.create_from_file(ALICE, "p1", content, filename="x.yaml")
    assert e.value.field == field and e.value.status == 422
    assert store.read_all() == []


def test_create_from_bare_yaml_file(svc):
    from domain.configs import template_values

    values = template_values("electra-tiny")
    doc = svc.create_from_file(ALICE, "p1", yaml.safe_dump(values, allow_unicode=True), filename="my-electra.yaml")
    assert doc["name"] == "my-electra" and doc["values"] == values and doc["origin"] == "file"


def test_derive_architecture_and_test_hyperparameters(svc):
    parent = svc.create_from_template(ALICE, "p1", "bert-tiny", overrides={"architecture.num_hidden_layers": 4})
    child = svc.derive(ALICE, parent["config_id"], {"num_layers": 2, "activation": "relu"}, name="bert-2l-relu")
    assert child["origin"] == "derived" and child["derived_from"]["version"] == 1
    assert child["arch"]["structural"] == {
        "num_layers": {"old": 4, "new": 2},
        "activation": {"old": "gelu", "new": "relu"},
    }
    hp = svc.arch_test_hyperparameters(ALICE, child["config_id"], seq_len=16)
    assert hp["parent"]["architecture"]["num_hidden_layers"] == 4 and hp["layer_map"] == {"0": 0, "1": 1}
    with pytest.raises(Invalid) as e:
        svc.derive(ALICE, parent["config_id"], {"num_layers": 2, "d_model": 3}, name="x")
    assert e.value.field == "edit.d_model"  # names the offending key
