"""Accuracy of the eager model and of the compiled (ONNX, e.g. int8) model on a labelled test
split, batch by batch with the same inputs: a compile is judged on the task, not only on how
close its logits are on synthetic text.

Where the split comes from (``find_test_split``): the ``data`` channel when it holds a labelled
test file, else ``eval/`` inside the model channel (the compile workflow's validate step puts the
test split of the dataset the model was trained on there). Examples whose label the model does
not know are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

MAX_EXAMPLES = 2000  # bounded: the compile job must stay short


def find_test_split(data: Path | None, model_dir: Path) -> Path | None:
    from jobs.data import find_file

    for where in (data, model_dir / "eval"):
        if where is None or not where.exists():
            continue
        try:
            return find_file(where, "test")
        except (ValueError, FileNotFoundError):
            continue
    return None


def score_test_split(
    path: Path,
    labels: list[str],
    predict: Callable[[list[str]], tuple[Any, Any]],
    *,
    batch_size: int = 16,
    check_stop: Callable[[], None] = lambda: None,
) -> dict[str, Any] | None:
    """``predict(texts) -> (eager logits, compiled logits)``; both argmaxed against the labels.
    None when the file holds no labelled examples (e.g. a data channel of bare texts)."""
    from domain.library.datasets import DataError
    from jobs.data import read_file

    index = {lb: i for i, lb in enumerate(labels)}
    try:
        examples = read_file(path)[:MAX_EXAMPLES]
    except (DataError, ValueError):
        return None
    known = [e for e in examples if str(e.label) in index]
    eager_ok = compiled_ok = agree = 0
    for i in range(0, len(known), batch_size):
        check_stop()
        batch = known[i : i + batch_size]
        eager, compiled = predict([e.text for e in batch])
        gold = [index[str(e.label)] for e in batch]
        for g, e, c in zip(gold, eager.argmax(-1).tolist(), compiled.argmax(-1).tolist(), strict=True):
            eager_ok += int(e == g)
            compiled_ok += int(c == g)
            agree += int(e == c)
    n = len(known)
    return {
        "file": path.name,
        "examples": n,
        "skipped_unknown_labels": len(examples) - n,
        "accuracy_eager": eager_ok / n if n else None,
        "accuracy_compiled": compiled_ok / n if n else None,
        "label_agreement": agree / n if n else None,
    }
