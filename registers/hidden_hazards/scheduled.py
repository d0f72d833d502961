"""Overdue escalation (逾期督办) of hidden hazards through the notification register and its channels.

Run it with the other scheduled jobs (every few minutes is plenty). A hazard open past its
deadline is escalated once: the on-duty people of the escalation roles for its area are
notified on the configured channels through :func:`registers.notifications.service.send_with_retries`
(so every attempt is in the same delivery log as alarm notifications), and the hazard records
when it was escalated, in ``steps`` and its history. Nobody on duty is logged ``unrouted``, a
gap in the roster that shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.notify.base import Notification
from models.channels import ChannelKind
from models.notify_rules import on_duty, targets_for
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.service import hazards, is_overdue
from registers.hidden_hazards.workflow import HazardState
from registers.notifications import service as notifications
from registers.notifications.models import NotificationDelivery

__all__ = ["ESCALATION_ROLES", "escalate_overdue"]

ESCALATION_ROLES: tuple[str, ...] = ("safety_manager",)


def _message(hazard: HiddenHazard, now: datetime) -> Notification:
    days = (now.date() - hazard.deadline).days
    title = f"【隐患逾期督办】{hazard.level} {hazard.name}"
    text = (
        f"隐患「{hazard.name}」（{hazard.level}，区域 {hazard.area or '-'}）整改期限 {hazard.deadline.isoformat()}，"
        f"已逾期 {days} 天，整改责任人 {hazard.liable_person}，当前状态 {hazard.state}。请督促整改。"
    )
    return Notification(address="", title=title, text=text, alarm_id=f"hidden_hazard:{hazard.id}")


def escalate_overdue(
    *,
    session: Session,
    notifier: notifications.Notifier,
    now: datetime,
    roles: Sequence[str] = ESCALATION_ROLES,
    channels: Sequence[ChannelKind] = (ChannelKind.SMS,),
) -> list[HiddenHazard]:
    """Notify about every open hazard past its deadline that has not been escalated yet; return them.

    Each candidate is read again under its lock (:meth:`Register.each_for_change`) and judged
    once more: a user may have accepted, deleted or re-dated it, or another run escalated it,
    since the query. Without the lock the escalation and that move both wrote the next version
    (an IntegrityError that failed the whole run) or the hazard was notified twice. The lock is
    taken before sending, so a concurrent run waits instead of notifying again.
    """
    roster = notifications.load_roster(session=session)
    escalated: list[HiddenHazard] = []
    stmt = select(HiddenHazard).where(
        HiddenHazard.deleted_at.is_(None),
        HiddenHazard.state != HazardState.ACCEPTED,
        HiddenHazard.escalated_at.is_(None),
    )
    candidates = [
        h.id for h in session.scalars(stmt.order_by(HiddenHazard.deadline, HiddenHazard.id)) if is_overdue(h, now)
    ]
    for hazard in hazards.each_for_change(session=session, record_ids=candidates):
        if hazard.escalated_at is not None or not is_overdue(hazard, now):
            continue
        message = _message(hazard, now)
        targets = targets_for(on_duty(roster, now, area=hazard.area, roles=roles), channels)
        rows: list[NotificationDelivery] = []
        if not targets:
            why = "逾期督办无在岗人员 / nobody on duty to escalate to"
            rows.append(
                notifications._unrouted(session, alarm_id=message.alarm_id, level=2, title=message.title, why=why)
            )  # noqa: SLF001
        for target in targets:
            rows += notifications.send_with_retries(
                session=session, notifier=notifier, target=target, message=message, level=2
            )
        hazard.escalated_at = now
        hazard.steps = [*(hazard.steps or []), {"action": "逾期督办", "by": "system", "at": now.isoformat()}]
        hazard.version += 1
        session.flush()
        sent = sorted({r.recipient for r in rows if r.status == notifications.SENT})
        hazards.record_history(
            session, hazard, "逾期督办", None, {"escalated_at": [None, now.isoformat()], "notified": [None, sent]}
        )
        escalated.append(hazard)
    return escalated
