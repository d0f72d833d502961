"""Production process base information (生产过程基础信息): three registers via the router factory.

* ``/api/v1/hazardous-processes``: hazardous processes (危险工艺) with key parameters;
* ``/api/v1/chemicals``: chemicals with MSDS data (化学品及MSDS);
* ``/api/v1/startup-shutdown``: start-up / shut-down records (开停车记录).

All three are the ``process`` permission resource.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.register_router import register_router
from registers.process import service as process

__all__ = ["router", "routers"]

# ``routers`` are the leaf routers, in matching order; ``api/app.py`` includes them one by one.
# FastAPI analyses every route again at each level of nested ``include_router``; flat keeps
# start-up fast. ``router`` (all of them, one level deep) is for tests and other apps.
_REGISTERS = (
    (process.processes, "/api/v1/hazardous-processes", "hazardous processes 危险工艺"),
    (process.chemicals, "/api/v1/chemicals", "chemicals 危险化学品"),
    (process.startups, "/api/v1/startup-shutdown", "start-up and shut-down 开停车记录"),
)
routers: tuple[APIRouter, ...] = (
    *(register_router(r, prefix=prefix, tags=[tag], resource="process") for r, prefix, tag in _REGISTERS),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
