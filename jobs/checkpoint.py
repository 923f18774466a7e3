"""Training checkpoints: ``<checkpoint dir>/step-<N>/`` with model weights (safetensors),
optimizer + scheduler + RNG state (``torch.save``, read back with ``weights_only=True``) and a
``state.json``. A checkpoint is written to a temp dir and renamed, so a half-written one is never
picked; the newest complete one is resumed. Only the last ``keep`` are kept.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

PREFIX = "step-"


def _steps(root: Path) -> list[tuple[int, Path]]:
    out = []
    for p in root.glob(f"{PREFIX}*"):
        if p.is_dir() and (p / "state.json").exists():
            try:
                out.append((int(p.name[len(PREFIX):]), p))
            except ValueError:
                continue
    return sorted(out)


def latest(root: Path) -> Path | None:
    steps = _steps(root)
    return steps[-1][1] if steps else None


def save(root: Path, step: int, model: torch.nn.Module, optimizer: Any, scheduler: Any,
         state: dict[str, Any], keep: int = 2) -> Path:
    target = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{PREFIX}{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    # tied weights share storage: safetensors refuses duplicates, so clone
    save_file({k: v.clone() for k, v in weights.items()}, str(tmp / "model.safetensors"))
    rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": rng},
               tmp / "trainer.pt")
    (tmp / "state.json").write_text(json.dumps({**state, "step": step}), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    for _, old in _steps(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def load(path: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    missing, unexpected = model.load_state_dict(load_file(str(path / "model.safetensors")), strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise ValueError(f"checkpoint {path.name} does not match the model "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    blob = torch.load(path / "trainer.pt", weights_only=True, map_location="cpu")
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    rng = blob["rng"]
    torch.set_rng_state(rng["torch"])
    random.setstate(_tuplify(rng["python"]))
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    return json.loads((path / "state.json").read_text(encoding="utf-8"))


def _tuplify(x: Any) -> Any:
    return tuple(_tuplify(i) for i in x) if isinstance(x, (list, tuple)) else x
