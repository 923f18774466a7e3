"""Architecture test job: 4 -> 2 layers and gelu -> relu, side-by-side report, carried weights,
and weights actually carried from a trained (saved) parent into a saved child."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from domain.configs import ArchEdit, apply_edit, template_values

pytestmark = pytest.mark.integration
torch = pytest.importorskip("torch")


def parent_and_child(family: str = "bert"):
    parent = template_values(f"{family}-tiny")
    key = "n_layer" if family == "xlnet" else "num_hidden_layers"
    parent["architecture"][key] = 4
    result = apply_edit(parent, ArchEdit(num_layers=2, activation="relu"))
    return parent, result


def test_four_to_two_layers_gelu_to_relu_report():
    from jobs.arch_test import run_arch_test

    parent, r = parent_and_child()
    rep = run_arch_test(parent, r.values, layer_map=r.layer_map, seq_len=16, repeats=2, num_threads=1)
    # Side by side: the child has fewer parameters, about half the FLOPs per token, and trains
    assert rep["structural_diff"] == {
        "num_layers": {"old": 4, "new": 2},
        "activation": {"old": "gelu", "new": "relu"},
    }
    p, c = rep["parent"], rep["child"]
    assert c["params"] < p["params"] and c["non_embedding_params"] < p["non_embedding_params"]
    assert 0.4 < rep["child_vs_parent"]["flops_per_token"] < 0.6
    assert c["activation_bytes"] < p["activation_bytes"]
    assert p["smoke"]["finite"] and c["smoke"]["finite"] and c["latency_ms"]["median"] > 0
    # Carried weights: embeddings and layers 0-1 by name and shape; layers 2-3 dropped
    carried = rep["carried"]
    names = {t["name"] for t in carried["tensors"]}
    assert "bert.embeddings.word_embeddings.weight" in names
    assert "bert.encoder.layer.1.output.dense.weight" in names
    assert not any(".layer.2." in n for n in names)
    assert any(".layer.3." in t["name"] for t in carried["dropped"])
    assert carried["new"] == [] and carried["shape_mismatch"] == []
    assert carried["verified"]["equal"] is True
    json.dumps(rep)  # the report is JSON


def test_keep_layers_renames_and_xlnet_carries(tmp_path):
    from jobs.arch_test import run_arch_test

    parent = template_values("xlnet-tiny")
    parent["architecture"]["n_layer"] = 3
    r = apply_edit(parent, ArchEdit(keep_layers=[2, 0], activation="relu"))
    rep = run_arch_test(parent, r.values, layer_map=r.layer_map, seq_len=12, repeats=1, num_threads=1)
    by_name = {t["name"]: t["from"] for t in rep["carried"]["tensors"]}
    assert by_name["transformer.layer.0.ff.layer_1.weight"] == "transformer.layer.2.ff.layer_1.weight"
    assert by_name["transformer.layer.1.rel_attn.q"] == "transformer.layer.0.rel_attn.q"


def test_job_carries_trained_parent_weights_into_saved_child(tmp_path):
    # Given a "trained" parent saved in the Hugging Face layout (safetensors)
    from safetensors.torch import load_file

    from jobs.modeling import build_model

    parent, r = parent_and_child()
    torch.manual_seed(1)
    trained = build_model(parent, 2, pad_token_id=0)
    with torch.no_grad():
        trained.bert.encoder.layer[1].output.dense.weight.fill_(0.125)  # a recognisable value
    pdir = tmp_path / "parent"
    trained.save_pretrained(str(pdir))
    # When the job runs with that parent as its 'parent' channel
    root = tmp_path / "job"
    (root / "input" / "config").mkdir(parents=True)
    hp = {"parent": parent, "child": r.values, "layer_map": r.layer_map, "seq_len": 12, "repeats": 1,
          "num_threads": 1}  # fmt: skip
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({k: json.dumps(v) if not isinstance(v, str) else v for k, v in hp.items()})
    )
    env = {**os.environ, "TLM_JOB_ROOT": str(root), "SM_CHANNEL_PARENT": str(pdir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "jobs.arch_test"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Then the report says so, and the saved child holds the parent's tensor
    rep = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rep["weights"]["source"] == str(pdir)
    saved = load_file(str(root / "model" / "child" / "model.safetensors"))
    w = saved["bert.encoder.layer.1.output.dense.weight"]
    assert bool((w == 0.125).all())
    report_file = json.loads((root / "output" / "data" / "arch_test.json").read_text())
    assert report_file["carried"]["count"] == rep["carried"]["count"] > 0
