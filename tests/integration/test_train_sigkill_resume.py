"""Training killed with SIGKILL mid-epoch (no chance to checkpoint on the way out) resumes from
its last checkpoint and ends with exactly the weights of an uninterrupted run with the same seed:
the checkpoint carries model, optimizer, scheduler and RNG state, and the loop continues at the
next batch of the same epoch order. Tiny BERT, 14 steps, one thread (bit-for-bit on one CPU)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
safetensors = pytest.importorskip("safetensors.torch")

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
CONFIG = {
    "family": "bert",
    "architecture": {"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64,
                     "max_position_embeddings": 64, "hidden_act": "gelu"},
    "training": {"learning_rate": 1e-3, "lr_schedule": "linear", "warmup_ratio": 0.1, "batch_size": 8,
                 "epochs": 2, "max_steps": 14, "weight_decay": 0.01, "max_seq_length": 32, "seed": 5,
                 "early_stopping_patience": 0},
    "tokenizer": {"type": "wordpiece-char", "vocab_size": 500, "lowercase": True},
}  # fmt: skip
# 80 examples / batch 8 = 10 steps per epoch; checkpoints at 3, 6, 9, 12: all mid-epoch
HPS = {"config": json.dumps(CONFIG), "checkpoint_every": 3, "log_every": 1, "num_threads": 1}


def _data(path: Path) -> Path:
    rng, chars = random.Random(11), "好坏喜欢讨厌很不太非常产品质量服务快递满意失望"
    rows = [{"text": "".join(rng.choice(chars) for _ in range(rng.randint(5, 20))), "label": rng.choice(["pos", "neg"])}
            for _ in range(80)]  # fmt: skip
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _env(root: Path, train: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update({"TLM_JOB_ROOT": str(root), "SM_HPS": json.dumps(HPS), "SM_CHANNEL_TRAIN": str(train),
                "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
                "TORCHINDUCTOR_CACHE_DIR": str(root / ".inductor")})  # fmt: skip
    return env


def _train(root: Path, train: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "jobs.train"], cwd=REPO, env=_env(root, train),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_sigkill_mid_epoch_resumes_to_the_same_weights(tmp_path: Path) -> None:
    train = _data(tmp_path / "train.jsonl")
    # Given an uninterrupted run
    _train(tmp_path / "straight", train)
    # And a run with the same seed killed -9 right after its first checkpoint (step 3 of 10)
    root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "jobs.train"], cwd=REPO, env=_env(root, train),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("checkpoint saved: step-00000003"):
            proc.send_signal(signal.SIGKILL)
            break
    assert proc.wait(timeout=120) == -signal.SIGKILL, "".join(lines[-20:])
    assert not (root / "model" / "model.safetensors").exists()
    # When it is started again
    done = _train(root, train)
    # Then it resumed mid-epoch from a checkpoint and ends with the uninterrupted run's weights
    resumed = [ln for ln in done.stdout.splitlines() if ln.startswith("resumed from step-")]
    assert resumed and int(resumed[0].split("step-")[1].split()[0]) in (3, 6, 9), done.stdout[-2000:]
    a = safetensors.load_file(str(tmp_path / "straight" / "model" / "model.safetensors"))
    b = safetensors.load_file(str(root / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"weights differ after the resume: {differ[:5]}"
