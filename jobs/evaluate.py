"""Evaluate a trained model on a test set.  ``python -m jobs.evaluate``

Channels: ``model`` (a model dir from ``jobs.train``), ``test`` (JSONL/CSV with text,label).
Hyperparameters: ``batch_size`` (32), ``max_seq_length`` (default: the length the model was
trained with, else 128; never past the model's position table), ``text_field``/``label_field``,
``num_threads``. Writes ``evaluation.json`` (accuracy, macro-F1, per-label precision/recall/F1,
confusion matrix with rows = true label, latency p50/p95 per batch) to the model dir and the
output dir, and metric lines ``test_accuracy``, ``test_macro_f1``, ``latency_p50_ms``, ``latency_p95_ms``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from jobs import contract
from jobs.data import find_file, read_file


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def classification_report(y_true: list[int], y_pred: list[int], labels: list[str]) -> dict[str, Any]:
    n = len(labels)
    cm = [[0] * n for _ in range(n)]
    for t, p in zip(y_true, y_pred, strict=True):
        cm[t][p] += 1
    per: dict[str, dict[str, float]] = {}
    f1s = []
    for i, lb in enumerate(labels):
        tp = cm[i][i]
        fp = sum(cm[r][i] for r in range(n)) - tp
        fn = sum(cm[i]) - tp
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[lb] = {"precision": prec, "recall": rec, "f1": f1, "support": sum(cm[i])}
        f1s.append(f1)
    acc = sum(cm[i][i] for i in range(n)) / max(1, len(y_true))
    return {"accuracy": acc, "macro_f1": sum(f1s) / n, "per_label": per,
            "confusion_matrix": {"labels": labels, "rows_true_cols_pred": cm}}


def trained_length(model_path: Any, default: int = 128) -> int:
    """The max_seq_length the model was trained with (``lineage.json`` / ``tlm_config.json``)."""
    from pathlib import Path

    for name, keys in (("lineage.json", ("training",)), ("tlm_config.json", ("training",))):
        try:
            doc = json.loads((Path(model_path) / name).read_text(encoding="utf-8"))
            value = doc[keys[0]]["max_seq_length"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(value, int) and value > 0:
            return value
    return default


def main(hp: dict[str, Any]) -> None:
    tf, lf = hp.get("text_field", "text"), hp.get("label_field", "label")
    examples = read_file(find_file(contract.channel("test", required=True), "test"), tf, lf)
    model_path = contract.channel("model", required=True)
    import torch

    from jobs.modeling import load_model_dir

    if hp.get("num_threads"):
        torch.set_num_threads(int(hp["num_threads"]))
    model, tokenizer, labels = load_model_dir(model_path)
    unknown = sorted({e.label for e in examples} - set(labels))
    if unknown:
        raise ValueError(f"test: labels {unknown} are not labels of the model {labels}")
    lid = {lb: i for i, lb in enumerate(labels)}
    bs, max_len = int(hp.get("batch_size", 32)), int(hp.get("max_seq_length", trained_length(model_path)))
    max_pos = getattr(model.config, "max_position_embeddings", None)
    if model.config.model_type != "xlnet" and isinstance(max_pos, int):  # never past the position table
        max_len = min(max_len, max_pos - (2 if model.config.model_type == "roberta" else 0))
    preds: list[int] = []
    times: list[float] = []
    with torch.inference_mode():
        for i in range(0, len(examples), bs):
            rows = examples[i : i + bs]
            enc = tokenizer([r.text for r in rows], truncation=True, max_length=max_len, padding=True,
                            return_tensors="pt")
            t0 = time.perf_counter()
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            times.append((time.perf_counter() - t0) * 1000)
            preds.extend(logits.argmax(-1).tolist())
    report = classification_report([lid[e.label] for e in examples], preds, labels)
    report.update({"examples": len(examples), "batch_size": bs, "max_seq_length": max_len,
                   "latency_ms_per_batch": {"p50": percentile(times, 50), "p95": percentile(times, 95),
                                            "batches": len(times)},
                   "threads": torch.get_num_threads()})
    m = contract.Metrics()
    m.log(0, test_accuracy=report["accuracy"], test_macro_f1=report["macro_f1"],
          latency_p50_ms=report["latency_ms_per_batch"]["p50"], latency_p95_ms=report["latency_ms_per_batch"]["p95"])
    for d in (contract.model_dir(), contract.output_data_dir()):
        (d / "evaluation.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"evaluation: accuracy={report['accuracy']:.4f} macro_f1={report['macro_f1']:.4f}", flush=True)


if __name__ == "__main__":
    contract.run(main)
