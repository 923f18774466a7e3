"""What every ``tlm`` command shares: the root options (--endpoint, --token, --json), the API
client, output (a rich view, or JSON for scripts) and error reporting (exit code 2, the field
named). The root callback in ``tlm.cli.main`` fills ``ROOT``; sub-apps read it from here (this
module is imported once, also when ``tlm.cli.main`` runs as ``__main__``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from tlm.client import ApiError, Client

ROOT: dict[str, Any] = {"endpoint": None, "token": None, "as_json": False}
console = Console()
err = Console(stderr=True)


def set_root(*, endpoint: str | None, token: str | None, as_json: bool) -> None:
    ROOT.update(endpoint=endpoint, token=token, as_json=as_json)


def json_mode() -> bool:
    return bool(ROOT.get("as_json"))


def client() -> Client:
    return Client(ROOT.get("endpoint"), ROOT.get("token"))


def out(data: Any, view: Any = None) -> None:
    """JSON with --json (or when there is no view); else the view: a rich renderable, or a
    callable that prints."""
    if json_mode() or view is None:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    elif isinstance(view, Callable):  # type: ignore[arg-type]
        view()
    else:
        console.print(view)


def fail(e: ApiError) -> NoReturn:
    # escaped: "[field: x]" would otherwise be read as rich markup and vanish
    text = f"{e.status} {e.body.get('error')}: {e.body.get('message')}" + (f" [field: {e.field}]" if e.field else "")
    err.print(f"[red]error[/red] {escape(text)}")
    raise typer.Exit(2)
