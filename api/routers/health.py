"""Liveness and readiness: public, for load balancers and the demo's first check."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import __version__
from api.deps import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["health 健康检查"])


@router.get("/health")
def health(
    runtime: RuntimeDep,
    since: Annotated[
        float | None,
        Query(
            ge=0,
            allow_inf_nan=False,
            description="scan lag over the scans since this time (epoch s), not the last minute",
        ),
    ] = None,
) -> dict[str, Any]:
    """Public (no token): ``ok``, or ``degraded`` with the reasons (dataflow, dropped scans, 通讯故障)."""
    problems = runtime.problems()
    lag = runtime.scan_lag(since)
    return {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "version": __version__,
        "mode": "distributed" if runtime.distributed else "embedded",
        "kafka_connected": runtime.live_push.connected if runtime.live_push is not None else None,
        "store": runtime.settings.store,
        "plant": runtime.plant.plant.id,
        "tags": len(runtime.plant.tags),
        "flow_running": runtime.flow_alive,
        "readings_stored": runtime.stored_readings,
        "newest_reading_ts": runtime.newest_stored_ts,
        "dropped_scans": runtime.dropped_batches,
        # connector -> flow hand-over over the last minute or since ?since= (embedded mode; null without scans)
        "scan_lag_p50_s": None if lag is None else round(lag[0], 4),
        "scan_lag_p99_s": None if lag is None else round(lag[1], 4),
        "simulator": runtime.devices is not None and runtime.devices.alive,
        # embedded PdM: "waiting for a model" until `safetwin pdm train`, then "running"
        "pdm": runtime.pdm.status if runtime.pdm is not None else ("starting" if runtime.flow_alive else None),
        "uptime_s": round(time.time() - runtime.started_at, 1) if runtime.started_at else 0.0,
    }
