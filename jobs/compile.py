"""Compile a trained model to ONNX (optionally int8) and verify it.  ``python -m jobs.compile``

Channels: ``model`` (model dir from ``jobs.train``), optional ``data`` (JSONL/CSV whose texts are
the verification sample; without it, synthetic Chinese text from the vocabulary is used).
Hyperparameters: ``target`` (a recipe name in :data:`jobs.recipes.RECIPES`: ``onnx`` or
``onnx-int8``) and that recipe's fields (exporter, opset, optimization_level, atol,
min_label_agreement, sample_size, max_seq_length, latency_batch_sizes, latency_runs, num_threads,
per_channel, reduce_range), given one by one or as one ``recipe`` object; ``compile_id`` and
``model_version_id`` are ids passed along by the workflow. Unknown or invalid parameters fail
before any work.

Writes to the model dir: ``model.onnx``, config.json, labels.json, tokenizer files and
``compile_report.json`` (exporter used, fusions, verification, eager vs ONNX latency). Fails
(exit 1, failure file) when verification misses ``atol`` or ``min_label_agreement``.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path
from typing import Any

from jobs import contract
from jobs.recipes import validate_recipe

JOB_META = ("compile_id", "model_version_id")  # ids the workflow passes along; not recipe fields
COPY = ("config.json", "labels.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "tlm_config.json")


def sample_texts(tokenizer: Any, n: int, data: Path | None, seed: int = 0) -> tuple[list[str], str]:
    if data is not None:
        from jobs.data import find_file, read_file

        ex = read_file(find_file(data, "test"))
        return [e.text for e in ex[:n]], "data channel"
    rng = random.Random(seed)
    chars = [t for t in tokenizer.get_vocab() if len(t) == 1 and "\u4e00" <= t <= "\u9fff"] or ["好"]
    return ["".join(rng.choice(chars) for _ in range(rng.randint(4, 60))) for _ in range(n)], "synthetic"


def _check_stop() -> None:
    """A stop (SIGTERM) ends the compile at the next batch: nothing to checkpoint, exit 143."""
    if contract.STOP.is_set():
        raise contract.Stopped("compile stopped before it finished")


def main(hp: dict[str, Any]) -> None:
    from jobs.quiet import quiet_known_warnings

    quiet_known_warnings()  # a compile log shows the model's story, not library chatter
    params = {k: v for k, v in hp.items() if k not in ("target", "recipe", *JOB_META)}
    if isinstance(hp.get("recipe"), dict):  # the workflow passes the validated recipe as one field
        params = {**hp["recipe"], **params}
    recipe = validate_recipe(str(hp.get("target", "onnx")), params)
    src = contract.channel("model", required=True)
    data = contract.channel("data")
    import numpy as np
    import torch

    from jobs import onnx_tools as ox
    from jobs.modeling import load_model_dir

    if recipe.num_threads:
        torch.set_num_threads(recipe.num_threads)
    model, tokenizer, labels = load_model_dir(src)
    family = model.config.model_type
    out = contract.model_dir()
    work = contract.root() / "compile-work"
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"recipe": recipe.model_dump(), "family": family}

    raw, opt, final = work / "model.raw.onnx", work / "model.opt.onnx", out / "model.onnx"
    report["export"] = ox.export(src, raw, exporter=recipe.exporter, opset=recipe.opset)
    print(f"exported with the {report['export']['exporter']} exporter", flush=True)
    report["optimization"] = ox.optimize(raw, opt, family=family, config=model.config, level=recipe.optimization_level)
    if recipe.target == "onnx-int8":
        report["quantization"] = ox.quantize(opt, final, per_channel=recipe.per_channel,  # type: ignore[attr-defined]
                                             reduce_range=recipe.reduce_range)  # type: ignore[attr-defined]
    else:
        shutil.copy(opt, final)
    sess = ox.session(final, threads=recipe.num_threads, level=recipe.optimization_level)

    # ---- verification on a sample
    texts, source = sample_texts(tokenizer, recipe.sample_size, data)
    diffs, agree = [], 0
    for i in range(0, len(texts), 8):
        _check_stop()
        enc = tokenizer(texts[i : i + 8], truncation=True, max_length=recipe.max_seq_length, padding=True,
                        return_tensors="np")
        with torch.inference_mode():
            eager = model(input_ids=torch.from_numpy(enc["input_ids"]),
                          attention_mask=torch.from_numpy(enc["attention_mask"])).logits.numpy()
        got = ox.run_session(sess, enc["input_ids"], enc["attention_mask"])
        diffs.append(float(np.abs(eager - got).max()))
        agree += int((eager.argmax(-1) == got.argmax(-1)).sum())
    verification = {"sample": len(texts), "sample_source": source, "max_abs_diff": max(diffs),
                    "label_agreement": agree / len(texts), "atol": recipe.atol,
                    "min_label_agreement": recipe.min_label_agreement}
    verification["passed"] = (verification["max_abs_diff"] <= recipe.atol
                              and verification["label_agreement"] >= recipe.min_label_agreement)
    report["verification"] = verification

    # ---- accuracy on the labelled test split (the data channel's, or the one the model was trained with)
    from jobs.compile_accuracy import find_test_split, score_test_split

    split = find_test_split(data, src)
    if split is not None:

        def predict(batch: list[str]) -> tuple[Any, Any]:
            enc = tokenizer(batch, truncation=True, max_length=recipe.max_seq_length, padding=True, return_tensors="np")
            with torch.inference_mode():
                eager = model(input_ids=torch.from_numpy(enc["input_ids"]),
                              attention_mask=torch.from_numpy(enc["attention_mask"])).logits.numpy()
            return eager, ox.run_session(sess, enc["input_ids"], enc["attention_mask"])

        verification["test_split"] = score_test_split(split, labels, predict, check_stop=_check_stop)
        if verification["test_split"]:
            print(f"test split accuracy: {json.dumps(verification['test_split'])}", flush=True)

    # ---- latency, eager vs compiled, same inputs
    lat: dict[str, Any] = {}
    for bs in recipe.latency_batch_sizes:
        _check_stop()
        enc = tokenizer((texts * bs)[:bs], truncation=True, max_length=recipe.max_seq_length,
                        padding="max_length", return_tensors="np")
        ids, mask = enc["input_ids"], enc["attention_mask"]
        tids, tmask = torch.from_numpy(ids), torch.from_numpy(mask)
        with torch.inference_mode():
            e_ms = ox.time_fn(lambda: model(input_ids=tids, attention_mask=tmask), recipe.latency_runs)  # noqa: B023
        o_ms = ox.time_fn(lambda: ox.run_session(sess, ids, mask), recipe.latency_runs)  # noqa: B023
        lat[f"batch_{bs}"] = {"eager_ms": e_ms, "onnx_ms": o_ms, "speedup": e_ms / o_ms}
    report["latency"] = {"seq_len": recipe.max_seq_length, "threads": recipe.num_threads or torch.get_num_threads(),
                         **lat}
    report["onnx_size_bytes"] = final.stat().st_size
    report["created_at"] = time.time()

    for name in COPY:
        if (src / name).exists():
            shutil.copy(src / name, out / name)
    shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    (out / "compile_report.json").write_text(text, encoding="utf-8")
    (contract.output_data_dir() / "compile_report.json").write_text(text, encoding="utf-8")
    m = contract.Metrics()
    first = lat[next(iter(lat))] if lat else {"speedup": 0.0}
    m.log(0, max_abs_diff=verification["max_abs_diff"], label_agreement=verification["label_agreement"],
          speedup=first["speedup"])
    if not verification["passed"]:
        raise contract.JobError(
            f"verification failed: max_abs_diff={verification['max_abs_diff']:.4g} (atol {recipe.atol}), "
            f"label_agreement={verification['label_agreement']:.3f} (min {recipe.min_label_agreement}) "
            f"on {len(texts)} {source} examples; report in compile_report.json")
    print(f"compile ok: {json.dumps({'verification': verification, 'latency': lat})}", flush=True)


if __name__ == "__main__":
    contract.run(main)
