"""ONNX export, onnxruntime graph optimisation, int8 dynamic quantization, sessions, timing.
Used by ``jobs.compile`` and ``bench/compile.py``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
FUSABLE = {"bert": "bert", "roberta": "bert", "electra": "bert"}  # onnxruntime.transformers fusions
INPUTS = ("input_ids", "attention_mask")


class _Logits(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export(model_dir: Path, out: Path, *, exporter: str, opset: int) -> dict[str, Any]:
    """Export logits(input_ids, attention_mask) with dynamic batch and sequence axes.
    ``auto`` tries the dynamo exporter, then the TorchScript one; the report says which ran."""
    from transformers import AutoModelForSequenceClassification

    order = ["dynamo", "torchscript"] if exporter == "auto" else [exporter]
    errors: dict[str, str] = {}
    for kind in order:
        # TorchScript + eager attention gives the graph onnxruntime's fusions recognise
        attn = "eager" if kind == "torchscript" else "sdpa"
        model = AutoModelForSequenceClassification.from_pretrained(
            str(model_dir), attn_implementation=attn, use_safetensors=True).eval()
        ids = torch.randint(5, min(100, model.config.vocab_size), (2, 16))
        mask = torch.ones_like(ids)
        mask[1, 12:] = 0
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                if kind == "dynamo":
                    torch.onnx.export(
                        _Logits(model).eval(), (ids, mask), str(out), dynamo=True, opset_version=opset,
                        input_names=list(INPUTS), output_names=["logits"], verbose=False,
                        dynamic_shapes={n: {0: "batch", 1: "sequence"} for n in INPUTS})
                else:
                    torch.onnx.export(
                        _Logits(model).eval(), (ids, mask), str(out), dynamo=False, opset_version=min(opset, 17),
                        input_names=list(INPUTS), output_names=["logits"],
                        dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in INPUTS}, "logits": {0: "batch"}})
            return {"exporter": kind, "export_s": time.perf_counter() - t0, "errors": errors,
                    "opset": opset if kind == "dynamo" else min(opset, 17)}
        except Exception as e:  # noqa: BLE001 - reported, then the next exporter is tried
            errors[kind] = f"{type(e).__name__}: {str(e)[:500]}"
            print(f"exporter {kind} failed: {errors[kind]}", flush=True)
    raise ValueError(f"ONNX export failed with every exporter: {errors}")


def optimize(src: Path, dst: Path, *, family: str, config: Any, level: str) -> dict[str, Any]:
    """Fuse transformer subgraphs (bert-like families) and/or run ORT's offline optimiser.
    ``all`` is applied again when a session loads (its layout rewrites are machine-specific)."""
    import onnx
    import onnxruntime as ort

    report: dict[str, Any] = {"level": level, "fusions": {}}
    if level == "none":
        onnx.save(onnx.load(str(src)), str(dst))
        return report
    if family in FUSABLE:
        from onnxruntime.transformers import optimizer

        heads, hidden = config.num_attention_heads, config.hidden_size
        opt = optimizer.optimize_model(str(src), model_type=FUSABLE[family], num_heads=heads,
                                       hidden_size=hidden, opt_level=0)
        report["fusions"] = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
        del opt.model.graph.value_info[:]  # stale shapes from the exporter confuse later passes
        opt.save_model_to_file(str(dst))
        report["method"] = "onnxruntime.transformers.optimizer"
        return report
    so = ort.SessionOptions()
    so.graph_optimization_level = {
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    }[level]
    so.optimized_model_filepath = str(dst)
    ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
    report["method"] = "SessionOptions.optimized_model_filepath"
    return report


def quantize(src: Path, dst: Path, *, per_channel: bool, reduce_range: bool) -> dict[str, Any]:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    m = onnx.load(str(src))
    del m.graph.value_info[:]
    tmp = src.with_suffix(".noshapes.onnx")
    onnx.save(m, str(tmp))
    quantize_dynamic(str(tmp), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                     reduce_range=reduce_range, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    tmp.unlink()
    return {"weight_type": "QInt8", "per_channel": per_channel, "reduce_range": reduce_range,
            "size_bytes": dst.stat().st_size, "fp32_size_bytes": src.stat().st_size}


def session(path: Path, *, threads: int = 0, level: str = "all"):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = {
        "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def run_session(sess: Any, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    return sess.run(["logits"], {"input_ids": input_ids.astype(np.int64),
                                 "attention_mask": attention_mask.astype(np.int64)})[0]


def time_fn(fn: Any, runs: int, warmup: int = 2) -> float:
    """Median milliseconds of ``fn()`` over ``runs`` calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return float(np.median(ts))
