"""Masked-language-model pretraining of a template on unlabeled text.  ``python -m jobs.pretrain``

Channels: ``text0`` … ``text7`` (hyperparameter ``channels``, default ``text0``): each a file or a
dir of ``.jsonl`` / ``.csv`` (the ``text`` field; labels, if any, are ignored) or ``.txt`` (one
text per line) files — the unlabeled texts of one or more datasets, or a plain-text library entry.

Hyperparameters: ``config`` (parameter config JSON: family bert/roberta/albert/electra,
architecture, tokenizer; ``training.max_seq_length`` and ``seed`` are used), ``max_steps`` (500),
``batch_size`` (32), ``learning_rate`` (1e-3: a from-scratch rate for small models),
``warmup_ratio`` (0.06), ``weight_decay`` (0.01), ``mlm_probability`` (0.15),
``whole_word_masking`` (auto|true|false: auto = on when the texts are mostly Chinese), ``log_every``
(20), ``num_threads``, ``time_budget_s`` (0 = none: stop cleanly after that many seconds),
``include_test`` (false: a dataset dir's ``test.*`` file is not read).

Masking: 15 % of the tokens, chosen as whole words — Chinese text is segmented with jieba and a
word's characters (one token each in the character tokenizer) are masked together; other words
are WordPiece runs (``##`` continuations). Of the chosen tokens 80 % become ``[MASK]``, 10 % a
random token, 10 % stay (BERT's recipe). Batches are length-bucketed and dynamically padded.

Writes a Hugging Face model dir (``*ForMaskedLM``, safetensors, the tokenizer, ``tlm_config.json``,
``pretrain.json``: texts, steps, final loss, masking) that ``jobs.train`` fine-tunes through its
``init`` channel (the MLM head is dropped there, a classification head added). Metric lines
``mlm_loss``, ``mlm_accuracy``, ``progress_pct``, ``eta_s``.
"""

from __future__ import annotations

import csv
import json
import random
import re
import time
from pathlib import Path
from typing import Any

from domain.trainings import MLM_FAMILIES
from jobs import contract
from jobs.contract import JobError

MAX_CHANNELS = 8
_CJK = re.compile(r"[\u3400-\u9fff]")


def read_texts(path: Path, text_field: str = "text", include_test: bool = False) -> list[str]:
    """Texts of a file or every data file in a dir (.jsonl/.csv: ``text_field``; .txt: lines).
    A dataset's ``test.*`` file is left out unless ``include_test``: a model later evaluated on
    that split should not have seen its texts."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    if path.is_dir() and not include_test:
        files = [f for f in files if f.stem.lower() != "test"]
    out: list[str] = []
    for f in files:
        if f.suffix == ".txt":
            out.extend(line.strip() for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
        elif f.suffix == ".jsonl":
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    row = json.loads(line)
                    if not isinstance(row, dict) or not isinstance(row.get(text_field), str):
                        raise ValueError(f"{text_field}: {f.name} line {i} has no text field '{text_field}'")
                    out.append(row[text_field])
        elif f.suffix == ".csv":
            with f.open(encoding="utf-8", newline="") as fh:
                reader = csv.DictReader(fh)
                if text_field not in (reader.fieldnames or []):
                    raise ValueError(f"{text_field}: {f.name} has no '{text_field}' column")
                out.extend(row[text_field] for row in reader if row.get(text_field))
    return [x for x in out if x.strip()]


def word_ids(text: str, offsets: list[tuple[int, int]], tokens: list[str], chinese: bool) -> list[int]:
    """A word number per token (-1 for specials): jieba words for Chinese characters, WordPiece
    runs (``##`` continues the previous word) otherwise."""
    spans: list[tuple[int, int]] = []
    if chinese:
        import jieba

        pos = 0
        for w in jieba.lcut(text):
            spans.append((pos, pos + len(w)))
            pos += len(w)
    out, word, span_i = [], -1, 0
    for (start, end), tok in zip(offsets, tokens, strict=True):
        if start == end:  # [CLS] / [SEP]
            out.append(-1)
            continue
        if chinese and _CJK.match(text[start:end] or " "):
            while span_i < len(spans) - 1 and spans[span_i][1] <= start:
                span_i += 1
            out.append(10_000_000 + span_i)  # one id per jieba word
            continue
        word = word + 1 if not tok.startswith("##") or word < 0 else word
        out.append(word)
    return out


def mask_batch(ids: list[list[int]], words: list[list[int]], tokenizer: Any, p: float, rng: random.Random):
    """(masked input ids, labels with -100 where not predicted) for one batch, whole-word."""
    inputs, labels = [], []
    vocab = len(tokenizer)
    for seq, wid in zip(ids, words, strict=True):
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(wid):
            if w >= 0:
                groups.setdefault(w, []).append(i)
        order = list(groups.values())
        rng.shuffle(order)
        budget = max(1, round(p * sum(len(g) for g in order)))
        chosen: list[int] = []
        for g in order:
            if len(chosen) >= budget:
                break
            chosen.extend(g)
        x, y = list(seq), [-100] * len(seq)
        for i in chosen:
            y[i] = seq[i]
            r = rng.random()
            if r < 0.8:
                x[i] = tokenizer.mask_token_id
            elif r < 0.9:
                x[i] = rng.randrange(len(tokenizer.all_special_ids), vocab)
        inputs.append(x)
        labels.append(y)
    return inputs, labels


def main(hp: dict[str, Any]) -> None:
    from jobs.train import load_config

    cfg = load_config(hp)
    family = cfg.get("family")
    if family not in MLM_FAMILIES:
        raise ValueError(f"family: masked-LM pretraining supports {list(MLM_FAMILIES)}, not {family!r}")
    names = [n.strip() for n in str(hp.get("channels", "text0")).split(",") if n.strip()]
    if not 1 <= len(names) <= MAX_CHANNELS:
        raise ValueError(f"channels: 1 to {MAX_CHANNELS} text channels, got {len(names)}")
    texts: list[str] = []
    for n in names:
        texts.extend(read_texts(contract.channel(n, required=True), str(hp.get("text_field", "text")),
                                str(hp.get("include_test", False)).lower() in ("true", "1")))  # fmt: skip
    if len(texts) < 2:
        raise JobError(f"channels: need at least 2 texts to pretrain on, found {len(texts)}")
    t = cfg.get("training") or {}
    seq_len = int(hp.get("max_seq_length", t.get("max_seq_length", 128)))
    bs, max_steps = int(hp.get("batch_size", 32)), int(hp.get("max_steps", 500))
    lr, p_mask = float(hp.get("learning_rate", 1e-3)), float(hp.get("mlm_probability", 0.15))
    if bs <= 0 or max_steps <= 0 or seq_len <= 2 or not 0 < p_mask < 1 or lr <= 0:
        raise ValueError("batch_size/max_steps/max_seq_length/mlm_probability/learning_rate: out of range")
    budget_s = float(hp.get("time_budget_s", 0) or 0)
    seed = int(t.get("seed", 42))
    chinese_share = sum(bool(_CJK.search(x)) for x in texts[:2000]) / min(len(texts), 2000)
    wwm = str(hp.get("whole_word_masking", "auto")).lower()
    whole_word = chinese_share >= 0.5 if wwm == "auto" else wwm in ("true", "1", "yes")

    import torch
    from transformers import AutoModelForMaskedLM

    from jobs.loop import bucketed_batches, eta_text, make_optimizer
    from jobs.modeling import check_sequence_length, model_config
    from jobs.tokenizer import tokenizer_settings, train_tokenizer

    check_sequence_length(cfg, seq_len)
    if hp.get("num_threads"):
        torch.set_num_threads(int(hp["num_threads"]))
    tokenizer = train_tokenizer(texts, **tokenizer_settings(cfg))
    t0 = time.perf_counter()
    enc = tokenizer(texts, truncation=True, max_length=seq_len, return_offsets_mapping=True)
    words = [word_ids(x, [tuple(o) for o in off], tokenizer.convert_ids_to_tokens(ids), whole_word)
             for x, off, ids in zip(texts, enc["offset_mapping"], enc["input_ids"], strict=True)]  # fmt: skip
    ids = enc["input_ids"]
    prep_s = time.perf_counter() - t0
    torch.manual_seed(seed)
    mcfg = model_config(cfg, 2, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    mcfg.num_labels = 2
    model = AutoModelForMaskedLM.from_config(mcfg)
    opt = make_optimizer(model, lr, float(hp.get("weight_decay", 0.01)))
    warmup = float(hp.get("warmup_ratio", 0.06))
    clock = {"start": time.perf_counter(), "step": 0}

    def schedule(_: int) -> float:
        """Linear warmup then decay over whichever ends first: the steps or the time budget (a
        step-based schedule would stay in warmup when the budget stops the run early)."""
        done = clock["step"] / max_steps
        if budget_s:
            done = max(done, (time.perf_counter() - clock["start"]) / budget_s)
        done = min(done, 1.0)
        return done / warmup if warmup and done < warmup else max(0.0, (1 - done) / (1 - warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    metrics, rng = contract.Metrics(), random.Random(seed)
    log_every = max(1, int(hp.get("log_every", 20)))
    lengths = [len(x) for x in ids]
    step, epoch, start, loss_sum, acc_sum, n_win, reason = 0, 0, time.perf_counter(), 0.0, 0.0, 0, "completed"
    clock["start"] = start
    model.train()
    while step < max_steps and reason == "completed":
        gen = torch.Generator().manual_seed(seed + epoch)
        for batch in bucketed_batches(torch.randperm(len(ids), generator=gen).tolist(), lengths, bs, gen):
            x, y = mask_batch([ids[i] for i in batch], [words[i] for i in batch], tokenizer, p_mask, rng)
            width = max(len(r) for r in x)
            pad = tokenizer.pad_token_id
            inp = torch.tensor([r + [pad] * (width - len(r)) for r in x])
            lab = torch.tensor([r + [-100] * (width - len(r)) for r in y])
            att = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in x])
            out = model(input_ids=inp, attention_mask=att, labels=lab)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            clock["step"] = step
            sched.step()
            opt.zero_grad(set_to_none=True)
            sel = lab != -100
            loss_sum += float(out.loss.detach())
            acc_sum += float((out.logits.detach().argmax(-1)[sel] == lab[sel]).float().mean()) if sel.any() else 0.0
            n_win += 1
            elapsed = time.perf_counter() - start
            if step % log_every == 0 or step == max_steps:
                rate = step / max(elapsed, 1e-9)
                eta = (max_steps - step) / rate if rate else 0.0
                if budget_s:
                    eta = min(eta, max(0.0, budget_s - elapsed))
                metrics.log(
                    step,
                    mlm_loss=loss_sum / n_win,
                    mlm_accuracy=acc_sum / n_win,
                    learning_rate=sched.get_last_lr()[0],
                    progress_pct=100.0 * step / max_steps,
                    eta_s=eta,
                )
                print(
                    f"progress: {100.0 * step / max_steps:.1f}% (step {step}/{max_steps}) eta {eta_text(eta)} "
                    f"at {rate:.2f} steps/s",
                    flush=True,
                )
                loss_sum, acc_sum, n_win = 0.0, 0.0, 0
            if step >= max_steps:
                break
            if budget_s and elapsed >= budget_s:
                reason = "time_budget"
                break
            if contract.STOP.is_set():
                reason = "stopped"
                break
        epoch += 1
    out_dir = contract.model_dir()
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    (out_dir / "tlm_config.json").write_text(json.dumps(cfg, ensure_ascii=False, indent=1), encoding="utf-8")
    summary = {"texts": len(texts), "channels": names, "steps": step, "epochs_seen": round(step * bs / len(ids), 3),
               "stop_reason": reason, "whole_word_masking": whole_word, "segmenter": "jieba" if whole_word else None,
               "mlm_probability": p_mask, "max_seq_length": seq_len, "batch_size": bs, "learning_rate": lr,
               "final": dict(metrics.latest), "prepare_s": round(prep_s, 2),
               "train_s": round(time.perf_counter() - start, 2), "family": family,
               "parameters": sum(p.numel() for p in model.parameters())}  # fmt: skip
    (out_dir / "pretrain.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    metrics.info.update(summary)
    metrics.flush()
    if reason == "stopped":
        raise contract.Stopped(f"SIGTERM at step {step}: the model so far is saved")
    print(f"pretraining finished: {json.dumps({k: summary[k] for k in ('steps', 'stop_reason', 'texts')})}", flush=True)


if __name__ == "__main__":
    contract.run(main)
