"""build_model: every family builds from the parameter-config format and runs forward on Chinese
text; a config it cannot build is a ValueError naming the field."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from jobs.modeling import build_model  # noqa: E402
from jobs.tokenizer import train_tokenizer  # noqa: E402

pytestmark = pytest.mark.integration

TINY = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128,
        "max_position_embeddings": 130, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "vocab_size": 500}
ARCH = {
    "bert": TINY,
    "roberta": TINY,
    "albert": {**TINY, "embedding_size": 32, "num_hidden_groups": 1, "inner_group_num": 1},
    "electra": {**TINY, "embedding_size": 32},
    "xlnet": {"d_model": 64, "n_layer": 2, "n_head": 2, "d_inner": 128, "ff_activation": "gelu", "vocab_size": 500},
}
TEXTS = ["这本书写得很好，推荐大家看。", "质量太差了，不会再买", "还可以吧"]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(TEXTS * 3, vocab_size=200)


@pytest.mark.parametrize("family", sorted(ARCH))
def test_each_family_builds_and_runs_forward_backward(family, tokenizer):
    torch.manual_seed(0)
    model = build_model({"family": family, "architecture": ARCH[family]}, 3, vocab_size=len(tokenizer),
                        pad_token_id=tokenizer.pad_token_id, labels=["a", "b", "c"])
    enc = tokenizer(TEXTS, padding=True, return_tensors="pt")
    out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=torch.tensor([0, 1, 2]))
    assert out.logits.shape == (3, 3)
    out.loss.backward()
    assert model.config.model_type == family and model.config.id2label[2] == "c"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"family": "gpt", "architecture": {}}, "family"),
        ({"family": "bert", "architecture": {**TINY, "hidden_size": 100, "num_attention_heads": 12}},
         "architecture.hidden_size"),
        ({"family": "bert", "architecture": {**TINY, "num_layerz": 3}}, "architecture.num_layerz"),
        ({"family": "bert", "architecture": {**TINY, "hidden_act": "swishy"}}, "architecture.hidden_act"),
        ({"family": "bert", "architecture": {**TINY, "intermediate_size": -4}}, "architecture.intermediate_size"),
        ({"family": "xlnet", "architecture": {"d_model": 66, "n_head": 4}}, "architecture.d_model"),
        ({"family": "albert", "architecture": {**TINY, "num_hidden_groups": 5}}, "architecture.num_hidden_groups"),
    ],
)
def test_unbuildable_config_names_the_field(config, field):
    with pytest.raises(ValueError, match=rf"^{field}:"):
        build_model(config, 2)
