"""Hyperparameter studies for the studies-page browser tests, cheaply: no training runs. A study's
trials are decided by the study aggregate's own commands (``domain.studies.study``: RequestStudy,
AskTrials, MarkRunning, Report, Complete / Prune / Fail, Finish) and appended to the platform's
SQLite log from outside the server, as ``seed_release.py`` does for uploads; the ``study``
workflow run that lists it (the studies list reads the ``runs`` view) is recorded first, so the
start-study-run reaction finds its run started and launches nothing.

Objective values are a deterministic function of the parameters (no randomness): the plots
always get the same points."""

from __future__ import annotations

import math
from typing import Any

from domain.aggregate import Aggregate
from domain.events import Command
from domain.records import NewEvent
from domain.studies import definition as dfn
from domain.studies import events as ev
from domain.studies import study as sd
from domain.studies.space import parse_space
from domain.workflows import events as wev
from domain.workflows import run as wr
from tests.e2e.conftest import Platform

SPACE = {
    "training.learning_rate": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
    "architecture.num_hidden_layers": {"type": "int", "low": 1, "high": 4},
    "training.lr_schedule": {"type": "categorical", "choices": ["linear", "cosine", "constant"]},
}
SCHEDULES = ["linear", "cosine", "constant"]


def point(n: int) -> dict[str, Any]:
    return {
        "training.learning_rate": round(10 ** (-5 + 3 * ((n * 7) % 11) / 10), 8),
        "architecture.num_hidden_layers": 1 + (n * 3) % 4,
        "training.lr_schedule": SCHEDULES[n % 3],
    }


def accuracy(p: dict[str, Any]) -> float:
    lr = math.log10(float(p["training.learning_rate"]))
    return round(0.9 - 0.04 * (lr + 3.5) ** 2 + 0.02 * int(p["architecture.num_hidden_layers"])
                 + (0.01 if p["training.lr_schedule"] == "cosine" else 0.0), 4)  # fmt: skip


def trial_commands(n: int, *, objectives: int) -> list[Command]:
    """Trial ``n`` runs and reports three intermediate values; 4 and 9 are pruned, 6 fails."""
    p = point(n)
    acc = accuracy(p)
    cmds: list[Command] = [
        sd.MarkRunning(number=n, jobs=[f"study-trial-{n}"]),
        sd.Report(number=n, values={str(s): round(acc * s / 3 - 0.05 * (3 - s), 4) for s in (1, 2, 3)}),
    ]
    if n in (4, 9):
        return [*cmds, sd.Prune(number=n, step=2, value=round(acc * 2 / 3 - 0.05, 4))]
    if n == 6:
        return [*cmds, sd.Fail(number=n, reason="the job ran out of memory")]
    params = 400_000 + 90_000 * p["architecture.num_hidden_layers"]
    values = [acc, float(params)][:objectives]
    return [*cmds, sd.Complete(number=n, values=values, metrics={"val_accuracy": acc, "parameters": float(params)})]


def _append(store: Any, aggregate: Aggregate[Any], entity_id: str, commands: list[Command]) -> Any:
    """Decide every command on the state the earlier ones made, then append them all in one write
    (what ``commands.execute`` does one command at a time; one write here so the server's
    reactions never see half a seeded study)."""
    from runtime.services.commands import Caller, load

    state, version = load(store, aggregate, entity_id)
    caller = Caller("local")
    new: list[NewEvent] = []
    for cmd in commands:
        events = list(aggregate.decide(state, cmd))
        state = aggregate.fold(events, state)
        new += [NewEvent.of(e, caller.metadata(cmd)) for e in events]
    if new:
        store.append(aggregate.stream_id(entity_id), new, version)
    return state


class SeededStudy:
    """One study in the platform's log; ``more`` adds trials (and ``finish`` ends it) later."""

    def __init__(self, p: Platform, project_id: str, name: str, *, objectives: int = 1) -> None:
        from domain.events import new_id
        from runtime.adapters.sqlite.db import Database
        from runtime.adapters.sqlite.event_store import SqliteEventStore

        self.p, self.project_id, self.objectives = p, project_id, objectives
        self.db = Database(p.data_dir / "tlm.db")
        self.store = SqliteEventStore(self.db)
        with p.http() as http:
            cfg = http.post(f"/projects/{project_id}/configs", json={"template": "bert-tiny", "name": f"{name}-base"})
            assert cfg.status_code == 201, cfg.text
            self.config = cfg.json()
            model = http.post(f"/projects/{project_id}/models", json={"name": f"{name}-best", "family": "bert"})
            assert model.status_code == 201, model.text
            self.model_id = str(model.json()["model_id"])
        self.study_id = new_id()[:16]
        self.rounds = 0
        self.asked = 0
        # the run first: the start-study-run reaction then finds it started (a Conflict) and stops
        run_input = {"study_id": self.study_id, "project_id": project_id}
        _append(self.store, wr.WorkflowRun, self.study_id,
                [wr.StartRun(run_id=self.study_id, workflow="study", input=run_input)])  # fmt: skip
        objs = dfn.objectives(["val_accuracy", "minimize:parameters"][:objectives])
        requested = ev.StudyRequested(
            study_id=self.study_id, project_id=project_id, name=name, space=parse_space(SPACE, "bert").to_list(),
            strategy="nsga2" if objectives > 1 else "tpe", objectives=objs, max_trials=12, parallelism=3,
            config_id=self.config["config_id"], config_version=self.config["version"], family="bert",
            base_values=self.config["values"], dataset_id="seeded-dataset", run_id=self.study_id,
        )  # fmt: skip
        _append(self.store, sd.STUDIES, self.study_id, [sd.RequestStudy(requested=requested)])

    def more(self, count: int, *, leave_running: int = 0) -> None:
        """Ask ``count`` trials in a new round and end all but the last ``leave_running``."""
        self.rounds += 1
        numbers = list(range(self.asked, self.asked + count))
        self.asked += count
        cmds: list[Command] = [sd.AskTrials(round=self.rounds, points=[point(n) for n in numbers])]
        for n in numbers[: count - leave_running]:
            cmds += trial_commands(n, objectives=self.objectives)
        for n in numbers[count - leave_running :]:
            cmds.append(sd.MarkRunning(number=n, jobs=[f"study-trial-{n}"]))
        _append(self.store, sd.STUDIES, self.study_id, cmds)

    def end_running(self, numbers: list[int]) -> None:
        cmds: list[Command] = []
        for n in numbers:
            cmds += trial_commands(n, objectives=self.objectives)[1:]
        _append(self.store, sd.STUDIES, self.study_id, cmds)

    def finish(self) -> None:
        from runtime.services.commands import load

        state, _ = load(self.store, sd.STUDIES, self.study_id)
        best = state.best()
        _append(self.store, sd.STUDIES, self.study_id, [sd.Finish(
            reason="budget", best_trial=best.number if best else None, model_id=self.model_id,
            best_config_id=self.config["config_id"], best_config_version=self.config["version"],
        )])  # fmt: skip
        _append(self.store, wr.WorkflowRun, self.study_id, [wr.Finish(event=wev.RunSucceeded(output={}))])

    def close(self) -> None:
        self.db.close()
