"""A dataset's summary for files in folders, while some are still being validated (the paths a
real upload has: ``data/train.jsonl``), and the examples the parser yields."""

from __future__ import annotations

import dataclasses
import json

import pytest

from domain.library.datasets import Example, dataset_summary, file_report, iter_examples, split_of

pytestmark = pytest.mark.unit


def record(path: str, rows: list[dict]) -> dict:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    return {"valid": True, "report": file_report(path, [data])}


def test_files_in_a_folder_are_split_by_their_own_name_and_wait_for_a_pending_one() -> None:
    # Given a train and a validation file validated, a test file not yet
    train = [{"text": "好", "label": "pos"}, {"text": "差", "label": "neg"}]
    files = {
        "data/train.jsonl": record("data/train.jsonl", train),
        "data/validation.jsonl": record("data/validation.jsonl", [{"text": "棒", "label": "pos"}]),
        "data/test.jsonl": None,
    }
    # When the dataset is summarised
    s = dataset_summary(files)
    # Then it is pending (not valid, no problem), its splits are named by file name, not folder
    assert (s["valid"], s["state"], s["problems"], s["pending"]) == (False, "pending", [], ["data/test.jsonl"])
    assert s["splits"] == {
        "train": {"file": "train.jsonl", "path": "data/train.jsonl", "format": "jsonl", "labels": ["neg", "pos"],
                  "counts": {"neg": 1, "pos": 1}, "rows": 2, "chars": 2},
        "validation": {"file": "validation.jsonl", "path": "data/validation.jsonl", "format": "jsonl",
                       "labels": ["pos"], "counts": {"pos": 1}, "rows": 1, "chars": 1},
    }  # fmt: skip
    assert (s["counts"], s["rows"], s["labels"]) == ({"neg": 1, "pos": 2}, 3, ["neg", "pos"])
    assert split_of("data/train.jsonl") == "train" and split_of("a/b/test.csv") == "test"


def test_parsed_examples_are_values() -> None:
    ex = next(iter_examples("data/train.jsonl", [b'{"text": "\xe5\xa5\xbd", "label": 1}\n']))
    assert ex == Example("好", "1") and {ex, Example("好", "1")} == {ex}
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.label = "2"  # type: ignore[misc]
