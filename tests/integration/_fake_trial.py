"""A fast stand-in for ``jobs.train`` in study tests (registered as the ``train`` program): it
follows the container contract, reports ``val_accuracy`` at steps 1..steps as ``metric:`` lines
(a smooth function of the trial's learning rate and layers, best near lr = 3e-3), honours SIGTERM
(exit 143, Stopped) and writes a small model dir. Hyperparameters: ``config`` (JSON), ``steps``
(default 6), ``sleep`` (s per step, default 0.05; 0.5 when lr < 2e-4)."""

from __future__ import annotations

import json
import math
import time

from jobs import contract


def main(hp: dict) -> None:
    cfg = hp["config"] if isinstance(hp["config"], dict) else json.loads(hp["config"])
    lr = float(cfg["training"]["learning_rate"])
    layers = int(cfg["architecture"]["num_hidden_layers"])
    final = max(0.05, 0.95 - 0.2 * abs(math.log10(lr) - math.log10(3e-3)) - 0.02 * (layers - 1))
    # a poor learning rate also runs long (as a diverging trial would): the pruner gets to see it
    steps, sleep = int(hp.get("steps", 6)), float(hp.get("sleep", 0.5 if lr < 2e-4 else 0.05))
    metrics = contract.Metrics()
    for step in range(1, steps + 1):
        time.sleep(sleep)
        metrics.log(step, val_accuracy=final * (0.5 + 0.5 * step / steps), val_loss=1.0 - final * step / steps)
        if contract.prune_requested():
            raise contract.Stopped(f"pruned at step {step}")
    model = contract.model_dir()
    (model / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    (model / "weights.txt").write_text(f"lr={lr}\n", encoding="utf-8")


if __name__ == "__main__":
    contract.run(main)
