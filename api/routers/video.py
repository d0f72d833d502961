"""Video analytics (AI视频分析): cameras with their zones, and the detections the edge boxes sent.

Detections come from the video dataflow (``pipelines.video``, DeepStream payloads) through the
time-series store; the alarms they raise are in the alarm register like every other alarm.
Every route reads (``read`` on ``video``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from api.auth import require
from api.deps import PlantDep, RuntimeDep
from api.runtime import video_plan
from models.contracts import to_builtins


def _bad_end(message: str) -> RequestValidationError:
    """A 422 on ``end`` in the app's error shape (field + message)."""
    return RequestValidationError([{"loc": ("query", "end"), "msg": message, "type": "value_error"}])


router = APIRouter(prefix="/api/v1/video", tags=["video 视频分析"])

_READ = [Depends(require("read", "video"))]
MAX_TS = 2**53


@router.get("/cameras", dependencies=_READ)
def cameras(plant: PlantDep) -> list[dict[str, Any]]:
    """Cameras, where they stand, the zone each watches and the rules that apply to it."""
    plan = video_plan(plant)
    out = []
    for c in plant.cameras:
        rule = plan.camera(c.id)
        out.append(
            {
                "camera_id": c.id,
                "name": c.name,
                "position": list(c.position),
                "zone_id": c.zone,
                "post": rule.post,
                "max_people": rule.max_people,
            }
        )
    return out


@router.get("/detections", dependencies=_READ)
def detections(
    runtime: RuntimeDep,
    start: Annotated[int | None, Query(ge=0, le=MAX_TS, description="epoch ms; default 1 h ago")] = None,
    end: Annotated[int | None, Query(ge=0, le=MAX_TS, description="epoch ms; default now")] = None,
    camera_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[dict[str, Any]]:
    """Detections in a window (one camera or all), newest first, with their snapshot reference."""
    now = time.time_ns() // 1_000_000
    stop = end if end is not None else now + 1
    begin = start if start is not None else stop - 3_600_000
    if stop <= begin:
        msg = "结束时间须晚于开始时间 / end must be after start"
        raise _bad_end(msg)
    store = runtime.store
    if store is None or not hasattr(store, "detections_between"):
        return []
    return [to_builtins(d) for d in store.detections_between(begin, stop, camera_id, limit)]
