"""Label types in dataset files: strings and integers are labels; booleans (``true`` would become
the label ``'True'``), floats, lists, objects and null are refused naming the line and ``label``."""

from __future__ import annotations

import json

import pytest

from domain.library.datasets import DataError, file_report, iter_examples

pytestmark = pytest.mark.unit


def _jsonl(*labels: object) -> bytes:
    rows = [{"text": f"例句{i}", "label": label} for i, label in enumerate(labels)]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


@pytest.mark.parametrize(
    ("bad", "kind"),
    [(True, "bool"), (False, "bool"), (0.5, "float"), (["pos"], "list"), ({"v": 1}, "dict")],
    ids=["true", "false", "float", "list", "object"],
)
def test_non_string_non_integer_labels_are_refused_on_their_line(bad: object, kind: str) -> None:
    data = _jsonl("pos", 1, bad)
    with pytest.raises(DataError, match=rf"train.jsonl line 3: label must be a string or an integer, got {kind}") as e:
        list(iter_examples("train.jsonl", [data]))
    assert e.value.field == "label"


def test_null_label_is_missing() -> None:
    with pytest.raises(DataError, match="line 1: missing label") as e:
        list(iter_examples("train.jsonl", [_jsonl(None)]))
    assert e.value.field == "label"


def test_strings_and_integers_are_labels_and_a_boolean_never_becomes_one() -> None:
    report = file_report("train.jsonl", [_jsonl("pos", 1, " neg ", 0)])
    assert report["labels"] == ["0", "1", "neg", "pos"]
    assert "True" not in report["labels"] and "False" not in report["labels"]
