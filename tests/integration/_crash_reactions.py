"""Helper process for test_reactions_local.py: builds the local platform on a data dir, asks for a
training (the service's one write), and is then SIGKILLed by itself at a chosen point:

- ``after-request``: right after ``training.requested`` is in the log, before any reaction ran;
- ``after-start``: after the start-training-run reaction started the run but before its tracking
  position moved past the request (so the restarted platform hands the request to it again).

Prints the training id (flushed) before dying."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from runtime.bootstrap import build_local
from runtime.reactions.local import LocalReactor
from runtime.services.commands import Caller
from runtime.settings import Settings

ALICE = Caller("alice")
TINY = {"training.epochs": 1, "training.max_steps": 1, "training.max_seq_length": 16, "training.batch_size": 4}


def dataset_dir(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = {"train": 12, "validation": 4, "test": 4}
    for split, n in rows.items():
        lines = [json.dumps({"text": f"好评{i}" if i % 2 else f"差评{i}", "label": "pos" if i % 2 else "neg"},
                            ensure_ascii=False) for i in range(n)]  # fmt: skip
        (root / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def main(data_dir: str, mode: str) -> None:
    c = build_local(Settings(data_dir=Path(data_dir)))
    pid = c.library.create_project(ALICE, "p")["project_id"]
    did = c.artifacts.ingest_dir(ALICE, pid, dataset_dir(Path(data_dir) / "src"), name="ds", family="other",
                                 kind="dataset")  # fmt: skip
    config = c.configs.create_from_template(ALICE, pid, "bert-tiny", overrides=TINY)
    tid = c.training.start(ALICE, pid, config_id=config["config_id"], dataset_id=did, name="m")["training_id"]
    print(tid, flush=True)
    if mode == "after-start":
        advance = LocalReactor._advance
        requested = c.store.read(f"training-{tid}")[0].position or 0

        def die_after_start(self: LocalReactor, reaction: str, position: int) -> None:
            if reaction == "start-training-run" and position >= requested:  # handled, not yet tracked
                os.kill(os.getpid(), signal.SIGKILL)
            advance(self, reaction, position)

        LocalReactor._advance = die_after_start  # type: ignore[method-assign]
        c.catch_up()  # the reaction starts the run, then this process dies before the position moves
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
