"""Due-date reminders (到期提醒): each (record, date field, lead time, date) fires exactly once.

Each register declares its due dates (:class:`registers.framework.service.DueDate`), e.g. a
licence's expiry with lead times 90/30/7/0 days. :func:`due_reminders` is called by a
scheduler with the current time; it returns the reminders that are due and not yet sent and
records them in ``register_reminders`` in the same transaction, so a reminder is never lost
(rolled back with the caller) and never sent twice (unique key).

Rules, on the plant's calendar (Asia/Shanghai: a Chinese licence expires on a Chinese date):

* a lead time ``L`` applies when ``days_left <= L``; at any moment only the *smallest*
  applicable lead fires, so a record entered 20 days before expiry gets the 30-day reminder,
  not the 90-day and the 30-day one together;
* 0 fires on the due day, or at once for a date already past (an expired licence);
* a new due date (a renewed licence) starts over; a soft-deleted record is never reminded.

Example:
    >>> from datetime import date
    >>> applicable_lead(date(2027, 1, 31), today=date(2027, 1, 1), lead_days=(90, 30, 7, 0))
    30
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from registers.framework.models import ReminderSent
from registers.framework.service import DueDate, Register

__all__ = ["LOCAL_TZ", "Reminder", "applicable_lead", "due_reminders", "pending_reminders"]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Reminder:
    """A reminder to send: which record, which date, how early, and the message for people."""

    register: str
    record_id: int
    field: str
    lead_days: int
    due_date: date
    days_left: int
    record: str
    message: str


def applicable_lead(due: date, *, today: date, lead_days: Sequence[int]) -> int | None:
    """The smallest lead time that applies ``today`` to a date ``due``; None when none does yet."""
    days_left = (due - today).days
    applicable = [lead for lead in lead_days if days_left <= lead]
    return min(applicable) if applicable else None


def _message(title: str, record: str, label: str, due: date, days_left: int) -> str:
    if days_left > 0:
        return f"{title}「{record}」{label}将于 {due.isoformat()} 到期，还剩 {days_left} 天"
    if days_left == 0:
        return f"{title}「{record}」{label}今天 ({due.isoformat()}) 到期"
    return f"{title}「{record}」{label}已于 {due.isoformat()} 过期 {-days_left} 天"


def pending_reminders(
    registers: Iterable[Register[Any, Any, Any, Any]],
    *,
    session: Session,
    now: datetime,
    tz: ZoneInfo = LOCAL_TZ,
) -> list[Reminder]:
    """The reminders due at ``now`` and not yet sent, without recording them (a preview)."""
    today = now.astimezone(tz).date()
    reminders: list[Reminder] = []
    for register in registers:
        for due_date in register.due_dates:
            reminders.extend(_pending_for(register, due_date, session, today))
    return reminders


def due_reminders(
    registers: Iterable[Register[Any, Any, Any, Any]],
    *,
    session: Session,
    now: datetime,
    tz: ZoneInfo = LOCAL_TZ,
) -> list[Reminder]:
    """The reminders due at ``now`` and not yet sent, recorded as sent (flushed, not committed).

    Args:
        registers: the registers to look at (each with its ``due_dates``).
        session: the caller's session; commit after the reminders were handed on.
        now: aware current time (tests move it forward).
        tz: the plant's calendar.
    """
    reminders = pending_reminders(registers, session=session, now=now, tz=tz)
    session.add_all(
        ReminderSent(
            register=r.register,
            record_id=r.record_id,
            field=r.field,
            lead_days=r.lead_days,
            due_date=r.due_date,
            fired_at=now,
        )
        for r in reminders
    )
    session.flush()
    return reminders


def _pending_for(
    register: Register[Any, Any, Any, Any], due_date: DueDate, session: Session, today: date
) -> list[Reminder]:
    if not due_date.lead_days:
        return []
    model = register.model
    column = getattr(model, due_date.field)
    horizon = today + timedelta(days=max(due_date.lead_days))
    records = session.scalars(
        select(model)
        .where(model.deleted_at.is_(None), column.is_not(None), column <= horizon)
        .order_by(column, model.id)
    ).all()
    if not records:
        return []
    sent = {
        (record_id, lead, due)
        for record_id, lead, due in session.execute(
            select(ReminderSent.record_id, ReminderSent.lead_days, ReminderSent.due_date).where(
                ReminderSent.register == register.name,
                ReminderSent.field == due_date.field,
                ReminderSent.due_date <= horizon,
            )
        )
    }
    label = due_date.label or register.label(due_date.field)
    out: list[Reminder] = []
    for record in records:
        if due_date.applies is not None and not due_date.applies(record):
            continue
        due: date = getattr(record, due_date.field)
        lead = applicable_lead(due, today=today, lead_days=due_date.lead_days)
        if lead is None or (record.id, lead, due) in sent:
            continue
        days_left = (due - today).days
        name = register.describe_record(record)
        out.append(
            Reminder(
                register=register.name,
                record_id=record.id,
                field=due_date.field,
                lead_days=lead,
                due_date=due,
                days_left=days_left,
                record=name,
                message=_message(register.title, name, label, due, days_left),
            )
        )
    return out
