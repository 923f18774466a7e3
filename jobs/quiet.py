"""Silence the warnings a compile prints that say nothing about the user's model, so its log
shows what matters (exporter, verification, latency, real problems). Each filter names one
known message; anything else still shows.

- transformers' "Loading weights" progress bars (one per model load);
- torch.onnx's registry: "torchvision is not installed. Skipping torchvision::nms" (we export no
  vision ops);
- torch's pytree ``LeafSpec`` FutureWarning and the exporter's "axis name ... will not be used"
  (both internal to torch.onnx's dynamo export);
- onnxruntime's quantizer: "Please consider to run pre-processing before quantization" (shape
  inference pre-processing brings nothing for these dynamic-shape transformer graphs).
"""

from __future__ import annotations

import logging
import os
import warnings

_ROOT_MESSAGES = ("Please consider to run pre-processing before quantization",)


def _not_known(record: logging.LogRecord) -> bool:
    return not any(m in record.getMessage() for m in _ROOT_MESSAGES)


def quiet_known_warnings() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is in the job image
        pass
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    warnings.filterwarnings(
        "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
    )
    warnings.filterwarnings("ignore", message=r"# The axis name: .* will not be used", category=UserWarning)
    root = logging.getLogger()
    if _not_known not in root.filters:
        root.addFilter(_not_known)
