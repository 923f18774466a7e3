"""What every ``tlm`` command shares: the root options (--endpoint, --token, --json), the API
client, output (a rich view, or JSON for scripts) and error reporting (exit code 2, the field
named).

JSON shapes (``--json``): a list is always ``{"items": [...], ...}`` (``out_list``); an error is
``{"error", "message", "field", "status"}`` on stdout with exit code 2 (``fail``, ``fail_with``),
so a script reads one stream; an unreachable API is ``error: "unreachable"`` (status 0).

The root callback in ``tlm.cli.main`` fills ``ROOT``; sub-apps read it from here (this
module is imported once, also when ``tlm.cli.main`` runs as ``__main__``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from tlm.cli.tables import Grid
from tlm.client import ApiError, Client

__all__ = ["Grid"]

ROOT: dict[str, Any] = {"endpoint": None, "token": None, "as_json": False}
console = Console()
err = Console(stderr=True)


def set_root(*, endpoint: str | None, token: str | None, as_json: bool) -> None:
    ROOT.update(endpoint=endpoint, token=token, as_json=as_json)


def json_mode() -> bool:
    return bool(ROOT.get("as_json"))


def client() -> Client:
    from tlm.auth import LoginFailed, cached_token

    c = Client(ROOT.get("endpoint"), ROOT.get("token"))
    if not ROOT.get("token") and not os.environ.get("TLM_TOKEN"):
        try:
            cached = cached_token(c.endpoint)
        except LoginFailed as e:
            err.print(f"[red]{escape(str(e))}[/red]")
            raise typer.Exit(1) from e
        if cached:
            c = Client(c.endpoint, cached)  # signed in with tlm login
    return c


def out(data: Any, view: Any = None) -> None:
    """JSON with --json (or when there is no view); else the view: a rich renderable, or a
    callable that prints."""
    if json_mode() or view is None:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    elif isinstance(view, Callable):  # type: ignore[arg-type]
        view()
    else:
        console.print(view)


def out_list(items: list[Any], view: Any = None, **extra: Any) -> None:
    """A list: ``{"items": [...], **extra}`` with --json; else the view, or "No results"."""
    if json_mode() or view is None:
        out({"items": items, **extra})
    elif not items:
        console.print("No results")
    else:
        out(items, view)


def fail_with(code: str, message: str, *, field: str | None = None, status: int = 0, exit_code: int = 2) -> NoReturn:
    """Report an error found by the CLI itself (bad option, missing file) like an API error."""
    if json_mode():
        print(json.dumps({"error": code, "message": message, "field": field, "status": status}, ensure_ascii=False))
    else:
        err.print(
            f"[red]error[/red] {escape(message)}" + (escape(f" [field: {field}]") if field else ""), soft_wrap=True
        )
    raise typer.Exit(exit_code)


def fail(e: ApiError) -> NoReturn:
    if json_mode():
        body = {"error": e.body.get("error"), "message": e.body.get("message"), "field": e.field, "status": e.status}
        print(json.dumps(body, ensure_ascii=False))
        raise typer.Exit(2)
    if e.status == 0 and e.body.get("error") == "unreachable":  # one line with the fix, no traceback
        err.print(f"[red]error[/red] {escape(str(e.body.get('message')))}", soft_wrap=True)
        raise typer.Exit(2)
    # escaped: "[field: x]" would otherwise be read as rich markup and vanish
    text = f"{e.status} {e.body.get('error')}: {e.body.get('message')}" + (f" [field: {e.field}]" if e.field else "")
    err.print(f"[red]error[/red] {escape(text)}", soft_wrap=True)
    raise typer.Exit(2)


def progress_bar(label: str) -> Any:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=json_mode(),
    )


def upload_files(
    target_id: str,
    files: list[Path],
    *,
    path: str | None = None,
    part_size: int | None = None,
    workers: int = 4,
    report: Callable[[Path, dict[str, Any]], str],
) -> None:
    """Upload files to a library entry (model or dataset) with hash and upload progress bars;
    an interrupted upload resumes. ``report(file, result)`` is the line printed per file."""
    c = client()
    results = []
    for f in files:
        if not f.is_file():
            fail_with("not_a_file", f"not a file: {f}", field="files")
        size = f.stat().st_size
        with progress_bar(escape(f.name)) as bar:
            hashing = bar.add_task("sha256", total=size)
            sending = bar.add_task("upload", total=size)
            try:
                res = c.upload(
                    target_id,
                    f,
                    path=path if len(files) == 1 else None,
                    part_size=part_size,
                    workers=workers,
                    progress=lambda n, task=sending: bar.advance(task, n),
                    hash_progress=lambda n, task=hashing: bar.advance(task, n),
                )
            except ApiError as e:
                fail(e)
        results.append(res)
        if not json_mode():
            console.print(("resumed and " if res.get("resumed") else "") + report(f, res))
    if json_mode():
        out({"items": results})
