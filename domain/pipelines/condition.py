"""Condition expressions, parsed by a small tokenizer (never ``eval``).

Grammar: ``comparison ("and" comparison)*`` with ``comparison = metric op number``, ``op`` one
of ``>= <= > < ==``, a metric an identifier and a number a decimal literal (sign, fraction,
exponent). Example: ``accuracy >= 0.85 and latency_p95_ms < 20``. At most ``MAX_TERMS`` terms.
Each comparison compiles to one Step Functions Choice rule (``domain.pipelines.compile``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_TERMS = 8
_TOKEN = re.compile(
    r"\s*(?:(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<op>>=|<=|==|>|<)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)
OPS = {
    ">=": "numeric_greater_than_equals",
    "<=": "numeric_less_than_equals",
    ">": "numeric_greater_than",
    "<": "numeric_less_than",
    "==": "numeric_equals",
}


@dataclass(frozen=True)
class Comparison:
    metric: str
    op: str  # one of OPS
    value: float

    def holds(self, actual: float) -> bool:
        return {
            ">=": actual >= self.value,
            "<=": actual <= self.value,
            ">": actual > self.value,
            "<": actual < self.value,
            "==": actual == self.value,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"unexpected {text[pos:].lstrip()[:10]!r} at column {pos + 1}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    return out


def parse(text: str) -> tuple[Comparison, ...]:
    """The comparisons of an expression; ValueError naming the column of the first problem."""
    tokens = _tokens(text)
    if not tokens:
        raise ValueError("empty condition; write e.g. accuracy >= 0.85")
    terms: list[Comparison] = []
    i = 0
    while True:
        if i + 3 > len(tokens):
            col = tokens[i][2] if i < len(tokens) else len(text) + 1
            raise ValueError(f"incomplete comparison at column {col}; write metric op number")
        (k1, name, c1), (k2, op, c2), (k3, num, c3) = tokens[i : i + 3]
        if k1 != "name" or name == "and":
            raise ValueError(f"expected a metric name at column {c1}, got {name!r}")
        if k2 != "op":
            raise ValueError(f"expected one of {' '.join(OPS)} at column {c2}, got {op!r}")
        if k3 != "num":
            raise ValueError(f"expected a number at column {c3}, got {num!r}")
        value = float(num)
        if not math.isfinite(value):
            raise ValueError(f"number out of range at column {c3}")
        terms.append(Comparison(name, op, value))
        i += 3
        if i == len(tokens):
            break
        kind, word, col = tokens[i]
        if kind != "name" or word != "and":
            raise ValueError(f"expected 'and' at column {col}, got {word!r}")
        i += 1
        if len(terms) >= MAX_TERMS:
            raise ValueError(f"at most {MAX_TERMS} comparisons")
    return tuple(terms)


def metrics_named(text: str) -> list[str]:
    return [c.metric for c in parse(text)]
