"""Training throughput: steps/s and tokens/s for the tiny and small presets on CPU, and with a
CUDA device, BERT-base bf16 (autocast + torch.compile) tokens/s and MFU.

MFU = 6 * parameters * tokens/s / peak, with peak = 989e12 FLOP/s (H100/H200 dense bf16); the
6N rule ignores attention FLOPs, so it slightly under-counts at long sequences.

    .venv/bin/python bench/train.py [--steps 3] [--families bert] [--cpu-batch 8] [--seq 128]

Last line: JSON {"bench": "train", "cpu": {preset: {"steps_per_s", "tokens_per_s", ...}}, "gpu": {...}|null}
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
    print(json.dumps({"bench": "train", "cpu": cpu, "gpu": gpu,
                      "tiny_tokens_per_s": cpu.get(f"{args.families.split(',')[0]}-tiny", {}).get("tokens_per_s"),
                      "small_tokens_per_s": cpu.get(f"{args.families.split(',')[0]}-small", {}).get("tokens_per_s"),
                      "gpu_mfu": gpu["mfu"] if gpu else None}))


if __name__ == "__main__":
    main()
