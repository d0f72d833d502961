"""Live and historical values of sensor tags."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import TypeAdapter

from api.auth import in_request_thread, require
from api.deps import LatestReadingsDep, PlantDep, RecentHistoryDep, RuntimeDep, TagDep
from connectors.store.base import HistoryRow
from models.contracts import Quality, SensorReading, now_ms, to_builtins

router = APIRouter(prefix="/api/v1/tags", tags=["tags 位号"], dependencies=[Depends(require("read", "reading"))])

DAY_MS = 86_400_000

_JSON_OBJECT: Final = TypeAdapter(dict[str, Any])
"""The serialiser FastAPI builds for a ``dict[str, Any]`` response model (same bytes), used by
routes that hand back a ready :class:`Response` so FastAPI neither re-validates nor re-encodes."""


def _live(reading: SensorReading, max_age_ms: int) -> dict[str, Any]:
    """A latest reading as shown: one older than the source timeout is stale, whatever it was.

    A source that stopped sending leaves its tags' last values in the store; showing them as
    good would hide the communication failure (通讯故障) from the operator.
    """
    out = to_builtins(reading)
    if now_ms() - reading.ts > max_age_ms and reading.quality in (Quality.GOOD, Quality.UNCERTAIN):
        out["quality"] = Quality.STALE.value
    return out


def _max_age_ms(runtime: RuntimeDep) -> int:
    return round(runtime.settings.source_timeout_s * 1000)


@router.get("")
async def list_tags(plant: PlantDep, latest_readings: LatestReadingsDep, runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Every tag with its limits and latest reading (null before the first one; stale when old)."""
    latest = await latest_readings.get_all()
    max_age = _max_age_ms(runtime)
    return [
        {
            "tag": t.tag,
            "name": t.name,
            "equipment": t.equipment,
            "kind": t.kind,
            "unit": t.unit,
            "range": list(t.range),
            "limits": t.limits.model_dump(),
            "latest": _live(latest[t.tag], max_age) if t.tag in latest else None,
        }
        for t in plant.tags
    ]


@router.get("/{tag}/latest")
async def latest_value(tag: TagDep, latest_readings: LatestReadingsDep, runtime: RuntimeDep) -> dict[str, Any]:
    """The most recent reading of one tag (quality ``stale`` once older than the source timeout).

    Served from this worker's copy of every tag's latest reading, at most
    ``SAFETWIN_LATEST_MAX_AGE_S`` old (api/latest_readings.py): no thread and no query while it
    is fresh.
    """
    found = await latest_readings.get(tag.tag)
    if found is None:
        raise HTTPException(status_code=404, detail=f"位号 {tag.tag} 暂无数据 / no reading yet")
    return _live(found, _max_age_ms(runtime))


@router.get("/{tag}/history", response_model=dict[str, Any])
async def history(
    tag: TagDep,
    recent: RecentHistoryDep,
    start: Annotated[int | None, Query(ge=0, description="epoch ms; default end - 1 h")] = None,
    end: Annotated[int | None, Query(ge=0, description="epoch ms; default now")] = None,
    points: Annotated[int, Query(ge=1, le=10_000, description="max buckets (min/max preserved)")] = 500,
) -> Response:
    """Downsampled history: each bucket keeps min, max, avg, last and count.

    A tag asked for again and again is answered from this worker's copy of its recent readings,
    at most ``SAFETWIN_HISTORY_MAX_AGE_S`` old (api/recent_history.py): no thread and no query
    while it is fresh.
    """
    end_ms = end if end is not None else now_ms()
    start_ms = start if start is not None else end_ms - 3_600_000
    if start_ms >= end_ms:
        raise HTTPException(status_code=422, detail="start 必须早于 end / start must be before end")
    if end_ms - start_ms > 400 * DAY_MS:
        raise HTTPException(status_code=422, detail="时间范围不能超过 400 天 / range limited to 400 days")

    def body(rows: list[HistoryRow]) -> bytes:
        # JSON from plain tuples: per-bucket dataclasses and FastAPI's validation of the
        # finished dict cost more CPU than the query behind them.
        return _JSON_OBJECT.dump_json(
            {
                "tag": tag.tag,
                "unit": tag.unit,
                "start": start_ms,
                "end": end_ms,
                "points": [
                    {"ts": ts, "min": lo, "max": hi, "avg": avg, "last": last, "count": n}
                    for ts, lo, hi, avg, last, n in rows
                ],
            }
        )

    rows = recent.cached(tag.tag, start_ms, end_ms, points)
    if rows is None:  # query, points and JSON in one worker thread
        return Response(
            await in_request_thread(lambda: body(recent.rows(tag.tag, start_ms, end_ms, points))),
            media_type="application/json",
        )
    return Response(body(rows), media_type="application/json")
