"""Pipeline triggers in the domain: cron expressions (errors name the field and the cron part),
scheduled minutes in a window, the next firing, and trigger checks naming the request field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import Invalid
from domain.pipelines.cron import parse_cron
from domain.pipelines.triggers import TRIGGERS, CreateTrigger, check, fire_id

pytestmark = pytest.mark.unit


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_cron_fields_steps_ranges_and_lists() -> None:
    c = parse_cron("*/15 9-17 * * 1-5")
    assert c.matches(at(2026, 12, 2, 9, 45)) and not c.matches(at(2026, 12, 2, 9, 50))
    assert not c.matches(at(2026, 12, 6, 10, 0))  # a Sunday
    assert parse_cron("0 0 * * 7").matches(at(2026, 12, 6, 0, 0))  # 7 is Sunday too
    # both day fields restricted: either matches (cron's rule)
    either = parse_cron("0 0 1 * 1")
    assert either.matches(at(2026, 12, 1, 0, 0)) and either.matches(at(2026, 12, 7, 0, 0))
    assert not either.matches(at(2026, 12, 8, 0, 0))
    assert parse_cron("5,10 1 * * *").due(at(2026, 1, 1, 1, 5), at(2026, 1, 1, 2, 0)) == [at(2026, 1, 1, 1, 10)]


def test_next_firing_skips_days_and_knows_an_impossible_date() -> None:
    assert parse_cron("30 4 29 2 *").next_after(at(2026, 3, 1)) == at(2028, 2, 29, 4, 30)
    assert parse_cron("0 0 31 2 *").next_after(at(2026, 1, 1)) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("* * * *", "give 5 fields"),
        ("61 * * * *", "minute 61 is out of 0-59"),
        ("0 25 * * *", "hour 25 is out of 0-23"),
        ("0 0 0 * *", "day-of-month 0 is out of 1-31"),
        ("0 0 * 5-2 *", "month range '5-2' runs backwards"),
        ("*/0 * * * *", "minute step '0'"),
        ("0 0 * * mon", "day-of-week 'mon' is not a number"),
        ("", "1 to 200 characters"),
    ],
)
def test_bad_cron_is_invalid_naming_the_field_and_the_cron_part(text: str, words: str) -> None:
    with pytest.raises(Invalid) as e:
        parse_cron(text)
    assert e.value.field == "cron" and words in e.value.message, e.value.message


def _cmd(**kw: object) -> CreateTrigger:
    return CreateTrigger(pipeline_id="p", project_id="proj", trigger_id="t1", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"kind": "hourly"}, "kind"),
        ({"kind": "schedule", "cron": "0 3 * * *", "watch_kind": "dataset", "watch_id": "d"}, "watch"),
        ({"kind": "new_version", "watch_kind": "config", "watch_id": "c"}, "watch.kind"),
        ({"kind": "new_version", "watch_kind": "dataset"}, "watch.id"),
        ({"kind": "new_version", "cron": "* * * * *", "watch_kind": "dataset", "watch_id": "d"}, "cron"),
    ],
)
def test_bad_triggers_name_the_field(kw: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as e:
        check(_cmd(**kw))
    assert e.value.field == field


def test_the_aggregate_adds_removes_and_bounds_triggers_and_firings_have_stable_ids() -> None:
    state = TRIGGERS.fold([check(_cmd(kind="schedule", cron="0  3 * * *"))])
    assert state.live["t1"].cron == "0 3 * * *" and state.project_id == "proj"
    assert fire_id("t1", "schedule 2026-12-02T03:00:00+00:00") == fire_id("t1", "schedule 2026-12-02T03:00:00+00:00")
    assert fire_id("t1", "a") != fire_id("t1", "b") and len(fire_id("t1", "a")) == 32
