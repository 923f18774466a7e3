"""Validation rules of parameter configs: each rule with a good and a bad value."""

from __future__ import annotations

import pytest

from domain.configs import TEMPLATES, ConfigInvalid, paths, template_values, validate, violations
from domain.errors import Invalid

pytestmark = pytest.mark.unit


def with_(template: str, **sets: object) -> dict:
    values = template_values(template)
    for path, value in sets.items():
        values = paths.set_(values, path.replace("__", "."), value)
    return values


def fields(values: dict) -> list[str]:
    return [v.field for v in violations(values)]


def test_every_template_is_valid_and_base_presets_cite_a_source():
    assert len(TEMPLATES) == 15
    for name, t in TEMPLATES.items():
        assert violations(t.values) == [], name
        assert t.values["tokenizer"]["type"] == "wordpiece-char"
        if t.size == "base":
            assert "et al." in t.values["source"] and "21128" in t.values["source"]


def test_unknown_family_names_the_family_field():
    with pytest.raises(Invalid) as e:
        validate({**template_values("bert-tiny"), "family": "gpt9"})
    assert e.value.field == "family"


@pytest.mark.parametrize(
    ("template", "path", "good", "bad"),
    [
        ("bert-tiny", "training.learning_rate", 1e-4, -1e-4),
        ("bert-tiny", "training.learning_rate", 0.5, 0),
        ("bert-tiny", "architecture.hidden_dropout_prob", 0.0, 1.0),
        ("bert-tiny", "architecture.attention_probs_dropout_prob", 0.99, -0.1),
        ("bert-tiny", "architecture.num_hidden_layers", 1, 0),
        ("bert-tiny", "architecture.num_hidden_layers", 3, 2.5),
        ("bert-tiny", "architecture.num_hidden_layers", 3, True),
        ("bert-tiny", "architecture.hidden_act", "relu", "relux"),
        ("xlnet-tiny", "architecture.ff_activation", "gelu_new", "softmax"),
        ("xlnet-tiny", "architecture.dropout", 0.2, 1.5),
        ("bert-tiny", "training.lr_schedule", "cosine", "exponential"),
        ("bert-tiny", "training.warmup_ratio", 0.0, 1.0),
        ("bert-tiny", "training.batch_size", 1, 0),
        ("bert-tiny", "training.max_steps", 0, -1),
        ("bert-tiny", "training.weight_decay", 0.0, -0.01),
        ("bert-tiny", "training.seed", 0, -1),
        ("bert-tiny", "training.early_stopping_patience", None, -2),
        ("bert-tiny", "tokenizer.type", "wordpiece-char", "bpe"),
        ("bert-tiny", "tokenizer.lowercase", False, "yes"),
        ("bert-tiny", "architecture.position_embedding_type", "absolute", "relative_key"),
        ("bert-tiny", "architecture.max_position_embeddings", 128, "128"),
    ],
)
def test_field_rules(template, path, good, bad):
    assert fields(with_(template, **{path.replace(".", "__"): good})) == []
    with pytest.raises(ConfigInvalid) as e:
        validate(with_(template, **{path.replace(".", "__"): bad}))
    assert e.value.field == path


def test_hidden_size_must_divide_by_heads():
    assert (
        fields(with_("bert-tiny", architecture__hidden_size=96, architecture__num_attention_heads=12)) == []
    )
    with pytest.raises(ConfigInvalid) as e:
        validate(with_("bert-tiny", architecture__hidden_size=100, architecture__num_attention_heads=12))
    assert e.value.field == "architecture.hidden_size"
    assert "divisible" in e.value.message


def test_xlnet_d_model_must_divide_by_n_head():
    assert fields(with_("xlnet-tiny", architecture__d_model=96, architecture__n_head=3)) == []
    assert fields(with_("xlnet-tiny", architecture__d_model=100, architecture__n_head=12)) == [
        "architecture.d_model"
    ]


def test_max_positions_cover_max_sequence_length():
    assert fields(with_("bert-tiny", architecture__max_position_embeddings=128)) == []  # max_seq_length 128
    assert fields(with_("bert-tiny", architecture__max_position_embeddings=127)) == [
        "architecture.max_position_embeddings"
    ]
    # RoBERTa numbers positions after the padding index: two slots short
    assert fields(with_("roberta-tiny", architecture__max_position_embeddings=130)) == []
    assert fields(with_("roberta-tiny", architecture__max_position_embeddings=129)) == [
        "architecture.max_position_embeddings"
    ]
    # XLNet has relative positions: no rule
    assert fields(with_("xlnet-tiny", training__max_seq_length=4096)) == []


def test_albert_embedding_and_groups():
    assert fields(with_("albert-tiny", architecture__embedding_size=64)) == []
    assert fields(with_("albert-tiny", architecture__embedding_size=65)) == ["architecture.embedding_size"]
    assert fields(with_("albert-tiny", architecture__num_hidden_groups=2)) == []
    assert fields(with_("albert-tiny", architecture__num_hidden_groups=3)) == [
        "architecture.num_hidden_groups"
    ]


def test_electra_generator_rules():
    assert (
        fields(
            with_("electra-tiny", electra_generator__hidden_size=64, electra_generator__num_attention_heads=2)
        )
        == []
    )
    assert fields(
        with_("electra-tiny", electra_generator__hidden_size=128, electra_generator__num_attention_heads=2)
    ) == ["electra_generator.hidden_size"]
    assert fields(
        with_("electra-tiny", electra_generator__hidden_size=33, electra_generator__num_attention_heads=2)
    ) == ["electra_generator.hidden_size"]
    bert = template_values("bert-tiny")
    bert["electra_generator"] = {"hidden_size": 32}
    assert fields(bert) == ["electra_generator"]


def test_tokenizer_vocab_must_fit_the_embedding_table():
    assert fields(with_("bert-tiny", tokenizer__vocab_size=8000)) == []
    assert fields(with_("bert-tiny", tokenizer__vocab_size=8001)) == ["architecture.vocab_size"]


def test_unknown_and_missing_fields():
    values = with_("bert-tiny", architecture__hidden_sise=64)
    assert fields(values) == ["architecture.hidden_sise"]
    del values["architecture"]["hidden_sise"], values["training"]["learning_rate"]
    assert fields(values) == ["training.learning_rate"]
    assert fields({**template_values("bert-tiny"), "extra": 1}) == ["extra"]
    assert fields({"family": "bert"}) == ["architecture", "training", "tokenizer"]


def test_all_violations_are_collected_first_one_names_the_field():
    bad = with_(
        "bert-tiny",
        training__learning_rate=-1,
        architecture__hidden_size=100,
        architecture__num_attention_heads=12,
        architecture__hidden_act="x",
    )
    with pytest.raises(ConfigInvalid) as e:
        validate(bad)
    got = [v.field for v in e.value.violations]
    assert set(got) == {"training.learning_rate", "architecture.hidden_size", "architecture.hidden_act"}
    assert e.value.field == got[0]
    assert e.value.to_dict()["violations"][0]["field"] == got[0]
    assert e.value.status == 422
