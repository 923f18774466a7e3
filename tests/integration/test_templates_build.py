"""Every built-in template (five families, tiny) builds with transformers offline (random init)
and runs a forward pass on Chinese text."""

from __future__ import annotations

import pytest

from domain.configs import TEMPLATES, template_values

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
TEXT = "这部电影的剧情很精彩，演员的表演也非常自然。"


@pytest.mark.parametrize("name", sorted(n for n in TEMPLATES if n.endswith("-tiny")))
def test_tiny_template_builds_and_runs_forward_on_chinese(name):
    from jobs.arch_test import char_vocab, encode_batch
    from jobs.modeling import build_model

    values = template_values(name)
    torch.manual_seed(0)
    model = build_model(values, 2, pad_token_id=0)
    assert model.config.model_type == values["family"]
    layers = values["architecture"].get("num_hidden_layers", values["architecture"].get("n_layer"))
    assert layers == 2
    vocab = char_vocab(TEXT)
    ids = torch.tensor(encode_batch(TEXT, vocab, 2, 24, values["architecture"]["vocab_size"]))
    model.eval()
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert logits.shape == (2, 2) and bool(torch.isfinite(logits).all())


def test_all_five_families_have_tiny_small_base():
    assert {(t.family, t.size) for t in TEMPLATES.values()} == {
        (f, s) for f in ("bert", "roberta", "albert", "electra", "xlnet") for s in ("tiny", "small", "base")
    }
