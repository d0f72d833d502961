"""Simulator controls: force a process upset to exercise alarms end to end."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from api.auth import require
from api.deps import RuntimeDep

router = APIRouter(prefix="/api/v1/sim", tags=["simulator 仿真"])


class ExcursionIn(BaseModel):
    """A forced excursion of one tag."""

    tag: str = Field(min_length=1, max_length=64)
    to: float | None = Field(default=None, description="target value; default just beyond the highest limit")
    duration_s: float = Field(default=30.0, gt=0, le=3600)


@router.post("/excursions", status_code=202, dependencies=[Depends(require("execute", "simulator"))])
def force_excursion(body: ExcursionIn, runtime: RuntimeDep) -> dict[str, object]:
    """Drive a tag beyond its limits for a while (demo and tests only)."""
    if runtime.devices is None or not runtime.devices.alive:
        raise HTTPException(status_code=409, detail="仿真器未运行 / the simulator is not running")
    tag = _known(body.tag, runtime)
    runtime.devices.trigger_excursion(tag, to=body.to, duration_s=body.duration_s)
    return {"tag": tag, "to": body.to, "duration_s": body.duration_s, "accepted": True}


def _known(tag: str, runtime: RuntimeDep) -> str:
    try:
        return runtime.plant.tag(tag).tag
    except KeyError as err:
        raise HTTPException(status_code=404, detail=f"未知位号 / unknown tag {tag!r}") from err


class OutageIn(BaseModel):
    """A simulated field communication outage."""

    duration_s: float = Field(default=60.0, gt=0, le=3600)


@router.post("/outages", status_code=202, dependencies=[Depends(require("execute", "simulator"))])
def force_outage(body: OutageIn, runtime: RuntimeDep) -> dict[str, object]:
    """Stop the field devices sending for a while (模拟通讯中断): tags go stale, 通讯故障 is raised."""
    if runtime.devices is None or not runtime.devices.alive:
        raise HTTPException(status_code=409, detail="仿真器未运行 / the simulator is not running")
    runtime.devices.pause(body.duration_s)
    return {"duration_s": body.duration_s, "accepted": True}
