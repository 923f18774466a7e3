"""``tlm pipelines triggers add|list|remove`` (issue 15 item 4): run a pipeline on a schedule (cron,
UTC) or when a dataset or model gets a new version. On demand is ``tlm pipelines run``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tlm.cli.common import Grid, client, fail, fail_with, out, out_list
from tlm.client import ApiError

triggers_app = typer.Typer(help="Pipeline triggers: a schedule (cron) or a new dataset/model version",
                           no_args_is_help=True)  # fmt: skip


def _call(method: str, path: str, **kw: Any) -> Any:
    try:
        return client().request(method, path, **kw)
    except ApiError as e:
        fail(e)


def _what(t: dict[str, Any]) -> str:
    if t["kind"] == "schedule":
        return f"cron {t['cron']}"
    return f"new version of {t['watch']['kind']} {t['watch']['id']}"


@triggers_app.command("add")
def add(
    pipeline_id: str,
    cron: Annotated[str | None, typer.Option(help='a schedule, 5 fields in UTC: "0 3 * * 1-5"')] = None,
    on_dataset: Annotated[str | None, typer.Option(help="run when this dataset gets a new version")] = None,
    on_model: Annotated[str | None, typer.Option(help="run when this model gets a new version")] = None,
    version: Annotated[int | None, typer.Option(help="the pipeline version to run (default: the latest)")] = None,
) -> None:
    """Add a trigger: give exactly one of --cron, --on-dataset, --on-model."""
    given = [x for x in (cron, on_dataset, on_model) if x is not None]
    if len(given) != 1:
        fail_with("invalid", "give exactly one of --cron, --on-dataset, --on-model", field="kind")
    body: dict[str, Any] = {"kind": "schedule", "cron": cron} if cron is not None else {
        "kind": "new_version", "watch": {"kind": "dataset" if on_dataset else "model", "id": on_dataset or on_model},
    }  # fmt: skip
    if version is not None:
        body["version"] = version
    t = _call("POST", f"/pipelines/{pipeline_id}/triggers", json=body)
    nxt = f", next at {t['next_fire_at']}" if t.get("next_fire_at") else ""
    out(t, f"trigger {t['trigger_id']}: {_what(t)}{nxt}")


@triggers_app.command("list")
def list_(pipeline_id: str) -> None:
    """A pipeline's live triggers."""
    items = _call("GET", f"/pipelines/{pipeline_id}/triggers")["items"]
    g = Grid("id", "trigger", "version", "next", "by")
    for t in items:
        g.add_row(t["trigger_id"], _what(t), str(t["version"] or "latest"), t.get("next_fire_at") or "-",
                  t.get("created_by") or "")  # fmt: skip
    out_list(items, g)


@triggers_app.command("remove")
def remove(pipeline_id: str, trigger_id: str) -> None:
    """Remove a trigger (runs it started stay)."""
    r = _call("DELETE", f"/pipelines/{pipeline_id}/triggers/{trigger_id}")
    out(r, f"trigger {r['trigger_id']} removed")
