"""Typed dependencies shared by the routers (runtime, store, plant)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.runtime import Runtime
from connectors.store.base import TimeSeriesStore
from twin.plant import Plant, Tag


def get_runtime(request: Request) -> Runtime:
    """The plant runtime owned by the app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_store(request: Request) -> TimeSeriesStore:
    """The time-series store; 503 while it is not open yet."""
    store = get_runtime(request).store
    if store is None:
        raise HTTPException(status_code=503, detail="存储未就绪 / store not ready")
    return store


def get_plant(request: Request) -> Plant:
    """The plant model."""
    plant: Plant = request.app.state.plant
    return plant


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
StoreDep = Annotated[TimeSeriesStore, Depends(get_store)]
PlantDep = Annotated[Plant, Depends(get_plant)]


def get_tag(tag: str, plant: PlantDep) -> Tag:
    """404-loading dependency for ``{tag}`` path parameters."""
    try:
        return plant.tag(tag)
    except KeyError as err:
        raise HTTPException(status_code=404, detail=f"未知位号 / unknown tag {tag!r}") from err


TagDep = Annotated[Tag, Depends(get_tag)]
