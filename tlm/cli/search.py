"""``tlm search ...``: hyperparameter search studies. ``start`` (a space file, strategy, budget,
objectives, constraints, pruner; ``--follow`` shows live progress), ``show``, ``trials`` (table or
``--csv``), ``best``, ``plot`` (PNG/SVG files, or the plot JSON with --json), ``set`` (parallelism
and budget of a running study), ``cancel``, ``resume``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape

from tlm.cli.common import Grid, client, console, err, fail, fail_with, out, out_list
from tlm.cli.common import json_mode as _json
from tlm.client import ApiError

search_app = typer.Typer(help="Hyperparameter search: start, show, trials, best, plot, set, cancel, resume",
                         no_args_is_help=True)  # fmt: skip
ENDED = ("finished",)


def _load_space(path: Path) -> Any:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        fail_with("invalid", f"cannot read the space file {path}: {e}", field="space")
    if isinstance(doc, dict) and "space" in doc and isinstance(doc["space"], dict | list):
        doc = doc["space"]
    return doc


def _pruner(text: str | None) -> dict[str, Any] | None:
    """``median`` or ``asha:min_resource=2,reduction_factor=3``."""
    if not text:
        return None
    kind, _, rest = text.partition(":")
    out: dict[str, Any] = {"kind": kind}
    for part in filter(None, rest.split(",")):
        key, _, value = part.partition("=")
        try:
            out[key.strip()] = int(value) if value.strip().isdigit() else float(value)
        except ValueError:
            fail_with("invalid", f"pruner option {part!r} is not key=number", field=f"pruner.{key.strip()}")
    return out


def _progress_line(s: dict[str, Any]) -> str:
    c = s["counts"]
    best = s.get("best")
    best_text = f" best #{best['number']} = {', '.join(f'{v:.4g}' for v in best['values'])}" if best else ""
    return (f"{s['name']} [{s['status']}] done {c['complete']}/{s['max_trials']} running {c['running']} "
            f"pruned {c['pruned']} failed {c['failed']}{best_text}")  # fmt: skip


def _follow(c: Any, study_id: str, interval: float = 1.0) -> dict[str, Any]:
    last = None
    while True:
        s = c.request("GET", f"/studies/{study_id}")
        line = _progress_line(s)
        if line != last:
            (print(json.dumps({"progress": s["counts"], "status": s["status"]}), flush=True) if _json()
             else err.print(escape(line)))  # fmt: skip
            last = line
        if s["finished_reason"] is not None:
            return s
        time.sleep(interval)


@search_app.command("start")
def start(
    config: Annotated[str, typer.Option("--config", help="config id the trials start from")],
    dataset: Annotated[str, typer.Option("--dataset", help="dataset id")],
    space: Annotated[Path, typer.Option("--space", help="space.yaml: config path -> {type, low, high, ...}")],
    name: Annotated[str, typer.Option(help="study name (the best model is registered as <name>-best)")] = "study",
    strategy: Annotated[str, typer.Option(help="grid|random|cv-grid|cv-random|gp|tpe|cmaes|sobol|nsga2")] = "tpe",
    trials: Annotated[int, typer.Option("--trials", help="budget: number of trials")] = 20,
    parallel: Annotated[int, typer.Option("--parallel", help="trials at once (per round)")] = 1,
    objective: Annotated[
        list[str] | None,
        typer.Option("--objective", help="metric or expression, optionally :maximize/:minimize (repeatable)"),
    ] = None,
    constraint: Annotated[list[str] | None, typer.Option("--constraint", help="e.g. 'parameters <= 5e6'")] = None,
    pruner: Annotated[str | None, typer.Option(help="median|percentile|asha|hyperband[:key=value,...]")] = None,
    max_time: Annotated[int | None, typer.Option("--max-time", help="budget: wall seconds")] = None,
    target: Annotated[float | None, typer.Option(help="stop when the best value reaches this")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    folds: Annotated[int | None, typer.Option(help="k for cv-grid / cv-random")] = None,
    model: Annotated[str | None, typer.Option("--model", help="library model the trials fine-tune")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="training.max_steps of every trial")] = None,
    eval_every: Annotated[int | None, typer.Option(help="validate every N steps (the pruner's evidence)")] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="CPU threads of each trial job")] = None,
    warm_start: Annotated[str | None, typer.Option("--warm-start", help="study id whose trials seed this one")] = None,
    project_id: Annotated[str | None, typer.Option("--project", help="project id (default: the dataset's)")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="show progress until the study ends")] = False,
) -> None:
    """Check the space against the config's schema, the objectives and constraints, then start the
    search workflow."""
    c = client()
    body: dict[str, Any] = {
        "name": name, "config_id": config, "dataset_id": dataset, "space": _load_space(space),
        "strategy": strategy, "max_trials": trials, "parallelism": parallel, "seed": seed,
        "objectives": objective or ["val_accuracy"], "constraints": constraint or [],
    }  # fmt: skip
    extra = {"pruner": _pruner(pruner), "max_wall_s": max_time, "target": target, "folds": folds, "model_id": model,
             "steps_per_trial": steps, "warm_start_from": warm_start}  # fmt: skip
    body |= {k: v for k, v in extra.items() if v is not None}
    job_options = {k: v for k, v in {"eval_every": eval_every, "num_threads": threads}.items() if v}
    if job_options:
        body["job_options"] = job_options
    try:
        project_id = project_id or c.dataset(dataset)["project_id"]
        s = c.request("POST", f"/projects/{project_id}/studies", json=body)
        if follow:
            s = _follow(c, s["study_id"])
    except ApiError as e:
        fail(e)
    out(s, lambda: console.print(f"study [bold]{escape(s['name'])}[/bold] id={s['study_id']} ({s['status']})"
                                 + (f"\n{escape(_progress_line(s))}" if follow else "")))  # fmt: skip


@search_app.command("show")
def show(
    study_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="live progress until it ends")] = False,
) -> None:
    """State, counts (done / running / pruned / failed) and the best trial so far."""
    c = client()
    try:
        s = _follow(c, study_id) if follow else c.request("GET", f"/studies/{study_id}")
    except ApiError as e:
        fail(e)

    def view() -> None:
        console.print(escape(_progress_line(s)))
        console.print(
            f"strategy {s['strategy']}, parallelism {s['parallelism']}, objectives "
            + ", ".join(f"{o['direction']} {escape(o['expression'])}" for o in s["objectives"])
        )
        if s.get("best"):
            console.print("best params: " + escape(json.dumps(s["best"]["params"], ensure_ascii=False)))
        if s.get("best_model_id"):
            console.print(f"best model {s['best_model_id']}, config {s['best_config_id']} v{s['best_config_version']}")
        if s.get("error"):
            console.print(f"[red]{escape(s['error'])}[/red]")

    out(s, view)


@search_app.command("trials")
def trials(
    study_id: str,
    state: Annotated[str | None, typer.Option(help="asked|running|complete|pruned|failed")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="write every trial to this CSV file")] = None,
) -> None:
    """The study's trials (a table, JSON, or a CSV file)."""
    c = client()
    try:
        items = c.request("GET", f"/studies/{study_id}/trials" + (f"?state={state}" if state else ""))["items"]
        if csv_path is not None:
            from runtime.services.study_plots import trials_csv

            csv_path.write_text(trials_csv(c.request("GET", f"/studies/{study_id}/data")), encoding="utf-8")
            console.print(f"wrote {csv_path}") if not _json() else None
            return
    except ApiError as e:
        fail(e)

    def view() -> None:
        paths = sorted({p for t in items for p in t["params"]})
        g = Grid("#", "state", *paths, "values", "last", "reason")
        for t in items:
            last = "" if t["last_value"] is None else f"{t['last_value']:.4g}"
            values = ", ".join(f"{v:.4g}" for v in t["values"] or [])
            params = [str(t["params"].get(p, "")) for p in paths]
            g.add_row(str(t["number"]), t["state"], *params, values, last, escape(t["reason"][:60]))
        console.print(g.table())

    out_list(items, view)


@search_app.command("best")
def best(study_id: str) -> None:
    """The best feasible trial (with several objectives: the Pareto front too)."""
    c = client()
    try:
        b = c.request("GET", f"/studies/{study_id}/best")
    except ApiError as e:
        fail(e)
    params = escape(json.dumps(b["params"], ensure_ascii=False))
    text = f"trial #{b['number']} values {b['values']} params {params}"
    if b.get("model_id"):
        text += f"\nmodel {b['model_id']} config {b['config_id']} v{b['config_version']}"
    if b.get("pareto_front"):
        text += f"\nPareto front: {[t['number'] for t in b['pareto_front']]}"
    out(b, lambda: console.print(text))


@search_app.command("plot")
def plot(
    study_id: str,
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the plot files")] = Path("."),
    fmt: Annotated[list[str] | None, typer.Option("--format", help="png and/or svg (repeatable)")] = None,
) -> None:
    """Optimisation history, intermediate values, parallel coordinates, importance, slices, contour
    (and the Pareto front) as files; with --json, the plot JSON the browser UI draws."""
    c = client()
    try:
        if _json():
            print(json.dumps(c.request("GET", f"/studies/{study_id}/plots"), ensure_ascii=False, indent=2))
            return
        data = c.request("GET", f"/studies/{study_id}/data")
    except ApiError as e:
        fail(e)
    from tlm.study_plot_files import write_plot_files

    try:
        written = write_plot_files(data, out_dir / study_id, fmt or ["png", "svg"])
    except ValueError as e:
        fail_with("invalid", str(e), field="format")
    for p in written:
        console.print(str(p))


@search_app.command("set")
def set_(
    study_id: str,
    parallel: Annotated[int | None, typer.Option("--parallel")] = None,
    trials: Annotated[int | None, typer.Option("--trials")] = None,
    max_time: Annotated[int | None, typer.Option("--max-time")] = None,
    target: Annotated[float | None, typer.Option()] = None,
) -> None:
    """Change the parallelism or budget of a running study (from its next round)."""
    body = {k: v for k, v in {"parallelism": parallel, "max_trials": trials, "max_wall_s": max_time,
                              "target": target}.items() if v is not None}  # fmt: skip
    try:
        s = client().request("POST", f"/studies/{study_id}/settings", json=body)
    except ApiError as e:
        fail(e)
    out(s, lambda: console.print(escape(_progress_line(s))))


@search_app.command("cancel")
def cancel(study_id: str, reason: Annotated[str, typer.Option()] = "") -> None:
    """Stop the study: running trials are stopped, nothing is registered."""
    try:
        s = client().request("POST", f"/studies/{study_id}/cancel", json={"reason": reason})
    except ApiError as e:
        fail(e)
    out(s, lambda: console.print(escape(_progress_line(s))))


@search_app.command("resume")
def resume(study_id: str) -> None:
    """Go on with a failed or cancelled study (a new run; trials done so far are kept)."""
    try:
        s = client().request("POST", f"/studies/{study_id}/resume")
    except ApiError as e:
        fail(e)
    out(s, lambda: console.print(escape(_progress_line(s))))
