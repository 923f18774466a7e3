"""Train a sequence classifier from a parameter config.  ``python -m jobs.train``

Channels: ``train`` (required; JSONL or CSV with text,label), ``validation`` (optional: enables
per-epoch evaluation and early stopping), ``tokenizer`` (optional: a saved tokenizer to reuse),
``config`` (optional: config.json when not given as a hyperparameter).

Hyperparameters: ``config`` (parameter config, JSON), any ``training`` field to override it
(learning_rate, lr_schedule, warmup_ratio, batch_size, epochs, max_steps, weight_decay,
max_seq_length, seed, early_stopping_patience), ``checkpoint_every`` (steps, 50), ``log_every``
(10), ``eval_every`` (steps; default once per epoch), ``text_field``/``label_field``,
``precision`` (auto|fp32|bf16|fp16; auto = bf16/fp16 on CUDA only), ``compile`` (auto|true|false:
torch.compile on CUDA only), ``num_threads``, ``length_bucketing`` (true: batches of similar
length, see ``jobs.loop``), ``init_model`` (a library model id: start from the Hugging Face model
dir in the ``init`` channel instead of a random init).

Starting from a library model (``init_model``): the checkpoint's ``config.json`` decides the
architecture (the config's ``architecture`` and ``tokenizer`` sections are not used), its family
must be the config's, weights load from safetensors only, its tokenizer is kept, and the
classification head is replaced by a new one for this dataset's labels; the config's
``training`` section applies. ``lineage.json`` in the model dir records the parent model.

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

    init_model = str(hp.get("init_model") or "")
    init = contract.channel("init", required=True) if init_model else None
    if init is not None:
        from jobs.modeling import checkpoint_family

        family = checkpoint_family(init)
        if family != cfg.get("family"):
            raise ValueError(f"family: the config is for {cfg.get('family')!r}, model {init_model} is {family!r}")
    else:
        model_config(cfg, len(labels))  # clear error for a bad config before training a tokenizer
        check_sequence_length(cfg, int(t["max_seq_length"]))
    tok_settings = tokenizer_settings(cfg)
    t["length_bucketing"] = str(hp.get("length_bucketing", True)).lower() not in ("false", "0", "no")

    import torch
    from transformers import get_scheduler

    from jobs.loop import Trainer, make_optimizer

    if hp.get("num_threads"):
        torch.set_num_threads(int(hp["num_threads"]))
    ckpt_root = contract.checkpoint_dir()
    resume = checkpoint.latest(ckpt_root)
    tok_dir = ckpt_root / "tokenizer"
    train_file = find_file(contract.channel("train", required=True), "train")
    if (tok_dir / "tokenizer.json").exists():
        tokenizer = load_tokenizer(tok_dir)
    elif init is not None:
        from jobs.modeling import load_pretrained_tokenizer

        tokenizer = load_pretrained_tokenizer(init)  # the pretrained model's own vocabulary
    elif (ch := contract.channel("tokenizer")) is not None:
        tokenizer = load_tokenizer(ch)
    else:
        from jobs import cache

        cached = cache.tokenizer_dir(train_file, tok_settings)
        if (cached / "tokenizer.json").exists():
            tokenizer = load_tokenizer(cached)
        else:
            tokenizer = train_tokenizer((e.text for e in train_ex), **tok_settings)
            tokenizer.save_pretrained(str(cached))
    tokenizer.save_pretrained(str(tok_dir))
    if cfg["family"] == "xlnet":
        tokenizer.padding_side = "left"  # XLNet classifies from the last token

    seed = int(t["seed"])
    torch.manual_seed(seed)
    if init is not None:
        from jobs.modeling import build_from_pretrained

        model = build_from_pretrained(init, labels)
        max_pos = getattr(model.config, "max_position_embeddings", None)
        offset = 2 if cfg["family"] == "roberta" else 0
        if cfg["family"] != "xlnet" and max_pos and int(t["max_seq_length"]) + offset > max_pos:
            raise ValueError(f"training.max_seq_length: {t['max_seq_length']} exceeds the model's "
                             f"max_position_embeddings {max_pos}" + (" (minus 2 for roberta)" if offset else ""))
        if len(tokenizer) > model.config.vocab_size:
            raise ValueError(f"model.tokenizer: {len(tokenizer)} tokens but the model's vocab_size is "
                             f"{model.config.vocab_size}")
    else:
        model = build_model(cfg, len(labels), vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                            labels=labels)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    optimizer = make_optimizer(model, float(t["learning_rate"]), float(t["weight_decay"]))
    bs = int(t["batch_size"])
    steps_per_epoch = math.ceil(len(train_ex) / bs)
    total = int(t["max_steps"]) or steps_per_epoch * int(t["epochs"])
    sched_name = {"constant": "constant_with_warmup"}.get(t["lr_schedule"], t["lr_schedule"])
    scheduler = get_scheduler(sched_name, optimizer, num_warmup_steps=int(total * float(t["warmup_ratio"])),
                              num_training_steps=total)
    trainer = Trainer(model=model, tokenizer=tokenizer, optimizer=optimizer, scheduler=scheduler, device=device,
                      labels=labels, settings=t, total_steps=total, hp=hp, ckpt_root=ckpt_root)
    sources = {"train": train_file} | ({"validation": find_file(val_ch, "validation")} if val_ch else {})
    trainer.encode(train_ex, val_ex, sources)
    if resume is not None:
        trainer.restore(resume)
        print(f"resumed from {resume.name} (step {trainer.step})", flush=True)
    trainer.metrics.info.update({"family": cfg["family"], "labels": labels, "total_steps": total,
                                 "parameters": sum(p.numel() for p in model.parameters()),
                                 "init_model": init_model or None, "length_bucketing": t["length_bucketing"]})
    outcome = trainer.fit()  # raises Stopped after checkpointing on SIGTERM

    out = contract.model_dir()
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    (out / "tlm_config.json").write_text(json.dumps(cfg, ensure_ascii=False, indent=1), encoding="utf-8")
    lineage = {"parent_model": init_model or None, "training_id": hp.get("training_id"), "training": t}
    (out / "lineage.json").write_text(json.dumps(lineage, ensure_ascii=False, indent=1), encoding="utf-8")
    trainer.metrics.info.update(outcome)
    trainer.metrics.flush()
    print(f"training finished: {json.dumps(outcome)}", flush=True)


if __name__ == "__main__":
    contract.run(main)
