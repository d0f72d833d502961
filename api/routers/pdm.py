"""Predictive maintenance (预测性维护): the newest health, RUL and reasons of every monitored asset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.auth import require
from api.deps import RuntimeDep
from models.contracts import to_builtins

router = APIRouter(prefix="/api/v1/pdm", tags=["pdm 预测性维护"])


@router.get("/predictions", dependencies=[Depends(require("read", "prediction"))])
def latest_predictions(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Newest prediction per asset (health 0…1, anomaly score, RUL in days, top features), least healthy first.

    Empty while no PdM flow has written predictions to the store.
    """
    store = runtime.store
    if store is None or not hasattr(store, "latest_pdm_predictions"):
        return []
    rows = [to_builtins(p) for p in store.latest_pdm_predictions().values()]
    return sorted(rows, key=lambda r: r["health"])
