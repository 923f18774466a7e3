"""``tlm pipelines create|show|validate|diff|history|blame|export|import|list|kinds|run|runs|retry|cancel|approve``,
``tlm pipelines triggers add|list|remove`` (``tlm.cli.pipeline_triggers``)
(issue 15).

A pipeline is a YAML (or JSON) file of typed nodes (``tlm pipelines kinds`` lists them); every
save is a new version. Talks to the API only (``tlm.client.Client.request``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tlm.cli.common import Grid, client, console, err, fail, fail_with, out, out_list
from tlm.cli.common import json_mode as _json
from tlm.client import ApiError

pipelines_app = typer.Typer(help="Pipelines: typed DAGs of model, data, params, train, evaluate, ...",
                            no_args_is_help=True)  # fmt: skip


def _read(file: Path) -> str:
    if not file.is_file():
        fail_with("not_a_file", f"not a file: {file}", field="file")
    return file.read_text(encoding="utf-8")


def _call(method: str, path: str, **kw: Any) -> Any:
    try:
        return client().request(method, path, **kw)
    except ApiError as e:
        fail(e)


def _summary(p: dict[str, Any]) -> str:
    na = f"  [yellow]not available yet: {', '.join(p['not_available'])}[/yellow]" if p.get("not_available") else ""
    return f"pipeline [bold]{escape(p['name'])}[/bold] id={p['pipeline_id']} v{p['version']}{na}"


def _stages(p: dict[str, Any]) -> None:
    for i, stage in enumerate(p["stages"], start=1):
        console.print(f"  stage {i}: {' | '.join(stage)}")


@pipelines_app.command("kinds")
def kinds() -> None:
    """Node kinds with their typed ports."""
    items = _call("GET", "/pipeline-kinds")["items"]
    t = Grid("kind", "inputs", "outputs", "available")
    for k in items:
        ins = ", ".join(f"{p['name']}:{p['type']}" + ("" if p["required"] else "?") for p in k["inputs"])
        outs = ", ".join(f"{p['name']}:{p['type']}" for p in k["outputs"])
        t.add_row(k["kind"], ins, outs, "yes" if k["available"] else "not yet")
    out_list(items, t)


@pipelines_app.command("validate")
def validate(file: Path) -> None:
    """Check a pipeline file without saving it (every problem, each naming node and port)."""
    doc = _call("POST", "/pipelines/validate", json={"file": _read(file)})
    if _json():
        out(doc)
    else:
        console.print(f"[green]valid[/green] {len(doc['definition']['nodes'])} nodes")
        _stages(doc)


@pipelines_app.command("create")
def create(project_id: str, file: Path) -> None:
    """Create a pipeline from a YAML/JSON file (version 1)."""
    p = _call("POST", f"/projects/{project_id}/pipelines", json={"file": _read(file)})
    out(p) if _json() else console.print(f"created {_summary(p)}")


@pipelines_app.command("save")
def save(
    pipeline_id: str,
    file: Path,
    expected_version: Annotated[
        int | None, typer.Option(help="the version you edited (409 if another came first)")
    ] = None,
) -> None:
    """Save a new version from a file (nothing recorded if nothing changed)."""
    body: dict[str, Any] = {"file": _read(file)}
    if expected_version is not None:
        body["expected_version"] = expected_version
    p = _call("PUT", f"/pipelines/{pipeline_id}", json=body)
    if _json():
        out(p)
    else:
        console.print(("saved " if p.get("changed") else "unchanged ") + _summary(p))


@pipelines_app.command("import")
def import_(project_id: str, file: Path) -> None:
    """Import a pipeline file exported by this or another TLM (same as create)."""
    create(project_id, file)


@pipelines_app.command("list")
def list_(project_id: str) -> None:
    """A project's pipelines, newest change first."""
    items = _call("GET", f"/projects/{project_id}/pipelines")["items"]
    t = Grid("id", "name", "version", "nodes", "updated", "by")
    for p in items:
        t.add_row(
            p["pipeline_id"], p["name"], str(p["version"]), str(p["nodes"]), p["updated"]["at"], p["updated"]["by"]
        )
    out_list(items, t)


@pipelines_app.command("show")
def show(
    pipeline_id: str,
    version: Annotated[int | None, typer.Option()] = None,
    as_of: Annotated[str | None, typer.Option(help="ISO 8601 time with zone")] = None,
) -> None:
    """A pipeline version: nodes, their inputs and the stages they run in."""
    params = {k: v for k, v in {"version": version, "as_of": as_of}.items() if v is not None}
    p = _call("GET", f"/pipelines/{pipeline_id}", params=params)
    if _json():
        out(p)
        return
    console.print(_summary(p))
    t = Grid("node", "kind", "inputs", "after")
    for n in p["definition"]["nodes"]:
        ins = ", ".join(f"{k}<-{v}" for k, v in (n.get("inputs") or {}).items())
        t.add_row(n["id"], n["kind"], ins, ", ".join(n.get("after") or []))
    console.print(t)
    _stages(p)


@pipelines_app.command("history")
def history(pipeline_id: str) -> None:
    """Every version: who saved it, when, which nodes changed."""
    items = _call("GET", f"/pipelines/{pipeline_id}/history")["items"]
    t = Grid("version", "type", "by", "when", "nodes changed", "reason")
    for h in items:
        t.add_row(str(h["version"]), h["type"], h["actor"], h["occurred_at"], ", ".join(h["nodes_changed"]),
                  h.get("reason") or "")  # fmt: skip
    out_list(items, t)


@pipelines_app.command("diff")
def diff(pipeline_id: str, from_version: int, to_version: int) -> None:
    """What changed between two versions, by node and field."""
    d = _call("GET", f"/pipelines/{pipeline_id}/diff", params={"from_version": from_version, "to_version": to_version})
    if _json():
        out(d)
        return
    nodes = d["nodes"]
    summary = ", ".join(f"{k} {nodes[k] or '-'}" for k in ("added", "removed", "changed"))
    console.print(f"v{from_version} -> v{to_version}: {summary}")
    t = Grid("path", "change", "old", "new")
    for c in d["changes"]:
        t.add_row(c["path"], c["kind"], repr(c["old"]), repr(c["new"]))
    console.print(t)


@pipelines_app.command("blame")
def blame(pipeline_id: str, version: Annotated[int | None, typer.Option()] = None) -> None:
    """Per node: who added it, who changed it last."""
    params = {"version": version} if version is not None else None
    items = _call("GET", f"/pipelines/{pipeline_id}/blame", params=params)["items"]
    t = Grid("node", "kind", "added (v, by)", "changed (v, by)", "fields")
    for b in items:
        a, c = b["added"], b["changed"]
        t.add_row(b["node"], b["kind"], f"v{a['version']} {a['actor']}", f"v{c['version']} {c['actor']}",
                  ", ".join(c["paths"]))  # fmt: skip
    out_list(items, t)


@pipelines_app.command("export")
def export(
    pipeline_id: str,
    format: Annotated[str, typer.Option(help="yaml | json")] = "yaml",  # noqa: A002
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file (default: stdout)")] = None,
    version: Annotated[int | None, typer.Option()] = None,
) -> None:
    """The pipeline file of a version (YAML by default), to share or edit and save again."""
    params: dict[str, Any] = {"format": format, **({"version": version} if version is not None else {})}
    r = client().http.get(f"/pipelines/{pipeline_id}/export", params=params)
    if r.status_code >= 400:
        try:
            fail(ApiError(r.status_code, r.json()))
        except ValueError:
            fail(ApiError(r.status_code, {"error": "bad_response", "message": r.text[:200]}))
    if _json():
        out({"pipeline_id": pipeline_id, "format": format, "text": r.text})
    elif output is None:
        print(r.text, end="")
    else:
        output.write_text(r.text, encoding="utf-8")
        err.print(f"wrote {output}")


def _run_view(r: dict[str, Any]) -> None:
    parent = f" (retry of {r['parent_run_id']})" if r.get("parent_run_id") else ""
    console.print(f"run {r['run_id']} of v{r['pipeline_version']}{parent}: [bold]{r['status']}[/bold]"
                  f"  jobs launched: {r.get('jobs_launched', 0)}")  # fmt: skip
    t = Grid("node", "kind", "status", "duration s", "jobs", "outputs / error")
    for nid, n in r["nodes"].items():
        shown = n.get("outputs") or n.get("error") or ""
        if isinstance(shown, dict):
            shown = {k: v for k, v in shown.items() if k not in ("input_hash", "jobs", "launched")}
        duration = "" if n.get("duration_s") is None else f"{n['duration_s']:.1f}"
        t.add_row(nid, str(n.get("kind", "")), str(n["status"]), duration, str(len(n.get("jobs") or [])),
                  escape(str(shown)))  # fmt: skip
    console.print(t)
    if r.get("cause"):
        console.print(f"[red]{escape(str(r['error']))}[/red]: {escape(str(r['cause']))}")


def _wait(run_id: str, wait: bool) -> dict[str, Any]:
    import time

    r: dict[str, Any] = _call("GET", f"/pipeline-runs/{run_id}")
    while wait and r["status"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(1)
        r = _call("GET", f"/pipeline-runs/{run_id}")
    return r


@pipelines_app.command("run")
def run(
    pipeline_id: str,
    version: Annotated[int | None, typer.Option(help="default: the latest")] = None,
    wait: Annotated[bool, typer.Option(help="poll until the run ends")] = False,
) -> None:
    """Run a pipeline version on the local engine (search nodes do not run yet; see the README)."""
    params = {"version": version} if version is not None else None
    started = _call("POST", f"/pipelines/{pipeline_id}/runs", params=params)
    r = _wait(started["run_id"], wait)
    out(r) if _json() else _run_view(r)


@pipelines_app.command("run-status")
def run_status(run_id: str) -> None:
    """A pipeline run: its status and each node's status and outputs."""
    r = _call("GET", f"/pipeline-runs/{run_id}")
    out(r) if _json() else _run_view(r)


@pipelines_app.command("runs")
def runs(pipeline_id: str) -> None:
    """A pipeline's runs (every version), newest first."""
    items = _call("GET", f"/pipelines/{pipeline_id}/runs")["items"]
    t = Grid("run", "version", "status", "jobs", "duration s", "retry of")
    for r in items:
        duration = "" if r.get("duration_s") is None else f"{r['duration_s']:.1f}"
        t.add_row(r["run_id"], str(r["pipeline_version"]), str(r["status"]), str(r["jobs_launched"]), duration,
                  r.get("parent_run_id") or "")  # fmt: skip
    out_list(items, t)


@pipelines_app.command("retry")
def retry(
    run_id: str,
    from_node: Annotated[str | None, typer.Option("--from", help="node to run again with its descendants "
                                                            "(default: the failed node)")] = None,  # fmt: skip
    version: Annotated[int | None, typer.Option(help="pipeline version (default: the latest)")] = None,
    wait: Annotated[bool, typer.Option(help="poll until the run ends")] = False,
) -> None:
    """Retry a run: unchanged nodes reuse their cached outputs (by input hash), the rest run again."""
    body: dict[str, Any] = {}
    if from_node is not None:
        body["from_node"] = from_node
    if version is not None:
        body["version"] = version
    started = _call("POST", f"/pipeline-runs/{run_id}/retry", json=body)
    r = _wait(started["run_id"], wait)
    out(r) if _json() else _run_view(r)


@pipelines_app.command("cancel")
def cancel(run_id: str, reason: Annotated[str, typer.Option(help="recorded with the cancel")] = "") -> None:
    """Cancel a run and the trainings / compiles its nodes started."""
    r = _call("POST", f"/pipeline-runs/{run_id}/cancel", json={"reason": reason})
    out(r) if _json() else _run_view(r)


@pipelines_app.command("approve")
def approve(
    run_id: str,
    node: str,
    reject: Annotated[bool, typer.Option("--reject", help="reject instead (the run fails at the node)")] = False,
    comment: Annotated[str, typer.Option(help="recorded with the decision")] = "",
) -> None:
    """Approve (or --reject) a run's approval node; the run goes on at its next poll."""
    body = {"decision": "reject" if reject else "approve", "comment": comment}
    r = _call("POST", f"/pipeline-runs/{run_id}/approvals/{node}", json=body)
    out(r) if _json() else _run_view(r)


from tlm.cli.pipeline_triggers import triggers_app  # noqa: E402 - its own module, a sub-command here

pipelines_app.add_typer(triggers_app, name="triggers")
