"""Liveness and readiness: public, for load balancers and the demo's first check."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from api import __version__
from api.deps import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["health 健康检查"])


@router.get("/health")
def health(runtime: RuntimeDep) -> dict[str, Any]:
    """Public (no token): ``ok``, or ``degraded`` with the reasons (dataflow, dropped scans, 通讯故障)."""
    problems = runtime.problems()
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
        "simulator": runtime.devices is not None and runtime.devices.alive,
        "uptime_s": round(time.time() - runtime.started_at, 1) if runtime.started_at else 0.0,
    }
