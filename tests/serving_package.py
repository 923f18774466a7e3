"""A tiny compiled package for serving tests, built in about a second without torch.

What ``jobs.compile`` writes, in its layout (model.onnx, tokenizer.json, labels.json, config.json,
compile_report.json): the tokenizer is the platform's (``tokenizers`` WordPiece, CJK characters
one by one, as ``jobs.tokenizer``); the graph is a hand-built bag-of-embeddings classifier
(Gather -> masked mean -> MatMul -> logits, inputs ``input_ids`` / ``attention_mask``, output
``logits``), int8-quantized by onnxruntime's ``quantize_dynamic``. The serving layer cares about
the interface and the runtime, not the architecture; the e2e and ``bench/serving.py`` serve a
trained and compiled BERT.

``broken_package``: the same files with a ``model.onnx`` onnxruntime refuses.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

TEXTS = ["这部电影很好看，演员也不错", "服务太差了，再也不来了", "质量很好，物流很快", "味道一般，价格太贵",
         "非常满意，下次还来", "太失望了，不推荐"]
LABELS = ["negative", "positive"]


def _tokenizer(out: Path) -> int:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(TEXTS * 3, trainer=trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], show_progress=False))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.save(str(out / "tokenizer.json"))
    return int(tok.get_vocab_size())


def _graph(path: Path, vocab: int, hidden: int = 16) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    emb = numpy_helper.from_array(rng.normal(0, 1, (vocab, hidden)).astype(np.float32), "emb")
    w = numpy_helper.from_array(rng.normal(0, 1, (hidden, len(LABELS))).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(len(LABELS), np.float32), "b")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["e"]),  # [B, S, H]
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),  # [B, S]
        helper.make_node("Unsqueeze", ["m", "axes2"], ["m3"]),  # [B, S, 1]
        helper.make_node("Mul", ["e", "m3"], ["em"]),
        helper.make_node("ReduceSum", ["em", "axes"], ["s"], keepdims=0),  # [B, H]
        helper.make_node("ReduceSum", ["m3", "axes"], ["n"], keepdims=0),  # [B, 1]
        helper.make_node("Div", ["s", "n"], ["mean"]),
        helper.make_node("MatMul", ["mean", "w"], ["z"]),
        helper.make_node("Add", ["z", "b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny-classifier",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])],
        [emb, w, b, axes, numpy_helper.from_array(np.array([2], np.int64), "axes2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # what the pinned onnxruntime reads
    onnx.save(model, str(path))


def make_package(out: Path, *, int8: bool = True) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    vocab = _tokenizer(out)
    fp32 = out / ("model.fp32.onnx" if int8 else "model.onnx")
    _graph(fp32, vocab)
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8)
        fp32.unlink()
    (out / "labels.json").write_text(json.dumps(LABELS), encoding="utf-8")
    (out / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    report = {"recipe": {"target": "onnx-int8" if int8 else "onnx"}, "export": {"exporter": "hand-built"}}
    (out / "compile_report.json").write_text(json.dumps(report), encoding="utf-8")
    return out


def broken_package(good: Path, out: Path) -> Path:
    shutil.copytree(good, out)
    (out / "model.onnx").write_bytes(b"this is not an onnx model")
    return out


def reference_predictions(package: Path, texts: list[str]) -> list[dict[str, object]]:
    """What the package's own ``code/inference.py`` logic predicts, in-process."""
    from jobs.inference.inference import _Model, predict_fn

    return predict_fn(texts, _Model(str(package)))
