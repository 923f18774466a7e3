"""SageMaker inference handler for a TLM text classifier (standalone: imports nothing from TLM).

model_fn/input_fn/predict_fn/output_fn. Uses onnxruntime when ``model.onnx`` is present, else
transformers + torch on the safetensors weights. Request: ``{"inputs": "text" | ["text", ...]}``
(application/json) or plain text; response: ``[{"label", "score", "scores"}]``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

MAX_LEN = int(os.environ.get("TLM_MAX_SEQ_LENGTH", "128"))


class _Model:
    def __init__(self, model_dir: str, *, max_len: int | None = None, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        d = Path(model_dir)
        self.labels = json.loads((d / "labels.json").read_text(encoding="utf-8"))
        config = json.loads((d / "config.json").read_text(encoding="utf-8"))
        self.tokenizer = Tokenizer.from_file(str(d / "tokenizer.json"))
        self.tokenizer.no_truncation()
        positions = config.get("max_position_embeddings")  # longer inputs have no position to sit at
        self.max_len = min(max_len or MAX_LEN, positions) if isinstance(positions, int) and positions > 0 else (
            max_len or MAX_LEN)
        self.tokenizer.enable_truncation(self.max_len)
        pad = self.tokenizer.token_to_id("[PAD]") or 0
        side = "left" if config.get("model_type") == "xlnet" else "right"
        self.tokenizer.enable_padding(pad_id=pad, pad_token="[PAD]", direction=side)
        self.backend = "onnxruntime" if (d / "model.onnx").exists() else "torch"
        if self.backend == "onnxruntime":
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if threads:
                so.intra_op_num_threads = threads
                so.inter_op_num_threads = 1
            self.session = ort.InferenceSession(str(d / "model.onnx"), so, providers=["CPUExecutionProvider"])
        else:
            from transformers import AutoModelForSequenceClassification

            self.model = AutoModelForSequenceClassification.from_pretrained(str(d), use_safetensors=True).eval()

    def logits(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        if self.backend == "onnxruntime":
            return self.session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        import torch

        with torch.inference_mode():
            return self.model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy()


def model_fn(model_dir: str) -> _Model:
    return _Model(model_dir)


def input_fn(body: bytes | str, content_type: str = "application/json") -> list[str]:
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    if content_type.startswith("text/plain"):
        return [text]
    if not content_type.startswith("application/json"):
        raise ValueError(f"unsupported content type {content_type!r}")
    doc = json.loads(text)
    inputs = doc.get("inputs") if isinstance(doc, dict) else doc
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise ValueError('expected {"inputs": "text"} or {"inputs": ["text", ...]}')
    return inputs


def predict_fn(data: list[str], model: _Model) -> list[dict[str, Any]]:
    logits = model.logits(data)
    z = logits - logits.max(-1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    out = []
    for p in probs:
        i = int(p.argmax())
        out.append({"label": model.labels[i], "score": float(p[i]),
                    "scores": {lb: float(s) for lb, s in zip(model.labels, p, strict=True)}})
    return out


def output_fn(prediction: list[dict[str, Any]], accept: str = "application/json") -> str:
    return json.dumps(prediction, ensure_ascii=False)
