"""The training loop behind ``jobs.train``: deterministic epoch order (seed + epoch), so a
resumed run continues from the exact batch; checkpoints; SIGTERM; evaluation; early stopping;
pruning reports; metric lines.

CPU efficiency: batches are padded to their own longest text (dynamic padding), and with
``training.length_bucketing`` (default on) each epoch's shuffled order is cut into pools of
``BUCKET_BATCHES`` batches, sorted by length inside a pool and the batches shuffled again, so a
batch holds texts of similar length (far less padding, same randomness across pools). Token ids
are cached per data file, tokenizer and max length (``jobs.cache``). Progress: ``progress_pct``
and ``eta_s`` from the throughput averaged over the last ``PROGRESS_WINDOW`` steps (not one log
interval), as metric lines and a ``progress:`` line a user reads in ``train logs --follow``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import torch

from jobs import cache, checkpoint, contract
from jobs.contract import Stopped
from jobs.data import Example

BUCKET_BATCHES = 50
PROGRESS_WINDOW = 200


def bucketed_batches(order: list[int], lengths: list[int], bs: int, generator: torch.Generator) -> list[list[int]]:
    """``order`` cut into batches of similar length: pools of ``BUCKET_BATCHES`` batches sorted by
    length, then every batch (all pools) in a random order drawn from ``generator``."""
    pool = bs * BUCKET_BATCHES
    batches: list[list[int]] = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i : i + pool], key=lambda j: lengths[j])
        batches.extend(chunk[k : k + bs] for k in range(0, len(chunk), bs))
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW with no decay on biases / LayerNorm, fused (one kernel for all tensors: a measurable
    share of a tiny model's step on CPU) where the device supports it."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=lr)


def eta_text(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Trainer:
    def __init__(self, *, model, tokenizer, optimizer, scheduler, device, labels, settings, total_steps, hp,
                 ckpt_root: Path) -> None:
        self.model, self.tokenizer, self.optimizer, self.scheduler = model, tokenizer, optimizer, scheduler
        self.device, self.labels, self.t, self.total = device, labels, settings, total_steps
        self.ckpt_root = ckpt_root
        self.checkpoint_every = int(hp.get("checkpoint_every", 50))
        self.log_every = max(1, int(hp.get("log_every", 10)))
        self.eval_every = int(hp.get("eval_every", 0))
        self.metrics = contract.Metrics()
        self.intermediate = contract.output_data_dir() / "intermediate.jsonl"
        self.step = 0
        self.epoch = 0
        self.best_val = float("inf")
        self.bad_evals = 0
        self.last_eval_step = -1
        self.best_state: dict[str, torch.Tensor] | None = None
        cuda = device.type == "cuda"
        precision = str(hp.get("precision", "auto"))
        if precision == "auto":
            precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
        if precision != "fp32" and not cuda:
            raise ValueError(f"precision: {precision} needs a CUDA device")
        self.precision = precision
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
        use_compile = str(hp.get("compile", "auto")).lower()
        self.forward = model
        if cuda and use_compile in ("auto", "true", "1"):
            self.forward = torch.compile(model)
        self.metrics.info.update({"precision": precision, "compiled": self.forward is not model,
                                  "device": device.type})

    # ------------------------------------------------------------------ data
    def encode(self, train: list[Example], val: list[Example], sources: dict[str, Path] | None = None) -> None:
        """Token ids of both splits; with ``sources`` (split -> data file) read from / written to
        the token cache keyed by the file's sha256, the tokenizer's and the max length."""
        n = int(self.t["max_seq_length"])
        lid = {lb: i for i, lb in enumerate(self.labels)}
        tok_digest = cache.tokenizer_digest(self.tokenizer) if sources else ""
        hits = 0

        def enc(split: str, rows: list[Example]) -> tuple[list[list[int]], list[int]]:
            nonlocal hits
            k = cache.key(cache.file_digest(sources[split]), tok_digest, n) if sources and split in sources else None
            ids = cache.read_ids(k) if k else None
            if ids is not None and len(ids) == len(rows):
                hits += 1
            else:
                ids = self.tokenizer([r.text for r in rows], truncation=True, max_length=n)["input_ids"]
                if k:
                    cache.write_ids(k, ids)
            return ids, [lid[r.label] for r in rows]

        t0 = time.perf_counter()
        self.train_ids, self.train_y = enc("train", train)
        self.val_ids, self.val_y = enc("validation", val) if val else ([], [])
        self.metrics.info["tokenize"] = {"seconds": round(time.perf_counter() - t0, 3), "cache_hits": hits}

    def batch(self, ids: list[list[int]], ys: list[int], idx: list[int]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
        out = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        out["labels"] = torch.tensor([ys[i] for i in idx], device=self.device)
        return out

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.amp_dtype)

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "best_val": self.best_val if self.best_val != float("inf") else None,
                "bad_evals": self.bad_evals, "history": self.metrics.history[-2000:]}

    def save_checkpoint(self) -> Path:
        p = checkpoint.save(self.ckpt_root, self.step, self.model, self.optimizer, self.scheduler, self.state())
        print(f"checkpoint saved: {p.name}", flush=True)
        return p

    def restore(self, path: Path) -> None:
        s = checkpoint.load(path, self.model, self.optimizer, self.scheduler)
        self.step, self.epoch = int(s["step"]), int(s["epoch"])
        self.best_val = float(s["best_val"]) if s.get("best_val") is not None else float("inf")
        self.bad_evals = int(s.get("bad_evals", 0))
        self.metrics.history = list(s.get("history", []))
        self.metrics.info["resumed_from_step"] = self.step

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        n, bs = len(self.train_ids), int(self.t["batch_size"])
        steps_per_epoch = (n + bs - 1) // bs
        seed = int(self.t["seed"])
        reason = "completed"
        window_loss, window_tokens, window_steps, t0 = 0.0, 0, 0, time.perf_counter()
        recent: collections.deque[tuple[float, int, int]] = collections.deque(maxlen=PROGRESS_WINDOW)
        lengths = [len(x) for x in self.train_ids]
        bucketing = bool(self.t.get("length_bucketing", True))
        self.model.train()
        while self.step < self.total:
            gen = torch.Generator().manual_seed(seed + self.epoch)
            order = torch.randperm(n, generator=gen).tolist()
            if bucketing:
                batches = bucketed_batches(order, lengths, bs, gen)
            else:
                batches = [order[b * bs : (b + 1) * bs] for b in range(steps_per_epoch)]
            first = self.step - self.epoch * steps_per_epoch
            for b in range(max(0, first), steps_per_epoch):
                batch = self.batch(self.train_ids, self.train_y, batches[b])
                with self.autocast():
                    loss = self.forward(**batch).loss
                if self.scaler:
                    self.scaler.scale(loss).backward()
                    self.scaler.unscale_(self.optimizer)
                else:
                    loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                if self.scaler:
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                window_loss += float(loss.detach())
                window_tokens += int(batch["attention_mask"].sum())
                window_steps += 1
                recent.append((time.perf_counter(), self.step, int(batch["attention_mask"].sum())))
                if self.step % self.log_every == 0 or self.step == self.total:
                    dt = max(time.perf_counter() - t0, 1e-9)
                    self.metrics.log(self.step, train_loss=window_loss / window_steps,
                                     learning_rate=self.scheduler.get_last_lr()[0],
                                     tokens_per_s=window_tokens / dt, steps_per_s=window_steps / dt)
                    self.report_progress(recent)
                    window_loss, window_tokens, window_steps, t0 = 0.0, 0, 0, time.perf_counter()
                if self.eval_every and self.step % self.eval_every == 0 and self.val_ids:
                    reason = self.evaluate_and_decide() or reason
                if self.checkpoint_every and self.step % self.checkpoint_every == 0:
                    self.save_checkpoint()
                if contract.STOP.is_set():
                    self.save_checkpoint()
                    raise Stopped(f"SIGTERM at step {self.step}; resume from the checkpoint")
                if reason != "completed" or (self.step >= self.total and b < steps_per_epoch - 1):
                    break
            else:
                self.epoch += 1
                self.metrics.log(self.step, epoch=self.epoch)
                if not self.eval_every and self.val_ids:
                    reason = self.evaluate_and_decide() or reason
            if reason != "completed":
                break
        if self.val_ids and self.last_eval_step != self.step and reason == "completed":
            reason = self.evaluate_and_decide() or reason  # final numbers after a mid-epoch max_steps
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        return {"stop_reason": reason, "steps": self.step, "epochs": self.epoch,
                "best_val_loss": None if self.best_val == float("inf") else self.best_val}

    def report_progress(self, recent: collections.deque[tuple[float, int, int]]) -> None:
        """Percent done and ETA from the steps/s over the last ``PROGRESS_WINDOW`` steps. The
        ETA is an upper bound: early stopping can end the run sooner."""
        pct = 100.0 * self.step / max(1, self.total)
        if len(recent) >= 2 and recent[-1][0] > recent[0][0]:
            span = recent[-1][0] - recent[0][0]
            rate = (recent[-1][1] - recent[0][1]) / span
            tokens = sum(r[2] for r in list(recent)[1:]) / span
        else:
            rate, tokens = 0.0, 0.0
        eta = (self.total - self.step) / rate if rate > 0 else 0.0
        self.metrics.log(self.step, progress_pct=pct, eta_s=eta, avg_steps_per_s=rate)
        print(f"progress: {pct:.1f}% (step {self.step}/{self.total}) eta {eta_text(eta)} "
              f"at {rate:.2f} steps/s, {tokens:.0f} tokens/s (last {len(recent)} steps)", flush=True)

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        self.model.eval()
        total_loss, correct, bs = 0.0, 0, int(self.t["batch_size"])
        by_length = sorted(range(len(self.val_ids)), key=lambda j: len(self.val_ids[j]))  # less padding
        for i in range(0, len(self.val_ids), bs):
            idx = by_length[i : i + bs]
            batch = self.batch(self.val_ids, self.val_y, idx)
            with self.autocast():
                out = self.forward(**batch)
            total_loss += float(out.loss) * len(idx)
            correct += int((out.logits.argmax(-1) == batch["labels"]).sum())
        self.model.train()
        return total_loss / len(self.val_ids), correct / len(self.val_ids)

    def evaluate_and_decide(self) -> str | None:
        val_loss, acc = self.validate()
        self.last_eval_step = self.step
        self.metrics.log(self.step, val_loss=val_loss, val_accuracy=acc)
        with self.intermediate.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"step": self.step, "epoch": self.epoch, "val_loss": val_loss,
                                "val_accuracy": acc, "time": time.time()}) + "\n")
        if val_loss < self.best_val - 1e-4:
            self.best_val, self.bad_evals = val_loss, 0
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            self.bad_evals += 1
        if contract.prune_requested():  # stopped (pruned) during the validation: JobRunner.stop
            self.save_checkpoint()
            raise Stopped(f"pruned at step {self.step}, after its validation; the checkpoint is saved")
        patience = int(self.t.get("early_stopping_patience") or 0)
        if patience and self.bad_evals >= patience:
            print(f"early stopping at step {self.step}: no val_loss improvement in {patience} evaluations", flush=True)
            return "early_stopped"
        return None
