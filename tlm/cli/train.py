"""``tlm train ...``: start a training (config + dataset), follow its logs live, show its state,
metrics (with a text chart of the loss curve) and evaluation, cancel it."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tlm.cli.common import Grid, client, console, err, fail, out_list
from tlm.cli.common import json_mode as _json
from tlm.client import ApiError

train_app = typer.Typer(help="Training runs: start, logs --follow, show, cancel", no_args_is_help=True)
SPARK = " ▁▂▃▄▅▆▇█"


def chart(points: list[list[float]], width: int = 60, height: int = 8) -> list[str]:
    """A text chart of ``[[step, value], ...]``: ``height`` rows of block characters, the value
    range on the left, the step range below."""
    if not points:
        return []
    values = [p[1] for p in points]
    if len(values) > width:  # average into ``width`` buckets
        step = len(values) / width
        values = [
            sum(values[int(i * step) : max(int(i * step) + 1, int((i + 1) * step))])
            / len(values[int(i * step) : max(int(i * step) + 1, int((i + 1) * step))])
            for i in range(width)
        ]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    levels = [(v - lo) / span * height * 8 for v in values]  # eighths of a row
    rows = []
    for r in range(height - 1, -1, -1):
        line = "".join(SPARK[max(0, min(8, round(lv - r * 8)))] for lv in levels)
        label = f"{hi:8.4f} ┤" if r == height - 1 else f"{lo:8.4f} ┤" if r == 0 else "         │"
        rows.append(label + line)
    rows.append(f"          step {int(points[0][0])} … {int(points[-1][0])}")
    return rows


def eta_text(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@train_app.command("start")
def start(
    dataset: Annotated[str, typer.Option("--dataset", help="dataset id")],
    config: Annotated[str | None, typer.Option("--config", help="config id (optional with --model)")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="library model id to fine-tune (HF dir, safetensors)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="name of the trained model (default: <config>-<dataset>)")] = None,
    project_id: Annotated[str | None, typer.Option("--project", help="project id (default: the dataset's)")] = None,
) -> None:
    """Check the config, dataset and model, then start the training workflow. With --model the
    library model is fine-tuned (its tokenizer kept, a new classification head); without
    --config the family's fine-tune defaults are used."""
    c = client()
    try:
        project_id = project_id or c.dataset(dataset)["project_id"]
        body: dict[str, str] = {"dataset_id": dataset, "name": name or f"{config or model}-{dataset}"}
        body |= {"config_id": config} if config else {}
        body |= {"model_id": model} if model else {}
        t = c.request("POST", f"/projects/{project_id}/trainings", json=body)
    except ApiError as e:
        fail(e)
    if _json():
        print(json.dumps(t, ensure_ascii=False, indent=2))
    else:
        console.print(f"started training [bold]{escape(t['name'])}[/bold] id={t['training_id']} ({t['state']})")


@train_app.command("pretrain")
def pretrain(
    dataset: Annotated[list[str], typer.Option("--dataset", help="library entry with texts (repeatable)")],
    name: Annotated[str, typer.Option(help="name of the pretrained model in the library")],
    template: Annotated[str, typer.Option(help="template to pretrain (bert/roberta/albert/electra)")] = "bert-tiny",
    max_steps: Annotated[int, typer.Option()] = 500,
    batch_size: Annotated[int, typer.Option()] = 32,
    learning_rate: Annotated[float, typer.Option()] = 1e-3,
    time_budget_s: Annotated[int, typer.Option(help="stop after this many seconds (0: none)")] = 0,
    project_id: Annotated[str | None, typer.Option("--project", help="project id (default: the first entry's)")] = None,
    wait: Annotated[bool, typer.Option(help="wait for the job and print the registered model")] = True,
) -> None:
    """Masked-LM pretraining (jieba whole-word masking for Chinese) on unlabeled texts; the result
    is registered as a library model that `train start --model` fine-tunes."""
    c = client()
    try:
        project_id = project_id or c.request("GET", f"/models/{dataset[0]}")["project_id"]
        body = {"template": template, "dataset_ids": dataset, "name": name, "max_steps": max_steps,
                "batch_size": batch_size, "learning_rate": learning_rate, "time_budget_s": time_budget_s}  # fmt: skip
        res = c.request("POST", f"/projects/{project_id}/pretrainings", json=body)
        last = None
        while wait and res["state"] in ("Pending", "InProgress", "Stopping"):
            pct = (res.get("progress") or {}).get("percent")
            if pct is not None and pct != last and not _json():
                eta = eta_text((res.get("progress") or {}).get("eta_s") or 0)
                err.print(f"pretraining {res['job_name']}: {pct:.1f}% eta {eta}")
                last = pct
            time.sleep(1.0)
            res = c.request("GET", f"/projects/{project_id}/pretrainings/{res['job_name']}")
    except ApiError as e:
        fail(e)
    if _json():
        print(json.dumps(res, ensure_ascii=False, indent=2))
    elif res.get("model_id"):
        console.print(f"pretrained model [bold]{escape(name)}[/bold] id={res['model_id']} ({res['job_name']})")
    else:
        console.print(f"pretraining {res['job_name']} {res['state']} {escape(str(res.get('failure_reason') or ''))}")
    if wait and res["state"] == "Failed":
        raise typer.Exit(1)


@train_app.command("logs")
def logs(
    training_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing until the training ends")] = False,
) -> None:
    """Log lines of the current job; with --follow, every job of the run live, to the end."""
    c = client()
    try:
        if follow:
            current = None
            for job, line in c.follow_training_logs(training_id):
                if _json():  # JSON lines: one {"job", "line"} object per log line
                    print(json.dumps({"job": job, "line": line}, ensure_ascii=False), flush=True)
                    continue
                if job != current:
                    current = job
                    print(f"==> {job} <==", flush=True)
                print(line, flush=True)
            final = c.training(training_id)
            if _json():
                print(json.dumps({"training_id": training_id, "state": final["state"]}), flush=True)
                return
            print(f"==> training {final['state']} <==", flush=True)
            if final["state"] == "failed":
                err.print(f"[red]failed[/red] {escape(str(final.get('error')))}: {escape(str(final.get('cause')))}")
            return
        res = c.training_logs(training_id)
        # every job of the run, in order (a finished run: the training job's log, then the evaluation's)
        logs = [(j, c.training_logs(training_id, 0, j)["lines"]) for j in res["jobs"]] or [(res["job"], res["lines"])]
    except ApiError as e:
        fail(e)
    if _json():
        out_list([{"job": j, "lines": lines} for j, lines in logs], training_id=training_id, state=res["state"])
        return
    for job, lines in logs:
        if len(logs) > 1:
            print(f"==> {job} <==")
        for line in lines:
            print(line)


@train_app.command("show")
def show(training_id: str) -> None:
    """State, steps, metrics with the loss curve, evaluation and the trained model."""
    try:
        t = client().training(training_id)
    except ApiError as e:
        fail(e)
    if _json():
        print(json.dumps(t, ensure_ascii=False, indent=2))
        return
    console.print(
        f"[bold]{escape(t['name'])}[/bold] id={t['training_id']} state={t['state']} "
        f"config={t['config_id']} v{t['config_version']} dataset={t['dataset_id']}"
        + (f" model={t['model_id']}" if t["model_id"] else "")
    )
    if t.get("parent_model_id"):
        console.print(f"fine-tuned from model {t['parent_model_id']} v{t.get('parent_model_version')}")
    prog = t.get("progress") or {}
    if prog.get("percent") is not None and t["state"] in ("running", "starting"):
        rate = f" at {prog['steps_per_s']:.2f} steps/s" if prog.get("steps_per_s") else ""
        console.print(f"progress: {prog['percent']:.1f}% eta {eta_text(prog.get('eta_s') or 0)}{rate} "
                      f"({prog.get('phase')})")
    if t.get("error"):
        err.print(f"[red]{escape(str(t['error']))}[/red] {escape(str(t.get('cause')))}")
    if t.get("queue_position"):
        console.print(f"waiting for a job slot: position {t['queue_position']} in the queue")
    steps = Grid("step", "status", "job", "seconds")
    for s in t["steps"]:
        steps.add_row(
            s["step"], s["status"], s.get("job") or "", f"{s['duration_s']:.1f}" if s.get("duration_s") else ""
        )
    console.print(steps)
    final = (t.get("metrics") or {}).get("final") or t.get("live_metrics") or {}
    if final:
        console.print("metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(final.items())))
    for name, points in ((t.get("metrics") or {}).get("curves") or {}).items():
        if points:
            console.print(f"{name}:")
            for row in chart(points):
                print(row)
    ev = t.get("evaluation") or {}
    if ev:
        lat = ev.get("latency_ms_per_batch") or {}
        console.print(
            f"evaluation on {ev.get('examples')} test examples: accuracy={ev['accuracy']:.4f} "
            f"macro_f1={ev['macro_f1']:.4f} latency p50={lat.get('p50', 0):.1f} ms/batch"
        )
        cm = ev.get("confusion_matrix") or {}
        if cm:
            tab = Table("true \\ predicted", *cm["labels"])
            for label, row in zip(cm["labels"], cm["rows_true_cols_pred"], strict=True):
                tab.add_row(label, *map(str, row))
            console.print(tab)


@train_app.command("list")
def list_(project_id: str) -> None:
    try:
        items = client().trainings(project_id)
    except ApiError as e:
        fail(e)
    t = Grid("id", "name", "state", "model", "started")
    for i in items:
        t.add_row(i["training_id"], escape(i["name"]), i["state"], i.get("model_id") or "", str(i["started_at"])[:19])
    out_list(items, t)


@train_app.command("cancel")
def cancel(
    training_id: str,
    wait: Annotated[bool, typer.Option(help="wait until it has stopped")] = True,
) -> None:
    c = client()
    try:
        t = c.cancel_training(training_id)
        while wait and t["state"] == "cancelling":
            time.sleep(0.5)
            t = c.training(training_id)
    except ApiError as e:
        fail(e)
    if _json():
        print(json.dumps(t, ensure_ascii=False, indent=2))
    else:
        console.print(f"training {t['training_id']} {t['state']}")
