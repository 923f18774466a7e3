"""``tlm configs ...`` (parameter configs: templates, create, edit, batch edit, export/import,
history, diff, blame, delete, list); ``tlm arch ...`` lives in ``tlm.cli.arch``.

Self-contained: the root options (--endpoint, --token, --json) are read from the root context
by the sub-apps' callbacks, so this module does not import ``tlm.cli.main`` (which runs as
``__main__``: importing it again would give a second, unset copy of its state).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape

from tlm.cli.common import Grid, client, console, err, fail, fail_with, out, out_list
from tlm.cli.common import json_mode as _json
from tlm.client import ApiError

configs_app = typer.Typer(help="Parameter configs: templates, edits, history, sharing", no_args_is_help=True)


def parse_value(text: str) -> Any:
    """``3e-5`` -> float, ``true`` -> bool, ``[1,2]`` -> list; JSON first, then YAML, else text."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    sets: dict[str, Any] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            fail_with("bad_option", f"--set wants PATH=VALUE, got {item!r}", field="set")
        sets[key.strip()] = parse_value(value)
    return sets


def config_summary(c: dict[str, Any]) -> str:
    return f"config [bold]{c['name']}[/bold] id={c['config_id']} v{c['version']} ({c['family']})"


def _flat(values: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(values, dict):
        rows: list[tuple[str, Any]] = []
        for k, v in values.items():
            rows += _flat(v, f"{prefix}.{k}" if prefix else str(k))
        return rows
    return [(prefix, values)]


# ------------------------------------------------------------------ configs
@configs_app.command("templates")
def templates() -> None:
    """The built-in presets (five families x tiny/small/base)."""
    try:
        items = client().config_templates()
    except ApiError as e:
        fail(e)
    t = Grid("name", "family", "size", "source / note")
    for x in items:
        t.add_row(x["name"], x["family"], x["size"], x["note"])
    out_list(items, t)


@configs_app.command("list")
def list_(
    project_id: str,
    family: Annotated[str | None, typer.Option(help="bert | roberta | albert | electra | xlnet")] = None,
) -> None:
    """A project's configs, newest change first."""
    try:
        items = client().configs(project_id, family)
    except ApiError as e:
        fail(e)
    t = Grid("id", "name", "family", "v", "origin", "derived from", "updated", "by")
    for x in items:
        t.add_row(
            x["config_id"], escape(x["name"]), x.get("family") or "", str(x["version"]), x.get("origin") or "",
            x.get("derived_from") or "", x["updated"]["at"][:19], escape(x["updated"]["by"]),
        )  # fmt: skip
    out_list(items, t)


@configs_app.command("create")
def create(
    project_id: str,
    template: Annotated[str | None, typer.Option(help="a preset, e.g. bert-base")] = None,
    file: Annotated[Path | None, typer.Option(help="a JSON or YAML config file")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="PATH=VALUE on top of the template (repeatable)")
    ] = None,
) -> None:
    """Create a config from a template or from a file."""
    try:
        if file is not None:
            fmt = "yaml" if file.suffix.lower() in (".yaml", ".yml") else "json"
            c = client().create_config(
                project_id, file=file.read_text(encoding="utf-8"), format=fmt, filename=file.name, name=name,
                description=description, overrides=parse_sets(set_) or None,
            )  # fmt: skip
        else:
            c = client().create_config(
                project_id,
                template=template,
                name=name,
                description=description,
                overrides=parse_sets(set_) or None,
            )
    except ApiError as e:
        fail(e)
    out(c) if _json() else console.print(f"created {config_summary(c)}")


@configs_app.command("show")
def show(
    config_id: str,
    as_of: Annotated[str | None, typer.Option(help="ISO time")] = None,
    version: Annotated[int | None, typer.Option()] = None,
) -> None:
    try:
        c = client().config(config_id, as_of=as_of, version=version)
    except ApiError as e:
        fail(e)
    t = Grid("field", "value", title=f"{c['name']} ({c['family']}) v{c['version']}")
    for path, value in _flat(c["values"]):
        t.add_row(path, json.dumps(value, ensure_ascii=False))
    out(c, t)


@configs_app.command("edit")
def edit(
    config_id: str,
    set_: Annotated[list[str] | None, typer.Option("--set", help="PATH=VALUE (repeatable)")] = None,
    unset: Annotated[list[str] | None, typer.Option(help="PATH (repeatable)")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
) -> None:
    try:
        c = client().edit_config(
            config_id, set=parse_sets(set_) or None, unset=unset or None, name=name, description=description
        )
    except ApiError as e:
        fail(e)
    out(c) if _json() else console.print(f"edited {config_summary(c)}")


@configs_app.command("batch-edit")
def batch_edit(
    config_ids: list[str],
    set_: Annotated[list[str] | None, typer.Option("--set", help="PATH=VALUE (repeatable)")] = None,
    unset: Annotated[list[str] | None, typer.Option(help="PATH (repeatable)")] = None,
) -> None:
    """Set the same keys on several configs: all or nothing."""
    try:
        res = client().batch_edit_configs(config_ids, set=parse_sets(set_), unset=unset)
    except ApiError as e:
        fail(e)
    t = Grid("config", "version", "changed", title=f"batch {res['batch_id']}")
    for c in res["configs"]:
        t.add_row(c["config_id"], str(c["version"]), "yes" if c["changed"] else "no")
    out(res, t)


@configs_app.command("export")
def export(
    config_id: str,
    format: Annotated[str, typer.Option(help="json | yaml")] = "json",  # noqa: A002
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file (default: stdout)")] = None,
    version: Annotated[int | None, typer.Option()] = None,
) -> None:
    try:
        text = client().export_config(config_id, format, version)
    except ApiError as e:
        fail(e)
    if _json():
        out({"config_id": config_id, "format": format, "text": text})
    elif output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


@configs_app.command("import")
def import_(project_id: str, file: Path, name: Annotated[str | None, typer.Option()] = None) -> None:
    """Import a portable config file (exported by this or another TLM)."""
    try:
        c = client().import_config(project_id, file.read_text(encoding="utf-8"), name=name)
    except ApiError as e:
        fail(e)
    out(c) if _json() else console.print(f"imported {config_summary(c)}")


@configs_app.command("history")
def history(config_id: str) -> None:
    try:
        items = client().config_history(config_id)
    except ApiError as e:
        fail(e)
    t = Grid("v", "when", "who", "what", "reason")
    for h in items:
        t.add_row(str(h["version"]), h["occurred_at"][:19], h["actor"], h["type"], h.get("reason") or "")
    out_list(items, t)


@configs_app.command("diff")
def diff(
    config_id: str,
    from_version: Annotated[int, typer.Option("--from")],
    to_version: Annotated[int, typer.Option("--to")],
) -> None:
    try:
        d = client().config_diff(config_id, from_version, to_version)
    except ApiError as e:
        fail(e)
    t = Grid(
        "path",
        "change",
        f"v{from_version}",
        f"v{to_version}",
        title=f"{config_id}: v{from_version} -> v{to_version}",
    )
    for c in d["changes"]:
        t.add_row(
            c["path"],
            c["kind"],
            json.dumps(c.get("old"), ensure_ascii=False),
            json.dumps(c.get("new"), ensure_ascii=False),
        )
    out(d, t)


@configs_app.command("blame")
def blame(
    config_id: str,
    path: Annotated[str | None, typer.Option(help="a field or subtree, e.g. training.learning_rate")] = None,
    version: Annotated[int | None, typer.Option()] = None,
) -> None:
    try:
        items = client().config_blame(config_id, path=path, version=version)
    except ApiError as e:
        fail(e)
    cols = [
        k
        for k in ("path", "value", "version", "actor", "occurred_at", "command_id", "batch_id")
        if items and k in items[0]
    ]
    t = Grid(*cols)
    for b in items:
        t.add_row(*[json.dumps(b[k], ensure_ascii=False) if k == "value" else str(b[k] or "") for k in cols])
    out_list(items, t)


@configs_app.command("delete")
def delete(config_id: str, yes: Annotated[bool, typer.Option("--yes", help="no prompt")] = False) -> None:
    if not yes and not typer.confirm(f"delete config {config_id}?"):
        raise typer.Exit(1)
    try:
        out(client().delete_config(config_id))
    except ApiError as e:
        fail(e)
