"""``tlm projects show|activity|invite|transfer|export|import`` (issue 15), installed on the
``projects`` sub-app of ``tlm.cli.main`` by ``install(projects_app)``."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

import typer

from tlm.cli.common import Grid, client, console, err, fail, fail_with, out, out_list
from tlm.cli.common import json_mode as _json
from tlm.client import ApiError

MAX_ARCHIVE_BYTES = 4_500_000  # base64 of it fits functions.api.schemas_pipelines.MAX_ARCHIVE_BASE64


def _call(method: str, path: str, **kw: Any) -> Any:
    try:
        return client().request(method, path, **kw)
    except ApiError as e:
        fail(e)


def show(project_id: str) -> None:
    """A project: members and the counts of what it holds."""
    p = _call("GET", f"/projects/{project_id}")
    if _json():
        out(p)
        return
    console.print(f"project [bold]{p['name']}[/bold] id={p['project_id']}  last activity {p.get('last_activity_at')}")
    t = Grid("holds", "count")
    for k, v in p["counts"].items():
        t.add_row(k, str(v))
    console.print(t)
    m = Grid("member", "role")
    for user, role in sorted(p["members"].items()):
        m.add_row(user, role)
    console.print(m)


def activity(
    project_id: str,
    kind: Annotated[
        str | None, typer.Option(help="model, dataset, config, pipeline, run, ... or an event type")
    ] = None,
    member: Annotated[str | None, typer.Option(help="user id or e-mail")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
) -> None:
    """Who did what, when (newest first)."""
    params = {k: v for k, v in {"kind": kind, "member": member, "limit": limit, "cursor": cursor}.items() if v}
    page = _call("GET", f"/projects/{project_id}/activity", params=params)
    t = Grid("when", "who", "what", "kind", "id")
    for e in page["items"]:
        t.add_row(e["at"], e["actor"], e["type"], e["kind"], e["entity_id"])
    out_list(page["items"], t, next_cursor=page["next_cursor"])
    if not _json() and page["next_cursor"]:
        err.print(f"more: --cursor {page['next_cursor']}")


def invite(project_id: str, member: str, role: Annotated[str, typer.Option()] = "viewer") -> None:
    """Invite a member by user id or e-mail (owner only)."""
    r = _call("POST", f"/projects/{project_id}/members", json={"member": member, "role": role})
    out(r) if _json() else console.print(f"{r['user_id']} is now {r['role']}")


def transfer(project_id: str, member: str, keep_role: Annotated[str, typer.Option()] = "editor") -> None:
    """Make another member the owner; you keep ``--keep-role`` (owner only)."""
    r = _call("POST", f"/projects/{project_id}/owner", json={"member": member, "keep_role": keep_role})
    out(r) if _json() else console.print(f"{r['owner']} owns the project now")


def export(
    project_id: str, output: Annotated[Path, typer.Option("--output", "-o", help="archive file (.tar.gz)")]
) -> None:
    """The whole history (events + blobs, with sha256 checksums) as an archive file."""
    c = client()
    try:
        info = c.request("POST", f"/projects/{project_id}/export")
        c.fetch(info, output)  # size and sha256 checked before the file appears
    except ApiError as e:
        fail(e)
    out({**info, "output": str(output)}) if _json() else console.print(
        f"wrote {output}: {info['streams']} streams, {info['events']} events, {info['blobs']} blobs, "
        f"sha256 {info['sha256']}"
    )


def import_(archive: Path) -> None:
    """Import a project archive from another installation (checked in full before anything is written)."""
    if not archive.is_file():
        fail_with("not_a_file", f"not a file: {archive}", field="archive")
    data = archive.read_bytes()
    if len(data) > MAX_ARCHIVE_BYTES:
        fail_with("too_large", f"{archive} is {len(data)} bytes; through the API an archive may hold at most "
                  f"{MAX_ARCHIVE_BYTES} bytes (the request body limit)", field="archive")  # fmt: skip
    body = {"archive_base64": base64.b64encode(data).decode()}
    r = _call("POST", "/projects/import", json=body)
    out(r) if _json() else console.print(
        f"imported project {r['project_id']}: {r['streams']} streams, {r['events']} events, {r['blobs']} blobs"
    )


def install(projects_app: typer.Typer) -> None:
    projects_app.command("show")(show)
    projects_app.command("activity")(activity)
    projects_app.command("invite")(invite)
    projects_app.command("transfer")(transfer)
    projects_app.command("export")(export)
    projects_app.command("import")(import_)
