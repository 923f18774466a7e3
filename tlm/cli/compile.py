"""``tlm compile ...`` (start, show, logs --follow, cancel, list) and ``tlm package`` (download the
deployable bundle of a succeeded compile, sha256 checked).

Like ``tlm.cli.configs``, the root options (--endpoint, --token, --json) are read from the root
context, so this module does not import ``tlm.cli.main``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from tlm.cli.common import Grid, client, console, fail, fail_with, json_mode, out, out_list
from tlm.cli.configs import parse_value
from tlm.client import ApiError

compile_app = typer.Typer(
    help="Compile models with named recipes (onnx, onnx-int8); follow their logs", no_args_is_help=True
)


def parse_params(items: list[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            fail_with("bad_option", f"--param wants KEY=VALUE, got {item!r}", field="param")
        params[key.strip()] = parse_value(value)
    return params


def steps_table(steps: list[dict[str, Any]], title: str | None = None) -> Grid:
    t = Grid("step", "attempt", "status", "started", "duration s", "job", "error", title=title)
    for s in steps:
        err_text = (s.get("error") or {}).get("error", "") if isinstance(s.get("error"), dict) else ""
        dur = s.get("duration_s")
        t.add_row(
            s["step"], str(s["attempt"]), s["status"], str(s.get("started_at") or "")[11:19],
            "" if dur is None else f"{dur:.1f}", s.get("job") or "", err_text,
        )  # fmt: skip
    return t


def _show(c: dict[str, Any]) -> None:
    console.print(
        f"compile [bold]{c['compile_id']}[/bold] of model {c['model_id']} v{c['model_version']} "
        f"target={c['target']} status=[bold]{c['status']}[/bold] run={c['run_id']}"
    )
    if c.get("reason"):
        console.print(f"reason: {escape(str(c['reason']))}")
    if c.get("steps"):
        console.print(steps_table(c["steps"]))
    v = c.get("verification")
    if v:
        console.print(
            f"verification: passed={v.get('passed')} max_abs_diff={v.get('max_abs_diff'):.4g} "
            f"label_agreement={v.get('label_agreement'):.3f} on {v.get('sample')} {v.get('sample_source')} examples"
        )
        split = v.get("test_split")
        if split and split.get("examples"):
            console.print(
                f"test split ({split['file']}, {split['examples']} examples): accuracy eager "
                f"{split['accuracy_eager']:.4f}, compiled {split['accuracy_compiled']:.4f}"
            )
    lat = (c.get("report") or {}).get("latency") or {}
    for k, b in lat.items():
        if isinstance(b, dict):
            console.print(f"latency {k}: eager {b['eager_ms']:.2f} ms, onnx {b['onnx_ms']:.2f} ms, x{b['speedup']:.2f}")
    if c.get("artifacts"):
        t = Grid("artifact", "size", "sha256")
        for path, a in sorted(c["artifacts"].items()):
            t.add_row(path, str(a["size"]), a["sha256"])
        console.print(t)


@compile_app.command("start")
def start(
    model: Annotated[str, typer.Option("--model", help="model id")],
    target: Annotated[str, typer.Option("--target", help="onnx | onnx-int8")],
    param: Annotated[list[str] | None, typer.Option("--param", help="recipe field KEY=VALUE, repeatable")] = None,
) -> None:
    """Start a compile: validated before any job runs; then validate -> compile -> verify -> package."""
    try:
        c = client().start_compile(model, target, parse_params(param))
    except ApiError as e:
        fail(e)
    out(c, lambda: console.print(f"started compile [bold]{c['compile_id']}[/bold] ({c['status']}) run={c['run_id']}"))


@compile_app.command("show")
def show(compile_id: str) -> None:
    """Status, per-step timing, verification report, latency and artifacts."""
    try:
        c = client().compile(compile_id)
    except ApiError as e:
        fail(e)
    out(c, lambda: _show(c))


@compile_app.command("list")
def list_(model: Annotated[str, typer.Option("--model", help="model id")]) -> None:
    try:
        items = client().compiles(model)
    except ApiError as e:
        fail(e)

    def render() -> None:
        t = Grid("id", "target", "status", "run", "reason")
        for c in items:
            t.add_row(c["compile_id"], c["target"], c["status"], c["run_id"], (c.get("reason") or "")[:80])
        console.print(t)

    out_list(items, render)


@compile_app.command("logs")
def logs(
    compile_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines until it ends")] = False,
    start: Annotated[int, typer.Option(help="first line")] = 0,
    interval: Annotated[float, typer.Option(help="seconds between polls")] = 1.0,
) -> None:
    """The log lines of the compile's jobs (compile, then package)."""
    c = client()
    position = start
    while True:
        try:
            page = c.compile_logs(compile_id, start=position)
        except ApiError as e:
            fail(e)
        if json_mode():  # one JSON object per page (JSON lines when following)
            print(json.dumps({**page, "compile_id": compile_id}, ensure_ascii=False), flush=True)
        else:
            for line in page["lines"]:
                print(line, flush=True)
        position = page["next"]
        if not follow or page["terminal"]:
            if follow and not json_mode():
                print(f"== compile {compile_id} {page['status']} ==", flush=True)
            return
        time.sleep(interval)


@compile_app.command("cancel")
def cancel(compile_id: str, reason: Annotated[str, typer.Option()] = "") -> None:
    """Cancel: the run is cancelled, its job stopped; the log is kept."""
    try:
        c = client().cancel_compile(compile_id, reason)
    except ApiError as e:
        fail(e)
    out(c, lambda: console.print(f"compile {compile_id}: [bold]{c['status']}[/bold]"))


def package(
    compile_id: str,
    dest: Annotated[Path, typer.Option("--dest", help="where to write model.tar.gz")] = Path("model.tar.gz"),
) -> None:
    """Download the deployable bundle (SageMaker model.tar.gz) of a succeeded compile."""
    try:
        res = client().download_compile(compile_id, "model.tar.gz", dest)
    except ApiError as e:
        fail(e)
    out(res, lambda: console.print(f"saved {res['dest']} sha256={res['sha256']} (verified)"))
