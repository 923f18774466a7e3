"""The int8 verification of a trained model also reports accuracy on the test split of the
dataset it was trained on (eager and compiled, same inputs), not only agreement on synthetic
text: the validate step lays the split out next to the model, ``jobs.compile`` scores it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.trainings import TRAININGS, RequestTraining
from runtime.bootstrap import build_local
from runtime.services.commands import Caller, execute
from runtime.settings import Settings

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from tests.integration._tiny_model import TEXTS, make_tiny_model  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ALICE = Caller("alice")
FAST = {"sample_size": 8, "latency_runs": 1, "max_seq_length": 32, "num_threads": 1, "latency_batch_sizes": [1]}


def test_a_trained_models_int8_compile_reports_test_split_accuracy(tmp_path: Path) -> None:
    c = build_local(Settings(data_dir=tmp_path / "data"))
    try:
        # Given a dataset with a labelled test split, and a model trained on it (source = the training run)
        pid = c.library.create_project(ALICE, "p")["project_id"]
        data = tmp_path / "ds"
        data.mkdir()
        rows = [{"text": t, "label": "positive" if i % 2 == 0 else "negative"} for i, t in enumerate(TEXTS)]
        for split in ("train", "validation", "test"):
            (data / f"{split}.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
        did = c.artifacts.ingest_dir(ALICE, pid, data, name="ds", family="other", kind="dataset")
        cmd = RequestTraining(training_id="t1", project_id=pid, name="m", config_id="c" * 12, config_version=1,
                              family="bert", dataset_id=did, run_id="t1")  # fmt: skip
        execute(c.store, TRAININGS, "t1", cmd, ALICE)
        mid = c.artifacts.ingest_dir(ALICE, pid, make_tiny_model(tmp_path / "model"), name="m", family="bert",
                                     source="training-run:t1")  # fmt: skip
        # When it is compiled to ONNX int8
        started = c.compiles.start(ALICE, mid, "onnx-int8", FAST)
        c.catch_up()  # what the server's subscription does: the start reaction starts the run
        c.workflows.wait(started["run_id"], timeout=300)
        c.catch_up()  # the outcome reaction records the end on the compile
        done = c.compiles.show(ALICE, started["compile_id"])
        # Then the verification carries accuracy on all 20 test examples, eager and compiled
        assert done["status"] == "succeeded", done
        split = done["verification"]["test_split"]
        assert (
            split["file"] == "test.jsonl" and split["examples"] == len(TEXTS) and split["skipped_unknown_labels"] == 0
        )
        assert 0 <= split["accuracy_compiled"] <= 1 and 0 <= split["accuracy_eager"] <= 1
        assert split["label_agreement"] >= 0.9
    finally:
        c.close()
