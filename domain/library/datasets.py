"""Dataset files, validated as streams (pure: bytes in, examples or a report out).

A dataset file is JSONL (``{"text", "label"}`` per line) or CSV (a header naming the text and label
columns). Every problem is a :class:`DataError` (a ``ValueError``) naming the file, the line and
what is wrong, with ``field`` saying which part is wrong (``text``, ``label``, ``encoding``,
``format``). The API validates a dataset file when its upload is verified (reading the blob as
a stream of chunks); ``jobs.data`` reads files from disk with the same rules.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

SPLITS = ("train", "validation", "test")
SUFFIXES = (".jsonl", ".csv")


class DataError(ValueError):
    def __init__(self, message: str, field: str = "format") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def is_data_file(path: str) -> bool:
    return path.lower().endswith(SUFFIXES)


def split_of(path: str) -> str:
    """``data/train.jsonl`` -> ``train``."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0]


def _label(value: Any, where: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{where}: missing label", "label")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: label must be a string or an integer, got {type(value).__name__}", "label")
    return str(value).strip()


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: missing text" if value is None else f"{where}: text must be a string", "text")
    if not value.strip():
        raise DataError(f"{where}: empty text", "text")
    return value


def byte_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Split a stream of chunks into lines (without the ``\\n``); the last line may be empty."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *lines, rest = rest.split(b"\n")
        yield from lines
    yield rest


def text_lines(name: str, chunks: Iterable[bytes]) -> Iterator[str]:
    """Decoded lines; a UTF-8 BOM is dropped; a line that is not UTF-8 is an error naming it."""
    for i, line in enumerate(byte_lines(chunks), start=1):
        if i == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as e:
            bad = line[e.start : e.start + 4]
            raise DataError(f"{name} line {i}: not valid UTF-8 (byte {e.start}: {bad!r})", "encoding") from None


def iter_examples(
    name: str, chunks: Iterable[bytes], text_field: str = "text", label_field: str = "label"
) -> Iterator[Example]:
    """Parse one file's bytes (``name`` decides the format and appears in messages)."""
    base = name.rsplit("/", 1)[-1]
    if not is_data_file(base):
        raise DataError(f"{base}: unsupported file type (expected .jsonl or .csv)", "format")
    lines = text_lines(base, chunks)
    count = 0
    if base.lower().endswith(".csv"):
        reader = csv.DictReader(line + "\n" for line in lines)
        fields = reader.fieldnames or []
        for need, what in ((text_field, "text"), (label_field, "label")):
            if need not in fields:
                raise DataError(f"{base} line 1: CSV header lacks column '{need}' (has {fields})", what)
        for row in reader:
            where = f"{base} line {reader.line_num}"
            count += 1
            yield Example(_text(row.get(text_field), where), _label(row.get(label_field), where))
    else:
        for i, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{base} line {i}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: invalid JSON ({e.msg})", "format") from None
            if not isinstance(obj, dict):
                raise DataError(f"{where}: expected a JSON object", "format")
            count += 1
            yield Example(_text(obj.get(text_field), where), _label(obj.get(label_field), where))
    if not count:
        raise DataError(f"{base}: no examples", "format")


def file_report(
    name: str, chunks: Iterable[bytes], text_field: str = "text", label_field: str = "label"
) -> dict[str, Any]:
    """Schema, labels, counts and distinct characters of one file (DataError on the first problem)."""
    counts: Counter[str] = Counter()
    chars: set[str] = set()
    for ex in iter_examples(name, chunks, text_field, label_field):
        counts[ex.label] += 1
        chars.update(ex.text.casefold())
    return {
        "format": "csv" if name.lower().endswith(".csv") else "jsonl",
        "schema": {text_field: "string", label_field: "string|integer"},
        "labels": sorted(counts),
        "counts": dict(sorted(counts.items())),
        "rows": sum(counts.values()),
        "chars": len({c for c in chars if not c.isspace()}),  # distinct characters: a char tokenizer's floor
    }


def check_split_labels(splits: Mapping[str, Mapping[str, Any]]) -> None:
    """Labels in validation/test that train lacks are an error (``splits``: name -> report with
    ``file`` and ``counts``; the base is ``train`` or else the first split)."""
    if not splits:
        return
    base = splits.get("train") or next(iter(splits.values()))
    known = set(base["counts"])
    for s in splits.values():
        extra = set(s["counts"]) - known
        if extra:
            raise DataError(f"{s['file']}: labels {sorted(extra)} do not occur in {base['file']}", "label")


def dataset_summary(files: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """A dataset's validity from its files' validation records (path -> ``{"valid", "report",
    "reason", "field"}``; ``None`` = not validated yet). Valid when every data file is valid,
    a ``train`` split exists and the other splits use only train's labels."""
    problems: list[dict[str, Any]] = []
    splits: dict[str, dict[str, Any]] = {}
    pending: list[str] = []
    for path, rec in sorted(files.items()):
        if not is_data_file(path):
            continue
        if rec is None:
            pending.append(path)
            continue
        if not rec.get("valid"):
            problems.append({"path": path, "reason": rec.get("reason", ""), "field": rec.get("field")})
            continue
        splits[split_of(path)] = {"file": path.rsplit("/", 1)[-1], "path": path, **rec.get("report", {})}
    if not problems:
        try:
            check_split_labels(splits)
        except DataError as e:
            problems.append({"path": None, "reason": str(e), "field": e.field})
    if not splits and not problems and not pending:
        problems.append({"path": None, "reason": "no .jsonl or .csv data files", "field": "files"})
    elif splits and "train" not in splits and not problems:
        problems.append({"path": None, "reason": "no train split (a file named train.jsonl or train.csv)",
                         "field": "files"})  # fmt: skip
    total: Counter[str] = Counter()
    for s in splits.values():
        total.update(s.get("counts", {}))
    return {
        "valid": not problems and not pending,
        "state": "invalid" if problems else "pending" if pending else "valid",
        "problems": problems,
        "pending": pending,
        "labels": sorted(total),
        "counts": dict(sorted(total.items())),
        "rows": sum(total.values()),
        "splits": {k: {f: v for f, v in s.items() if f != "schema"} for k, s in splits.items()},
    }
