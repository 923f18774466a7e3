"""Dataset files: JSONL (``{"text", "label"}`` per line) or CSV (header with text,label).

Standard library only, so the API can validate an upload before any job starts.
Every problem is a ``ValueError`` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLITS = ("train", "validation", "test")
SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def _label(value: Any, where: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{where}: missing label")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{where}: label must be a string or an integer, got {type(value).__name__}")
    return str(value).strip()


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: missing text" if value is None else f"{where}: text must be a string")
    if not value.strip():
        raise ValueError(f"{where}: empty text")
    return value


def _lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    out = []
    for i, line in enumerate(raw.split(b"\n"), start=1):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError as e:
            bad = line[e.start : e.start + 4]
            raise ValueError(f"{path.name} line {i}: not valid UTF-8 (byte {e.start}: {bad!r})") from None
    return out


def read_file(path: str | Path, text_field: str = "text", label_field: str = "label") -> list[Example]:
    """Parse and validate one file; raises ValueError naming the line on the first problem."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path.name}: unsupported file type (expected .jsonl or .csv)")
    lines = _lines(path)
    examples: list[Example] = []
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO("\n".join(lines)))
        fields = reader.fieldnames or []
        for need in (text_field, label_field):
            if need not in fields:
                raise ValueError(f"{path.name} line 1: CSV header lacks column '{need}' (has {fields})")
        for row in reader:
            where = f"{path.name} line {reader.line_num}"
            examples.append(Example(_text(row.get(text_field), where), _label(row.get(label_field), where)))
    else:
        for i, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {i}"
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{where}: invalid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{where}: expected a JSON object")
            examples.append(Example(_text(obj.get(text_field), where), _label(obj.get(label_field), where)))
    if not examples:
        raise ValueError(f"{path.name}: no examples")
    return examples


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
    base = splits.get("train") or next(iter(splits.values()))
    known = set(base["counts"])
    for s in splits.values():
        extra = set(s["counts"]) - known
        if extra:
            raise ValueError(f"{s['file']}: labels {sorted(extra)} do not occur in {base['file']}")
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
