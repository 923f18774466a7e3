"""``tlm versions ...``: model versions (create from a model or a compile, list, show, diff,
params and their history), stage aliases, approvals and the release policy."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tlm.cli.common import Grid, client, console, fail, out, out_list
from tlm.cli.compile import parse_params
from tlm.client import ApiError

versions_app = typer.Typer(help="Model versions, stage aliases (production, staging, ...), approvals",
                           no_args_is_help=True)  # fmt: skip


def call(method: str, path: str, **kw: Any) -> Any:
    try:
        return client().request(method, path, **kw)
    except ApiError as e:
        fail(e)


def _show(v: dict[str, Any]) -> None:
    console.print(f"version [bold]{v['version_id']}[/bold] (#{v['number']}, from {v['source']}) of {v['model_id']}"
                  f"  deployable={v['deployable']}  aliases={', '.join(v.get('aliases') or []) or '-'}")  # fmt: skip
    console.print(f"lineage: {v['lineage']}  config: {v['config'] or '-'}")
    if v["metrics"]:
        console.print("metrics: " + ", ".join(f"{k}={x:.4g}" for k, x in sorted(v["metrics"].items())))
    console.print("params: " + ", ".join(f"{k}={x}" for k, x in v["params"].items()))
    t = Grid("file", "size", "sha256")
    for path, f in sorted(v["files"].items()):
        t.add_row(path, str(f.get("size")), f.get("sha256") or "")
    console.print(t)
    for stage, a in (v.get("approvals") or {}).items():
        who = f"asked by {a['requested_by']}, decided by {a.get('decided_by')}"
        console.print(f"approval {stage}: {a['status']} ({who})")


@versions_app.command("create")
def create(
    model: Annotated[str, typer.Option("--model", help="model id")],
    compile_id: Annotated[str | None, typer.Option("--compile", help="from this compile (its ONNX package)")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="serving parameter KEY=VALUE")] = None,
    description: Annotated[str, typer.Option(help="what this version is")] = "",
) -> None:
    """Snapshot a model (or a compile of it) as a new immutable version."""
    body: dict[str, Any] = {"description": description}
    if compile_id:
        body["compile_id"] = compile_id
    if param:
        body["params"] = parse_params(param)
    v = call("POST", f"/models/{model}/versions", json=body)
    out(v, lambda: console.print(f"created version [bold]{v['version_id']}[/bold] (deployable={v['deployable']})"))


@versions_app.command("list")
def list_(model: Annotated[str, typer.Option("--model", help="model id")],
          as_of: Annotated[str | None, typer.Option(help="ISO 8601 time")] = None) -> None:  # fmt: skip
    items = call("GET", f"/models/{model}/versions", params={"as_of": as_of} if as_of else None)["items"]

    def render() -> None:
        t = Grid("version", "#", "source", "aliases", "deployable", "compile", "params rev")
        for v in items:
            t.add_row(v["version_id"], str(v["number"]), v["source"], ",".join(v.get("aliases") or []),
                      str(v["deployable"]), v.get("compile_id") or "", str(v["params_revision"]))  # fmt: skip
        console.print(t)

    out_list(items, render)


@versions_app.command("show")
def show(version_id: str, as_of: Annotated[str | None, typer.Option(help="ISO 8601 time")] = None) -> None:
    v = call("GET", f"/versions/{version_id}", params={"as_of": as_of} if as_of else None)
    out(v, lambda: _show(v))


@versions_app.command("diff")
def diff(version_id: str, other: str) -> None:
    d = call("GET", f"/versions/{version_id}/diff", params={"other": other})

    def render() -> None:
        t = Grid("path", "change", "old", "new")
        for c in d["changes"]:
            t.add_row(c["path"], c["kind"], str(c.get("old"))[:60], str(c.get("new"))[:60])
        console.print(t if d["changes"] else "No differences")

    out(d, render)


@versions_app.command("params")
def params(version_id: str, param: Annotated[list[str] | None, typer.Argument(help="KEY=VALUE ...")] = None) -> None:
    """Show the parameter history, or change parameters (KEY=VALUE ...)."""
    if param:
        v = call("PATCH", f"/versions/{version_id}/params", json={"params": parse_params(param)})
        out(v, lambda: console.print(f"params revision {v['params_revision']}: {v['params']}"))
        return
    items = call("GET", f"/versions/{version_id}/params/history")["items"]

    def render() -> None:
        t = Grid("rev", "by", "at", "changes")
        for h in items:
            changes = ", ".join(f"{c['path']}: {c.get('old')} -> {c.get('new')}" for c in h["changes"]) or "(created)"
            t.add_row(str(h["revision"]), h["by"], h["at"][:19], changes)
        console.print(t)

    out_list(items, render)


@versions_app.command("request-approval")
def request_approval(version_id: str, stage: Annotated[str, typer.Option(help="stage")] = "production") -> None:
    v = call("POST", f"/versions/{version_id}/approvals", json={"stage": stage})
    out(v, lambda: console.print(f"approval for {stage} requested on {version_id}"))


@versions_app.command("approve")
def approve(version_id: str, stage: Annotated[str, typer.Option(help="stage")] = "production",
            comment: Annotated[str, typer.Option(help="why")] = "") -> None:  # fmt: skip
    v = call("POST", f"/versions/{version_id}/approvals/{stage}/approve", json={"comment": comment})
    out(v, lambda: console.print(f"{version_id} approved for {stage}"))


@versions_app.command("reject")
def reject(version_id: str, stage: Annotated[str, typer.Option(help="stage")] = "production",
           comment: Annotated[str, typer.Option(help="why")] = "") -> None:  # fmt: skip
    v = call("POST", f"/versions/{version_id}/approvals/{stage}/reject", json={"comment": comment})
    out(v, lambda: console.print(f"{version_id} rejected for {stage}"))


@versions_app.command("alias")
def alias(model: Annotated[str, typer.Option("--model", help="model id")], name: str,
          version_id: Annotated[str | None, typer.Argument(help="point it here (omit to show)")] = None,
          remove: Annotated[bool, typer.Option("--remove", help="remove the alias")] = False) -> None:  # fmt: skip
    """Move a stage alias to a version (production needs an approval), remove it, or show all."""
    if remove:
        doc = call("DELETE", f"/models/{model}/aliases/{name}")
    elif version_id:
        doc = call("PUT", f"/models/{model}/aliases/{name}", json={"version_id": version_id})
    else:
        doc = call("GET", f"/models/{model}/aliases")

    def render() -> None:
        for a, target in sorted(doc["aliases"].items()):
            console.print(f"{a} -> {target}")
        t = Grid("at", "alias", "version", "previous", "by")
        for h in doc["history"]:
            t.add_row(h["at"][:19], h["alias"], h["version_id"], h.get("previous_version_id") or "", h["by"])
        console.print(t)

    out(doc, render)
