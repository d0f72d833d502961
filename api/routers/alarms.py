"""Alarms raised by the live pipeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from api.auth import SessionDep, require
from api.deps import StoreDep
from models.alarm_states import AlarmStatus
from models.contracts import to_builtins
from registers.alarms import service as alarms

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms 报警"], dependencies=[Depends(require("read", "alarm"))])


@router.get("/active")
def active_alarms(session: SessionDep) -> list[dict[str, Any]]:
    """Alarms shown to operators, from the alarm register, most urgent and newest first.

    The register's state is the one truth (ISA-18.2): active alarms, acknowledged or not, and
    returned-but-unacknowledged ones; shelved, suppressed and out-of-service alarms are not
    shown. ``state`` is the register status (``unack_active``, ``ack_active``, ``unack_rtn``).
    """
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    rows = sorted(alarms.annunciated(session=session), key=lambda a: (order.get(a.priority, 9), -a.last_event_ts))
    return [
        {
            "alarm_id": a.alarm_id,
            "source_kind": a.source_kind,
            "source_id": a.source_id,
            "kind": a.kind,
            "priority": a.priority,
            "state": a.state,
            "acknowledged": a.state == AlarmStatus.ACK_ACTIVE.value,
            "ts": a.last_event_ts,
            "value": a.value,
            "limit": a.limit,
            "message": a.message,
            "area": a.area,
        }
        for a in rows
    ]


@router.get("")
def alarm_events(
    store: StoreDep,
    start: Annotated[int | None, Query(ge=0)] = None,
    end: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[dict[str, Any]]:
    """Alarm events (raised and returned), newest first."""
    return [to_builtins(a) for a in store.alarm_events(start, end, limit)]


@router.get("/deadletters", tags=["deadletter 死信"], dependencies=[Depends(require("read", "reading"))])
def deadletters(store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Messages the pipeline could not use, with the reason (nothing is silently lost)."""
    return [to_builtins(d) for d in store.deadletters(limit)]
