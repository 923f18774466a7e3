"""Caches a training job reuses across runs: the trained tokenizer per (train file, tokenizer
settings) and the token ids per (data file, tokenizer, max length).

Where: ``TLM_CACHE_DIR`` when set (the local platform passes one directory to every job), else
``<checkpoint dir>/cache`` (a retried or resumed job — SageMaker syncs checkpoints — finds it).
Entries are JSON written atomically (tmp + rename), keyed by sha256 of what they depend on, so a
changed file or tokenizer never hits a stale entry. Nothing here is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from jobs import contract


def cache_root() -> Path:
    env = os.environ.get("TLM_CACHE_DIR")
    root = Path(env) if env else contract.checkpoint_dir() / "cache"
    root.mkdir(parents=True, exist_ok=True)
    return root


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]


def tokenizer_digest(tokenizer: Any) -> str:
    """sha256 of the tokenizer's full serialization (vocabulary, normalizer, specials)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # truncation / padding are call-time state, not the tokenizer
        doc = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("truncation", "padding")}
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
    else:
        text = json.dumps(tokenizer.get_vocab(), sort_keys=True)
    return hashlib.sha256(f"{text}|{tokenizer.padding_side}".encode()).hexdigest()


def tokenizer_dir(train_file: Path, settings: dict[str, Any]) -> Path:
    return cache_root() / "tokenizers" / key(file_digest(train_file), settings)


def read_ids(k: str) -> list[list[int]] | None:
    p = cache_root() / "tokens" / f"{k}.json"
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ids = doc.get("input_ids") if isinstance(doc, dict) else None
    return ids if isinstance(ids, list) else None


def write_ids(k: str, ids: list[list[int]]) -> None:
    d = cache_root() / "tokens"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{k}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"input_ids": ids}, separators=(",", ":")), encoding="utf-8")
    tmp.replace(d / f"{k}.json")
