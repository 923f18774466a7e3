"""Objective and constraint expressions: arithmetic over metric names, parsed, never evaluated
as code.

Grammar (own tokenizer + recursive descent; nothing reaches ``eval``, ``exec`` or ``ast``)::

    constraint := expr ("<=" | "<" | ">=" | ">" | "==") expr
    expr       := term (("+" | "-") term)*
    term       := unary (("*" | "/") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER | METRIC | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
    FUNC       := min | max | log

Anything else is refused with ``Invalid`` naming the field: attribute access (``a.b``),
subscripts, calls other than min/max/log, names that are not metrics, and an objective that
names no metric at all. Evaluation returns None when the value is undefined (a missing metric,
division by zero, log of a non-positive number), so the trial is recorded failed, not crashed.

A constraint's value follows optuna's convention: ``<= 0`` means feasible (``a <= b`` gives
``a - b``; ``a >= b`` gives ``b - a``; ``a == b`` gives ``|a - b|``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from domain.errors import Invalid

MAX_LENGTH = 500
MAX_NODES = 200
FUNCTIONS = {"min": (1, 16), "max": (1, 16), "log": (1, 1)}
COMPARISONS = ("<=", ">=", "==", "<", ">")
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|[-+*/(),<>]))"
)


@dataclass(frozen=True)
class Node:
    kind: str  # num | metric | neg | bin | call
    value: Any = None  # number, metric name, operator, function name
    args: tuple[Node, ...] = ()


def _tokens(text: str, field: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if m is None or m.end() == i:
            j = i + (len(text[i:]) - len(text[i:].lstrip()))
            ch = text[j]
            what = "attribute access is not allowed" if ch == "." else f"unexpected character {ch!r}"
            raise Invalid(f"{what} at position {j + 1} of {text!r}", field=field)
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        i = m.end()
    return out


class _Parser:
    def __init__(self, text: str, metrics: frozenset[str], field: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise Invalid("empty expression", field=field)
        if len(text) > MAX_LENGTH:
            raise Invalid(f"expressions are at most {MAX_LENGTH} characters", field=field)
        self.text, self.metrics, self.field = text, metrics, field
        self.toks = _tokens(text, field)
        self.i = 0
        self.nodes = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def fail(self, message: str) -> Invalid:
        return Invalid(f"{message} in {self.text!r}", field=self.field)

    def take(self, value: str) -> None:
        t = self.peek()
        if t is None or t[1] != value:
            raise self.fail(f"expected {value!r}" + (f" at position {t[2] + 1}" if t else " at the end"))
        self.i += 1

    def node(self, *a: Any, **k: Any) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail("expression too long")
        return Node(*a, **k)

    def expr(self) -> Node:
        left = self.term()
        while (t := self.peek()) is not None and t[1] in ("+", "-"):
            self.i += 1
            left = self.node("bin", t[1], (left, self.term()))
        return left

    def term(self) -> Node:
        left = self.unary()
        while (t := self.peek()) is not None and t[1] in ("*", "/"):
            self.i += 1
            left = self.node("bin", t[1], (left, self.unary()))
        return left

    def unary(self) -> Node:
        t = self.peek()
        if t is not None and t[1] == "-":
            self.i += 1
            return self.node("neg", None, (self.unary(),))
        return self.atom()

    def atom(self) -> Node:
        t = self.peek()
        if t is None:
            raise self.fail("unexpected end")
        kind, value, pos = t
        self.i += 1
        if kind == "num":
            return self.node("num", float(value))
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind != "name":
            raise self.fail(f"unexpected {value!r} at position {pos + 1}")
        nxt = self.peek()
        if nxt is not None and nxt[1] == "(":
            if value not in FUNCTIONS:
                raise self.fail(f"calls other than {', '.join(FUNCTIONS)} are not allowed ({value!r})")
            self.i += 1
            args = [self.expr()]
            while (t2 := self.peek()) is not None and t2[1] == ",":
                self.i += 1
                args.append(self.expr())
            self.take(")")
            lo, hi = FUNCTIONS[value]
            if not lo <= len(args) <= hi:
                raise self.fail(f"{value}() takes {lo}{'' if lo == hi else f' to {hi}'} argument(s)")
            return self.node("call", value, tuple(args))
        if value in FUNCTIONS:
            raise self.fail(f"{value} is a function: call it as {value}(...)")
        if value not in self.metrics:
            raise self.fail(f"{value!r} is not a metric (known: {', '.join(sorted(self.metrics))})")
        return self.node("metric", value)

    def done(self) -> None:
        t = self.peek()
        if t is not None:
            raise self.fail(f"unexpected {t[1]!r} at position {t[2] + 1}")


def metric_names(node: Node) -> set[str]:
    if node.kind == "metric":
        return {str(node.value)}
    return set().union(*(metric_names(a) for a in node.args)) if node.args else set()


@dataclass(frozen=True)
class Expression:
    text: str
    root: Node

    @property
    def metrics(self) -> set[str]:
        return metric_names(self.root)

    def evaluate(self, metrics: dict[str, float]) -> float | None:
        return _eval(self.root, metrics)


@dataclass(frozen=True)
class Constraint:
    text: str
    left: Node
    op: str
    right: Node

    @property
    def metrics(self) -> set[str]:
        return metric_names(self.left) | metric_names(self.right)

    def evaluate(self, metrics: dict[str, float]) -> float | None:
        a, b = _eval(self.left, metrics), _eval(self.right, metrics)
        if a is None or b is None:
            return None
        if self.op in ("<=", "<"):
            return a - b
        if self.op in (">=", ">"):
            return b - a
        return abs(a - b)


def _eval(n: Node, m: dict[str, float]) -> float | None:
    if n.kind == "num":
        return float(n.value)
    if n.kind == "metric":
        v = m.get(n.value)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None
    vals = [_eval(a, m) for a in n.args]
    if any(v is None for v in vals):
        return None
    xs = [v for v in vals if v is not None]
    if n.kind == "neg":
        return -xs[0]
    if n.kind == "call":
        if n.value == "log":
            return math.log(xs[0]) if xs[0] > 0 else None
        return min(xs) if n.value == "min" else max(xs)
    a, b = xs
    if n.value == "+":
        return a + b
    if n.value == "-":
        return a - b
    if n.value == "*":
        out = a * b
        return out if math.isfinite(out) else None
    return a / b if b != 0 else None


def parse_expression(text: str, metrics: frozenset[str], *, field: str = "objective") -> Expression:
    p = _Parser(text, metrics, field)
    root = p.expr()
    p.done()
    if not metric_names(root):
        raise Invalid(f"the expression {text!r} names no metric", field=field)
    return Expression(text.strip(), root)


def parse_constraint(text: str, metrics: frozenset[str], *, field: str = "constraints") -> Constraint:
    p = _Parser(text, metrics, field)
    left = p.expr()
    t = p.peek()
    if t is None or t[1] not in COMPARISONS:
        raise Invalid(f"a constraint compares two sides ({', '.join(COMPARISONS)}): {text!r}", field=field)
    p.i += 1
    right = p.expr()
    p.done()
    c = Constraint(text.strip(), left, t[1], right)
    if not c.metrics:
        raise Invalid(f"the constraint {text!r} names no metric", field=field)
    return c
