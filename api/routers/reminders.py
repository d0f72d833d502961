"""Due-date reminders across every register (证照到期、检验到期、准入到期 ...)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends

from api.auth import SessionDep, require
from registers.catalog import reminder_registers
from registers.db import utcnow
from registers.framework.reminders import due_reminders, pending_reminders

router = APIRouter(prefix="/api/v1/reminders", tags=["reminders 到期提醒"])


@router.get("", dependencies=[Depends(require("read", "reminder"))])
def pending(session: SessionDep) -> list[dict[str, Any]]:
    """Reminders due today and not yet sent, soonest first (a preview; nothing is recorded)."""
    found = pending_reminders(reminder_registers(), session=session, now=utcnow())
    return [asdict(r) for r in sorted(found, key=lambda r: (r.days_left, r.register, r.record_id))]


@router.post("/run", dependencies=[Depends(require("execute", "reminder"))])
def run(session: SessionDep) -> dict[str, Any]:
    """Fire the due reminders now (each fires once); the embedded worker also does this every 30 s."""
    fired = due_reminders(reminder_registers(), session=session, now=utcnow())
    return {"fired": len(fired), "reminders": [asdict(r) for r in fired]}
