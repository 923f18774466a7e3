"""Hyperparameter search: samplers against random search, and ASHA pruning on training jobs.

    .venv/bin/python bench/hpo.py [--quick] [--threads 2] [--only samplers,pruning]

1. ``bench/hpo_samplers.py``: median trials to reach a target for optuna's TPE (multivariate),
   GP (GPSampler) and CMA-ES against RandomSampler, over >= 5 seeds, on BBOB functions
   (``cocoex``) and a 3-fold cross-validated SVM on scikit-learn's digits. Target: the median of
   random search's best after half the budget, from separate calibration seeds; censored runs
   count as the budget and are reported.
2. ``bench/hpo_pruning.py``: the same trials of real ``jobs.train`` jobs (bert-tiny, a demo-data
   prefix) without pruning and with optuna's SuccessiveHalvingPruner stopping jobs by SIGTERM;
   epochs (and job seconds) used, and best validation accuracy of each arm.

``--quick``: BBOB f1/f8/f15 in 2-D + the SVM, budget 40, 5 seeds; 9 trials x 9 epochs on 320
training texts (200 validation). Full: f1/f8/f15/f21 in 2-D and 5-D + the SVM, budget 60,
5 seeds (7 calibration seeds); 27 trials x 9 epochs on 600 texts (300 validation). On this shared
2-core machine (load 6-9) the full run took 57 min (45 of them samplers, mostly GPSampler and the
SVM's cross-validation); quick's pruning half took 5.8 min, its sampler half ~4 min a problem.

Last line: JSON with ``tpe_trials_vs_random``, ``gp_trials_vs_random``, ``cmaes_trials_vs_random``
(geometric means over problems of median(sampler) / median(random); lower is better),
``pruning_compute_saving`` (epochs without pruning / with ASHA), ``pruning_best_acc_delta``
(points of validation accuracy, ASHA minus no pruning) and the details.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "runtime"))


def log(msg: str) -> None:
    print(msg, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per training job")
    ap.add_argument("--only", default="samplers,pruning", help="parts to run: samplers, pruning")
    ap.add_argument("--problems", default="", help="samplers: comma-separated substrings of problem names")
    ap.add_argument("--samplers", default="", help="samplers: strategies besides random (tpe,gp,cmaes)")
    ap.add_argument("--seeds", type=int, default=None, help="samplers: measured seeds (>= 5 for the figures)")
    ap.add_argument("--cap-factor", type=float, default=3.0, help="samplers: study budget = factor x depth")
    ap.add_argument("--parallel", type=int, default=1, help="samplers: the studies' parallelism")
    ap.add_argument("--curves", default="", help="pruning: JSON cache of the no-pruning arm's curves (reused "
                    "when it matches the trials; the jobs are deterministic)")
    ap.add_argument("--pruner", default="", help='pruning: the pruner spec as JSON (default: the engine\'s '
                    '"asha" defaults)')
    ap.add_argument("--replay", action="store_true", help="pruning: decide on the cached curves instead of "
                    "running the ASHA arm's jobs (for tuning; the figures come from real jobs)")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    t0 = time.perf_counter()
    out: dict[str, Any] = {"bench": "hpo", "quick": args.quick}
    samplers: dict[str, Any] = {}
    pruning: dict[str, Any] = {}
    if "samplers" in parts:
        import hpo_samplers

        samplers = hpo_samplers.run_all(quick=args.quick, log=log, problems=args.problems, samplers=args.samplers,
                                        seeds=args.seeds, cap_factor=args.cap_factor, parallel=args.parallel)
        log(f"samplers: {json.dumps(samplers['ratios'])} ({time.perf_counter() - t0:.0f} s)")
    if "pruning" in parts:
        import hpo_pruning

        with tempfile.TemporaryDirectory(prefix="tlm-hpo-") as tmp:
            pruning = hpo_pruning.run_all(Path(tmp), quick=args.quick, threads=args.threads, log=log,
                                          curves=Path(args.curves) if args.curves else None,
                                          pruner=json.loads(args.pruner) if args.pruner else None,
                                          replay=args.replay)
        log(f"pruning: saving {pruning['compute_saving_epochs']}x epochs, best acc delta "
            f"{pruning['best_acc_delta_points']} points")
    ratios = samplers.get("ratios", {})
    out |= {
        "tpe_trials_vs_random": ratios.get("tpe"), "gp_trials_vs_random": ratios.get("gp"),
        "cmaes_trials_vs_random": ratios.get("cmaes"),
        "pruning_compute_saving": pruning.get("compute_saving_epochs"),
        "pruning_best_acc_delta": pruning.get("best_acc_delta_points"),
        "minutes": round((time.perf_counter() - t0) / 60, 1), "samplers": samplers, "pruning": pruning,
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
