"""Architecture test: build a parent and a child config side by side.  ``python -m jobs.arch_test``

Importable: ``run_arch_test(parent, child, layer_map=None, ...) -> dict`` (the JSON report).

Hyperparameters (job): ``parent`` and ``child`` (parameter configs, JSON), ``layer_map`` (child
layer -> parent layer or null, from the config service's ``derived_from``), ``batch_size`` (2),
``seq_len`` (32), ``repeats`` (5), ``text`` (Chinese text for the smoke step), ``num_threads``.
Channel ``parent`` (optional): a trained parent model dir (``jobs.train`` layout, safetensors); its
weights are loaded into the parent and carried into the child, and the child is saved (Hugging
Face layout, model.safetensors) to ``<model dir>/child``. The report goes to
``<output>/arch_test.json`` and is printed as the last line.

Per model the report gives:

- ``params`` / ``non_embedding_params`` / ``param_bytes`` (parameters x element size);
- ``flops_per_token``: forward FLOPs per token = 2 x (weights applied per token) +
  2 x n_layer x seq_len x d (attention scores and weighted sum; Kaplan et al. 2020, Table 1).
  "Weights applied" is counted by hooks on every matmul module call (nn.Linear, and XLNet's
  q/k/v/o projection tensors), so it equals the non-embedding parameter count for unshared
  models and counts ALBERT's shared layers once per use;
- ``activation_bytes``: bytes of every leaf module's output in one training-mode forward (what
  backward may keep; attention probabilities computed inside fused kernels are added as
  batch x heads x seq^2 x layers x 4 bytes), and ``peak_rss_delta_bytes`` (growth of the process's
  peak RSS during the model's runs: 0 when an earlier step had already peaked higher);
- ``latency_ms``: forward (inference mode) median / min over ``repeats`` after one warm-up;
- ``smoke``: one forward + backward + AdamW step on Chinese text (char-level vocabulary built from
  the text): loss, gradient norm, all finite.

``carried`` lists each child tensor that takes a parent tensor: same name (after the layer map
renames ``.layer.<i>.``) and same shape; then ``new`` (child-only), ``dropped`` (parent-only) and
``shape_mismatch``. The carried tensors are copied into the child and one is checked for equality.
"""

from __future__ import annotations

import json
import re
import resource
import statistics
import time
from pathlib import Path
from typing import Any

DEFAULT_TEXT = (
    "今天天气很好，我们一起去公园散步。这家餐厅的菜味道不错，服务也很周到，下次还会再来。"
    "模型在中文文本上训练，需要处理汉字、标点和数字123。质量太差了，完全不值这个价格。"
)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_LAYER = re.compile(r"\.layer\.(\d+)\.")


def char_vocab(text: str) -> dict[str, int]:
    chars = sorted({c for c in text if not c.isspace()})
    return {tok: i for i, tok in enumerate(SPECIALS + chars)}


def encode_batch(
    text: str, vocab: dict[str, int], batch: int, seq_len: int, vocab_size: int
) -> list[list[int]]:
    ids = [vocab.get(c, 1) for c in text if not c.isspace()] or [1]
    rows = []
    for b in range(batch):
        body = [ids[(b * (seq_len - 2) + i) % len(ids)] for i in range(seq_len - 2)]
        row = [2, *body, 3]
        rows.append([i if i < vocab_size else 1 for i in row])
    return rows


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _dims(family: str, arch: dict[str, Any]) -> tuple[int, int, int]:
    if family == "xlnet":
        return int(arch["n_layer"]), int(arch["d_model"]), int(arch["n_head"])
    return int(arch["num_hidden_layers"]), int(arch["hidden_size"]), int(arch["num_attention_heads"])


def _embedding_params(model: Any) -> int:
    import torch

    return sum(
        p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters()
    )


def measure(model: Any, family: str, arch: dict[str, Any], input_ids: Any, repeats: int) -> dict[str, Any]:
    import torch

    batch, seq = input_ids.shape
    n_layer, d, heads = _dims(family, arch)
    params = sum(p.numel() for p in model.parameters())
    emb = _embedding_params(model)
    rss0 = _rss_bytes()

    macs = [0]
    act = [0]

    def linear_hook(mod: Any, inp: Any, out: Any) -> None:
        x = inp[0]
        macs[0] += (x.numel() // x.shape[-1]) * mod.in_features * mod.out_features

    def xlnet_hook(mod: Any, inp: Any, out: Any) -> None:  # q, k, v, o are einsum'd tensors
        macs[0] += batch * seq * sum(getattr(mod, n).numel() for n in ("q", "k", "v", "o"))

    def act_hook(mod: Any, inp: Any, out: Any) -> None:
        for t in out if isinstance(out, tuple) else (out,):
            if isinstance(t, torch.Tensor):
                act[0] += t.numel() * t.element_size()

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        if type(m).__name__ == "XLNetRelativeAttention":
            hooks.append(m.register_forward_hook(xlnet_hook))
        if not list(m.children()):
            hooks.append(m.register_forward_hook(act_hook))
    mask = torch.ones_like(input_ids)
    model.train()
    out = model(input_ids=input_ids, attention_mask=mask)
    del out
    for h in hooks:
        h.remove()
    attention_probs = batch * heads * seq * seq * n_layer * 4
    flops_per_token = 2 * macs[0] / (batch * seq) + 2 * n_layer * seq * d

    model.eval()
    times = []
    with torch.inference_mode():
        model(input_ids=input_ids, attention_mask=mask)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(input_ids=input_ids, attention_mask=mask)
            times.append((time.perf_counter() - t0) * 1000)

    model.train()
    labels = torch.arange(batch) % 2
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    grad_norm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
    finite = bool(torch.isfinite(loss)) and all(bool(torch.isfinite(g).all()) for g in grads)
    opt.step()
    opt.zero_grad(set_to_none=True)
    step_ms = (time.perf_counter() - t0) * 1000
    return {
        "params": params,
        "non_embedding_params": params - emb,
        "param_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "flops_per_token": int(flops_per_token),
        "activation_bytes": act[0] + attention_probs,
        "peak_rss_delta_bytes": max(0, _rss_bytes() - rss0),
        "latency_ms": {
            "median": round(statistics.median(times), 3),
            "min": round(min(times), 3),
            "repeats": repeats,
        },
        "smoke": {
            "loss": float(loss.detach()),
            "grad_norm": grad_norm,
            "finite": finite,
            "step_ms": round(step_ms, 3),
        },
    }


def parent_name(child_name: str, layer_map: dict[str, int | None] | None) -> str | None:
    """The parent tensor a child tensor comes from (None: a new layer)."""
    if not layer_map:
        return child_name
    m = _LAYER.search(child_name)
    if m is None:
        return child_name
    src = layer_map.get(m.group(1), int(m.group(1)))
    if src is None:
        return None
    return child_name[: m.start()] + f".layer.{src}." + child_name[m.end() :]


def carry_weights(parent: Any, child: Any, layer_map: dict[str, int | None] | None) -> dict[str, Any]:
    """Copy every parent tensor with the same (mapped) name and shape into the child."""
    import torch

    psd, csd = parent.state_dict(), child.state_dict()
    carried, new, mismatch, used = [], [], [], set()
    for name, tensor in csd.items():
        src = parent_name(name, layer_map)
        if src is None or src not in psd:
            new.append({"name": name, "shape": list(tensor.shape)})
        elif tuple(psd[src].shape) != tuple(tensor.shape):
            mismatch.append(
                {"name": name, "from": src, "parent_shape": list(psd[src].shape), "shape": list(tensor.shape)}
            )
            used.add(src)
        else:
            carried.append({"name": name, "from": src, "shape": list(tensor.shape)})
            used.add(src)
    with torch.no_grad():
        child.load_state_dict({c["name"]: psd[c["from"]] for c in carried}, strict=False)
    dropped = [{"name": n, "shape": list(t.shape)} for n, t in psd.items() if n not in used]
    check = None
    if carried:
        pick = next(
            (c for c in carried if ".layer." in c["name"] and c["name"].endswith("weight")), carried[0]
        )
        check = {
            "name": pick["name"],
            "from": pick["from"],
            "equal": bool(torch.equal(child.state_dict()[pick["name"]], psd[pick["from"]])),
        }
    return {
        "count": len(carried),
        "carried_params": sum(int(torch.Size(c["shape"]).numel()) for c in carried),
        "tensors": carried,
        "new": new,
        "dropped": dropped,
        "shape_mismatch": mismatch,
        "verified": check,
    }


def _structural(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    try:
        from domain.configs.arch import structural_diff

        return structural_diff(parent, child)
    except Exception:  # noqa: BLE001 - the report must not depend on the domain package
        return {}


def run_arch_test(
    parent: dict[str, Any],
    child: dict[str, Any],
    *,
    layer_map: dict[str, int | None] | None = None,
    batch_size: int = 2,
    seq_len: int = 32,
    repeats: int = 5,
    text: str = DEFAULT_TEXT,
    parent_model_dir: str | Path | None = None,
    save_child_to: str | Path | None = None,
    num_threads: int | None = None,
) -> dict[str, Any]:
    import torch

    from jobs.modeling import build_model

    if parent.get("family") != child.get("family"):
        raise ValueError("child.family: parent and child must be the same family")
    if seq_len < 4 or batch_size < 1:
        raise ValueError("seq_len: needs >= 4 (and batch_size >= 1)")
    family = parent["family"]
    if num_threads:
        torch.set_num_threads(int(num_threads))
    torch.manual_seed(0)
    vocab = char_vocab(text)
    source = "random-init parent"
    if parent_model_dir:
        from transformers import AutoModelForSequenceClassification

        p = Path(parent_model_dir)
        if not (p / "config.json").exists() or not any(p.glob("*.safetensors")):
            raise ValueError(f"parent_model_dir: {p} has no config.json + safetensors weights")
        parent_model = AutoModelForSequenceClassification.from_pretrained(str(p), use_safetensors=True)
        vocab_size, pad, labels = (
            parent_model.config.vocab_size,
            parent_model.config.pad_token_id,
            parent_model.config.num_labels,
        )
        source = str(p)
    else:
        labels, pad = 2, 0
        vocab_size = max(int(parent["architecture"]["vocab_size"]), len(vocab))
        parent_model = build_model(parent, labels, vocab_size=vocab_size, pad_token_id=pad)
    child_model = build_model(child, labels, vocab_size=vocab_size, pad_token_id=pad)
    carried = carry_weights(parent_model, child_model, layer_map)
    if save_child_to is not None:  # before the smoke step changes the weights
        child_model.save_pretrained(str(save_child_to))  # safetensors
    ids = torch.tensor(encode_batch(text, vocab, batch_size, seq_len, vocab_size))
    pm = measure(parent_model, family, parent["architecture"], ids, repeats)
    cm = measure(child_model, family, child["architecture"], ids, repeats)
    ratio = {k: round(cm[k] / pm[k], 4) for k in ("params", "flops_per_token", "param_bytes") if pm[k]}
    ratio["latency"] = round(cm["latency_ms"]["median"] / max(pm["latency_ms"]["median"], 1e-9), 4)
    return {
        "report": "arch_test",
        "family": family,
        "settings": {
            "batch_size": batch_size,
            "seq_len": seq_len,
            "repeats": repeats,
            "threads": torch.get_num_threads(),
            "vocab_chars": len(vocab),
            "text_chars": len(text),
        },
        "structural_diff": _structural(parent, child),
        "layer_map": layer_map,
        "parent": pm,
        "child": cm,
        "child_vs_parent": ratio,
        "weights": {"source": source, "saved_child": str(save_child_to) if save_child_to else None},
        "carried": carried,
        "flops_formula": "2 * weights applied per token (hooked matmuls) + 2 * n_layer * seq_len * d_model",
    }


def main(hp: dict[str, Any]) -> dict[str, Any]:
    from jobs import contract

    for key in ("parent", "child"):
        if isinstance(hp.get(key), str):
            hp[key] = json.loads(hp[key])
        if not isinstance(hp.get(key), dict):
            raise contract.JobError(f"{key}: a parameter config (JSON object) is required")
    parent_dir = hp.get("parent_model_dir") or contract.channel("parent")
    report = run_arch_test(
        hp["parent"],
        hp["child"],
        layer_map=hp.get("layer_map"),
        batch_size=int(hp.get("batch_size", 2)),
        seq_len=int(hp.get("seq_len", 32)),
        repeats=int(hp.get("repeats", 5)),
        text=str(hp.get("text") or DEFAULT_TEXT),
        parent_model_dir=parent_dir,
        save_child_to=(contract.model_dir() / "child") if parent_dir else None,
        num_threads=hp.get("num_threads"),
    )
    out = contract.output_data_dir() / "arch_test.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return report


if __name__ == "__main__":
    from jobs import contract

    contract.run(main)
