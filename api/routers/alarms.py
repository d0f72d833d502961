"""Alarms raised by the live pipeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import StoreDep
from models.contracts import to_builtins

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms 报警"])


@router.get("/active")
def active_alarms(store: StoreDep) -> list[dict[str, Any]]:
    """Alarms whose latest event is active, most urgent and newest first."""
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    alarms = sorted(store.active_alarms(), key=lambda a: (order.get(a.priority.value, 9), -a.ts))
    return [to_builtins(a) for a in alarms]


@router.get("")
def alarm_events(
    store: StoreDep,
    start: Annotated[int | None, Query(ge=0)] = None,
    end: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[dict[str, Any]]:
    """Alarm events (raised and returned), newest first."""
    return [to_builtins(a) for a in store.alarm_events(start, end, limit)]


@router.get("/deadletters", tags=["deadletter 死信"])
def deadletters(store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Messages the pipeline could not use, with the reason (nothing is silently lost)."""
    return [to_builtins(d) for d in store.deadletters(limit)]
