"""Investigation-task slots from a check schedule (隐患排查任务周期), as pure date arithmetic.

A control measure is checked on a cycle (``checkCycle`` + ``checkCycleUnit`` of DOMAIN.md
§4.1: hours, days, weeks, months, years), inside a daily work window (``workStartTime`` –
``workEndTime``), on working days, non-working days or every day (``workDayType``). This
module turns such a schedule into the exact list of task slots between two instants; the
register stores one task per slot (unique on schedule and slot start), so generating twice,
or after a restart, adds nothing.

Rules, fixed here so tests and screens agree:

* Everything is counted on the plant calendar (Asia/Shanghai); slots are returned in UTC.
* Hourly: slots start at the window start and every ``cycle`` hours while inside the window;
  a slot ends at the next slot or at the window end, whichever is first. A window whose end
  is not after its start runs overnight; equal start and end is the whole day.
* Daily: every ``cycle`` days from the anchor's date, starting at the window start, ending at
  the window end.
* Weekly, monthly, yearly: every ``cycle`` periods from the anchor's date (same weekday, same
  day of month clamped to the month's length), starting at the window start; the slot runs
  until the next period starts (a weekly check can be done any day of its week).
* Working days are Monday to Friday (no holiday calendar yet); the day type filters hourly
  and daily schedules only.

Example:
    >>> from datetime import datetime, time, timezone
    >>> s = Schedule(cycle=1, unit=CycleUnit.DAY, anchor=datetime(2026, 12, 1, tzinfo=timezone.utc),
    ...              work_start=time(8), work_end=time(17))
    >>> [x.start.isoformat() for x in slots(s, datetime(2026, 12, 1, tzinfo=timezone.utc),
    ...                                      datetime(2026, 12, 3, tzinfo=timezone.utc))]
    ['2026-12-01T00:00:00+00:00', '2026-12-02T00:00:00+00:00']
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

__all__ = ["LOCAL_TZ", "MAX_SLOTS", "CycleUnit", "InvalidSchedule", "Schedule", "Slot", "WorkDayType", "slots"]

LOCAL_TZ: Final = ZoneInfo("Asia/Shanghai")
MAX_SLOTS: Final = 100_000  # a guard: one call never builds more (a 1-hour cycle over 10 years)


class CycleUnit(StrEnum):
    """``checkCycleUnit`` of the exchange specification."""

    HOUR = "小时"
    DAY = "天"
    WEEK = "周"
    MONTH = "月"
    YEAR = "年"


class WorkDayType(StrEnum):
    """``workDayType``: on which days an hourly or daily check runs."""

    WORKDAY = "工作日"
    NON_WORKDAY = "非工作日"
    EVERY_DAY = "每天"

    @property
    def code(self) -> int:
        """Exchange code (1 工作日, 2 非工作日, 3 每天)."""
        return {"工作日": 1, "非工作日": 2, "每天": 3}[self.value]


class InvalidSchedule(ValueError):
    """A schedule that cannot generate tasks (cycle below 1, naive anchor)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a check is due: cycle and unit, the anchor (first possible day), window, day type."""

    cycle: int
    unit: CycleUnit
    anchor: datetime
    work_start: time = time(0)
    work_end: time = time(0)
    day_type: WorkDayType = WorkDayType.EVERY_DAY

    def __post_init__(self) -> None:
        if self.cycle < 1:
            msg = f"排查周期必须至少为 1，当前为 {self.cycle}"
            raise InvalidSchedule(msg)
        if self.anchor.tzinfo is None:
            msg = "anchor must be timezone-aware"
            raise InvalidSchedule(msg)


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """One task: to be done from ``start`` until ``end`` (aware UTC)."""

    start: datetime
    end: datetime


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=LOCAL_TZ)


def _window(day: date, schedule: Schedule) -> tuple[datetime, datetime]:
    start = _at(day, schedule.work_start)
    end = _at(day, schedule.work_end)
    if end <= start:
        end += timedelta(days=1)
    return start, end


def _day_ok(day: date, day_type: WorkDayType) -> bool:
    weekday = day.weekday() < 5
    return day_type is WorkDayType.EVERY_DAY or weekday == (day_type is WorkDayType.WORKDAY)


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _periodic(schedule: Schedule, k: int) -> date:
    first = schedule.anchor.astimezone(LOCAL_TZ).date()
    n = k * schedule.cycle
    if schedule.unit is CycleUnit.WEEK:
        return first + timedelta(weeks=n)
    if schedule.unit is CycleUnit.MONTH:
        return _add_months(first, n)
    return _add_months(first, 12 * n)  # YEAR (clamps 29 Feb)


def _candidates(schedule: Schedule, since: datetime, until: datetime) -> list[Slot]:
    anchor_day = schedule.anchor.astimezone(LOCAL_TZ).date()
    out: list[Slot] = []
    if schedule.unit in (CycleUnit.HOUR, CycleUnit.DAY):
        # the day before the anchor too: its overnight window may reach past the anchor
        day = max(anchor_day, since.astimezone(LOCAL_TZ).date()) - timedelta(days=1)
        last = until.astimezone(LOCAL_TZ).date()
        while day <= last and len(out) < MAX_SLOTS:
            on_cycle = schedule.unit is CycleUnit.HOUR or (
                day >= anchor_day and (day - anchor_day).days % schedule.cycle == 0
            )
            if on_cycle and _day_ok(day, schedule.day_type):
                start, end = _window(day, schedule)
                if schedule.unit is CycleUnit.DAY:
                    out.append(Slot(start, end))
                else:
                    step = timedelta(hours=schedule.cycle)
                    while start < end:
                        out.append(Slot(start, min(start + step, end)))
                        start += step
            day += timedelta(days=1)
        return out
    k = 0
    while len(out) < MAX_SLOTS:
        day = _periodic(schedule, k)
        start = _at(day, schedule.work_start)
        if start >= until:
            break
        out.append(Slot(start, _at(_periodic(schedule, k + 1), schedule.work_start)))
        k += 1
    return out


def slots(schedule: Schedule, since: datetime, until: datetime) -> list[Slot]:
    """Every slot of ``schedule`` starting in ``[since, until)`` and not before the anchor, in order.

    Raises:
        InvalidSchedule: ``since`` or ``until`` is naive.
    """
    if since.tzinfo is None or until.tzinfo is None:
        msg = "since and until must be timezone-aware"
        raise InvalidSchedule(msg)
    lower = max(since, schedule.anchor)
    return [
        Slot(s.start.astimezone(UTC), s.end.astimezone(UTC))
        for s in _candidates(schedule, since, until)
        if lower <= s.start < until
    ]
