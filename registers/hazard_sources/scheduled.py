"""Scheduled 包保 duties and their on-line assessment (履职考核), as pure functions of dates.

应急厅〔2021〕12号 (DOMAIN.md §2.5) asks each major hazard source's 主要负责人 to check it at
least quarterly, the 技术负责人 at least monthly and the 操作负责人 at least weekly. The rules
are data (:class:`DutyRule`), so an enterprise or a province with stricter rules configures
them instead of changing code; :data:`DEFAULT_DUTY_RULES` are the national minimums.

A duty is *done* in a period when at least ``minimum`` records of that role exist for that
source inside the period; a period that has ended without them is *overdue*; the period
that contains ``as_of`` and is not yet done is *due*. Periods are calendar periods (ISO
weeks from Monday, months, quarters), as people plan and inspectors audit them.

Example:
    >>> bounds(Period.QUARTER, date(2026, 11, 28))
    (datetime.date(2026, 10, 1), datetime.date(2027, 1, 1))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from registers.hazard_sources.schemas import DutyRole


class Period(StrEnum):
    """Calendar period of a duty rule."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"

    @property
    def label(self) -> str:
        """每周 / 每月 / 每季度."""
        return {"week": "每周", "month": "每月", "quarter": "每季度"}[self.value]


class DutyState(StrEnum):
    """Outcome of one (source, role, period) check."""

    DONE = "done"  # 已履职
    DUE = "due"  # 本期待履职 (period still running)
    OVERDUE = "overdue"  # 逾期未履职

    @property
    def label(self) -> str:
        """已履职 / 待履职 / 逾期未履职."""
        return {"done": "已履职", "due": "待履职", "overdue": "逾期未履职"}[self.value]


@dataclass(frozen=True, slots=True)
class DutyRule:
    """A responsible person of ``role`` must record at least ``minimum`` duties per ``period``."""

    role: DutyRole
    period: Period
    minimum: int = 1


DEFAULT_DUTY_RULES: tuple[DutyRule, ...] = (
    DutyRule(DutyRole.PRINCIPAL, Period.QUARTER),
    DutyRule(DutyRole.TECHNICAL, Period.MONTH),
    DutyRule(DutyRole.OPERATIONAL, Period.WEEK),
)


def bounds(period: Period, day: date) -> tuple[date, date]:
    """``[start, end)`` of the calendar period containing ``day``."""
    if period is Period.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period is Period.MONTH:
        start = day.replace(day=1)
    else:
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    months = 1 if period is Period.MONTH else 3
    year, month = divmod(start.month - 1 + months, 12)
    return start, date(start.year + year, month + 1, 1)


def periods(period: Period, first: date, last: date) -> list[tuple[date, date]]:
    """Every calendar period that touches ``[first, last]``, in order."""
    found: list[tuple[date, date]] = []
    if last < first:
        return found
    start, end = bounds(period, first)
    while start <= last:
        found.append((start, end))
        start, end = bounds(period, end)
    return found


@dataclass(frozen=True, slots=True)
class SourceRef:
    """What the assessment needs of a hazard source: its id and names, and since when it counts."""

    id: int
    code: str
    name: str
    since: date
    persons: tuple[tuple[DutyRole, str | None], ...] = ()

    def person(self, role: DutyRole) -> str | None:
        """The responsible person named for ``role``."""
        return dict(self.persons).get(role)


@dataclass(frozen=True, slots=True)
class DutyDone:
    """A recorded duty, reduced to what the assessment counts."""

    hazard_source_code: str
    role: DutyRole
    performed_on: date


@dataclass(frozen=True, slots=True)
class DutyCheck:
    """One (source, role, period) and its state."""

    source: SourceRef
    rule: DutyRule
    start: date
    end: date  # exclusive
    done: int
    state: DutyState

    @property
    def last_day(self) -> date:
        """The last day of the period (inclusive), as people write it."""
        return self.end - timedelta(days=1)


def assess(
    sources: Iterable[SourceRef],
    duties: Iterable[DutyDone],
    *,
    first: date,
    as_of: date,
    rules: Sequence[DutyRule] = DEFAULT_DUTY_RULES,
) -> list[DutyCheck]:
    """Check every source × rule × period from ``first`` (or the source's ``since``) to ``as_of``.

    Duties dated after ``as_of`` are ignored, so assessing a past date gives the answer that
    date would have given.
    """
    counted: dict[tuple[str, DutyRole], list[date]] = {}
    for duty in duties:
        if duty.performed_on <= as_of:
            counted.setdefault((duty.hazard_source_code, duty.role), []).append(duty.performed_on)
    checks: list[DutyCheck] = []
    for source in sources:
        begin = max(first, source.since)
        for rule in rules:
            days = counted.get((source.code, rule.role), [])
            for start, end in periods(rule.period, begin, as_of):
                done = sum(1 for d in days if start <= d < end)
                if done >= rule.minimum:
                    state = DutyState.DONE
                elif end <= as_of:
                    state = DutyState.OVERDUE
                else:
                    state = DutyState.DUE
                checks.append(DutyCheck(source, rule, start, end, done, state))
    return checks
