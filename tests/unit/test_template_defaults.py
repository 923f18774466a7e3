"""Two kinds of training defaults: from-scratch (tiny, small) and fine-tune (base, the papers')."""

from __future__ import annotations

import pytest

from domain.configs.templates import TEMPLATES, fine_tune_training, get_template

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_template_says_which_defaults_it_holds_and_why(name: str) -> None:
    t = get_template(name)
    train = t.values["training"]
    assert t.defaults == ("fine_tune" if t.size == "base" else "from_scratch")
    assert t.why.startswith(t.defaults.replace("_", "-")) and name in t.why
    assert t.to_dict()["defaults"] == t.defaults and t.to_dict()["fine_tune"] == fine_tune_training(name)
    if t.defaults == "from_scratch":
        # a random init needs a high rate, several epochs and early stopping on validation
        assert train["learning_rate"] >= 3e-4 and train["epochs"] >= 5 and train["early_stopping_patience"] >= 1
        assert train["max_steps"] == 0  # epochs decide, not a 50-step smoke run
        assert fine_tune_training(name)["learning_rate"] < train["learning_rate"]
    else:
        assert fine_tune_training(name) == train and train["learning_rate"] <= 1e-4


def test_bert_tiny_defaults_are_the_measured_ones() -> None:
    train = get_template("bert-tiny").values["training"]
    assert (train["learning_rate"], train["batch_size"], train["max_seq_length"]) == (1e-3, 32, 128)
    assert fine_tune_training("bert-tiny")["learning_rate"] == 3e-4
    assert fine_tune_training("bert-base")["learning_rate"] == 2e-5  # BERT paper
