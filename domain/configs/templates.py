"""Built-in parameter templates: five families x tiny / small / base.

Names are ``<family>-<size>`` (``bert-tiny`` ... ``xlnet-base``). Each template's ``values`` is a
complete configuration in the format the training job consumes::

    {"family", "architecture": {transformers config fields for that model_type},
     "training": {...}, "tokenizer": {"type": "wordpiece-char", "vocab_size", "lowercase"},
     ["electra_generator": {...}], ["source": "..."]}

Base presets carry a ``source`` string citing the paper / official config their numbers come
from; the vocabulary is the 21128-entry Chinese character vocabulary of bert-base-chinese
(google-research/bert chinese_L-12_H-768_A-12) for every family, since all TLM models are Chinese.
Small presets follow published small variants where one exists (cited in the template's
``note``); tiny presets (2 layers, hidden 64, 2 heads, 8000-entry vocabulary) are ours, built to
construct and run in milliseconds for tests and smoke runs.

Two kinds of training defaults (``Template.defaults`` says which a template holds, ``why`` says
why, ``fine_tune`` always holds the fine-tuning preset):

- ``from_scratch`` (tiny, small): what a randomly initialised model needs — a learning rate 10-50x
  a fine-tuning one, enough epochs, early stopping on the validation loss (the best epoch's
  weights are kept). bert-tiny's were measured on the demo dataset (README, bench/quality.py).
- ``fine_tune`` (base): the papers' presets, meant for a pretrained start; training a base model
  from a random init with them learns little (issue 12). ``fine_tune_training(name)`` is the
  preset for every size: the papers' for base, Turc et al. 2019's fine-tuning grid for the
  BERT miniatures (google-research/bert: lr from {3e-4, 1e-4, 5e-5, 3e-5}, 4 epochs; 3e-4 for
  tiny, 1e-4 for small) for tiny and small. ``tlm train start --model`` without a config uses it.

Conventions shared with ``jobs/train.py``: ``training.max_steps`` 0 means "run ``epochs``";
``early_stopping_patience`` 0 (or null) disables early stopping. Fields whose transformers default
is right (``position_embedding_type`` "absolute", XLNet ``clamp_len`` -1) are left out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from domain.configs.validation import FAMILIES, validate
from domain.errors import NotFound

SIZES = ("tiny", "small", "base")
CHINESE_VOCAB = 21128


@dataclass(frozen=True)
class Template:
    name: str
    family: str
    size: str
    description: str
    note: str
    values: dict[str, Any]
    defaults: str = "from_scratch"  # which kind of training defaults ``values`` holds
    why: str = ""
    fine_tune: dict[str, Any] | None = None  # the training section to use from a pretrained start

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "size": self.size,
            "description": self.description,
            "note": self.note,
            "defaults": self.defaults,
            "why": self.why,
            "fine_tune": copy.deepcopy(self.fine_tune),
            "values": copy.deepcopy(self.values),
        }


def _training(size: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tiny": dict(learning_rate=1e-3, lr_schedule="linear", warmup_ratio=0.06, batch_size=32, epochs=6,
                     max_steps=0, weight_decay=0.01, max_seq_length=128, seed=42, early_stopping_patience=2),
        "small": dict(learning_rate=3e-4, lr_schedule="linear", warmup_ratio=0.06, batch_size=32, epochs=6,
                      max_steps=0, weight_decay=0.01, max_seq_length=128, seed=42, early_stopping_patience=2),
        "base": dict(learning_rate=2e-5, lr_schedule="linear", warmup_ratio=0.1, batch_size=32, epochs=3,
                     max_steps=0, weight_decay=0.01, max_seq_length=128, seed=42, early_stopping_patience=3),
    }[size]  # fmt: skip
    return {**base, **over}


def _tokenizer(size: str) -> dict[str, Any]:
    return {
        "type": "wordpiece-char",
        "vocab_size": 8000 if size == "tiny" else CHINESE_VOCAB,
        "lowercase": True,
    }


# (layers, hidden, heads, intermediate, max_positions)
_SHAPES = {"tiny": (2, 64, 2, 256, 128), "small": (4, 512, 8, 2048, 512), "base": (12, 768, 12, 3072, 512)}


def _bert_like(size: str, **over: Any) -> dict[str, Any]:
    layers, hidden, heads, inter, pos = _SHAPES[size]
    arch: dict[str, Any] = {
        "vocab_size": 8000 if size == "tiny" else CHINESE_VOCAB,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": inter,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": pos,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
    }
    arch.update(over)
    return arch


def _bert(size: str) -> dict[str, Any]:
    return {
        "family": "bert",
        "architecture": _bert_like(size),
        "training": _training(size),
        "tokenizer": _tokenizer(size),
    }


def _roberta(size: str) -> dict[str, Any]:
    pos = _SHAPES[size][4] + 2  # positions start after pad_token_id (fairseq convention): 512 + 2
    train = (
        _training(size, learning_rate=2e-5, warmup_ratio=0.06, weight_decay=0.1, epochs=10)
        if size == "base"
        else _training(size)
    )
    return {
        "family": "roberta",
        "architecture": _bert_like(size, max_position_embeddings=pos, type_vocab_size=1, layer_norm_eps=1e-5),
        "training": train,
        "tokenizer": _tokenizer(size),
    }


def _albert(size: str) -> dict[str, Any]:
    shape = {"tiny": (2, 64, 2, 256, 32), "small": (6, 384, 12, 1536, 128), "base": (12, 768, 12, 3072, 128)}
    layers, hidden, heads, inter, emb = shape[size]
    arch = _bert_like(size, num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                      intermediate_size=inter, hidden_act="gelu_new", hidden_dropout_prob=0.0,
                      attention_probs_dropout_prob=0.0)  # fmt: skip
    arch.update(embedding_size=emb, num_hidden_groups=1, inner_group_num=1, classifier_dropout_prob=0.1)
    train = _training(size, learning_rate=1e-5, warmup_ratio=0.06) if size == "base" else _training(size)
    return {"family": "albert", "architecture": arch, "training": train, "tokenizer": _tokenizer(size)}


def _electra(size: str) -> dict[str, Any]:
    # (discriminator layers, hidden, heads, inter, embedding) / generator (hidden, heads, inter)
    shape = {
        "tiny": ((2, 64, 2, 256, 64), (32, 1, 128)),
        "small": ((12, 256, 4, 1024, 128), (64, 1, 256)),
        "base": ((12, 768, 12, 3072, 768), (256, 4, 1024)),
    }
    (layers, hidden, heads, inter, emb), (g_hidden, g_heads, g_inter) = shape[size]
    arch = _bert_like(size, num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                      intermediate_size=inter)  # fmt: skip
    arch["embedding_size"] = emb
    train = (
        _training(size, learning_rate=1e-4, weight_decay=0.0, layerwise_lr_decay=0.8, adam_epsilon=1e-6)
        if size == "base"
        else _training(size)
    )
    return {
        "family": "electra",
        "architecture": arch,
        "electra_generator": {
            "hidden_size": g_hidden,
            "num_attention_heads": g_heads,
            "intermediate_size": g_inter,
            "num_hidden_layers": layers,
        },
        "training": train,
        "tokenizer": _tokenizer(size),
    }


def _xlnet(size: str) -> dict[str, Any]:
    layers, hidden, heads, inter, _ = _SHAPES[size]
    if size == "small":
        layers, hidden, heads, inter = 4, 256, 4, 1024
    arch = {
        "vocab_size": 8000 if size == "tiny" else CHINESE_VOCAB,
        "d_model": hidden,
        "n_layer": layers,
        "n_head": heads,
        "d_inner": inter,
        "ff_activation": "gelu",
        "dropout": 0.1,
        "attn_type": "bi",
        "mem_len": None,
        "bi_data": False,
        "same_length": False,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
    }
    train = _training(size, weight_decay=0.0, layerwise_lr_decay=0.75) if size == "base" else _training(size)
    return {"family": "xlnet", "architecture": arch, "training": train, "tokenizer": _tokenizer(size)}


_SOURCES = {
    "bert": "Devlin et al. 2019, BERT (NAACL), BERT-BASE L=12 H=768 A=12; google-research/bert "
    "bert_config.json (uncased_L-12_H-768_A-12 / chinese_L-12_H-768_A-12: gelu, dropout 0.1, 512 positions, "
    "type_vocab_size 2, vocab 21128 as in bert-base-chinese). Fine-tuning: lr 2e-5 from {5e-5,3e-5,2e-5}, "
    "batch 32, 3 epochs (paper A.3); warmup_proportion 0.1, weight decay 0.01, max_seq_length 128 "
    "(run_classifier.py).",
    "roberta": "Liu et al. 2019, RoBERTa, BASE L=12 H=768 A=12; fairseq roberta.base / roberta-base "
    "config.json (max_position_embeddings 514, type_vocab_size 1, layer_norm_eps 1e-5); Chinese vocab 21128 "
    "as in bert-base-chinese. Fine-tuning (paper Table 10, GLUE): lr 2e-5 from {1e-5,2e-5,3e-5}, batch 32, "
    "weight decay 0.1, warmup ratio 0.06, 10 epochs.",
    "albert": "Lan et al. 2020, ALBERT (ICLR) Table 1 ALBERT-base: L=12 H=768 E=128, all layers shared; "
    "google-research/albert albert_base v2 albert_config.json (gelu_new, dropout 0, num_hidden_groups 1, "
    "inner_group_num 1); Chinese vocab 21128 as in bert-base-chinese. Fine-tuning: paper Table 14 SST-2 "
    "row (lr 1e-5, batch 32, classifier dropout 0.1, warmup about 6% of steps).",
    "electra": "Clark et al. 2020, ELECTRA (ICLR) Table 6: ELECTRA-Base discriminator L=12 H=768 A=12, "
    "embedding 768, generator size 1/3 (hidden 256, 4 heads, FFN 1024), as in "
    "google/electra-base-discriminator and electra-base-generator config.json; "
    "Chinese vocab 21128 as in bert-base-chinese. Fine-tuning (Table "
    "7): lr 1e-4, layer-wise decay 0.8, warmup 10%, weight decay 0, Adam eps 1e-6, batch 32, 3 epochs.",
    "xlnet": "Yang et al. 2019, XLNet (NeurIPS): XLNet-Base d_model 768, 12 layers, 12 heads, d_inner 3072, "
    "gelu, dropout 0.1, bidirectional attention; xlnet-base-cased config.json (mem_len null for "
    "fine-tuning; the paper's 384-token memory is a pre-training setting). Chinese vocab 21128 as in "
    "bert-base-chinese. Fine-tuning (appendix hyperparameter table): lr 2e-5, batch 32, weight decay 0, "
    "layer-wise decay 0.75, linear decay.",
}
_SMALL_NOTES = {
    "bert": "BERT-Small of Turc et al. 2019 (Well-Read Students Learn Better): L=4 H=512 A=8.",
    "roberta": "RoBERTa with the BERT-Small shape of Turc et al. 2019 (L=4 H=512 A=8).",
    "albert": "albert_chinese_small shape (L=6 H=384 A=12 E=128).",
    "electra": "ELECTRA-Small of Clark et al. 2020 Table 6 (L=12 H=256 A=4 E=128, generator 1/4).",
    "xlnet": "TLM's own small XLNet (L=4 d_model=256 A=4); XLNet has no published small size.",
}
_WHY = {
    "from_scratch": "from-scratch defaults: TLM trains {name} from a random init (no pretrained weights "
    "ship offline), which needs a higher learning rate than fine-tuning, several epochs and early stopping "
    "on the validation loss; fine_tune holds the preset for a pretrained start (train start --model).",
    "fine_tune": "fine-tune defaults: the paper's fine-tuning preset (see note), meant for a pretrained "
    "{name} (an uploaded or pretrained library model, train start --model); from a random init they learn "
    "little — use a tiny or small template or pretrain first (jobs/pretrain.py).",
}
_FINE_TUNE_SMALL = {  # Turc et al. 2019 (google-research/bert miniatures): lr grid {3e-4,1e-4,5e-5,3e-5}, 4 epochs
    "tiny": dict(learning_rate=3e-4, warmup_ratio=0.1, epochs=4, early_stopping_patience=2),
    "small": dict(learning_rate=1e-4, warmup_ratio=0.1, epochs=4, early_stopping_patience=2),
}


def fine_tune_training(name: str) -> dict[str, Any]:
    """The fine-tuning training section for template ``name`` (a pretrained start)."""
    t = get_template(name)
    return copy.deepcopy(t.fine_tune if t.fine_tune is not None else t.values["training"])


_BUILDERS = {"bert": _bert, "roberta": _roberta, "albert": _albert, "electra": _electra, "xlnet": _xlnet}


def _build() -> dict[str, Template]:
    out: dict[str, Template] = {}
    for family in FAMILIES:
        for size in SIZES:
            values = _BUILDERS[family](size)
            if size == "base":
                values["source"] = _SOURCES[family]
            note = {
                "tiny": "TLM tiny preset (not a published model): builds and runs in milliseconds.",
                "small": _SMALL_NOTES[family],
                "base": _SOURCES[family],
            }[size]
            name = f"{family}-{size}"
            kind = "fine_tune" if size == "base" else "from_scratch"
            train = values["training"]
            fine = dict(train) if kind == "fine_tune" else {**train, **_FINE_TUNE_SMALL[size]}
            out[name] = Template(
                name, family, size, f"{family.upper()} {size} preset", note, validate(values),
                defaults=kind, why=_WHY[kind].format(name=name), fine_tune=fine,
            )  # fmt: skip
    return out


TEMPLATES: dict[str, Template] = _build()


def list_templates() -> list[Template]:
    return list(TEMPLATES.values())


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise NotFound(f"no template {name!r}; built-in: {sorted(TEMPLATES)}", field="template") from None


def template_values(name: str) -> dict[str, Any]:
    """A fresh (deep) copy of a template's values."""
    return copy.deepcopy(get_template(name).values)
