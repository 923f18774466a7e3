"""Train a sequence classifier from a parameter config.  ``python -m jobs.train``

Channels: ``train`` (required; JSONL or CSV with text,label), ``validation`` (optional: enables
per-epoch evaluation and early stopping), ``tokenizer`` (optional: a saved tokenizer to reuse),
``config`` (optional: config.json when not given as a hyperparameter).

Hyperparameters: ``config`` (parameter config, JSON), any ``training`` field to override it
(learning_rate, lr_schedule, warmup_ratio, batch_size, epochs, max_steps, weight_decay,
max_seq_length, seed, early_stopping_patience), ``checkpoint_every`` (steps, 50), ``log_every``
(10), ``eval_every`` (steps; default once per epoch), ``text_field``/``label_field``,
``precision`` (auto|fp32|bf16|fp16; auto = bf16/fp16 on CUDA only), ``compile`` (auto|true|false:
torch.compile on CUDA only), ``num_threads``.

Writes the model dir (Hugging Face layout, model.safetensors, tokenizer, labels.json,
tlm_config.json), ``metrics.json`` and ``intermediate.jsonl`` (one line per validation) in the
output dir. A pruned trial is stopped through ``JobRunner.stop`` (``contract.prune_requested``):
SIGTERM -> checkpoint -> exit 143 (Stopped), on the local runner and on SageMaker alike.
"""

from __future__ import annotations

import json
import math
from typing import Any

from jobs import checkpoint, contract
from jobs.contract import JobError
from jobs.data import find_file, read_file

TRAINING_DEFAULTS: dict[str, Any] = {
    "learning_rate": 5e-4, "lr_schedule": "linear", "warmup_ratio": 0.1, "batch_size": 32, "epochs": 1,
    "max_steps": 0, "weight_decay": 0.01, "max_seq_length": 128, "seed": 42, "early_stopping_patience": 2,
}


def load_config(hp: dict[str, Any]) -> dict[str, Any]:
    cfg = hp.get("config")
    if cfg is None:
        ch = contract.channel("config")
        if ch is None:
            raise JobError("no parameter config: pass hyperparameter 'config' or a 'config' channel")
        f = ch / "config.json" if ch.is_dir() else ch
        cfg = f.read_text(encoding="utf-8")
    if isinstance(cfg, str):
        try:
            cfg = json.loads(cfg)
        except ValueError as e:
            raise JobError(f"config: not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise JobError("config: must be a JSON object")
    return cfg


def training_settings(cfg: dict[str, Any], hp: dict[str, Any]) -> dict[str, Any]:
    t = {**TRAINING_DEFAULTS, **(cfg.get("training") or {})}
    t.update({k: hp[k] for k in TRAINING_DEFAULTS if k in hp})
    for k in ("batch_size", "max_seq_length"):
        if int(t[k]) <= 0:
            raise ValueError(f"training.{k}: must be positive, got {t[k]}")
    if float(t["learning_rate"]) <= 0:
        raise ValueError(f"training.learning_rate: must be positive, got {t['learning_rate']}")
    if t["lr_schedule"] not in ("linear", "cosine", "constant"):
        raise ValueError(f"training.lr_schedule: unknown schedule {t['lr_schedule']!r}")
    return t


def main(hp: dict[str, Any]) -> None:
    # ---- validate everything before any heavy work
    cfg = load_config(hp)
    t = training_settings(cfg, hp)
    tf, lf = hp.get("text_field", "text"), hp.get("label_field", "label")
    train_ex = read_file(find_file(contract.channel("train", required=True), "train"), tf, lf)
    val_ch = contract.channel("validation")
    val_ex = read_file(find_file(val_ch, "validation"), tf, lf) if val_ch else []
    labels = sorted({e.label for e in train_ex})
    unknown = sorted({e.label for e in val_ex} - set(labels))
    if unknown:
        raise ValueError(f"validation: labels {unknown} do not occur in train")
    from jobs.modeling import build_model, check_sequence_length, model_config
    from jobs.tokenizer import load_tokenizer, tokenizer_settings, train_tokenizer

    model_config(cfg, len(labels))  # clear error for a bad config before training a tokenizer
    check_sequence_length(cfg, int(t["max_seq_length"]))
    tok_settings = tokenizer_settings(cfg)

    import torch
    from transformers import get_scheduler

    from jobs.loop import Trainer

    if hp.get("num_threads"):
        torch.set_num_threads(int(hp["num_threads"]))
    ckpt_root = contract.checkpoint_dir()
    resume = checkpoint.latest(ckpt_root)
    tok_dir = ckpt_root / "tokenizer"
    if (tok_dir / "tokenizer.json").exists():
        tokenizer = load_tokenizer(tok_dir)
    elif (ch := contract.channel("tokenizer")) is not None:
        tokenizer = load_tokenizer(ch)
    else:
        tokenizer = train_tokenizer((e.text for e in train_ex), **tok_settings)
    tokenizer.save_pretrained(str(tok_dir))
    if cfg["family"] == "xlnet":
        tokenizer.padding_side = "left"  # XLNet classifies from the last token

    seed = int(t["seed"])
    torch.manual_seed(seed)
    model = build_model(cfg, len(labels), vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, labels=labels)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": float(t["weight_decay"])}, {"params": no_decay, "weight_decay": 0.0}],
        lr=float(t["learning_rate"]),
    )
    bs = int(t["batch_size"])
    steps_per_epoch = math.ceil(len(train_ex) / bs)
    total = int(t["max_steps"]) or steps_per_epoch * int(t["epochs"])
    sched_name = {"constant": "constant_with_warmup"}.get(t["lr_schedule"], t["lr_schedule"])
    scheduler = get_scheduler(sched_name, optimizer, num_warmup_steps=int(total * float(t["warmup_ratio"])),
                              num_training_steps=total)
    trainer = Trainer(model=model, tokenizer=tokenizer, optimizer=optimizer, scheduler=scheduler, device=device,
                      labels=labels, settings=t, total_steps=total, hp=hp, ckpt_root=ckpt_root)
    trainer.encode(train_ex, val_ex)
    if resume is not None:
        trainer.restore(resume)
        print(f"resumed from {resume.name} (step {trainer.step})", flush=True)
    trainer.metrics.info.update({"family": cfg["family"], "labels": labels, "total_steps": total,
                                 "parameters": sum(p.numel() for p in model.parameters())})
    outcome = trainer.fit()  # raises Stopped after checkpointing on SIGTERM

    out = contract.model_dir()
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    (out / "tlm_config.json").write_text(json.dumps(cfg, ensure_ascii=False, indent=1), encoding="utf-8")
    trainer.metrics.info.update(outcome)
    trainer.metrics.flush()
    print(f"training finished: {json.dumps(outcome)}", flush=True)


if __name__ == "__main__":
    contract.run(main)
