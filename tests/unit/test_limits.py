"""Limits that a user can hit, each a 4xx naming the field and the limit: architecture and
training bounds, compile parameter lists item by item, the model-size estimate against a
project's limits, and limit overrides."""

from __future__ import annotations

import pytest

from domain.compiles.recipes import validate_recipe
from domain.configs import paths, template_values, violations
from domain.errors import Forbidden, Invalid, TooLarge
from domain.limits import LimitsState, ProjectLimits, SetLimits, _decide, check_model, clean_overrides, estimate

pytestmark = pytest.mark.unit


def with_(template: str, **sets: object) -> dict:
    values = template_values(template)
    for path, value in sets.items():
        values = paths.set_(values, path.replace("__", "."), value)
    return values


@pytest.mark.parametrize(
    ("template", "path", "too_big"),
    [
        ("bert-tiny", "architecture.hidden_size", 8192 * 2),
        ("bert-tiny", "architecture.num_hidden_layers", 129),
        ("bert-tiny", "architecture.num_attention_heads", 256),
        ("bert-tiny", "architecture.intermediate_size", 10**6),
        ("bert-tiny", "architecture.vocab_size", 10**7),
        ("bert-tiny", "architecture.max_position_embeddings", 10**6),
        ("bert-tiny", "training.max_seq_length", 10**5),
        ("bert-tiny", "training.epochs", 10**4),
        ("bert-tiny", "training.max_steps", 10**8),
        ("bert-tiny", "training.batch_size", 10**5),
        ("xlnet-tiny", "architecture.d_model", 10**5),
        ("xlnet-tiny", "architecture.n_head", 1000),
        ("xlnet-tiny", "architecture.d_inner", 10**6),
        ("albert-tiny", "architecture.embedding_size", 10**5),
        ("bert-tiny", "tokenizer.vocab_size", 10**7),
    ],
)
def test_architecture_and_training_sizes_are_bounded(template, path, too_big):
    found = [v for v in violations(with_(template, **{path.replace(".", "__"): too_big})) if v.field == path]
    assert found and "must be <=" in found[0].message


def test_compile_parameter_lists_are_checked_item_by_item():
    assert validate_recipe("onnx", {"latency_batch_sizes": [1, 32]}).latency_batch_sizes == [1, 32]
    for bad, where in (([1, 0], "latency_batch_sizes.1"), ([4, 10**9], "latency_batch_sizes.1"),
                       (["x"], "latency_batch_sizes.0")):  # fmt: skip
        with pytest.raises(ValueError, match=rf"^{where}:"):
            validate_recipe("onnx-int8", {"latency_batch_sizes": bad})
    with pytest.raises(ValueError, match="at most 8"):
        validate_recipe("onnx", {"latency_batch_sizes": list(range(1, 20))})


def test_the_estimate_grows_with_the_architecture_and_the_batch():
    tiny, base = estimate(template_values("bert-tiny")), estimate(template_values("bert-base"))
    assert 100_000_000 < base.params < 105_000_000  # bert-base-chinese has 102 M
    assert tiny.params < base.params and base.weight_bytes == base.params * 4
    bigger_batch = estimate(with_("bert-base", training__batch_size=256))
    assert bigger_batch.params == base.params and bigger_batch.train_memory_bytes > base.train_memory_bytes


def test_check_model_names_the_limit_it_breaks():
    values = template_values("bert-base")
    assert check_model(values, ProjectLimits()).params > 0
    with pytest.raises(TooLarge) as e:
        check_model(values, ProjectLimits(max_params=50_000_000))
    assert e.value.field == "limits.max_params" and "102," in e.value.message
    with pytest.raises(TooLarge) as e:
        check_model(with_("bert-base", training__batch_size=4096), ProjectLimits())
    assert e.value.field == "limits.max_train_memory_bytes" and "batch_size" in e.value.message


def test_overrides_are_checked_and_only_an_owner_sets_them():
    assert clean_overrides({"max_jobs": 2}) == {"max_jobs": 2}
    for bad, field in (({"max_jobz": 2}, "limits.max_jobz"), ({"max_jobs": 0}, "limits.max_jobs"),
                       ({"max_jobs": True}, "limits.max_jobs"), ({}, "limits"), ([1], "limits")):  # fmt: skip
        with pytest.raises(Invalid) as e:
            clean_overrides(bad)
        assert e.value.field == field
    with pytest.raises(Forbidden):
        _decide(LimitsState(), SetLimits(project_id="p", limits={"max_jobs": 2}, is_owner=False))
    assert ProjectLimits().with_overrides({"max_jobs": 2}).max_jobs == 2
