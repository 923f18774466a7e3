"""A pipeline definition: nodes of typed kinds joined by typed edges, validated as a whole.

Canonical (stored) form, keyed by node id so that diff and blame paths read
``nodes.train1.params.max_epochs``::

    {"name": ..., "description": ...,
     "nodes": {"<id>": {"kind": ..., "params": {...}, "inputs": {"<port>": "<node>.<port>"},
                        "after": ["<node>", ...]}}}

An input names the output port it reads (``data.dataset``); ``after`` orders a node after others
without passing data (e.g. after a condition or an approval). ``validate`` collects every
problem and raises one ``PipelineInvalid`` (an ``Invalid``; ``field`` is the first problem,
``violations`` all of them), each naming the node and the port or parameter
(``nodes.train1.inputs.dataset``, ``nodes.gate.params.expression``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from domain.configs.validation import Violation
from domain.errors import Invalid
from domain.pipelines.condition import parse as parse_condition
from domain.pipelines.kinds import KINDS, NodeKind

NODE_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # an identifier: it becomes a JSONPath segment
MAX_NODES = 100
NAME_MAX = 200
DESCRIPTION_MAX = 5000
Definition = dict[str, Any]


class PipelineInvalid(Invalid):
    def __init__(self, violations: list[Violation]) -> None:
        first = violations[0]
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(f"{first.field}: {first.message}{more}", field=first.field)
        self.violations = violations

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "violations": [v.to_dict() for v in self.violations]}


@dataclass(frozen=True)
class Edge:
    source: str
    source_port: str
    target: str
    target_port: str | None  # None: an ``after`` (ordering only)
    type: str | None


def _dotted_keys(value: Any, where: str, out: list[Violation]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str) or "." in k or not k:
                out.append(Violation(where, f"key {k!r}: use nested mappings, not dotted or empty keys"))
            else:
                _dotted_keys(v, f"{where}.{k}", out)
    elif isinstance(value, list):
        for v in value:
            _dotted_keys(v, where, out)


def _check_params(nid: str, kind: NodeKind, params: Any, out: list[Violation]) -> None:
    where = f"nodes.{nid}.params"
    if not isinstance(params, dict):
        out.append(Violation(where, "params must be a mapping"))
        return
    _dotted_keys(params, where, out)
    try:
        kind.params.model_validate(params)
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if not loc and kind.name == "condition":
                loc = "expression"
            out.append(Violation(f"{where}.{loc}" if loc else where, msg))


def kind_of(node: Any) -> NodeKind | None:
    """The kind of a node as written, or None (not a mapping, no kind, an unknown one)."""
    kind = node.get("kind") if isinstance(node, dict) else None
    return KINDS.get(kind) if isinstance(kind, str) else None


def edges(defn: Definition) -> list[Edge]:
    """Every edge of a (structurally valid) definition, typed by the source port."""
    nodes = defn.get("nodes", {})
    out: list[Edge] = []
    for nid, node in nodes.items():
        for port, ref in (node.get("inputs") or {}).items():
            src, _, sport = str(ref).partition(".")
            skind = kind_of(nodes.get(src))
            p = skind.output(sport) if skind else None
            out.append(Edge(src, sport, nid, port, p.type if p else None))
        for src in node.get("after") or []:
            out.append(Edge(src, "", nid, None, None))
    return out


def _cycle(defn: Definition) -> list[str] | None:
    """One cycle as a node list (first == last), or None."""
    succ: dict[str, list[str]] = {n: [] for n in defn["nodes"]}
    for e in edges(defn):
        if e.source in succ:
            succ[e.source].append(e.target)
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        color[n] = 1
        stack.append(n)
        for m in succ[n]:
            if color.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in color and (found := visit(m)) is not None:
                return found
        stack.pop()
        color[n] = 2
        return None

    for n in succ:
        if n not in color and (found := visit(n)) is not None:
            return found
    return None


def _upstream_metrics(defn: Definition, ref: str) -> tuple[str, ...] | None:
    src, _, _ = ref.partition(".")
    kind = kind_of(defn["nodes"].get(src))
    return kind.metrics if kind else None


def _check_node(defn: Definition, nid: str, node: Any, out: list[Violation]) -> None:
    where = f"nodes.{nid}"
    if not NODE_ID.match(nid):
        out.append(Violation(f"{where}.id", "node ids are lower-case letters, digits and _ (a letter first, <= 40)"))
    if not isinstance(node, dict):
        out.append(Violation(where, "a node is a mapping with kind, params, inputs"))
        return
    unknown = set(node) - {"kind", "params", "inputs", "after"}
    for k in sorted(unknown):
        out.append(Violation(f"{where}.{k}", f"unknown node field {k!r}; expected kind, params, inputs, after"))
    kind = kind_of(node)
    if kind is None:
        out.append(Violation(f"{where}.kind", f"unknown node kind {node.get('kind')!r}; known: {', '.join(KINDS)}"))
        return
    _check_params(nid, kind, node.get("params", {}), out)
    inputs = node.get("inputs", {})
    if not isinstance(inputs, dict):
        out.append(Violation(f"{where}.inputs", "inputs must map a port to '<node>.<port>'"))
        inputs = {}
    nodes = defn["nodes"]
    for port, ref in inputs.items():
        at = f"{where}.inputs.{port}"
        want = kind.input(port)
        if want is None:
            out.append(Violation(at, f"{kind.name} has no input {port!r}; inputs: {[p.name for p in kind.inputs]}"))
            continue
        src, dot, sport = ref.partition(".") if isinstance(ref, str) else ("", "", "")
        if not dot or not src or not sport:
            out.append(Violation(at, f"expected '<node>.<port>', got {ref!r}"))
            continue
        if src not in nodes:
            out.append(Violation(at, f"no node {src!r}"))
            continue
        skind = kind_of(nodes[src])
        if skind is None:
            continue  # reported on that node
        have = skind.output(sport)
        if have is None:
            out.append(Violation(at, f"node {src!r} ({skind.name}) has no output {sport!r}; "
                                     f"outputs: {[p.name for p in skind.outputs]}"))  # fmt: skip
        elif have.type != want.type:
            out.append(Violation(at, f"type mismatch: {kind.name}.{port} takes {want.type}, {ref} gives {have.type}"))
    for p in kind.inputs:
        if p.required and p.name not in inputs:
            out.append(Violation(f"{where}.inputs.{p.name}", f"required input {p.name!r} ({p.type}) is not connected"))
    after = node.get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        out.append(Violation(f"{where}.after", "after must be a list of node ids"))
    else:
        for a in after:
            if a not in nodes:
                out.append(Violation(f"{where}.after", f"no node {a!r}"))
    if kind.name == "condition" and isinstance(node.get("params"), dict) and isinstance(inputs.get("metrics"), str):
        try:
            named = [c.metric for c in parse_condition(str(node["params"].get("expression", "")))]
        except ValueError:
            named = []  # reported by the params check
        known = _upstream_metrics(defn, inputs["metrics"])
        for metric in named:
            if known is not None and metric not in known:
                out.append(Violation(f"{where}.params.expression",
                                     f"metric {metric!r} is not reported by {inputs['metrics']}; "
                                     f"it reports {', '.join(known) or 'no metrics'}"))  # fmt: skip


def validate(defn: Any) -> Definition:
    """Check a canonical definition in full; returns it or raises PipelineInvalid."""
    out: list[Violation] = []
    if not isinstance(defn, dict):
        raise PipelineInvalid([Violation("definition", "a pipeline is a mapping")])
    name = defn.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        out.append(Violation("name", f"name must be a non-empty string of at most {NAME_MAX} characters"))
    elif any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in name):
        out.append(Violation("name", "control characters (NUL, bidi overrides ...) are not allowed"))
    desc = defn.get("description", "")
    if not isinstance(desc, str) or len(desc) > DESCRIPTION_MAX:
        out.append(Violation("description", f"description must be a string of at most {DESCRIPTION_MAX} characters"))
    for k in sorted(set(defn) - {"name", "description", "nodes"}):
        out.append(Violation(k, f"unknown field {k!r}"))
    nodes = defn.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        out.append(Violation("nodes", "a pipeline needs at least one node"))
        raise PipelineInvalid(out)
    if len(nodes) > MAX_NODES:
        raise PipelineInvalid([*out, Violation("nodes", f"at most {MAX_NODES} nodes")])
    for nid, node in nodes.items():
        _check_node(defn, str(nid), node, out)
    if not out:
        cycle = _cycle(defn)
        if cycle is not None:
            a, b = cycle[-2], cycle[-1]
            node = nodes[b]
            port = next((p for p, r in (node.get("inputs") or {}).items() if str(r).split(".")[0] == a), None)
            at = f"nodes.{b}.inputs.{port}" if port else f"nodes.{b}.after"
            out.append(Violation(at, f"cycle: {' -> '.join(cycle)}"))
    if out:
        raise PipelineInvalid(out)
    return defn


def canonical(doc: Mapping[str, Any]) -> Definition:
    """A document's definition in the stored form (node order kept; fields in a fixed order)."""
    nodes: dict[str, Any] = {}
    raw = doc.get("nodes")
    if isinstance(raw, list):
        dupes: list[Violation] = []
        for i, n in enumerate(raw):
            if not isinstance(n, dict) or not isinstance(n.get("id"), str):
                raise PipelineInvalid([Violation(f"nodes[{i}].id", "every node needs an id (a string)")])
            if n["id"] in nodes:
                dupes.append(Violation(f"nodes.{n['id']}.id", f"node id {n['id']!r} is used twice"))
            nodes[n["id"]] = {k: v for k, v in n.items() if k != "id"}
        if dupes:
            raise PipelineInvalid(dupes)
    elif isinstance(raw, dict):
        nodes = dict(raw)
    else:
        raise PipelineInvalid([Violation("nodes", "nodes must be a list of nodes (each with an id)")])
    out_nodes: dict[str, Any] = {}
    for nid, n in nodes.items():
        if not isinstance(n, dict):
            out_nodes[nid] = n
            continue
        node: dict[str, Any] = {"kind": n.get("kind"), "params": n.get("params") or {}, "inputs": n.get("inputs") or {}}
        if n.get("after"):
            node["after"] = n["after"]
        node.update({k: v for k, v in n.items() if k not in node and k != "after"})
        out_nodes[nid] = node
    defn: Definition = {"name": doc.get("name"), "description": doc.get("description") or "", "nodes": out_nodes}
    defn.update({k: v for k, v in doc.items() if k not in defn and k not in ("format", "schema_version")})
    return defn


def topological(defn: Definition) -> list[str]:
    """Node ids in a dependency order (stable: declaration order among ready nodes)."""
    deps: dict[str, set[str]] = {n: set() for n in defn["nodes"]}
    for e in edges(defn):
        deps[e.target].add(e.source)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(deps):
        ready = [n for n in deps if n not in done and deps[n] <= done]
        if not ready:
            raise PipelineInvalid([Violation("nodes", "cycle")])
        order.append(ready[0])
        done.add(ready[0])
    return order


def depths(defn: Definition) -> dict[str, int]:
    """Longest path from a source to each node (0 for sources)."""
    out: dict[str, int] = {}
    preds: dict[str, set[str]] = {n: set() for n in defn["nodes"]}
    for e in edges(defn):
        preds[e.target].add(e.source)
    for n in topological(defn):
        out[n] = max((out[p] + 1 for p in preds[n]), default=0)
    return out
