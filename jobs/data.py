"""Dataset files: JSONL (``{"text", "label"}`` per line) or CSV (header with text,label).

Standard library only, so the API can validate an upload before any job starts. The parsing rules
live in ``domain.library.datasets`` (pure, streaming; the API validates uploaded blobs with them);
this module reads files from disk with those rules. Every problem is a ``ValueError`` naming the
file, the line and what is wrong.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from domain.library.datasets import SPLITS, SUFFIXES, DataError, Example, check_split_labels, iter_examples

__all__ = ["SPLITS", "SUFFIXES", "DataError", "Example", "find_file", "read_file", "validate_dataset"]


def _chunks(path: Path, size: int = 1 << 20):  # type: ignore[no-untyped-def]
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def read_file(path: str | Path, text_field: str = "text", label_field: str = "label") -> list[Example]:
    """Parse and validate one file; raises ValueError naming the line on the first problem."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise DataError(f"{path.name}: unsupported file type (expected .jsonl or .csv)")
    return list(iter_examples(path.name, _chunks(path), text_field, label_field))


def find_file(path: str | Path, split: str | None = None) -> Path:
    """A channel is a file or a directory: pick ``<split>.jsonl|csv`` or the only data file."""
    p = Path(path)
    if p.is_file():
        return p
    if not p.is_dir():
        raise ValueError(f"{p}: no such file or directory")
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in SUFFIXES)
    if split:
        named = [f for f in files if f.stem == split]
        if named:
            return named[0]
    if len(files) == 1:
        return files[0]
    hint = f" or {split}.*" if split else ""
    raise ValueError(f"{p}: expected one .jsonl/.csv file{hint}, found {[f.name for f in files]}")


def validate_dataset(path: str | Path, text_field: str = "text", label_field: str = "label") -> dict[str, Any]:
    """Schema, label set and counts of a dataset file or split directory.

    A directory may hold ``train``/``validation``/``test`` files; labels in validation or test that
    train lacks are an error. Returns ``{"format", "schema", "labels", "counts", "rows", "splits"}``.
    """
    p = Path(path)
    files: dict[str, Path]
    if p.is_dir():
        files = {}
        for f in sorted(p.iterdir()):
            if f.is_file() and f.suffix in SUFFIXES:
                files[f.stem] = f
        if not files:
            raise ValueError(f"{p.name}: no .jsonl or .csv files")
    else:
        files = {p.stem: find_file(p)}
    splits: dict[str, dict[str, Any]] = {}
    formats = set()
    for name, f in files.items():
        ex = read_file(f, text_field, label_field)
        formats.add("csv" if f.suffix == ".csv" else "jsonl")
        splits[name] = {"file": f.name, "rows": len(ex), "counts": dict(sorted(Counter(e.label for e in ex).items()))}
    check_split_labels(splits)
    total: Counter[str] = Counter()
    for s in splits.values():
        total.update(s["counts"])
    return {
        "format": "csv" if formats == {"csv"} else "jsonl" if formats == {"jsonl"} else "mixed",
        "schema": {text_field: "string", label_field: "string|integer"},
        "labels": sorted(total),
        "counts": dict(sorted(total.items())),
        "rows": sum(total.values()),
        "splits": splits,
    }
