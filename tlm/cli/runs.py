"""``tlm runs list|show|cancel``: workflow runs (compile, train, ...) with per-step status and
timing, authorized by the run's project."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from tlm.cli.common import Grid, client, console, fail, out, out_list
from tlm.cli.compile import steps_table
from tlm.client import ApiError

runs_app = typer.Typer(help="Workflow runs: list, show (per-step status and timing), cancel", no_args_is_help=True)


@runs_app.command("list")
def list_(
    project: Annotated[str | None, typer.Option(help="project id")] = None,
    workflow: Annotated[str | None, typer.Option(help="compile | train | ...")] = None,
    status: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 100,
) -> None:
    try:
        items = client().runs(project_id=project, workflow=workflow, status=status, limit=limit)
    except ApiError as e:
        fail(e)

    def render() -> None:
        t = Grid("run", "workflow", "status", "started", "duration s", "step", "error")
        for r in items:
            dur = r.get("duration_s")
            t.add_row(
                r["run_id"], r["workflow"], r["status"], str(r.get("started_at") or "")[:19],
                "" if dur is None else f"{dur:.1f}", r.get("current_step") or "", r.get("error") or "",
            )  # fmt: skip
        console.print(t)

    out_list(items, render)


@runs_app.command("show")
def show(run_id: str) -> None:
    """A run's status and every step attempt with its status, start, duration and job."""
    try:
        r = client().run(run_id)
    except ApiError as e:
        fail(e)

    def render() -> None:
        dur = r.get("duration_s")
        console.print(
            f"run [bold]{r['run_id']}[/bold] {r['workflow']} status=[bold]{r['status']}[/bold]"
            + ("" if dur is None else f" duration={dur:.1f}s")
        )
        if r.get("error"):
            console.print(f"error: {escape(str(r['error']))}: {escape(str(r.get('cause') or ''))}")
        console.print(steps_table(r["steps"]))

    out(r, render)


@runs_app.command("cancel")
def cancel(run_id: str, reason: Annotated[str, typer.Option()] = "") -> None:
    try:
        r = client().cancel_run(run_id, reason)
    except ApiError as e:
        fail(e)
    out(r, lambda: console.print(f"run {run_id}: [bold]{r['status']}[/bold]"))
