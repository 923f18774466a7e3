"""Pipeline definitions: validation names node and port, YAML/JSON round trips, compile shapes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from domain.errors import Invalid, TooLarge
from domain.pipelines import portable
from domain.pipelines.compile import compile_pipeline, stages
from domain.pipelines.condition import parse
from domain.pipelines.kinds import space_paths
from domain.pipelines.model import PipelineInvalid, validate
from domain.workflows import model as m

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pipeline_sentiment.yaml"


def sample() -> dict[str, Any]:
    return portable.loads(FIXTURE.read_text())


def fields_of(defn: dict[str, Any]) -> list[str]:
    with pytest.raises(PipelineInvalid) as e:
        validate(defn)
    assert isinstance(e.value, Invalid) and e.value.field == e.value.violations[0].field
    return [v.field for v in e.value.violations]


def test_the_sample_is_valid_and_its_yaml_round_trips_byte_for_byte() -> None:
    text = FIXTURE.read_text()
    defn = portable.loads(text)
    assert portable.dumps(defn, "yaml") == text
    assert portable.loads(portable.dumps(defn, "json")) == defn
    assert list(defn["nodes"]) == ["model", "data", "params", "train", "eval", "gate", "onnx", "version", "canary"]


def test_a_cycle_names_the_edge_that_closes_it() -> None:
    d = sample()
    d["nodes"]["model"]["after"] = ["onnx"]  # model -> train -> onnx -> model
    assert fields_of(d) == ["nodes.model.after"]
    d = sample()
    d["nodes"]["params"] = {"kind": "arch_edit", "params": {"edit": {"num_layers": 1}},
                            "inputs": {"config": "params.config"}}  # fmt: skip
    assert fields_of(d) == ["nodes.params.inputs.config"]


def test_type_mismatch_unknown_kind_missing_input_are_all_reported_with_node_and_port() -> None:
    d = sample()
    d["nodes"]["train"]["inputs"]["dataset"] = "model.model"  # a model where a dataset goes
    d["nodes"]["eval"]["inputs"].pop("dataset")
    d["nodes"]["version"]["kind"] = "make_magic"
    d["nodes"]["onnx"]["params"] = {"target": "tflite"}
    got = fields_of(d)
    assert got == ["nodes.train.inputs.dataset", "nodes.eval.inputs.dataset", "nodes.onnx.params",
                   "nodes.version.kind"]  # fmt: skip


def test_a_condition_naming_no_metric_of_its_input_is_refused() -> None:
    d = sample()
    d["nodes"]["gate"]["params"]["expression"] = "accuracy >= 0.5 and bleu > 3"
    with pytest.raises(PipelineInvalid) as e:
        validate(d)
    assert e.value.field == "nodes.gate.params.expression" and "'bleu'" in e.value.message


def test_bad_params_name_the_parameter_and_unknown_ports_the_port() -> None:
    d = sample()
    d["nodes"]["train"]["params"] = {"max_epochs": 0, "colour": "red"}
    d["nodes"]["eval"]["inputs"]["weights"] = "train.model"
    d["nodes"]["gate"]["params"]["expression"] = "__import__('os') > 1"
    got = fields_of(d)
    assert "nodes.train.params.max_epochs" in got and "nodes.train.params.colour" in got
    assert "nodes.eval.inputs.weights" in got and "nodes.gate.params.expression" in got


def test_conditions_parse_without_eval() -> None:
    terms = parse("accuracy >= 0.85 and latency_p95_ms<20")
    assert [str(t) for t in terms] == ["accuracy >= 0.85", "latency_p95_ms < 20"]
    for bad in ("accuracy >=", "a > 1 or b < 2", "1 > a", "a > b", "a >= 1e999"):
        with pytest.raises(ValueError):
            parse(bad)


def test_files_are_bounded_before_and_after_parsing() -> None:
    with pytest.raises(TooLarge):
        portable.loads("x" * (portable.MAX_BYTES + 1))
    bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{c}: &{c} [{', '.join('*' + p for _ in range(10))}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    with pytest.raises(TooLarge):
        portable.parse(bomb)
    with pytest.raises(Invalid) as e:
        portable.parse("[" * 100 + "]" * 100)
    assert e.value.field == "file"
    with pytest.raises(Invalid):
        portable.parse("!!python/object/apply:os.system ['true']")


def test_compile_shapes_parallel_sources_job_triplets_choices_and_not_available() -> None:
    d = sample()
    assert stages(d)[0] == ["model", "data", "params"]
    wf = compile_pipeline(d, pipeline_id="p1", version=3)
    assert wf.name == "pipeline-p1-v3"  # one workflow (state machine) per pipeline version
    first = wf.state(wf.start_at)
    assert isinstance(first, m.ParallelState) and len(first.branches) == 3
    train = wf.state("train")  # a job node: launch or check -> ready? -> wait -> check
    assert isinstance(train, m.StepTask) and train.function == "pipeline_job" and train.next == "train ready"
    assert wf.state("train ready").default == "train wait" and wf.state("train wait").next == "train"
    check = wf.state("gate check 1")
    assert isinstance(check, m.Choice) and check.choices[0].op == "numeric_greater_than_equals"
    assert check.choices[0].next == "onnx" and check.default == "gate not met"
    for nid in ("version", "canary"):
        assert wf.state(nid).function == "pipeline_job"
    assert wf.state("canary ready").choices[0].next == "Done"
    d["nodes"]["canary"] = {
        "kind": "search",
        "params": {"space": {"training": {"learning_rate": LR}}},
        "inputs": {"dataset": "data.dataset", "config": "params.config"},
    }
    par = compile_pipeline(d, pipeline_id="p1", version=4).state("Stage 2")  # beside train: its own branch
    branch = next(b for b in par.branches if b.start_at == "canary")
    s = branch.state("canary")  # search: a job-like node (launch the study, then poll it)
    assert s.function == "pipeline_job" and branch.state("canary ready").default == "canary wait"
    assert json.loads(s.parameters["params_json"])["space"] == {"training": {"learning_rate": LR}}


LR = {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}


def test_a_search_node_takes_a_nested_space_of_distributions_and_feeds_train_through_typed_edges() -> None:
    d = sample()
    d["nodes"]["hpo"] = {
        "kind": "search",
        "params": {"space": {"training": {"learning_rate": LR}}, "budget": 2},
        "inputs": {"dataset": "data.dataset", "config": "params.config"},
    }
    d["nodes"]["train"]["inputs"]["config"] = "hpo.config"  # the best config feeds train
    validate(d)
    assert space_paths(d["nodes"]["hpo"]["params"]["space"]) == {"training.learning_rate": LR}
    assert stages(d)[1] == ["hpo"] and "train" in stages(d)[2]
    d["nodes"]["eval"]["inputs"]["model"] = "hpo.metrics"  # metrics into a model port
    d["nodes"]["hpo"]["params"]["space"] = {"training": {"learning_rate": [0.1]}, "training.seed": LR}
    with pytest.raises(PipelineInvalid) as e:
        validate(d)
    fields = [v.field for v in e.value.violations]
    assert "nodes.eval.inputs.model" in fields
    assert any(f.startswith("nodes.hpo.params") for f in fields), fields


def test_user_strings_never_become_references() -> None:
    d = sample()
    d["nodes"]["model"]["params"] = {"template": "$.secret"}
    wf = compile_pipeline(d, pipeline_id="p1", version=1)
    branch = wf.state("Stage 1").branches[0]
    params = branch.state("model").parameters
    assert params["params_json"] == '{"template": "$.secret"}' and m.references(params).count("$.secret") == 0


def test_approval_compiles_to_a_poll_loop() -> None:
    d = copy.deepcopy(sample())
    d["nodes"]["ok"] = {"kind": "approval", "params": {"poll_seconds": 30}, "inputs": {"metrics": "eval.metrics"}}
    d["nodes"]["onnx"]["after"] = ["gate", "ok"]
    wf = compile_pipeline(validate(d), pipeline_id="p1", version=1)
    assert stages(d)[3:5] == [["ok"], ["gate"]]  # the condition gets a stage of its own
    assert isinstance(wf.state("ok wait"), m.Wait) and wf.state("ok wait").next == "ok"
    assert wf.state("ok decided").choices[0].next == "gate metrics"


@pytest.mark.parametrize(
    "node", [{"kind": {"a": 1}}, {"kind": []}, 1, [], {"kind": "train", "inputs": [1]}, {"kind": "train", "after": "x"}]
)
def test_malformed_nodes_are_invalid_never_a_crash(node: Any) -> None:
    d = sample()
    d["nodes"]["model"] = node
    with pytest.raises(PipelineInvalid) as e:
        validate(d)
    assert e.value.field.startswith("nodes.")
