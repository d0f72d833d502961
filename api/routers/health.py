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
    """Public (no token): whether the store is open and the dataflow is running."""
    store = runtime.store
    ok = store is not None and runtime.flow_alive
    return {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "mode": "distributed" if runtime.settings.kafka_brokers else "embedded",
        "store": runtime.settings.store,
        "plant": runtime.plant.plant.id,
        "tags": len(runtime.plant.tags),
        "flow_running": runtime.flow_alive,
        "simulator": runtime.simulator is not None,
        "uptime_s": round(time.time() - runtime.started_at, 1) if runtime.started_at else 0.0,
    }
