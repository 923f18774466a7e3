"""Hyperparameter search: samplers against random search, and ASHA pruning on training jobs.

    .venv/bin/python bench/hpo.py [--quick] [--only samplers,pruning] [--threads 2]
        samplers: [--problems f1-d5,sklearn] [--samplers tpe,gp,cmaes] [--seeds 5] [--cap-factor 3] [--parallel 1]
        pruning:  [--curves FILE.json] [--pruner '{"kind": "asha", "reduction_factor": 4}'] [--replay] [--orders 20]

Both parts drive the product's own study loop in memory (``bench/hpo_study.py``: the study
aggregate, the search workflow's rounds, ``runtime.sampler.next_points`` with the engine's sampler
settings, ``OptunaSampler.prune`` with the engine's pruners), so they measure what users get.

1. ``bench/hpo_samplers.py``: median trials to reach a target for the tpe, gp and cmaes
   strategies against random, over >= 5 seeds, on BBOB functions (``cocoex``) and a 3-fold
   cross-validated SVM on scikit-learn's digits. Target: the median of random search's best after
   ``depth`` trials (100 for BBOB, 50 for the SVM), from separate calibration seeds; each study
   stops at the target (its own ``target``) or after 3 x depth trials; censored runs count as
   the cap and are reported.
2. ``bench/hpo_pruning.py``: the same trials of real ``jobs.train`` jobs (bert-tiny, a demo-data
   prefix) without pruning and as a study with the engine's pruner (default ``asha``; the job
   stopped by SIGTERM); epochs (and job seconds) used, and best validation accuracy of each arm.
   ``--curves`` caches the no-pruning arm (the jobs are deterministic, ``curves_match`` checks
   it), ``--replay`` decides on the cached curves instead of running the pruned arm (for tuning a
   pruner spec; the figures come from real jobs), and ``orders`` reports the saving over 20 other
   trial orders replayed (asynchronous successive halving promotes early trials more, so one
   order is a noisy figure).

``--quick``: BBOB f1/f8/f15 in 5-D (depth 60) + the SVM (depth 30); 9 trials x 9 epochs on 320
training texts. Full: f1/f8/f15/f21 in 2-D and 5-D + the SVM, 5 seeds (7 calibration seeds);
27 trials x 9 epochs on 600 texts (300 validation). Part costs on this shared 2-core machine at
load 8-13: the BBOB problems with tpe 9 min; one no-pruning training job took up to 16 min.

Last line: JSON with ``tpe_trials_vs_random``, ``gp_trials_vs_random``, ``cmaes_trials_vs_random``
(geometric means over problems of median(sampler) / median(random); lower is better),
``pruning_compute_saving`` (epochs without pruning / with the pruner), ``pruning_best_acc_delta``
(points of validation accuracy, pruned minus not) and the details.
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
    ap.add_argument("--orders", type=int, default=20, help="pruning: other trial orders replayed")
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
                                          replay=args.replay, n_orders=args.orders)
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
