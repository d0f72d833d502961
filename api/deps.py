"""Typed dependencies shared by the routers (runtime, store, plant).

All ``async def`` on purpose: they only read app state, and FastAPI runs a plain ``def``
dependency in the thread pool, a round trip between the event loop and a worker thread
(GIL hand-over included) per dependency per request. The tag routes used four of them
(docs/performance.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.latest_readings import LatestReadings
from api.recent_history import RecentHistory
from api.runtime import Runtime
from connectors.store.base import TimeSeriesStore
from twin.plant import Plant, Tag


async def get_runtime(request: Request) -> Runtime:
    """The plant runtime owned by the app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_store(request: Request) -> TimeSeriesStore:
    """The time-series store; 503 while it is not open yet."""
    runtime: Runtime = request.app.state.runtime
    store = runtime.store
    if store is None:
        raise HTTPException(status_code=503, detail="存储未就绪 / store not ready")
    return store


async def get_plant(request: Request) -> Plant:
    """The plant model."""
    plant: Plant = request.app.state.plant
    return plant


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
StoreDep = Annotated[TimeSeriesStore, Depends(get_store)]
PlantDep = Annotated[Plant, Depends(get_plant)]


async def get_latest_readings(request: Request, store: StoreDep) -> LatestReadings:
    """The process's copy of every tag's latest reading (one per store object, see :mod:`api.latest_readings`)."""
    state = request.app.state
    latest: LatestReadings | None = getattr(state, "latest_readings", None)
    if latest is None or latest.store is not store:
        runtime: Runtime = state.runtime
        latest = state.latest_readings = LatestReadings(store, runtime.settings.latest_max_age_s)
    return latest


LatestReadingsDep = Annotated[LatestReadings, Depends(get_latest_readings)]


async def get_recent_history(request: Request, store: StoreDep) -> RecentHistory:
    """The process's copies of hot tags' recent readings (one per store object, see :mod:`api.recent_history`)."""
    state = request.app.state
    recent: RecentHistory | None = getattr(state, "recent_history", None)
    if recent is None or recent.store is not store:
        settings = state.runtime.settings
        budget = int(settings.history_cache_mb * 1024 * 1024)
        recent = state.recent_history = RecentHistory(store, settings.history_max_age_s, budget)
    return recent


RecentHistoryDep = Annotated[RecentHistory, Depends(get_recent_history)]


async def get_tag(tag: str, plant: PlantDep) -> Tag:
    """404-loading dependency for ``{tag}`` path parameters."""
    try:
        return plant.tag(tag)
    except KeyError as err:
        raise HTTPException(status_code=404, detail=f"未知位号 / unknown tag {tag!r}") from err


TagDep = Annotated[Tag, Depends(get_tag)]
