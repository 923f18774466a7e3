"""Character-level Chinese WordPiece tokenizer, trained with ``tokenizers``.

BertNormalizer puts spaces around CJK characters and BertPreTokenizer splits them, so every
Chinese character is its own word; Latin words and digits get WordPiece sub-words. The result is
wrapped in a transformers fast tokenizer and saved with ``save_pretrained`` (tokenizer.json).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_tokenizer(texts: Iterable[str], *, vocab_size: int = 8000, lowercase: bool = True, min_frequency: int = 1):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=SPECIALS, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"],
    )


def load_tokenizer(path: str | Path):
    from transformers import PreTrainedTokenizerFast

    p = Path(path)
    if not (p / "tokenizer.json").exists():
        raise ValueError(f"tokenizer channel {p} has no tokenizer.json")
    return PreTrainedTokenizerFast.from_pretrained(str(p))


def tokenizer_settings(config: dict[str, Any]) -> dict[str, Any]:
    t = config.get("tokenizer") or {}
    kind = t.get("type", "wordpiece-char")
    if kind != "wordpiece-char":
        raise ValueError(f"tokenizer.type: unsupported '{kind}' (only 'wordpiece-char')")
    return {"vocab_size": int(t.get("vocab_size", 8000)), "lowercase": bool(t.get("lowercase", True))}
