"""Test-split accuracy of a compile (jobs.compile_accuracy): eager and compiled predictions
scored against the gold labels, unknown labels skipped, unlabelled files give None."""

from __future__ import annotations

import json

import pytest

np = pytest.importorskip("numpy")

from jobs.compile_accuracy import find_test_split, score_test_split  # noqa: E402

pytestmark = pytest.mark.unit


def write(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_scores_both_models_against_the_gold_labels(tmp_path):
    rows = [{"text": f"好{i}", "label": "pos"} for i in range(6)] + [{"text": "坏", "label": "neg"},
                                                                   {"text": "怪", "label": "odd"}]  # fmt: skip
    f = write(tmp_path / "test.jsonl", rows)

    def predict(texts):  # eager: always "pos"; compiled: "neg" for the first text of each batch
        eager = np.array([[0.0, 1.0]] * len(texts))
        compiled = eager.copy()
        compiled[0] = [1.0, 0.0]
        return eager, compiled

    r = score_test_split(f, ["neg", "pos"], predict, batch_size=4)
    assert (r["examples"], r["skipped_unknown_labels"]) == (7, 1)
    assert r["accuracy_eager"] == pytest.approx(6 / 7)  # all but the "neg" example
    assert r["accuracy_compiled"] == pytest.approx(4 / 7)  # texts 0 and 4 flipped to neg; the neg one stays pos
    assert r["label_agreement"] == pytest.approx(5 / 7)


def test_the_split_comes_from_the_data_channel_else_the_models_eval_dir(tmp_path):
    model = tmp_path / "model"
    (model / "eval").mkdir(parents=True)
    assert find_test_split(None, model) is None
    inside = write(model / "eval" / "test.jsonl", [{"text": "好", "label": "pos"}])
    assert find_test_split(None, model) == inside
    data = tmp_path / "data"
    data.mkdir()
    given = write(data / "test.jsonl", [{"text": "坏", "label": "neg"}])
    assert find_test_split(data, model) == given
    bare = write(tmp_path / "bare.jsonl", [{"text": "好"}])
    assert score_test_split(bare, ["pos"], lambda t: (None, None)) is None
