"""ASHA and Hyperband count their resource in the job's reports (validations, one per epoch by
default), not in training steps: rungs fall on epochs whatever the steps per epoch."""

from __future__ import annotations

import pytest

from domain.studies import events as ev
from domain.studies import study as sd

pytestmark = pytest.mark.unit
optuna = pytest.importorskip("optuna")


def study(pruner: dict) -> sd.Study:
    req = ev.StudyRequested(study_id="s", project_id="p", name="n", space=[], strategy="random",
                            objectives=[{"name": "a", "expression": "val_accuracy", "direction": "maximize"}],
                            max_trials=10, config_id="c", config_version=1, family="bert", base_values={},
                            dataset_id="d", run_id="s", pruner=pruner,
                            intermediate={"metric": "val_accuracy", "direction": "maximize"})  # fmt: skip
    st = sd.STUDIES.fold([req])
    return sd.STUDIES.fold(sd.STUDIES.decide(st, sd.AskTrials(round=1, points=[{}] * 4)), st)


def test_resource_curve_numbers_the_reports():
    from runtime.adapters.optuna_sampler.sampler import resource_curve

    assert resource_curve({"38": 0.6, "19": 0.5, "171": 0.9}) == {"1": 0.5, "2": 0.6, "3": 0.9}


def test_asha_rungs_are_reports_not_steps():
    from runtime.adapters.optuna_sampler.sampler import OptunaSampler

    st = study({"kind": "asha", "min_resource": 1, "reduction_factor": 3})
    st = sd.STUDIES.evolve(st, ev.TrialReported(number=0, values={"19": 0.7}))  # epoch 1 = step 19
    prune, attrs = OptunaSampler().prune(st, 0)
    assert not prune and sorted(attrs) == ["completed_rung_0"]  # keyed by step it had passed rungs 0, 1 and 2
    st = sd.STUDIES.evolve(st, ev.TrialReported(number=0, values={"38": 0.72, "57": 0.75}, attrs=attrs))
    prune, attrs = OptunaSampler().prune(st, 0)
    assert not prune and sorted(attrs) == ["completed_rung_1"]  # the 3rd report is rung 1 (3 epochs)
    st = sd.STUDIES.evolve(st, ev.TrialReported(number=0, values={}, attrs=attrs))
    st = sd.STUDIES.evolve(st, ev.TrialCompleted(number=0, values=[0.8]))
    st = sd.STUDIES.evolve(st, ev.TrialReported(number=1, values={"19": 0.4}))  # worse at epoch 1: stopped
    assert OptunaSampler().prune(st, 1)[0]
