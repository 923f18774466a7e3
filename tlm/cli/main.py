"""The ``tlm`` command line: projects, models (register, upload, list, search, show, download,
delete, history) and ``serve``. ``--json`` prints machine-readable output for scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tlm.cli.arch import arch_app
from tlm.cli.common import (
    Grid,
    client,
    console,
    fail,
    fail_with,
    json_mode,
    out,
    out_list,
    progress_bar,
    set_root,
    upload_files,
)
from tlm.cli.compile import compile_app
from tlm.cli.compile import package as package_command
from tlm.cli.configs import configs_app
from tlm.cli.datasets import datasets_app
from tlm.cli.deployments import deployments_app
from tlm.cli.deployments import predict as predict_command
from tlm.cli.leaderboard import accuracy_cell, print_metrics
from tlm.cli.leaderboard import install as install_leaderboard
from tlm.cli.login import admin_app
from tlm.cli.login import login as login_command
from tlm.cli.login import logout as logout_command
from tlm.cli.pipelines import pipelines_app
from tlm.cli.projects_home import install as install_project_home
from tlm.cli.runs import runs_app
from tlm.cli.search import search_app
from tlm.cli.train import train_app
from tlm.cli.versions import versions_app
from tlm.client import ApiError

app = typer.Typer(help="TLM: the language-model lifecycle platform", no_args_is_help=True)
projects_app = typer.Typer(help="Projects and members", no_args_is_help=True)
models_app = typer.Typer(help="The model library", no_args_is_help=True)
app.add_typer(projects_app, name="projects")
app.add_typer(models_app, name="models")
app.add_typer(configs_app, name="configs")
app.add_typer(arch_app, name="arch")
app.add_typer(datasets_app, name="datasets")
app.add_typer(train_app, name="train")
app.add_typer(compile_app, name="compile")
app.add_typer(runs_app, name="runs")
app.add_typer(versions_app, name="versions")  # issue 14: the release center
app.add_typer(deployments_app, name="deployments")
app.command("predict")(predict_command)
app.add_typer(search_app, name="search")
app.command("package")(package_command)
app.command("login")(login_command)
app.command("logout")(logout_command)
app.add_typer(admin_app, name="admin")
install_leaderboard(models_app)  # models leaderboard / compare (h6)
app.add_typer(pipelines_app, name="pipelines")  # issue 15
install_project_home(projects_app)  # issue 15: projects show / activity / invite / transfer / export / import


@app.callback()
def main(
    endpoint: Annotated[str | None, typer.Option(envvar="TLM_ENDPOINT", help="API base URL")] = None,
    token: Annotated[str | None, typer.Option(envvar="TLM_TOKEN", help="API token (default: .tlm/token)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    set_root(endpoint=endpoint, token=token, as_json=as_json)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port (0: any free port)")] = None,
    port_file: Annotated[Path | None, typer.Option(help="write the bound port here once listening")] = None,
) -> None:
    """Run the whole platform locally (SQLite + files under ./.tlm)."""
    from tlm.server import serve as run

    run(host, port, port_file=port_file)


@app.command("token")
def token_issue(user_id: str, data_dir: Annotated[Path, typer.Option(envvar="TLM_DATA_DIR")] = Path(".tlm")) -> None:
    """Issue a local API token for a user (local platform only; on AWS users come from Cognito)."""
    from tlm.auth import TokenBook

    data_dir.mkdir(parents=True, exist_ok=True)
    token = TokenBook(data_dir).issue(user_id)
    out({"user_id": user_id, "token": token}) if json_mode() else print(token)


# ------------------------------------------------------------------ projects
@projects_app.command("create")
def projects_create(name: str, description: Annotated[str, typer.Option()] = "") -> None:
    try:
        p = client().create_project(name, description)
    except ApiError as e:
        fail(e)
    out(p) if json_mode() else console.print(f"created project [bold]{p['name']}[/bold] id={p['project_id']}")


@projects_app.command("list")
def projects_list() -> None:
    try:
        items = client().projects()
    except ApiError as e:
        fail(e)
    t = Grid("id", "name", "role", "members")
    for p in items:
        t.add_row(p["project_id"], escape(p["name"]), p["role"], str(len(p["members"])))
    out_list(items, t)


@projects_app.command("limits")
def projects_limits(
    project_id: str,
    set_: Annotated[list[str] | None, typer.Option("--set", help="NAME=INTEGER, e.g. max_jobs=2 (owner only)")] = None,
) -> None:
    """The project's limits (model size, training memory, storage quota, job slots) and its use."""
    sets: dict[str, int] = {}
    for item in set_ or []:
        key, eq, value = item.partition("=")
        if not eq or not value.strip().isdigit():
            fail_with("bad_option", f"--set wants NAME=INTEGER, got {item!r}", field="set")
        sets[key.strip()] = int(value)
    try:
        res = client().set_limits(project_id, sets) if sets else client().limits(project_id)
    except ApiError as e:
        fail(e)
    t = Grid("limit", "value")
    for k, v in res["limits"].items():
        t.add_row(k, f"{v:,}")
    t.add_row("storage used (bytes)", f"{res['storage_used']:,}")
    if "storage_in_open_uploads" in res:  # part of the use above: what open uploads declared
        t.add_row("storage in open uploads (bytes)", f"{res['storage_in_open_uploads']:,}")
    out(res, t)


@projects_app.command("member")
def projects_member(project_id: str, user_id: str, role: str) -> None:
    """Add a member or change a role (owner only)."""
    try:
        out(client().set_member(project_id, user_id, role))
    except ApiError as e:
        fail(e)


# ------------------------------------------------------------------ models
@models_app.command("register")
def models_register(
    project_id: str,
    name: str,
    family: Annotated[str, typer.Option(help="bert|roberta|albert|electra|xlnet|other")] = "bert",
    description: Annotated[str, typer.Option()] = "",
    tag: Annotated[list[str] | None, typer.Option(help="repeatable")] = None,
    license: Annotated[str, typer.Option()] = "",  # noqa: A002
    source: Annotated[str, typer.Option()] = "",
) -> None:
    try:
        m = client().register_model(
            project_id,
            name=name,
            family=family,
            description=description,
            tags=tag or [],
            license=license,
            source=source,
        )
    except ApiError as e:
        fail(e)
    out(m) if json_mode() else console.print(f"registered [bold]{m['name']}[/bold] id={m['model_id']}")


@models_app.command("upload")
def models_upload(
    model_id: str,
    files: list[Path],
    path: Annotated[str | None, typer.Option(help="path inside the model (one file only)")] = None,
    part_size: Annotated[int | None, typer.Option(help="bytes per part (>= 5 MiB)")] = None,
    workers: Annotated[int, typer.Option(help="parallel part uploads")] = 4,
) -> None:
    """Upload files (multipart, resumable: run again after an interruption)."""
    upload_files(
        model_id,
        files,
        path=path,
        part_size=part_size,
        workers=workers,
        report=lambda f, res: f"uploaded {escape(res.get('path', f.name))} sha256={res.get('sha256')}",
    )


@models_app.command("list")
def models_list(
    project: Annotated[str | None, typer.Option(help="project id")] = None,
    sort: Annotated[str, typer.Option()] = "-updated",
    limit: Annotated[int, typer.Option()] = 50,
    cursor: Annotated[int, typer.Option()] = 0,
) -> None:
    try:
        res = client().models(project_id=project, sort=sort, limit=limit, cursor=cursor)
    except ApiError as e:
        fail(e)
    out_list(res["items"], _models_table(res["items"]), total=res.get("total"), next_cursor=res.get("next_cursor"))


@models_app.command("search")
def models_search(
    query: Annotated[str, typer.Argument(help="words (AND), OR between alternatives; pinyin ok")] = "",
    project: Annotated[str | None, typer.Option()] = None,
    family: Annotated[list[str] | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option()] = None,
    any_tag: Annotated[bool, typer.Option("--any-tag", help="match any of the tags, not all")] = False,
) -> None:
    try:
        res = client().models(
            q=query, project_id=project, family=family, tag=tag, tags_mode="any" if any_tag else "all"
        )
    except ApiError as e:
        fail(e)
    out_list(res["items"], _models_table(res["items"]), total=res.get("total"), next_cursor=res.get("next_cursor"))


def _models_table(items: list[dict[str, Any]]) -> Grid:
    t = Grid("id", "name", "family", "tags", "files", "test_acc", "updated")
    for m in items:
        t.add_row(
            m["model_id"], m["name"], m["family"], ",".join(m["tags"]), str(m["file_count"]), accuracy_cell(m),
            m["updated"]["at"][:19],
        )  # fmt: skip
    return t


@models_app.command("show")
def models_show(model_id: str, as_of: Annotated[str | None, typer.Option(help="ISO time")] = None) -> None:
    try:
        m = client().model(model_id, as_of)
    except ApiError as e:
        fail(e)
    t = Grid("path", "size", "sha256", title=f"{m['name']} ({m['family']}) v{m['version']}")
    for f in m["files"]:
        t.add_row(f["path"], str(f["size"]), f["sha256"])

    def view() -> None:
        console.print(t)
        print_metrics(m)  # test metrics, confusion matrix, lineage

    out(m, view)


@models_app.command("download")
def models_download(model_id: str, path: str, dest: Annotated[Path | None, typer.Option()] = None) -> None:
    """Download one file (resumes a partial download; verifies sha256)."""
    c = client()
    target = dest or Path(path.rsplit("/", 1)[-1])
    try:
        info = c.request("GET", f"/models/{model_id}/download", params={"path": path})
        with progress_bar(target.name) as bar:
            task = bar.add_task("download", total=info["size"])
            res = c.download(model_id, path, target, progress=lambda n: bar.advance(task, n))
    except ApiError as e:
        fail(e)
    out(res) if json_mode() else console.print(f"saved {res['dest']} sha256={res['sha256']} (verified)")


@models_app.command("delete")
def models_delete(model_id: str, yes: Annotated[bool, typer.Option("--yes", help="no prompt")] = False) -> None:
    if not yes and not typer.confirm(f"delete model {model_id}?"):
        raise typer.Exit(1)
    try:
        out(client().delete_model(model_id))
    except ApiError as e:
        fail(e)


@models_app.command("history")
def models_history(model_id: str) -> None:
    try:
        items = client().history(model_id)
    except ApiError as e:
        fail(e)
    t = Grid("v", "when", "who", "what")
    for h in items:
        t.add_row(str(h["version"]), h["at"][:19], h["actor"], h["type"])
    out_list(items, t)


if __name__ == "__main__":
    app()
