"""``tlm deployments start|update|rollback|stop|shadow|show|list`` and ``tlm predict``.

``show`` draws the deployment's latency (p50/p95/p99) and requests over time per slot as a
terminal chart from ``GET /deployments/{id}/metrics``; ``--watch`` redraws it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tlm.cli.common import Grid, console, fail_with, json_mode, out, out_list
from tlm.cli.versions import call

deployments_app = typer.Typer(help="Serve model versions: start, update (canary/linear), rollback, stop",
                              no_args_is_help=True)  # fmt: skip
BARS = " ▁▂▃▄▅▆▇█"


def spark(values: list[float | None], top: float | None = None) -> str:
    nums = [v for v in values if v is not None]
    hi = top or (max(nums) if nums else 0.0) or 1.0
    return "".join(" " if v is None else BARS[min(len(BARS) - 1, round(v / hi * (len(BARS) - 1)))] for v in values)


def chart(metrics: dict[str, Any], width: int = 60) -> None:
    """Per slot and version: requests, errors and p50/p95/p99 as sparklines (latest at the right)."""
    series = metrics.get("series") or []
    if not series:
        console.print("(no metrics samples yet)")
        return
    for s in series:
        pts = s["points"][-width:]
        p99 = [p.get("p99_ms") for p in pts]
        top = max([v for v in p99 if v is not None] or [1.0])
        console.print(f"[bold]{s['slot']}[/bold] {s['version_id']}: {s['invocations']} requests, {s['errors']} errors")
        console.print(f"  requests {spark([float(p['invocations']) for p in pts])}")
        console.print(f"  errors   {spark([float(p['errors']) for p in pts])}")
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            last = next((p[q] for p in reversed(pts) if p.get(q) is not None), None)
            label = f"{last:.2f} ms" if last is not None else "-"
            console.print(f"  {q[:3]:<8} {spark([p.get(q) for p in pts], top)}  {label}")


def _show(d: dict[str, Any], metrics: dict[str, Any] | None) -> None:
    weights = ", ".join(f"{k} {w}%" for k, w in sorted(d["weights"].items())) or "none"
    console.print(f"deployment [bold]{d['deployment_id']}[/bold] ({d['name']}) status=[bold]{d['status']}[/bold] "
                  f"primary={d['primary_version']} traffic: {weights}")  # fmt: skip
    for slot, s in sorted(d["slots"].items()):
        console.print(f"  slot {slot}: {s['version_id']} healthy={s.get('healthy')}")
    if d.get("update"):
        u = d["update"]
        console.print(f"  update {u['update_id']}: {u['kind']} to {u['version_id']} {u['strategy']}")
    if d.get("shadow"):
        console.print(f"  shadow: {d['shadow']}")
    t = Grid("at", "event", "by", "cause")
    for h in d["history"]:
        t.add_row(h["at"][11:19], h["type"].removeprefix("deployment."), h["by"], str(h.get("cause") or "")[:70])
    console.print(t)
    if metrics is not None:
        chart(metrics)


@deployments_app.command("start")
def start(version_id: str, name: Annotated[str, typer.Option(help="a name")] = "") -> None:
    """Deploy a version: its slot must pass its health check before it gets traffic."""
    d = call("POST", "/deployments", json={"version_id": version_id, "name": name})
    out(d, lambda: console.print(f"deployment [bold]{d['deployment_id']}[/bold] {d['status']}"))


@deployments_app.command("update")
def update(
    deployment_id: str,
    version_id: str,
    canary: Annotated[int | None, typer.Option(help="canary percent (1-99)")] = None,
    linear: Annotated[int | None, typer.Option(help="linear step percent (1-99)")] = None,
    bake: Annotated[float, typer.Option(help="seconds to bake after each shift")] = 60.0,
    max_error_rate: Annotated[float | None, typer.Option(help="roll back above this error rate")] = None,
    max_p99_ms: Annotated[float | None, typer.Option(help="roll back above this p99 latency")] = None,
) -> None:
    """Blue/green update: all at once, or --canary N / --linear N with baking and automatic rollback."""
    if canary is not None and linear is not None:
        fail_with("bad_option", "choose --canary or --linear", field="strategy")
    kind = "canary" if canary is not None else "linear" if linear is not None else "all_at_once"
    strategy: dict[str, Any] = {"kind": kind, "bake_s": bake}
    if kind != "all_at_once":
        strategy["percent"] = canary if canary is not None else linear
    thresholds = {k: v for k, v in (("max_error_rate", max_error_rate), ("max_p99_ms", max_p99_ms)) if v is not None}
    body: dict[str, Any] = {"version_id": version_id, "strategy": strategy}
    if thresholds:
        body["thresholds"] = thresholds
    d = call("POST", f"/deployments/{deployment_id}/update", json=body)
    out(d, lambda: console.print(f"update to {version_id} requested ({kind}); status {d['status']}"))


@deployments_app.command("rollback")
def rollback(deployment_id: str, reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """One step back: the update in progress, else the previous version (checked before traffic moves)."""
    d = call("POST", f"/deployments/{deployment_id}/rollback", json={"reason": reason})
    out(d, lambda: console.print(f"rollback requested; status {d['status']}"))


@deployments_app.command("stop")
def stop(deployment_id: str, reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    d = call("POST", f"/deployments/{deployment_id}/stop", json={"reason": reason})
    out(d, lambda: console.print(f"deployment {deployment_id} {d['status']}"))


@deployments_app.command("shadow")
def shadow(deployment_id: str, version_id: Annotated[str | None, typer.Argument()] = None,
           percent: Annotated[int, typer.Option(help="share of requests copied")] = 10,
           off: Annotated[bool, typer.Option("--off", help="end the shadow test")] = False) -> None:  # fmt: skip
    """Copy a share of requests to a candidate version (answers stay the primary's)."""
    if off:
        d = call("DELETE", f"/deployments/{deployment_id}/shadow")
    else:
        if not version_id:
            fail_with("bad_option", "name the candidate version (or --off)", field="version_id")
        d = call("POST", f"/deployments/{deployment_id}/shadow", json={"version_id": version_id, "percent": percent})
    out(d, lambda: console.print(f"shadow: {d.get('shadow')}"))


@deployments_app.command("show")
def show(
    deployment_id: str,
    as_of: Annotated[str | None, typer.Option(help="ISO 8601 time")] = None,
    watch: Annotated[float, typer.Option(help="redraw every N seconds (0: once)")] = 0.0,
) -> None:
    """Status, traffic split, history and a latency chart (p50/p95/p99, requests, errors)."""
    while True:
        d = call("GET", f"/deployments/{deployment_id}", params={"as_of": as_of} if as_of else None)
        params: dict[str, Any] = {"as_of": as_of} if as_of else {"sample": "true"}
        m = call("GET", f"/deployments/{deployment_id}/metrics", params=params)
        if json_mode():
            out({**d, "metrics": m})
        else:
            if watch:
                console.clear()
            _show(d, m)
        if not watch:
            return
        time.sleep(watch)


@deployments_app.command("list")
def list_(project: Annotated[str, typer.Option("--project", help="project id")]) -> None:
    items = call("GET", f"/projects/{project}/deployments")["items"]

    def render() -> None:
        t = Grid("deployment", "name", "status", "version", "traffic")
        for d in items:
            t.add_row(d["deployment_id"], d["name"], d["status"], d.get("primary_version") or "",
                      ", ".join(f"{k} {w}%" for k, w in sorted(d["weights"].items())))  # fmt: skip
        console.print(t)

    out_list(items, render)


def predict(
    deployment_id: str,
    texts: Annotated[list[str] | None, typer.Argument(help="texts to classify")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="one text per line (or a JSON list)")] = None,
) -> None:
    """Labels and scores for texts, from a deployment (routed by its traffic split)."""
    items = list(texts or [])
    if file is not None:
        if not file.is_file():
            fail_with("not_found", f"no file {file}", field="file")
        raw = file.read_text(encoding="utf-8")
        loaded = json.loads(raw) if raw.lstrip().startswith("[") else [ln for ln in raw.splitlines() if ln.strip()]
        items += [str(t) for t in loaded]
    if not items:
        fail_with("bad_option", "give texts or --file", field="texts")
    r = call("POST", f"/deployments/{deployment_id}/predict", json={"texts": items})

    def render() -> None:
        t = Grid("text", "label", "score")
        for text, p in zip(items, r["predictions"], strict=True):
            t.add_row(text[:60], p["label"], f"{p['score']:.4f}")
        console.print(t)
        console.print(f"(version {r['version_id']}, slot {r['slot']})")

    out(r, render)
