"""The ``studies`` view (``runtime.views.studies``) answers what folding each study's stream
answers: status, counts and the best trial (several objectives and infeasible trials included),
partitioned by project."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from domain.events import EventMetadata
from domain.projection import fold_all
from domain.records import RecordedEvent
from domain.studies import events as ev
from domain.studies import study as sd
from runtime.views.layout import partition_of
from runtime.views.studies import STUDIES_VIEW, list_row, status_of

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def requested(sid: str, directions: list[str]) -> ev.StudyRequested:
    objs = [{"name": f"o{i}", "expression": "val_accuracy", "direction": d} for i, d in enumerate(directions)]
    return ev.StudyRequested(study_id=sid, project_id="p1", name=f"n-{sid}", space=[], strategy="tpe",
                             objectives=objs, max_trials=50, config_id="c", config_version=1, family="bert",
                             base_values={}, dataset_id="d", run_id=sid)  # fmt: skip


def history(sid: str, directions: list[str], rng: random.Random) -> list[ev.StudyRequested | object]:
    """A random but valid study stream, built through the aggregate's ``decide``."""
    st = sd.STUDIES.fold([requested(sid, directions)])
    out: list = [st.requested]

    def do(cmd) -> None:
        nonlocal st
        events = sd.STUDIES.decide(st, cmd)
        st = sd.STUDIES.fold(events, st)
        out.extend(events)

    for r in range(1, rng.randint(2, 6)):
        n = rng.randint(1, 4)
        do(sd.AskTrials(round=r, points=[{}] * n))
        for t in st.round_trials(r):
            do(sd.MarkRunning(number=t.number, jobs=[f"j{t.number}"]))
            do(sd.Report(number=t.number, values={"19": rng.random()}))
            pick = rng.random()
            if pick < 0.2:
                do(sd.Prune(number=t.number, step=19, value=0.1))
            elif pick < 0.3:
                do(sd.Fail(number=t.number, reason="x"))
            elif pick < 0.9:
                vals = [round(rng.random(), 1) for _ in directions]  # ties on purpose
                do(sd.Complete(number=t.number, values=vals, feasible=rng.random() < 0.8))
            do(sd.Complete(number=t.number, values=[0.5] * len(directions)))  # a retried outcome: no event
    ending = rng.random()
    if ending < 0.3:
        do(sd.Cancel(reason="enough"))
    if ending < 0.5:
        do(sd.Finish(reason="cancelled" if ending < 0.3 else "budget"))
    if ending < 0.15:
        do(sd.Resume())
    return out


def records(sid: str, events: list) -> list[RecordedEvent]:
    out = []
    for n, e in enumerate(events, 1):
        at = T0 + timedelta(seconds=n)
        out.append(RecordedEvent(stream_id=f"study-{sid}", version=n, type=e.event_type, data=e.model_dump(mode="json"),
                                 metadata=EventMetadata(actor="alice", occurred_at=at), recorded_at=at))  # fmt: skip
    return out


def expected_status(st: sd.Study) -> str:  # StudiesService.get's rule
    fin = st.finished
    status = fin.reason if fin else ("cancelling" if st.cancel_requested else "running")
    return "finished" if fin and fin.reason not in ("failed", "cancelled") else status


def test_the_view_row_matches_the_folded_study_for_random_histories():
    rng = random.Random(5)
    for i in range(60):
        directions = rng.choice([["maximize"], ["minimize"], ["maximize", "minimize"]])
        sid = f"s{i}"
        recs = records(sid, history(sid, directions, rng))
        row = fold_all(STUDIES_VIEW, recs)[sid]
        st = sd.STUDIES.fold(r.event() for r in recs)
        best = st.best()
        assert row["counts"] == st.counts(), i
        assert row["status"] == status_of(row) == expected_status(st), i
        assert row["best_trial"] == (best.number if best else None), (i, row["done"])
        assert row["best_value"] == (list(best.values) if best and best.values else None), i
        assert partition_of("studies", row) == "p1"
        item = list_row(row)
        assert item["study_id"] == sid and item["created_at"] == recs[0].recorded_at.isoformat()


def test_events_of_other_streams_are_ignored():
    e = RecordedEvent(stream_id="model-m1", version=1, type="model.registered", data={}, recorded_at=T0,
                      metadata=EventMetadata(actor="a", occurred_at=T0))  # fmt: skip
    assert STUDIES_VIEW.keys(e) == []
