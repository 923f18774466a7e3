"""The training aggregate, the train steps' pure helpers and the CLI's loss chart."""

from __future__ import annotations

import pytest

from domain.errors import Conflict, NotFound
from domain.trainings import TRAININGS, RecordRegistration, RequestTraining, Training, decide, evolve
from runtime.workflows.steps.train import curve, split_files
from tlm.cli.train import chart

pytestmark = pytest.mark.unit

REQ = RequestTraining(training_id="t1", project_id="p", name=" 情感 ", config_id="c", config_version=2,
                      family="bert", dataset_id="d", run_id="t1")  # fmt: skip


def test_a_training_is_requested_once_and_registers_one_model():
    [requested] = decide(Training(), REQ)
    state = evolve(Training(), requested)
    assert (state.name, state.config_version, state.model_id) == ("情感", 2, None)
    with pytest.raises(Conflict):
        decide(state, REQ)
    with pytest.raises(NotFound):
        decide(Training(), RecordRegistration(model_id="m"))
    done = TRAININGS.fold(decide(state, RecordRegistration(model_id="m", metrics={"final": {"loss": 0.5}})), state)
    assert done.model_id == "m" and done.metrics["final"] == {"loss": 0.5}
    assert decide(done, RecordRegistration(model_id="m")) == []  # a repeated register step
    with pytest.raises(Conflict):
        decide(done, RecordRegistration(model_id="other"))


def test_splits_curve_and_chart():
    assert split_files(["stats.json", "data/test.csv", "train.jsonl", "validation.jsonl", "extra.jsonl"]) == {
        "test": "data/test.csv", "train": "train.jsonl", "validation": "validation.jsonl"}  # fmt: skip
    history = [{"name": "train_loss", "value": 1.0 / (i + 1), "step": i} for i in range(1000)]
    history.append({"name": "val_loss", "value": 0.3, "step": 999})
    points = curve(history, "train_loss", points=50)
    assert len(points) == 50 and points[0] == [0, 1.0] and points[-1][0] == 999
    rows = chart(points, width=20, height=4)
    assert len(rows) == 5 and rows[-2].startswith("  0.0010 ┤") and "step 0 … 999" in rows[-1]
    assert rows[0].split("┤")[1] == "█" + " " * 19  # a falling curve: the top row is full only at the start
    assert chart([]) == []
