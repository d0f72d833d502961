"""Who is on duty in the tests of notices and escalations: one safety manager with a phone, round the clock."""

from __future__ import annotations

from datetime import time

from sqlalchemy.orm import Session

from connectors.notify import ChannelKind
from registers.notifications import service as notifications
from registers.notifications.schemas import RosterEntryCreate

SAFETY_MANAGER_PHONE = "13800000001"


def safety_manager_on_duty(session: Session, *, person: str = "王安全") -> None:
    """Put ``person`` on the duty roster as safety manager all day, reachable by SMS."""
    notifications.create_roster_entry(
        session=session,
        data=RosterEntryCreate(
            person=person,
            role="safety_manager",
            shift_start=time(0),
            shift_end=time(0),
            addresses={ChannelKind.SMS: SAFETY_MANAGER_PHONE},
        ),
        actor="t",
    )
