"""Training that starts from a library model, end to end through the CLI: pretrain a tiny BERT
on a dataset's unlabeled texts (a job), find it registered as a model, fine-tune it, and see
lineage and metrics in ``models show``, ``models list`` and the leaderboard. Then an HF-layout
checkpoint written by the test itself is uploaded and fine-tuned with the fine-tune defaults,
after bad checkpoints (pickles only, another family, no tokenizer) and a dataset whose labels
cannot be read were refused before any job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Platform
from tests.e2e.test_configs import event_count
from tests.e2e.test_training import jcli, jobs_started, upload_dataset

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TINY = {"training.epochs": 1, "training.max_steps": 0, "training.max_seq_length": 32, "training.batch_size": 16}


def demo(platform: Platform, name: str) -> tuple[str, str]:
    pid = platform.http().post("/projects", json={"name": name}).json()["project_id"]
    return pid, jcli(platform, "datasets", "import-demo", pid, "--limit", "200")["dataset_id"]


def test_pretrain_then_finetune_shows_lineage_and_metrics(platform: Platform) -> None:
    http = platform.http()
    pid, did = demo(platform, "预训练")

    # Given a tiny BERT pretrained (masked LM, jieba whole-word masking) on the dataset's texts
    pre = jcli(platform, "train", "pretrain", "--dataset", did, "--name", "预训练-tiny", "--max-steps", "12",
               "--batch-size", "16")  # fmt: skip
    assert pre["state"] == "Completed" and pre["model_id"], pre
    pm = http.get(f"/models/{pre['model_id']}").json()
    assert pm["family"] == "bert" and pm["source"] == f"pretrain-job:{pre['job_name']}"
    assert {"config.json", "model.safetensors", "tokenizer.json", "pretrain.json"} <= {f["path"] for f in pm["files"]}
    assert pm["lineage"] == {"pretrain_job": pre["job_name"]} and pm["metrics"] is None
    with http.stream("GET", http.get(f"/models/{pm['model_id']}/download",
                                     params={"path": "pretrain.json"}).json()["url"]) as r:  # fmt: skip
        stats = json.loads(r.read())
    assert stats["whole_word_masking"] and stats["segmenter"] == "jieba" and stats["steps"] == 12

    # When it is fine-tuned through the CLI with a short config, following the logs
    cfg = http.post(f"/projects/{pid}/configs", json={"template": "bert-tiny", "overrides": TINY}).json()
    started = jcli(platform, "train", "start", "--model", pm["model_id"], "--config", cfg["config_id"],
                   "--dataset", did, "--name", "微调")  # fmt: skip
    tid = started["training_id"]
    follow = platform.cli("train", "logs", tid, "--follow").stdout
    assert follow.rstrip().endswith("==> training succeeded <==")
    assert "progress: 100.0%" in follow and " eta " in follow and "steps/s" in follow

    # Then the training, the model and the leaderboard show where it came from and how good it is
    shown = jcli(platform, "train", "show", tid)
    assert shown["parent_model_id"] == pm["model_id"] and shown["progress"]["percent"] == 100.0
    fm = shown["model_id"]
    model = http.get(f"/models/{fm}").json()
    assert model["lineage"] == {"training_id": tid, "dataset_id": did, "config_id": cfg["config_id"],
                                "config_version": 1, "parent_model_id": pm["model_id"],
                                "parent_model_version": pm["version"]}  # fmt: skip
    acc = shown["evaluation"]["accuracy"]
    assert model["metrics"]["test_accuracy"] == acc and model["metrics"]["macro_f1"] == shown["evaluation"]["macro_f1"]
    assert sum(map(sum, model["metrics"]["confusion_matrix"]["rows_true_cols_pred"])) == shown["evaluation"]["examples"]
    text = platform.cli("models", "show", fm).stdout
    assert f"test accuracy={acc:.4f}" in text and f"from model {pm['model_id']}" in text and "confusion" in text
    listed = {m["model_id"]: m for m in jcli(platform, "models", "list", "--project", pid)["items"]}
    assert listed[fm]["metrics"]["test_accuracy"] == acc and listed[pm["model_id"]]["metrics"] is None
    assert f"{acc:.4f}" in platform.cli("models", "list", "--project", pid).stdout
    board = jcli(platform, "models", "leaderboard", "--dataset", did, "--sort", "-macro_f1")
    assert [(r["rank"], r["model_id"]) for r in board["items"]] == [(1, fm)]
    top = board["items"][0]
    assert top["lineage"]["parent_model_id"] == pm["model_id"] and top["test_accuracy"] == acc
    assert "微调" in platform.cli("models", "leaderboard", "--dataset", did).stdout
    bad = http.get(f"/projects/{pid}/leaderboard", params={"dataset_id": did, "sort": "vibes"})
    assert bad.status_code == 422 and bad.json()["field"] == "sort"
    both = jcli(platform, "models", "compare", fm, pm["model_id"])
    assert both["metrics"]["test_accuracy"]["a"] == acc and both["b"]["lineage"]["pretrain_job"] == pre["job_name"]


def write_checkpoint(out: Path, texts: list[str], *, model_type: str = "bert") -> Path:
    """A Hugging Face model dir made here (never downloaded): a 1-layer masked-LM BERT with a
    character WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from jobs.tokenizer import train_tokenizer

    tok = train_tokenizer(texts, vocab_size=3000)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, pad_token_id=tok.pad_token_id)  # fmt: skip
    BertForMaskedLM(cfg).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    if model_type != "bert":
        doc = json.loads((out / "config.json").read_text())
        (out / "config.json").write_text(json.dumps({**doc, "model_type": model_type}))
    return out


def upload_model(platform: Platform, pid: str, name: str, files: list[Path], family: str = "bert") -> str:
    mid = jcli(platform, "models", "register", pid, name, "--family", family)["model_id"]
    platform.cli("models", "upload", mid, *map(str, files))
    return mid


def test_uploaded_checkpoint_is_checked_then_finetuned(platform: Platform, tmp_path: Path) -> None:
    http = platform.http()
    pid, did = demo(platform, "上传")
    texts = ["这部电影很好看，演员也不错", "服务太差了，再也不来了", "质量很好，物流很快", "味道一般，价格太贵"] * 20
    ckpt = write_checkpoint(tmp_path / "ckpt", texts)
    files = sorted(ckpt.iterdir())
    good = upload_model(platform, pid, "上传的模型", files)

    # Given checkpoints that cannot be a start, and a dataset whose labels cannot be read
    (tmp_path / "pickles").mkdir()
    (tmp_path / "pickles" / "pytorch_model.bin").write_bytes(b"\x80\x04 not loaded")
    pickles = upload_model(platform, pid, "pickles", [ckpt / "config.json", ckpt / "tokenizer.json",
                                                      tmp_path / "pickles" / "pytorch_model.bin"])  # fmt: skip
    no_tok = upload_model(platform, pid, "no-tokenizer", [ckpt / "config.json", ckpt / "model.safetensors"])
    gpt = write_checkpoint(tmp_path / "gpt", texts, model_type="gpt2")
    unsupported = upload_model(platform, pid, "gpt", sorted(gpt.iterdir()), family="other")
    roberta = http.post(f"/projects/{pid}/configs", json={"template": "roberta-tiny", "overrides": TINY}).json()
    (tmp_path / "ds").mkdir()
    no_label = upload_dataset(platform, pid, "无标签", tmp_path / "ds", {
        "train.jsonl": '{"text": "很好", "label": "pos"}\n{"text": "没有标签"}\n'.encode(),
        "validation.jsonl": b'{"text": "ok", "label": "pos"}\n', "test.jsonl": b'{"text": "ok", "label": "pos"}\n',
    })  # fmt: skip
    before = jobs_started(platform)
    events_before = event_count(platform)

    # When each is asked for, it is refused with a 4xx naming the field, before any job
    for model_id, dataset_id, extra, field, words in (
        (pickles, did, {}, "model.weights", "only pickled weights (pytorch_model.bin)"),
        (no_tok, did, {}, "model.tokenizer", "no tokenizer files"),
        (unsupported, did, {}, "model.family", "'gpt2' is not a supported family"),
        (good, did, {"config_id": roberta["config_id"]}, "family", "is for 'roberta' but model"),
        (good, no_label["model_id"], {}, "dataset_id", "train.jsonl line 2: missing label"),
        ("nope", did, {}, "model_id", "nope"),
    ):
        r = http.post(f"/projects/{pid}/trainings", json={"model_id": model_id, "dataset_id": dataset_id,
                                                          "name": "x", **extra})  # fmt: skip
        assert r.status_code in (404, 422) and r.json()["field"] == field and words in r.json()["message"], r.text
    cli = platform.cli("train", "start", "--model", pickles, "--dataset", did, check=False)
    assert cli.returncode == 2 and "pickled" in cli.stderr
    assert jobs_started(platform) == before
    assert event_count(platform) == events_before  # nothing written: no training, no fine-tune config

    # When the good checkpoint is fine-tuned without a config (the fine-tune defaults)
    started = jcli(platform, "train", "start", "--model", good, "--dataset", did, "--name", "微调上传")
    follow = platform.cli("train", "logs", started["training_id"], "--follow").stdout
    assert follow.rstrip().endswith("==> training succeeded <=="), follow[-3000:]

    # Then a config with bert-tiny's fine-tune defaults was recorded, its tokenizer was kept and a
    # new 2-label head replaced the masked-LM head
    shown = jcli(platform, "train", "show", started["training_id"])
    config = http.get(f"/configs/{shown['config_id']}").json()
    template = http.get("/config-templates/bert-tiny").json()
    assert template["defaults"] == "from_scratch" and template["fine_tune"]["learning_rate"] == 3e-4
    assert config["values"]["training"]["learning_rate"] == template["fine_tune"]["learning_rate"]
    assert config["values"]["training"]["max_seq_length"] <= 64  # capped by the checkpoint's positions
    model = http.get(f"/models/{shown['model_id']}").json()
    assert model["lineage"]["parent_model_id"] == good and model["metrics"]["examples"] >= 10

    def fetch(model_id: str, path: str) -> dict:
        with http.stream("GET", http.get(f"/models/{model_id}/download", params={"path": path}).json()["url"]) as r:
            return json.loads(r.read())

    kept = fetch(shown["model_id"], "tokenizer.json")["model"]  # re-saved, same vocabulary and model
    assert kept == fetch(good, "tokenizer.json")["model"] and len(kept["vocab"]) > 20
    trained_cfg = fetch(shown["model_id"], "config.json")
    assert trained_cfg["architectures"] == ["BertForSequenceClassification"]
    assert trained_cfg["id2label"] == {"0": "negative", "1": "positive"} and trained_cfg["hidden_size"] == 32
