"""Task slots from check schedules: 30 days of December 2026, written out by hand, and properties.

December 2026 on the plant calendar: the 1st is a Tuesday; 1–30 December hold 22 working days
and 8 weekend days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.investigation_schedule import LOCAL_TZ, CycleUnit, InvalidSchedule, Schedule, WorkDayType, slots

START = datetime(2026, 12, 1, tzinfo=LOCAL_TZ)
END = START + timedelta(days=30)


def local(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LOCAL_TZ)


@dataclass(frozen=True)
class Row:
    """One schedule and what 30 days of it must give: count, first three starts, last start and end."""

    name: str
    schedule: Schedule
    count: int
    first: tuple[datetime, ...]
    last_start: datetime
    last_end: datetime


def sched(cycle: int, unit: CycleUnit, ws: time, we: time, day_type: WorkDayType = WorkDayType.EVERY_DAY) -> Schedule:
    return Schedule(cycle=cycle, unit=unit, anchor=START, work_start=ws, work_end=we, day_type=day_type)


ROWS = [
    Row(
        "operator round every 2 h, 08–20",
        sched(2, CycleUnit.HOUR, time(8), time(20)),
        6 * 30,
        (local(1, 8), local(1, 10), local(1, 12)),
        local(30, 18),
        local(30, 20),
    ),
    Row(
        "key unit every 1 h, 08–12, working days",
        sched(1, CycleUnit.HOUR, time(8), time(12), WorkDayType.WORKDAY),
        4 * 22,
        (local(1, 8), local(1, 9), local(1, 10)),
        local(30, 11),
        local(30, 12),
    ),
    Row(
        "night shift every 4 h, 20–08 (overnight window)",
        sched(4, CycleUnit.HOUR, time(20), time(8)),
        3 * 30,
        (local(1, 0), local(1, 4), local(1, 20)),
        local(30, 20),
        local(31, 0),
    ),
    Row(
        "technician daily, 08:30–17:30",
        sched(1, CycleUnit.DAY, time(8, 30), time(17, 30)),
        30,
        (local(1, 8, 30), local(2, 8, 30), local(3, 8, 30)),
        local(30, 8, 30),
        local(30, 17, 30),
    ),
    Row(
        "every second day",
        sched(2, CycleUnit.DAY, time(9), time(11)),
        15,
        (local(1, 9), local(3, 9), local(5, 9)),
        local(29, 9),
        local(29, 11),
    ),
    Row(
        "weekend duty, non-working days",
        sched(1, CycleUnit.DAY, time(9), time(10), WorkDayType.NON_WORKDAY),
        8,
        (local(5, 9), local(6, 9), local(12, 9)),
        local(27, 9),
        local(27, 10),
    ),
    Row(
        "workshop weekly (Tuesdays, the anchor's weekday)",
        sched(1, CycleUnit.WEEK, time(9), time(17)),
        5,
        (local(1, 9), local(8, 9), local(15, 9)),
        local(29, 9),
        datetime(2027, 1, 5, 9, tzinfo=LOCAL_TZ),
    ),
    Row(
        "plant monthly",
        sched(1, CycleUnit.MONTH, time(9), time(17)),
        1,
        (local(1, 9),),
        local(1, 9),
        datetime(2027, 1, 1, 9, tzinfo=LOCAL_TZ),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_thirty_days_of_slots_match_the_schedule(row: Row) -> None:
    got = slots(row.schedule, START, END)
    assert len(got) == row.count
    assert tuple(s.start for s in got[: len(row.first)]) == row.first
    assert got[-1].start == row.last_start
    assert got[-1].end == row.last_end
    assert all(s.start.tzinfo is UTC for s in got)


def test_monthly_on_the_31st_is_clamped_to_short_months() -> None:
    schedule = Schedule(cycle=1, unit=CycleUnit.MONTH, anchor=datetime(2026, 1, 31, tzinfo=LOCAL_TZ))
    starts = [
        s.start.astimezone(LOCAL_TZ).date().day
        for s in slots(schedule, schedule.anchor, datetime(2027, 1, 1, tzinfo=UTC))
    ]
    assert starts == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def test_quarterly_and_yearly() -> None:
    anchor = datetime(2026, 1, 15, tzinfo=LOCAL_TZ)
    quarterly = Schedule(cycle=3, unit=CycleUnit.MONTH, anchor=anchor)
    assert [s.start.astimezone(LOCAL_TZ).month for s in slots(quarterly, anchor, anchor + timedelta(days=365))] == [
        1,
        4,
        7,
        10,
    ]
    yearly = Schedule(cycle=1, unit=CycleUnit.YEAR, anchor=datetime(2024, 2, 29, tzinfo=LOCAL_TZ))
    days = [
        s.start.astimezone(LOCAL_TZ).date().isoformat()
        for s in slots(yearly, yearly.anchor, datetime(2028, 3, 1, tzinfo=UTC))
    ]
    assert days == ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"]


def test_nothing_before_the_anchor_and_bad_schedules_are_refused() -> None:
    later = Schedule(cycle=1, unit=CycleUnit.DAY, anchor=local(10, 0), work_start=time(8), work_end=time(9))
    assert slots(later, START, END)[0].start == local(10, 8)
    with pytest.raises(InvalidSchedule):
        Schedule(cycle=0, unit=CycleUnit.DAY, anchor=START)
    with pytest.raises(InvalidSchedule):
        Schedule(cycle=1, unit=CycleUnit.DAY, anchor=datetime(2026, 12, 1))  # noqa: DTZ001 - the point
    with pytest.raises(InvalidSchedule):
        slots(later, datetime(2026, 12, 1), END)  # noqa: DTZ001


schedules = st.builds(
    Schedule,
    cycle=st.integers(1, 6),
    unit=st.sampled_from(CycleUnit),
    anchor=st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(LOCAL_TZ)),  # noqa: DTZ001
    work_start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    work_end=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    day_type=st.sampled_from(WorkDayType),
)
instants = st.datetimes(datetime(2026, 1, 1), datetime(2027, 3, 1), timezones=st.just(LOCAL_TZ))  # noqa: DTZ001


@given(schedule=schedules, a=instants, b=instants, c=instants)
def test_generating_in_pieces_gives_the_same_slots_as_at_once(
    schedule: Schedule, a: datetime, b: datetime, c: datetime
) -> None:
    """What the job relies on: running it every hour or once a month gives the same tasks."""
    a, b, c = sorted((a, b, c))
    whole = slots(schedule, a, c)
    assert slots(schedule, a, b) + slots(schedule, b, c) == whole
    assert whole == sorted(whole)
    assert all(a <= s.start < c and s.end > s.start for s in whole)
    assert all(x.end <= y.start or schedule.unit is not CycleUnit.HOUR for x, y in zip(whole, whole[1:], strict=False))
    assert len({s.start for s in whole}) == len(whole)
