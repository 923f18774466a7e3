"""The int8 verification of a trained model also reports accuracy on the test split of the
dataset it was trained on (eager and compiled, same inputs), not only agreement on synthetic
text: the validate step lays the split out next to the model (``eval/`` in the model channel,
tested here), ``jobs.compile`` finds it there and scores it (tested on the real job program in
``tests/integration/test_jobs_pipeline.py``, with the split in the same layout)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.trainings import TRAININGS, RequestTraining
from runtime.bootstrap import build_local
from runtime.services.commands import Caller, execute
from runtime.settings import Settings
from runtime.workflows.steps.compile import steps

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from tests.integration._tiny_model import TEXTS, make_tiny_model  # noqa: E402

pytestmark = pytest.mark.integration
ALICE = Caller("alice")
FAST = {"exporter": "torchscript",
    "sample_size": 8, "latency_runs": 1, "max_seq_length": 32, "num_threads": 1, "latency_batch_sizes": [1]}


def test_validate_lays_out_the_trained_models_test_split_for_the_compile_job(tmp_path: Path) -> None:
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
        # When its int8 compile is requested and the workflow's Validate step runs
        started = c.compiles.start(ALICE, mid, "onnx-int8", FAST)
        run_id = started["run_id"]
        uri = c.artifacts.channel_uri(f"{run_id}/model")
        doc = {"compile_id": started["compile_id"], "model_id": mid, "run_id": run_id, "model_uri": uri,
               "requested_by": ALICE.user_id, "project_id": pid}  # fmt: skip
        out = steps(c)["validate_compile_request"](doc)
        # Then the model channel holds the model and, under eval/, the test split it was trained on
        channel = Path(out["model_uri"])
        assert (channel / "config.json").is_file()
        split = [json.loads(x) for x in (channel / "eval" / "test.jsonl").read_text("utf-8").splitlines()]
        assert split == rows
        assert c.compiles.show(ALICE, started["compile_id"])["status"] == "running"
        # And a model with no training lineage gets no eval/ (nothing to score)
        plain = c.artifacts.ingest_dir(ALICE, pid, make_tiny_model(tmp_path / "plain"), name="p", family="bert")
        other = c.compiles.start(ALICE, plain, "onnx-int8", FAST)
        uri2 = c.artifacts.channel_uri(f"{other['run_id']}/model")
        steps(c)["validate_compile_request"]({**doc, "compile_id": other["compile_id"], "model_id": plain,
                                              "run_id": other["run_id"], "model_uri": uri2})  # fmt: skip
        assert (Path(uri2) / "config.json").is_file() and not (Path(uri2) / "eval").exists()
    finally:
        c.close()
