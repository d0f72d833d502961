"""Several uvicorn worker processes behind one ``safetwin api`` replica (``--workers N``).

One Python process serves one core (the interpreter lock), so a replica scales on a machine
with worker processes. What must not happen in each of them runs once, here, in the parent
before the workers start: the registers' migrations, the time-series schema, the signing key
file and the built-in accounts (N workers doing it at once raced each other). The parent then
hands the workers what they need through their environment (they are spawned: nothing but
the environment crosses) and uvicorn's supervisor imports :func:`worker_app` in each.

Connections: each worker has its own SQLAlchemy pool; all of them together must fit the
database's ``max_connections`` (less the superuser reserve and what other clients hold), or
the last worker to get busy fails with "too many clients" under load. :func:`pool_for_workers`
splits what is free.

Example:
    >>> pool_for_workers(workers=4, free_connections=97)
    (8, 8)
    >>> pool_for_workers(workers=4, free_connections=40)
    (8, 2)
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.connection_balance import BUSY_WINDOW_S, SHARES_ENV, ConnectionBalance, WorkerShares
from api.cpu_affinity import should_pin
from api.runtime import Runtime
from api.settings import Settings
from connectors.store import open_store
from connectors.store.base import TimeSeriesStore
from connectors.store.duckdb import DuckDBStore
from registers.db import POOL_OVERFLOW, POOL_SIZE, REQUEST_SESSIONS

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

WORKER_APP = "api.workers:worker_app"
"""Import string of the worker factory, as uvicorn's ``factory=True`` takes it."""
POOL_ENV = "SAFETWIN_WORKER_POOL"
"""``"size,overflow"``: the pool the parent chose for each worker (internal hand-over)."""
WORKERS_ENV = "SAFETWIN_WORKER_COUNT"
"""How many workers the replica runs (internal hand-over, for :mod:`api.cpu_affinity`)."""
MIN_CONNECTIONS = REQUEST_SESSIONS + 2
"""Below this a worker's request sessions could take every connection and starve logins and audit writes."""


class WorkerSetupError(RuntimeError):
    """The replica cannot start its workers as configured; the message says what to change."""


def pool_for_workers(*, workers: int, free_connections: int) -> tuple[int, int]:
    """``(pool_size, max_overflow)`` per worker so that ``workers`` of them fit ``free_connections``.

    Raises:
        WorkerSetupError: If each worker would get fewer than :data:`MIN_CONNECTIONS`.
    """
    per_worker = min(POOL_SIZE + POOL_OVERFLOW, free_connections // workers)
    if per_worker < MIN_CONNECTIONS:
        msg = (
            f"{workers} workers need at least {workers * MIN_CONNECTIONS} database connections "
            f"({MIN_CONNECTIONS} each), only {free_connections} are free: use fewer workers, raise "
            "PostgreSQL's max_connections, or pass --db-connections with what this replica may use"
        )
        raise WorkerSetupError(msg)
    size = min(POOL_SIZE, per_worker)
    return size, per_worker - size


def free_connections(url: str) -> int:
    """Connections PostgreSQL can still give to ordinary clients: max less reserve less in use."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(make_url(url), poolclass=NullPool)
    try:
        with engine.connect() as con:
            maximum = int(con.execute(text("SHOW max_connections")).scalar_one())
            reserved = int(con.execute(text("SHOW superuser_reserved_connections")).scalar_one())
            used = int(
                con.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
                ).scalar_one()
            )
    finally:
        engine.dispose()
    return maximum - reserved - (used - 1)  # our own probe closes before the workers connect


@dataclass(frozen=True)
class Prepared:
    """What the parent did once, for the banner."""

    pool: tuple[int, int]
    created_accounts: tuple[str, ...]


def prepare(settings: Settings, *, workers: int, db_connections: int | None = None) -> Prepared:
    """Do the first-start work once and choose the workers' pool.

    Raises:
        WorkerSetupError: For a configuration several workers cannot share (SQLite, an
            embedded chDB, too few connections).
    """
    from api import security
    from registers.db import make_engine, make_session_factory, migrate

    url = settings.resolved_database_url
    if make_url(url).get_backend_name() != "postgresql":
        msg = (
            "several workers need PostgreSQL for the registers (SAFETWIN_DATABASE_URL=postgresql+psycopg://...); "
            "a SQLite file takes one writer at a time"
        )
        raise WorkerSetupError(msg)
    if settings.store == "clickhouse" and (settings.clickhouse_dsn or "").startswith("chdb:"):
        msg = "an embedded chDB store belongs to one process: several workers need a ClickHouse server (http://...)"
        raise WorkerSetupError(msg)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    free = db_connections if db_connections is not None else free_connections(url)
    if settings.auth_cache:  # each worker's listener of account changes holds one (api.signed_in_cache)
        free -= workers
    pool = pool_for_workers(workers=workers, free_connections=free)
    migrate(url)
    settings.signing_key()  # generated into the data dir now, not by N workers at once
    store = open_store(
        settings.store, duckdb_path=settings.resolved_duckdb_path, clickhouse_dsn=settings.clickhouse_dsn
    )
    store.init_schema()  # the time-series schema, once; the workers may open it read-only
    store.close()
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        created = security.seed_builtin_accounts(make_session_factory(engine), settings)
    finally:
        engine.dispose()
    security.protect_files(settings)
    return Prepared(pool=pool, created_accounts=tuple(created))


class ReadOnlyDuckDBStore(DuckDBStore):
    """A DuckDB file opened read-only: several worker processes may read it at once.

    DuckDB gives its file to one read-write process, or to any number of read-only ones. The
    API writes nothing to the time-series store (the flow does), so the workers of a replica
    on DuckDB open it read-only; the schema was created by the parent. Production runs on
    ClickHouse, which every worker reads over HTTP and a flow writes at the same time; a
    DuckDB file that a flow holds open for writing cannot be shared (the worker fails to start
    and says so).
    """

    def _connection(self):  # type: ignore[no-untyped-def]  # DuckDBStore's private opener
        import duckdb

        with self._open_lock:
            if self._closed:
                msg = "DuckDBStore is closed"
                raise RuntimeError(msg)
            if self._con is None:
                # one thread per query: each worker has its core, and a 24 h history or a
                # latest value is too small to split (CPU per read: 2.3 vs 2.8 ms, 0.60 vs 0.76)
                self._con = duckdb.connect(self._path, read_only=True, config={"threads": 1})
            return self._con

    def init_schema(self) -> None:
        """Nothing: the parent created the schema before starting the workers."""


class WorkerRuntime(Runtime):
    """The distributed replica's runtime inside one worker: the store opened so workers can share it."""

    def open_store(self) -> TimeSeriesStore:
        """A read-only DuckDB (see :class:`ReadOnlyDuckDBStore`) or the configured ClickHouse."""
        if self.settings.store == "duckdb":
            return ReadOnlyDuckDBStore(self.settings.resolved_duckdb_path)
        return super().open_store()


def worker_env(settings: Settings, pool: tuple[int, int], *, workers: int = 1) -> dict[str, str]:
    """The environment the spawned workers rebuild the parent's settings from.

    With several workers, also the file they share their connections through
    (:mod:`api.connection_balance`), made empty here: two slots a worker, for restarts.
    """
    import json

    env = {
        "SAFETWIN_HOST": settings.host,
        "SAFETWIN_PORT": str(settings.port),
        "SAFETWIN_SIMULATE": "false",
        "SAFETWIN_KAFKA_BROKERS": json.dumps(list(settings.kafka_brokers)),
        "SAFETWIN_DATA_DIR": str(Path(settings.data_dir).resolve()),
        POOL_ENV: f"{pool[0]},{pool[1]}",
        WORKERS_ENV: str(workers),
    }
    if workers > 1:
        shares = Path(settings.data_dir).resolve() / f"worker-connections-{settings.port}"
        WorkerShares.create(shares, 2 * workers)
        env[SHARES_ENV] = f"{shares},{2 * workers}"
    if settings.environment == "test" and settings.secret_key is None:
        # a test run's key is random per process: the workers must share the parent's, or a
        # token signed by one worker would be refused by the next
        env["SAFETWIN_SECRET_KEY"] = settings.signing_key()
    return env


def worker_app() -> FastAPI:
    """Uvicorn factory run in each worker: settings from the environment, first-start work skipped."""
    from api.app import create_app
    from twin.plant import load_plant

    settings = Settings(own_process=True)  # this worker process is the app's alone
    size, overflow = (int(n) for n in os.environ[POOL_ENV].split(","))
    worker_shares = None
    if shares := os.environ.get(SHARES_ENV):
        path, slots = shares.rsplit(",", 1)
        try:
            worker_shares = WorkerShares(Path(path), int(slots))
        except (OSError, RuntimeError, ValueError) as err:  # serving unbalanced beats not serving
            log.warning("keep-alive users are not shared out between the workers: %s", err)
        else:
            # before the app starts its threads (they would follow anyway); the slot is kept
            # fresh from now on, or a sibling would take it while this one builds its app
            _keep_to_a_core(settings, worker_shares, workers=int(os.environ.get(WORKERS_ENV, "0")))
            worker_shares.start_heartbeat(idle_after_s=BUSY_WINDOW_S)
    runtime = WorkerRuntime(settings=settings, plant=load_plant(settings.plant_file))
    app = create_app(settings, runtime=runtime, prepared=True, pool=(size, overflow))
    if worker_shares is not None:
        app.add_middleware(ConnectionBalance, shares=worker_shares)
    return app


def _keep_to_a_core(settings: Settings, shares: WorkerShares, *, workers: int) -> None:
    """Keep this worker to a core of its own where :func:`api.cpu_affinity.should_pin` says so."""
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if not should_pin(settings.api_cpu_affinity, workers=workers, usable=usable):
        return
    try:
        core = shares.keep_to_a_free_core(usable)
    except OSError as err:  # a worker on any core beats no worker
        log.warning("this worker is left to the scheduler's choice of cores: %s", err)
        return
    log.info("worker %d keeps to core %d of %s", os.getpid(), core, sorted(usable))


# --- listening sockets -----------------------------------------------------------------------


def reuse_port_supported() -> bool:
    """Whether this platform balances connections over several listening sockets (Linux ≥ 3.9)."""
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT``, one per worker (the server listens on it).

    Why: with one socket shared by every worker, whichever worker wakes first accepts all the
    connections waiting at that moment (the event loop accepts up to the backlog per wake-up),
    and a keep-alive connection stays with the worker that accepted it. 50 users connecting at
    once were seen split 36 to 14 over two workers: the busier worker's users waited 2.5 times
    as long while the other worker had CPU to spare. With a socket each, the kernel hands
    every new connection to one of the workers' sockets by a hash of its addresses.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class WorkerListener:
    """Stands in the worker's socket list and turns into the worker's own :func:`listening_socket`.

    Uvicorn's supervisor hands one list of sockets to every worker it spawns (pickled); this
    placeholder unpickles, in the worker, as a socket bound there. The parent holds no
    listening socket of the group, so a worker that dies takes its socket with it instead of
    leaving connections to queue where nobody accepts them, and a restarted worker binds anew.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Callable[[str, int], socket.socket], tuple[str, int]]:
        """Pickled as a call of :func:`listening_socket`, made when the worker unpickles it."""
        return listening_socket, (self.host, self.port)
