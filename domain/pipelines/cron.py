"""Cron expressions of schedule triggers: five fields, ``minute hour day-of-month month day-of-week``,
in UTC (what EventBridge Scheduler's ``cron(...)`` takes, less its year field and ``?``).

Each field is ``*``, a number, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a comma list of
those; day-of-week is 0-6 with 0 = Sunday (7 is Sunday too). As in cron, when both day fields are
restricted a day matches either. Errors are ``Invalid`` with ``field`` naming the request field and
the message naming the cron field (``cron: hour 25 is out of 0-23``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import Invalid

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
MAX_LENGTH = 200


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def _day(self, d: datetime) -> bool:
        dom, dow = d.day in self.days, (d.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def matches(self, t: datetime) -> bool:
        return t.minute in self.minutes and t.hour in self.hours and t.month in self.months and self._day(t)

    def due(self, after: datetime, until: datetime) -> list[datetime]:
        """Scheduled minutes in ``(after, until]`` (the window is at most a day: the caller's look-back)."""
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        out: list[datetime] = []
        t = start
        while t <= until and len(out) < 1440:
            if self.matches(t):
                out.append(t)
            t += timedelta(minutes=1)
        return out

    def next_after(self, after: datetime, *, horizon_days: int = 366 * 5) -> datetime | None:
        """The first scheduled minute after ``after`` (None if none within the horizon: e.g. 31 February)."""
        day = after.replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(horizon_days):
            if day.month in self.months and self._day(day):
                for h in sorted(self.hours):
                    for mi in sorted(self.minutes):
                        t = day.replace(hour=h, minute=mi)
                        if t > after:
                            return t
            day += timedelta(days=1)
        return None


def _part(part: str, name: str, lo: int, hi: int, where: str) -> set[int]:
    body, _, step_text = part.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) < 1:
            raise Invalid(f"cron: {name} step {step_text!r} is not a positive number", field=where)
        step = int(step_text)
    if body == "*":
        a, b = lo, hi
    else:
        first, dash, last = body.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise Invalid(f"cron: {name} {part!r} is not a number, range or step", field=where)
        a, b = int(first), int(last) if dash else int(first)
        if step_text and not dash:
            b = hi
        for v in (a, b):
            if not lo <= v <= hi:
                raise Invalid(f"cron: {name} {v} is out of {lo}-{hi}", field=where)
        if a > b:
            raise Invalid(f"cron: {name} range {body!r} runs backwards", field=where)
    return set(range(a, b + 1, step))


def parse_cron(text: object, *, field: str = "cron") -> Cron:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LENGTH:
        raise Invalid(f"a cron expression is text of 1 to {MAX_LENGTH} characters", field=field)
    parts = text.split()
    if len(parts) != 5:
        raise Invalid(f"cron: give 5 fields ({' '.join(n for n, _, _ in FIELDS)}), not {len(parts)}", field=field)
    values: list[set[int]] = []
    for raw, (name, lo, hi) in zip(parts, FIELDS, strict=True):
        got: set[int] = set()
        for piece in raw.split(","):
            got |= _part(piece, name, lo, hi, field)
        values.append(got)
    minutes, hours, days, months, weekdays = values
    weekdays = {d % 7 for d in weekdays}
    return Cron(" ".join(parts), frozenset(minutes), frozenset(hours), frozenset(days), frozenset(months),
                frozenset(weekdays), any_day=parts[2] == "*", any_weekday=parts[4] == "*")  # fmt: skip
