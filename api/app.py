"""FastAPI application factory: one app for the embedded demo and for production replicas.

Start-up order follows the full-stack template: make the data dir, migrate the SQL database,
seed the demo admin (its password printed once), then start the plant runtime. Every route
is authenticated at the aggregating router; only health and login are public.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRouter
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match
from starlette.types import Scope

from api import __version__, dependency_plan, openapi_errors, security, signed_in_cache
from api.alarm_feed import KafkaAlarmFeed
from api.alarm_worker import AlarmWorker
from api.auth import get_current_user
from api.routers import (
    alarm_management,
    alarms,
    certificates,
    contractors,
    dual_prevention,
    equipment,
    hazard_sources,
    health,
    hidden_hazards,
    history,
    inspections,
    live,
    notifications,
    overview,
    pdm,
    people,
    permits,
    plant,
    positioning,
    process,
    reminders,
    risk,
    sim,
    tags,
    training,
    twin,
    video,
)
from api.routers import audit as audit_router
from api.routers import auth as auth_router
from api.routers import users as users_router
from api.runtime import Runtime
from api.settings import Settings
from registers.db import make_engine, make_session_factory, migrate
from twin.field_process import FieldProcess
from twin.plant import load_plant

log = logging.getLogger(__name__)


def _seed_admin(app: FastAPI) -> None:
    # 三员分立 accounts; passwords to a 0600 file, never to the log (api.security)
    security.seed_accounts(app, app.state.settings)
    security.protect_files(app.state.settings)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    start_runtime: bool = True,
    prepared: bool = False,
    pool: tuple[int, int] | None = None,
    devices: FieldProcess | None = None,
) -> FastAPI:
    """Build the app; ``runtime`` may be injected (tests) or is built from settings.

    Args:
        settings: The one settings object (default: from the environment).
        runtime: The plant runtime; built from ``settings`` when omitted.
        start_runtime: False for tests that only hit a few routes (nothing runs behind them).
        prepared: The first-start work (migrations, built-in accounts, 0600 rights) was done
            once by the parent of several worker processes (``safetwin api --workers N``);
            each worker running it again would race the others at start-up.
        pool: ``(pool_size, max_overflow)`` of this process's SQLAlchemy pool, chosen so that
            all workers together fit the database's ``max_connections``; default
            ``registers.db``'s sizes.
        devices: The simulated devices, launched before the app was built so that they boot
            while it loads (``safetwin run``, :func:`api.field_devices.launch_devices`); the
            runtime adopts them. Default: the runtime launches them when it starts.
    """
    settings = settings or Settings()
    dependency_plan.install()  # FastAPI's per-request dependency bookkeeping done once per route
    plant_model = runtime.plant if runtime is not None else load_plant(settings.plant_file)
    rt = runtime or Runtime(settings=settings, plant=plant_model, devices=devices)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if not prepared:
            migrate(url)
        engine = make_engine(url, pool_size=pool[0], max_overflow=pool[1]) if pool else make_engine(url)
        app.state.session_factory = make_session_factory(engine)
        auth_cache = signed_in_cache.start_for(engine) if settings.auth_cache else None
        if auth_cache is not None:
            app.state.signed_in_cache, auth_listener = auth_cache
        if not prepared:
            _seed_admin(app)
        if start_runtime:  # serving for real; tests that hit a few routes keep the lazy build
            _warm_routes(app)
        worker = AlarmWorker(rt.bus, app.state.session_factory, plant_model, settings)
        app.state.alarm_worker = worker
        feed = None
        if start_runtime:
            worker.start()  # subscribed before the flow can raise anything
            from api.risk_warnings import start_risk_warnings  # risk.score -> 风险预警 (bus or Kafka)

            app.state.risk_warnings = start_risk_warnings(rt, app.state.session_factory, worker.notifier)
            await rt.start()
            if rt.distributed:  # the flow runs elsewhere: its alarm topics feed the register
                feed = KafkaAlarmFeed(worker, settings.kafka_brokers, prefix=settings.kafka_topic_prefix).start()
            app.state.alarm_feed = feed
            if settings.own_process:  # never where the app shares a process: tests build hundreds
                _freeze_startup_heap()
        try:
            yield
        finally:
            if start_runtime:
                await asyncio.to_thread(app.state.risk_warnings.stop)
                if feed is not None:
                    await asyncio.to_thread(feed.stop)
                await rt.stop()
                worker.stop()
            if auth_cache is not None:
                await asyncio.to_thread(auth_listener.stop)
            engine.dispose()

    app = FastAPI(
        title="SafeTwin 安全风险智能化管控平台",
        version=__version__,
        description="Open API of the SafeTwin platform: plant model, live tags, alarms, 3D twin.",
        lifespan=lifespan,
        **security.docs_urls(settings),  # closed in production
    )
    security.install(app, settings)  # CSP/HSTS headers, audit trail of changes, log redaction
    app.state.settings = settings
    app.state.runtime = rt
    app.state.plant = plant_model

    openapi_errors.install(app)  # one error shape (422 with a message per field), documented app-wide

    # public
    app.include_router(health.router)
    app.include_router(auth_router.router)
    # authenticated once, here, for everything below. Composite modules hand over their leaf
    # routers (``routers``): FastAPI re-analyses every route of a nested router when it is
    # included without a prefix, which cost about a second of start-up for ~400 routes.
    protected = [Depends(get_current_user)]
    for r in (
        plant.router,
        tags.router,
        alarms.router,
        twin.router,
        sim.router,
        history.router,
        alarm_management.router,
        notifications.router,
        certificates.router,
        *hazard_sources.routers,
        *process.routers,
        *equipment.routers,
        *people.routers,
        *training.routers,
        *contractors.routers,
        *permits.routers,
        *dual_prevention.routers,
        *hidden_hazards.routers,
        *inspections.routers,
        reminders.router,
        risk.router,
        overview.router,
        pdm.router,
        positioning.router,
        video.router,
        users_router.router,
        audit_router.router,
    ):
        app.include_router(r, dependencies=protected)
    app.include_router(live.router)  # authenticates the ?token= itself (browsers cannot set WS headers)
    _skip_routers_by_prefix(app)
    _mount_web(app, settings.web_dist)
    return app


YOUNG_GC_THRESHOLD = 20_000
"""Allocations between two collections of the youngest generation (CPython's default: 700).

A request allocates thousands of objects that reference counting frees at its end; at 700
the collector ran several times per request over objects about to die anyway, and promoted
the survivors of each run to be walked again later. The business mix at 20,000: API CPU per
request 2.81, 2.87, 2.96 ms against 3.06, 3.06, 3.00 at 700 (three alternated pairs), the
same resident memory (docs/performance.md).
"""


def _freeze_startup_heap() -> None:
    """Move everything built at start-up out of the garbage collector's sight (``gc.freeze``).

    A worker holds ~550,000 objects once its routes, models and schemas are built, nearly
    all of them for its whole life. A full collection walks them all (0.3-0.7 s of CPU on
    the 2-core bench box): a pause for every request waiting on that worker, however rare.
    Frozen, a full collection walks only what requests create (docs/performance.md). The
    youngest generation is then collected every :data:`YOUNG_GC_THRESHOLD` allocations.
    Garbage of the start-up is collected first, so nothing that could be freed is kept.
    Only where the app owns its interpreter (``Settings.own_process``: ``safetwin run`` and
    each ``safetwin api`` worker): frozen objects in a reference cycle are never freed, so a
    process that builds and drops many apps (the test suite, a notebook) would keep them all.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, older, oldest)


def _warm_routes(app: FastAPI) -> None:
    """Build FastAPI's per-router route contexts at start-up instead of in the first requests.

    FastAPI builds the context of an included router's routes (dependencies re-analysed)
    lazily, when a request is first matched against that router; the first request to a
    route mounted late (permits: ~450 routes before it) paid seconds for all of them, and every
    concurrent first request waited on that build. Walks the routers as matching would.
    """
    pending = list(app.router.routes)
    while pending:
        candidates = getattr(pending.pop(), "effective_candidates", None)  # FastAPI's _IncludedRouter
        if callable(candidates):
            pending.extend(candidates())


def _skip_routers_by_prefix(app: FastAPI) -> None:
    """Let a request skip, on string comparisons, every included router it cannot match.

    FastAPI matches a request against the app's included routers in order, each route's
    regex in turn: a permit request (~70 routers, ~500 routes before it) spent more CPU on
    routing than on the permit's rules (docs/performance.md). A route's regex is anchored at
    the start of the path and begins with the route's literal text, up to its first path
    parameter; a path that starts with none of a router's literal beginnings cannot match any
    of its routes, not even partially (405). Such a router answers "no match" at once
    (:class:`_RouterGuard`), and the others are matched exactly as before. Requests under an
    ASGI ``root_path`` go through FastAPI's matching untouched.
    """
    for route in app.router.routes:
        context = getattr(route, "include_context", None)  # FastAPI's included-router entry
        original = getattr(route, "original_router", None)
        if context is None or not isinstance(original, APIRouter):
            continue
        prefix = f"{getattr(context, 'prefix', '')}{original.prefix}"
        guard = _RouterGuard(route, prefix if "{" not in prefix else "")  # a parameter cannot be compared as text
        route.matches = guard  # type: ignore[method-assign]


_REGEX_SYNTAX = frozenset("()[]{}?*+|.^$")
_QUANTIFIERS = frozenset("?*+{")


def literal_beginning(pattern: str) -> str | None:
    """The text every path a route regex matches starts with, or None if that cannot be told.

    Starlette compiles ``/api/v1/tags/{tag}/latest`` to ``^/api/v1/tags/(?P<tag>[^/]+)/latest$``
    (the literal parts through ``re.escape``): the answer is ``/api/v1/tags/``. A pattern not
    anchored with ``^``, or with an alternation (``|`` outside a class), gives None: no claim.
    """
    if not pattern.startswith("^") or _alternates(pattern):
        return None
    text: list[str] = []
    i = 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern) or pattern[i + 1].isalnum():  # \d, \w, \A...: a class, not a character
                break
            text.append(pattern[i + 1])
            i += 2
            continue
        if char in _REGEX_SYNTAX:
            if char in _QUANTIFIERS and text:  # it applies to the character before: that one may be absent
                text.pop()
            break
        text.append(char)
        i += 1
    return "".join(text)


def _alternates(pattern: str) -> bool:
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "|" and not in_class:
            return True
        i += 1
    return False


class _RouterGuard:
    """``matches`` of one included router, answering "no match" for paths none of its routes can take.

    The literal beginnings of the router's routes (nested routers' included) are learnt on first
    use and again whenever FastAPI's count of route changes under the router moves, so a route
    added later is found like the others. A route whose regex gives no literal beginning (a
    host route, a frontend group) leaves only the router's prefix to compare.
    """

    __slots__ = ("_beginnings", "_prefix", "_router", "_version", "original")

    def __init__(self, router: Any, prefix: str) -> None:
        self._router = router
        self.original: Callable[[Scope], tuple[Match, Scope]] = router.matches
        """FastAPI's own ``matches`` of the router."""
        self._prefix = prefix
        self._version: int | None = None
        self._beginnings: tuple[str, ...] | None = None

    def __call__(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("root_path") or self.may_match(scope["path"]):
            return self.original(scope)
        return Match.NONE, {}

    def may_match(self, path: str) -> bool:
        """Whether a route of the router could match ``path`` (a path without a root path)."""
        if not path.startswith(self._prefix):
            return False
        version = self._router.original_router._get_routes_version()
        if version != self._version:
            self._beginnings = self._learn()
            self._version = version
        return self._beginnings is None or path.startswith(self._beginnings)

    def _learn(self) -> tuple[str, ...] | None:
        beginnings: set[str] = set()
        contexts = [*self._router.effective_route_contexts(), *self._router.effective_low_priority_routes()]
        for context in contexts:
            regex = getattr(context, "path_regex", None) or getattr(context.starlette_route, "path_regex", None)
            if regex is None or regex.flags & re.IGNORECASE:
                return None
            beginning = literal_beginning(regex.pattern)
            if beginning is None:
                return None
            beginnings.add(beginning)
        return tuple(sorted(beginnings))


def _mount_web(app: FastAPI, dist: Path) -> None:
    if (dist / "index.html").exists():
        app.mount("/", StaticFiles(directory=dist, html=True), name="web")
        return

    @app.get("/", include_in_schema=False)
    async def _no_web() -> HTMLResponse:
        return HTMLResponse(
            "<h1>SafeTwin</h1><p>前端尚未构建 / the web UI is not built: run <code>make run</code> "
            "(or <code>npm --prefix viz/web ci && npm --prefix viz/web run build</code>).</p>"
            '<p><a href="/docs">API docs</a></p>',
            status_code=200,
        )
