"""A tiny random-init BERT classifier with a Chinese WordPiece tokenizer, saved the way
``jobs.train`` saves models (safetensors, tokenizer.json, labels.json): what ``jobs.compile``
accepts as a model dir. Run as a script to write one: ``python -m tests.integration._tiny_model DIR``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

TEXTS = ["这部电影很好看，演员也不错", "服务太差了，再也不来了", "质量很好，物流很快", "味道一般，价格太贵"] * 5
CONFIG = {
    "family": "bert",
    "architecture": {
        "num_hidden_layers": 1,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
    },
}


def make_tiny_model(out: Path, *, layers: int = 1, hidden: int = 32) -> Path:
    import torch

    from jobs.modeling import build_model
    from jobs.tokenizer import train_tokenizer

    torch.manual_seed(0)
    tok = train_tokenizer(TEXTS, vocab_size=300)
    cfg = json.loads(json.dumps(CONFIG))
    cfg["architecture"].update(num_hidden_layers=layers, hidden_size=hidden, intermediate_size=2 * hidden)
    labels = ["negative", "positive"]
    model = build_model(cfg, 2, vocab_size=len(tok), pad_token_id=tok.pad_token_id, labels=labels)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    (out / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
    return out


if __name__ == "__main__":
    make_tiny_model(
        Path(sys.argv[1]),
        layers=int(sys.argv[2]) if len(sys.argv) > 2 else 1,
        hidden=int(sys.argv[3]) if len(sys.argv) > 3 else 32,
    )
