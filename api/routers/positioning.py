"""Personnel positioning (人员定位): latest positions, tracks, replay, heat map, headcount, muster.

Positions come from the positioning dataflow (``pipelines.positioning``) through the
time-series store; zones and their rules from the plant model. Every route reads
(``read`` on ``position``). Times are epoch milliseconds; a window is at most 7 days, so a
query never scans the whole history by accident.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from api.auth import require
from api.deps import PlantDep, RuntimeDep
from api.runtime import Runtime
from models.contracts import LocationPosition, to_builtins
from models.position_rules import PositionRuleTable, muster_list
from twin.people import plant_zone_rules


def _bad_end(message: str) -> RequestValidationError:
    """A 422 on ``end`` in the app's error shape (field + message)."""
    return RequestValidationError([{"loc": ("query", "end"), "msg": message, "type": "value_error"}])


router = APIRouter(prefix="/api/v1/positioning", tags=["positioning 人员定位"])

_READ = [Depends(require("read", "position"))]
MAX_WINDOW_MS: Final = 7 * 24 * 3_600_000
MAX_TS: Final = 2**53
Ts = Annotated[int, Query(ge=0, le=MAX_TS, description="epoch ms")]


def _now() -> int:
    return time.time_ns() // 1_000_000


def _window(start: int, end: int) -> None:
    """422 in the app's shape for a window that is empty, reversed or longer than 7 days."""
    if end <= start:
        msg = "结束时间须晚于开始时间 / end must be after start"
        raise _bad_end(msg)
    if end - start > MAX_WINDOW_MS:
        msg = "查询窗口最长 7 天 / window longer than 7 days"
        raise _bad_end(msg)


def _store(runtime: Runtime) -> Any:
    """The store if it keeps positions (DuckDB and ClickHouse do), else ``None``."""
    store = runtime.store
    return store if store is not None and hasattr(store, "latest_positions") else None


def _latest(runtime: Runtime, since_ms: int) -> list[LocationPosition]:
    store = _store(runtime)
    return store.latest_positions(since_ms) if store is not None else []


@router.get("/positions", dependencies=_READ)
def latest_positions(
    runtime: RuntimeDep,
    within_s: Annotated[int, Query(ge=1, le=86_400, description="seen within the last N seconds")] = 300,
) -> list[dict[str, Any]]:
    """The latest position of everyone seen recently (the people markers of the twin)."""
    return [to_builtins(p) for p in _latest(runtime, _now() - within_s * 1000)]


@router.get("/positions/{person_id}/track", dependencies=_READ)
def track(runtime: RuntimeDep, person_id: str, start: Ts, end: Ts) -> list[dict[str, Any]]:
    """One person's fixes in a window, oldest first (track on the map)."""
    _window(start, end)
    store = _store(runtime)
    return [to_builtins(p) for p in store.positions_between(start, end, person_id)] if store is not None else []


@router.get("/replay", dependencies=_READ)
def replay(
    runtime: RuntimeDep,
    start: Ts,
    end: Ts,
    step_ms: Annotated[int, Query(ge=100, le=3_600_000)] = 1000,
) -> list[dict[str, Any]]:
    """Everyone's positions in a window as frames of ``step_ms`` (the last fix per person per frame)."""
    _window(start, end)
    store = _store(runtime)
    rows = store.positions_between(start, end) if store is not None else []
    frames: dict[int, dict[str, LocationPosition]] = {}
    for p in rows:
        frames.setdefault(start + (p.ts - start) // step_ms * step_ms, {})[p.person_id] = p
    return [{"ts": ts, "positions": [to_builtins(p) for p in people.values()]} for ts, people in sorted(frames.items())]


@router.get("/heatmap", dependencies=_READ)
def heatmap(
    runtime: RuntimeDep, start: Ts, end: Ts, cell_m: Annotated[float, Query(ge=1.0, le=100.0)] = 5.0
) -> dict[str, Any]:
    """Fixes per square of the plan in a window (where people spend their time)."""
    _window(start, end)
    store = _store(runtime)
    cells = store.position_heatmap(start, end, cell_m) if store is not None else []
    return {
        "cell_m": cell_m,
        "cells": [{"ix": ix, "iy": iy, "x": ix * cell_m, "y": iy * cell_m, "count": n} for ix, iy, n in cells],
    }


@router.get("/zones", dependencies=_READ)
def zones(plant: PlantDep) -> list[dict[str, Any]]:
    """Zones with their rules (fences drawn on the ground of the twin)."""
    return [
        {
            "zone_id": z.id,
            "name": z.name,
            "kind": z.kind,
            "polygon": [list(p) for p in z.polygon],
            "permit_required": z.permit_required,
            "forbidden": z.forbidden,
            "max_people": z.max_people,
        }
        for z in plant_zone_rules(plant)
    ]


@router.get("/headcount", dependencies=_READ)
def headcount(
    runtime: RuntimeDep, plant: PlantDep, within_s: Annotated[int, Query(ge=1, le=86_400)] = 300
) -> dict[str, Any]:
    """People per zone and on site now (seen within ``within_s``), with each zone's limit."""
    latest = _latest(runtime, _now() - within_s * 1000)
    counts: dict[str, int] = {}
    for p in latest:
        for z in p.zone_ids:
            counts[z] = counts.get(z, 0) + 1
    rules = plant_zone_rules(plant, PositionRuleTable())
    return {
        "site": len(latest),
        "zones": [
            {"zone_id": z.id, "name": z.name, "kind": z.kind, "count": counts.get(z.id, 0), "max_people": z.max_people}
            for z in rules
        ],
    }


@router.get("/muster", dependencies=_READ)
def muster(
    runtime: RuntimeDep,
    plant: PlantDep,
    order_ts: Annotated[int | None, Query(ge=0, le=MAX_TS, description="evacuation order time; default now")] = None,
) -> dict[str, Any]:
    """Evacuation mustering (紧急疏散清点): who is not at a muster point, with their last position."""
    order = order_ts if order_ts is not None else _now()
    latest = {p.person_id: p for p in _latest(runtime, order - 300_000)}
    muster_zones = [z.id for z in plant.zones if z.kind == "muster"]
    inside = muster_list({k: (p.ts, frozenset(p.zone_ids)) for k, p in latest.items()}, muster_zones, order)
    return {
        "order_ts": order,
        "on_site": len(latest),
        "mustered": len(latest) - len(inside),
        "still_inside": [to_builtins(latest[k]) for k in inside],
    }
