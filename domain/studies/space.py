"""Search spaces: the parameters a study varies, each over one config field.

A space is written as a mapping ``path -> spec`` (YAML or JSON) or a list of specs with ``path``::

    training.learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    training.batch_size:    {type: categorical, choices: [16, 32]}
    architecture.num_hidden_layers: {type: int, low: 1, high: 3}
    training.warmup_ratio:  {type: float, low: 0.0, high: 0.2, step: 0.05,
                             when: {training.lr_schedule: linear}}   # conditional

Paths name config fields (``training.*``, ``architecture.*`` — ``model.*`` is accepted for it —,
``tokenizer.*``, ``electra_generator.*``) and are checked against the config schema of the study's
family (``domain.configs.validation``): an unknown field, a kind that does not fit the field, a
bound the field refuses, an empty range or a log scale over non-positive numbers is ``Invalid``
with ``field`` = ``space.<path>.<key>``. A conditional parameter exists only when its parent (an
earlier categorical parameter of the space) has the given value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from domain.configs import paths as cpaths
from domain.configs.validation import ARCHITECTURE, ELECTRA_GENERATOR, TOKENIZER, TRAINING, Spec, _check
from domain.errors import Invalid

MAX_PARAMS = 32
MAX_CHOICES = 100
MAX_GRID = 10_000
KINDS = ("float", "int", "categorical")
_ALIASES = {"model": "architecture"}
_KEYS = {"type", "kind", "low", "high", "log", "step", "choices", "when", "path"}


@dataclass(frozen=True)
class Param:
    path: str
    kind: str  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None
    parent: str | None = None  # conditional: exists only when `parent` == `equals`
    equals: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "kind": self.kind, "low": self.low, "high": self.high, "log": self.log,
            "step": self.step, "choices": list(self.choices) if self.choices is not None else None,
            "condition": {"parent": self.parent, "equals": self.equals} if self.parent else None,
        }  # fmt: skip

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Param:
        cond = d.get("condition") or {}
        choices = d.get("choices")
        return Param(
            path=d["path"], kind=d["kind"], low=d.get("low"), high=d.get("high"), log=bool(d.get("log")),
            step=d.get("step"), choices=tuple(choices) if choices is not None else None,
            parent=cond.get("parent"), equals=cond.get("equals"),
        )  # fmt: skip

    def contains(self, value: Any) -> bool:
        """Is ``value`` a point of this parameter's range (what a sampler may return)?"""
        if self.kind == "categorical":
            return any(_same(value, c) for c in self.choices or ())
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        assert self.low is not None and self.high is not None
        eps = 1e-9 * max(1.0, abs(self.high))
        if not self.low - eps <= value <= self.high + eps:
            return False
        if self.step:
            k = (value - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True


def _same(a: Any, b: Any) -> bool:
    return (
        type(a) is type(b)
        and a == b
        or (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and not isinstance(a, bool)
            and not isinstance(b, bool)
            and a == b
        )
    )


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]

    def to_list(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]

    @staticmethod
    def from_list(items: list[dict[str, Any]]) -> SearchSpace:
        return SearchSpace(tuple(Param.from_dict(d) for d in items))

    def get(self, path: str) -> Param:
        for p in self.params:
            if p.path == path:
                return p
        raise Invalid(f"no parameter {path!r} in the space", field=f"space.{path}")

    def active(self, point: dict[str, Any]) -> list[Param]:
        """The parameters that exist for ``point`` (conditions hold), in space order."""
        return [p for p in self.params if p.parent is None or (p.parent in point and _same(point[p.parent], p.equals))]

    def check_point(self, point: dict[str, Any], *, field: str = "params") -> dict[str, Any]:
        """``point`` has exactly the active parameters, each within its range (enqueued trials,
        warm starts, and every sampler's answer)."""
        for path in point:
            if path not in {p.path for p in self.params}:
                raise Invalid(f"{path!r} is not a parameter of the space", field=f"{field}.{path}")
        active = self.active(point)
        for p in active:
            if p.path not in point:
                raise Invalid(f"missing value for {p.path}", field=f"{field}.{p.path}")
            if not p.contains(point[p.path]):
                raise Invalid(f"{point[p.path]!r} is outside {p.path}'s range", field=f"{field}.{p.path}")
        extra = set(point) - {p.path for p in active}
        if extra:
            path = sorted(extra)[0]
            raise Invalid(
                f"{path} does not exist for this point (its condition does not hold)", field=f"{field}.{path}"
            )
        return point

    def apply(self, values: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
        """A copy of the config ``values`` with the point's parameters set."""
        out = values
        for path, value in point.items():
            out = cpaths.set_(out, path, value)
        return out

    def grid(self) -> list[dict[str, Any]]:
        """Every point of the space (grid search), in a fixed order; conditional parameters only
        under their parent's value. Every parameter needs a finite set of values (categorical, int,
        or float with ``step``)."""
        for p in self.params:
            if p.kind == "float" and not p.step:
                raise Invalid(f"grid search needs a step for float parameter {p.path}", field=f"space.{p.path}.step")
        points: list[dict[str, Any]] = [{}]
        for p in self.params:
            nxt: list[dict[str, Any]] = []
            for point in points:
                if p.parent is not None and not (p.parent in point and _same(point[p.parent], p.equals)):
                    nxt.append(point)
                    continue
                nxt.extend({**point, p.path: v} for v in values_of(p))
                if len(nxt) > MAX_GRID:
                    raise Invalid(f"the grid has more than {MAX_GRID} points", field="space")
            points = nxt
        return points


def values_of(p: Param) -> list[Any]:
    """The finite values of a grid parameter."""
    if p.kind == "categorical":
        return list(p.choices or ())
    assert p.low is not None and p.high is not None
    if p.kind == "int":
        step = int(p.step or 1)
        return list(range(int(p.low), int(p.high) + 1, step))
    assert p.step
    n = int(math.floor((p.high - p.low) / p.step + 1e-9))
    return [round(p.low + i * p.step, 12) for i in range(n + 1)]


def grid_size(space: SearchSpace) -> int:
    return len(space.grid())


# ---------------------------------------------------------------- parsing + schema checks


def _field_spec(path: str, family: str) -> Spec:
    parts = path.split(".")
    sections = {"training": TRAINING, "tokenizer": TOKENIZER, "architecture": ARCHITECTURE.get(family, {})}
    if family == "electra":
        sections["electra_generator"] = ELECTRA_GENERATOR
    if len(parts) != 2 or parts[0] not in sections:
        raise Invalid(
            f"unknown config path {path!r}: expected training.<field>, architecture.<field> (or model.<field>), "
            "tokenizer.<field>",
            field=f"space.{path}",
        )
    spec = sections[parts[0]].get(parts[1])
    if spec is None:
        raise Invalid(f"unknown config path {path!r} for {family} configs", field=f"space.{path}")
    return spec


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid("must be a finite number", field=field)
    return value


def _param(raw_path: Any, spec: Any, family: str, earlier: dict[str, Param]) -> Param:
    if not isinstance(raw_path, str) or not raw_path:
        raise Invalid("a parameter needs a config path", field="space")
    head, _, rest = raw_path.partition(".")
    path = f"{_ALIASES.get(head, head)}.{rest}" if rest else raw_path
    where = f"space.{path}"
    if not isinstance(spec, dict):
        raise Invalid("a parameter is a mapping (type, low, high, ...)", field=where)
    for key in spec:
        if key not in _KEYS:
            raise Invalid(f"unknown key {key!r}", field=f"{where}.{key}")
    if path in earlier:
        raise Invalid(f"{path} appears twice", field=where)
    field_spec = _field_spec(path, family)
    kind = spec.get("type", spec.get("kind", "categorical" if "choices" in spec else None))
    if kind not in KINDS:
        raise Invalid(f"type must be one of {list(KINDS)}", field=f"{where}.type")
    parent, equals = _condition(spec.get("when"), where, earlier)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise Invalid("a categorical parameter needs a non-empty list of choices", field=f"{where}.choices")
        if len(choices) > MAX_CHOICES:
            raise Invalid(f"at most {MAX_CHOICES} choices", field=f"{where}.choices")
        for i, c in enumerate(choices):
            if isinstance(c, dict | list):
                raise Invalid("choices are numbers, strings or booleans", field=f"{where}.choices[{i}]")
            problem = _check(path, c, field_spec)
            if problem:
                raise Invalid(f"choice {c!r}: {problem}", field=f"{where}.choices[{i}]")
        if len({repr(c) for c in choices}) != len(choices):
            raise Invalid("choices repeat", field=f"{where}.choices")
        return Param(path, "categorical", choices=tuple(choices), parent=parent, equals=equals)
    if field_spec.kind not in ("int", "float") or (kind == "float" and field_spec.kind == "int"):
        want = "categorical" if field_spec.kind in ("str", "bool") else field_spec.kind
        raise Invalid(f"{path} holds a{'n' if want == 'int' else ''} {want} value", field=f"{where}.type")
    low = _number(spec.get("low"), f"{where}.low")
    high = _number(spec.get("high"), f"{where}.high")
    log = spec.get("log", False)
    step = spec.get("step")
    if not isinstance(log, bool):
        raise Invalid("must be true or false", field=f"{where}.log")
    if kind == "int" and not (isinstance(spec["low"], int) and isinstance(spec["high"], int)):
        raise Invalid("an int parameter has integer bounds", field=f"{where}.low")
    if low > high or (kind == "float" and low == high):
        raise Invalid(f"empty range: low ({low:g}) must be below high ({high:g})", field=f"{where}.low")
    if log and low <= 0:
        raise Invalid(f"a log scale needs low > 0 (got {low:g})", field=f"{where}.low")
    if step is not None:
        step = _number(step, f"{where}.step")
        if step <= 0 or (kind == "int" and not isinstance(step, int)):
            raise Invalid(
                "step must be a positive " + ("integer" if kind == "int" else "number"), field=f"{where}.step"
            )
        if log:
            raise Invalid("step and log cannot be combined", field=f"{where}.step")
    for key, value in (("low", low), ("high", high)):
        problem = _check(path, int(value) if kind == "int" else value, field_spec)
        if problem:
            raise Invalid(f"{path} {problem}", field=f"{where}.{key}")
    return Param(path, kind, low=low, high=high, log=log, step=step, parent=parent, equals=equals)


def _condition(when: Any, where: str, earlier: dict[str, Param]) -> tuple[str | None, Any]:
    if when is None:
        return None, None
    if not isinstance(when, dict) or len(when) != 1:
        raise Invalid("when: {<parent path>: <value>}", field=f"{where}.when")
    ((raw, value),) = when.items()
    head, _, rest = str(raw).partition(".")
    parent = f"{_ALIASES.get(head, head)}.{rest}" if rest else str(raw)
    p = earlier.get(parent)
    if p is None or p.kind != "categorical":
        raise Invalid(f"the parent {parent!r} must be a categorical parameter listed before", field=f"{where}.when")
    if not any(_same(value, c) for c in p.choices or ()):
        raise Invalid(f"{value!r} is not a choice of {parent}", field=f"{where}.when")
    return parent, value


def parse_space(raw: Any, family: str) -> SearchSpace:
    """A space from its mapping or list form, checked against ``family``'s config schema."""
    if isinstance(raw, dict):
        items = list(raw.items())
    elif isinstance(raw, list):
        items = []
        for i, d in enumerate(raw):
            if not isinstance(d, dict):
                raise Invalid("each parameter is a mapping with a path", field=f"space[{i}]")
            items.append((d.get("path"), {k: v for k, v in d.items() if k != "path"}))
    else:
        raise Invalid("the space is a mapping of config paths to parameters", field="space")
    if not items:
        raise Invalid("the space has no parameters", field="space")
    if len(items) > MAX_PARAMS:
        raise Invalid(f"at most {MAX_PARAMS} parameters", field="space")
    out: dict[str, Param] = {}
    for path, spec in items:
        p = _param(path, spec, family, out)
        out[p.path] = p
    return SearchSpace(tuple(out.values()))


def product_size(space: SearchSpace) -> int | None:
    """How many points a grid over the space has (None if some float has no step)."""
    try:
        return len(space.grid())
    except Invalid:
        return None


__all__ = ["Param", "SearchSpace", "parse_space", "values_of", "grid_size", "product_size"]
