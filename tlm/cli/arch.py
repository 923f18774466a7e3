"""``tlm arch ...``: derive an architecture from a config, test it against its parent (a job that
may wait in the job queue, position shown), cancel a test.

Like ``tlm.cli.configs``, the root options are read from ``tlm.cli.common``."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from tlm.cli.common import Grid, client, console, err, fail, fail_with, out
from tlm.cli.common import json_mode as _json
from tlm.cli.configs import config_summary
from tlm.client import ApiError

arch_app = typer.Typer(help="Architecture tuning: derive a config, test it against its parent", no_args_is_help=True)


# ------------------------------------------------------------------ arch
@arch_app.command("derive")
def derive(
    parent_id: str,
    name: str,
    layers: Annotated[int | None, typer.Option(help="number of layers (keeps the bottom ones)")] = None,
    keep_layers: Annotated[str | None, typer.Option(help="parent layers to keep, e.g. 0,2,4")] = None,
    hidden_size: Annotated[int | None, typer.Option()] = None,
    heads: Annotated[int | None, typer.Option()] = None,
    intermediate_size: Annotated[int | None, typer.Option()] = None,
    activation: Annotated[str | None, typer.Option(help="gelu, relu, silu, ...")] = None,
    hidden_dropout: Annotated[float | None, typer.Option()] = None,
    attention_dropout: Annotated[float | None, typer.Option()] = None,
    position_embedding_type: Annotated[str | None, typer.Option()] = None,
    edit: Annotated[str | None, typer.Option(help="the whole edit as JSON (merged with the options)")] = None,
    description: Annotated[str, typer.Option()] = "",
) -> None:
    """A child config: an architecture edit of PARENT_ID."""
    body: dict[str, Any] = json.loads(edit) if edit else {}
    opts = {
        "num_layers": layers, "hidden_size": hidden_size, "num_heads": heads,
        "intermediate_size": intermediate_size,
        "activation": activation, "hidden_dropout": hidden_dropout, "attention_dropout": attention_dropout,
        "position_embedding_type": position_embedding_type,
        "keep_layers": [int(x) for x in keep_layers.split(",")] if keep_layers else None,
    }  # fmt: skip
    body.update({k: v for k, v in opts.items() if v is not None})
    try:
        c = client().derive_config(parent_id, name, body, description=description)
    except ApiError as e:
        fail(e)
    if _json():
        out(c)
        return
    console.print(f"derived {config_summary(c)} from {parent_id}")
    t = Grid("field", "parent", "child")
    for ch in c.get("arch", {}).get("changes", []):
        t.add_row(ch["path"], json.dumps(ch.get("old")), json.dumps(ch.get("new")))
    console.print(t)


def _fmt(n: Any) -> str:
    if isinstance(n, float):
        return f"{n:,.3f}"
    return f"{n:,}" if isinstance(n, int) else str(n)


def report_table(report: dict[str, Any]) -> Grid:
    p, c, r = report["parent"], report["child"], report.get("child_vs_parent", {})
    s = report.get("settings", {})
    title = f"architecture test ({report.get('family')}, batch {s.get('batch_size')} x seq {s.get('seq_len')})"
    t = Grid("", "parent", "child", "child / parent", title=title)
    rows = [
        ("parameters", p["params"], c["params"], r.get("params")),
        ("non-embedding parameters", p["non_embedding_params"], c["non_embedding_params"], None),
        ("parameter bytes", p["param_bytes"], c["param_bytes"], r.get("param_bytes")),
        ("FLOPs / token (fwd)", p["flops_per_token"], c["flops_per_token"], r.get("flops_per_token")),
        ("activation bytes", p["activation_bytes"], c["activation_bytes"], None),
        ("latency ms (median)", p["latency_ms"]["median"], c["latency_ms"]["median"], r.get("latency")),
        ("smoke loss", round(p["smoke"]["loss"], 4), round(c["smoke"]["loss"], 4), None),
        ("smoke finite", p["smoke"]["finite"], c["smoke"]["finite"], None),
    ]
    for label, a, b, ratio in rows:
        t.add_row(label, _fmt(a), _fmt(b), "" if ratio is None else f"{ratio:.3f}")
    carried = report.get("carried", {})
    t.add_row("carried tensors", "", _fmt(carried.get("count", 0)), "")
    t.add_row("carried parameters", "", _fmt(carried.get("carried_params", 0)), "")
    return t


@arch_app.command("cancel")
def cancel(job_name: str) -> None:
    """Cancel an architecture test (a queued one leaves the queue)."""
    try:
        job = client().cancel_job(job_name)
    except ApiError as e:
        fail(e)
    out(job, lambda: console.print(f"job {job_name}: [bold]{job['state']}[/bold]"))


@arch_app.command("test")
def test(
    config_id: str,
    batch_size: Annotated[int | None, typer.Option()] = None,
    seq_len: Annotated[int | None, typer.Option()] = None,
    repeats: Annotated[int | None, typer.Option()] = None,
    text: Annotated[str | None, typer.Option(help="Chinese text for the smoke step")] = None,
    wait: Annotated[bool, typer.Option(help="poll until the job ends")] = True,
    timeout: Annotated[float, typer.Option(help="seconds to wait")] = 900.0,
    weights: Annotated[bool, typer.Option("--weights", help="list every carried tensor")] = False,
) -> None:
    """Build the derived config and its parent, compare them side by side (a job)."""
    c = client()
    try:
        started = c.arch_test(config_id, batch_size=batch_size, seq_len=seq_len, repeats=repeats, text=text)
        name = started["job_name"]
        if not wait:
            out(started) if _json() else console.print(f"started job {name}")
            return
        deadline = time.monotonic() + timeout
        with err.status(f"job {name}: starting", spinner="dots") as status:
            while True:
                job = c.job(name)
                queued = f" (position {job['queue_position']} in the queue)" if job.get("queue_position") else ""
                status.update(f"job {name}: {job['state']}{queued}")
                if job["state"] not in ("Pending", "InProgress", "Stopping"):
                    break
                if time.monotonic() > deadline:
                    fail_with("timeout", f"job {name} still {job['state']} after {timeout:.0f}s", exit_code=3)
                time.sleep(0.5)
    except ApiError as e:
        fail(e)
    if job["state"] != "Completed" or not job.get("report"):
        if _json():
            out(job)
        else:
            err.print(f"[red]job {name} {job['state']}[/red]: {job.get('failure_reason')}")
        raise typer.Exit(1)
    if _json():
        out(job)
        return
    report = job["report"]
    console.print(f"job {name} completed")
    console.print(report_table(report))
    carried = report["carried"]
    if weights:
        w = Grid("child tensor", "from parent", "shape", title="carried weights")
        for x in carried["tensors"]:
            w.add_row(x["name"], x["from"], "x".join(map(str, x["shape"])))
        console.print(w)
    console.print(
        f"{carried['count']} tensors carried, {len(carried['new'])} new, {len(carried['dropped'])} dropped, "
        f"{len(carried['shape_mismatch'])} shape mismatches" + (" (use --weights to list)" if not weights else "")
    )
