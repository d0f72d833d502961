"""Database plumbing shared by every register: declarative base, engine, sessions, migrations.

The same models run on SQLite (embedded mode, one file under ``data_dir``) and on PostgreSQL
(distributed mode), so everything dialect-specific lives here and nowhere else:

* SQLite does not enforce foreign keys unless asked on every connection, and FastAPI runs
  sync routes in a thread pool, so connections must be usable from more than one thread.
* SQLite has no time-zone-aware timestamp type; :class:`UtcDateTime` stores UTC and always
  hands back aware UTC datetimes, so code never compares naive with aware times.
* Schema changes go through Alembic only (:func:`migrate`); ``create_all`` is never used, so
  a laptop and a production server have the same schema, revision for revision.

Examples:
    >>> engine = make_engine("sqlite://")
    >>> make_session_factory(engine)().execute(text("select 1")).scalar()
    1
"""

from __future__ import annotations

import collections
import functools
import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlalchemy.sql import Executable, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.types import TypeDecorator

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Stable, predictable constraint names: Alembic can only drop or alter a constraint it can
# name, and SQLite batch migrations rebuild tables by those names.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Connections of one process. Request sessions are the only ones held across the hops of a
# request between the event loop and the thread pool, so their number is capped (by the API's
# session dependency, waiting without a thread) below the pool: a request that holds a
# connection then always finds a thread, and a thread never waits for a connection held by a
# request that waits for a thread (the stall of 50 users on the pool of 5 + 10). The rest of
# the pool serves short uses within one thread: the audit writer, logins, WebSocket checks,
# the alarm worker. Per process, so N API workers open at most N x (size + overflow).
# Four, not more: one interpreter runs one request's Python at a time, and the sessions only
# overlap one request's database waits with another's work. With 12, the requests holding a
# session shared the interpreter lock and each took longer; with 4, the rest wait their turn
# on the event loop. bench/permits.py, 50 back-to-back users, 7 alternated pairs: p95 lower
# with 4 in 6 of them (median ~0.33 s against ~0.37 s) and less server CPU per request
# (docs/performance.md, session 14). The price: four long requests (a large export) make a
# worker's other requests wait for one of them to end.
REQUEST_SESSIONS = 4
POOL_SIZE = REQUEST_SESSIONS + 4
POOL_OVERFLOW = 8

# A pooled connection unused this long is pinged before it is handed out (_ping_when_idle).
PING_IDLE_S = 5.0

# Arbitrary but fixed key of the PostgreSQL advisory lock that serialises migrations when
# several API replicas start at once.
_MIGRATION_LOCK_KEY = 0x5AFE7_1


def utcnow() -> datetime:
    """Now as an aware UTC datetime (the only kind of time stored in registers)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamp that is always stored and returned as aware UTC.

    PostgreSQL keeps ``timestamptz`` natively; SQLite keeps text without an offset and gives
    back naive datetimes. Refusing naive input catches local-time bugs at the boundary
    instead of shifting safety records by eight hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing; refuse naive datetimes."""
        if value is None:
            return None
        if value.tzinfo is None:
            msg = f"naive datetime {value!r} refused: registers store aware UTC times only"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        # SQLite would store the offset text; without it, string comparison orders correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return aware UTC whatever the backend handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every register model; one metadata, one naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime()}


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """Turn on what SQLite leaves off by default, on every new DBAPI connection."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")  # off by default, per connection
        cursor.execute("PRAGMA busy_timeout=30000")  # wait for a writer instead of failing at once
        # Readers and the writer no longer block each other (a login must not wait for the
        # alarm worker's batch); NORMAL is durable across a process crash in WAL mode.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _default_pool(kwargs: dict[str, Any]) -> None:
    """The queue pool's size (see :data:`REQUEST_SESSIONS`), unless the caller chose a pool."""
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for a registers database URL (SQLite file or PostgreSQL).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///var/safetwin.db`` or
            ``postgresql+psycopg://user:pass@host/db``.
        **kwargs: passed on to :func:`sqlalchemy.create_engine` (e.g. ``echo=True``).

    Returns:
        An engine; for SQLite, foreign keys are enforced and connections may cross threads
        (FastAPI runs sync routes in a thread pool), and the file's folder is created so the
        embedded mode starts with nothing prepared.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        _default_pool(kwargs)
        engine = create_engine(parsed, **kwargs)
        if not kwargs.get("pool_pre_ping"):
            _ping_when_idle(engine)  # survive a database restart under a long-lived API
        return engine

    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    database = parsed.database or ""
    if database in ("", ":memory:"):
        # One shared connection, else every pooled connection would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
    else:
        _default_pool(kwargs)
        if not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use if it sat in the pool for :data:`PING_IDLE_S` or more.

    SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` at every checkout: a round trip per
    request (two for a change and its audit entry), a measurable share of the API's CPU and
    of PostgreSQL's (docs/performance.md). A connection that went back to the pool moments
    ago was alive then; the ones at risk after a database restart or an idle timeout of a
    firewall are those that sat unused. A dead one is discarded and the pool hands out
    another (``DisconnectionError``), exactly as with the pre-ping. What is given up: a
    connection busy until the very moment the server went away fails its next statement
    instead of being replaced first; SQLAlchemy then invalidates every older connection of
    the pool at once, so a restart costs the requests in flight, not one per connection.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["pool_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get("pool_idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_S:
            return  # new, or back in the pool only moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as err:
            msg = "pooled connection failed its ping"
            raise DisconnectionError(msg) from err


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Session factory for services and requests.

    ``expire_on_commit=False`` because the request commits after the route has built its
    response, and a WebSocket handler keeps the user it loaded after its session closed.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration built in code, independent of the current directory.

    It points at the ``migrations`` folder next to this module, which exists the same way in
    a checkout and in an installed package. The URL is not put into the config because
    ConfigParser would try to interpolate ``%`` in passwords.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def migrate(url: str | Engine, revision: str = "heads") -> None:
    """Bring the registers schema up to ``revision`` (default: every branch's newest) with Alembic.

    Register domains add their revisions as branches off the users/roles base, so the
    default upgrades all heads rather than requiring one linear chain.

    Safe to call at every start-up: an up-to-date database is left as it is. On PostgreSQL a
    transaction-scoped advisory lock makes replicas that start together migrate one by one.

    Args:
        url: database URL, or an existing engine to reuse its pool.
        revision: Alembic revision to upgrade to.
    """
    engine = make_engine(url) if isinstance(url, str) else url
    try:
        with engine.begin() as connection:
            _lock_for_migration(connection)
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        if isinstance(url, str):
            engine.dispose()


def _lock_for_migration(connection: Connection) -> None:
    """Serialise concurrent migrations on PostgreSQL; SQLite serialises writers by itself."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})


def claim_duty(session: Session, duty: str) -> bool:
    """Whether this process runs the clock-driven ``duty`` now; on PostgreSQL, the first to ask.

    Every API process (``safetwin api --workers N``, every replica) runs the registers' duties
    on its own clock. Two on one duty at once did the same work twice, and where the work
    inserts rows with a unique key (the next day's investigation tasks) one of them failed. The
    claim is a transaction-scoped advisory lock taken without waiting: a process that does not
    get it skips the duty, which the holder is doing; the lock goes with the holder's commit, so
    the next round of any process runs the duty again and finds the work done. SQLite serves
    one process: always True.
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = int.from_bytes(hashlib.blake2b(f"safetwin-duty:{duty}".encode(), digest_size=8).digest(), "big", signed=True)
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))


# The statements of one call, compiled once per (statements, dialect, parameter names) into one
# PostgreSQL statement: its SQL, and per part the compiled statement, its bind processors
# (UtcDateTime, JSON) and the prefix its parameters take. Keyed by the statements themselves,
# not their id(): the key keeps them alive, so a statement built per call can never be
# mistaken for a later one at the same address. Callers pass module constants; a statement
# built per call would otherwise grow the caches (this one and fetch_rows') without end, so
# past this many they start afresh (compiling again costs ~1 ms a statement).
_CACHED_STATEMENTS = 1000
_TogetherKey = tuple[str, tuple[tuple[UpdateBase, tuple[str, ...]], ...]]
_TogetherPart = tuple[str, SQLCompiler, dict[str, Any], Mapping[str, str]]
_TOGETHER: dict[_TogetherKey, tuple[str, tuple[_TogetherPart, ...]] | None] = {}
# A placeholder of the psycopg dialect's "pyformat" style, or an escaped percent sign ("%%"),
# which must stay as it is (matched first so that "%%(x)s" is never read as a placeholder).
_PLACEHOLDER = re.compile(r"%%|%\(([^)]+)\)s")


def execute_together(session: Session, statements: Sequence[tuple[UpdateBase, Mapping[str, Any]]]) -> None:
    """Run writes whose results nobody reads, in the session's transaction, as one statement.

    Why: a permit move ends with three writes (the ticket, its step, its history row). Sent
    one by one through SQLAlchemy each cost a round trip, with its wait and wake-up, and about
    0.1 ms of CPU for the execution context and result: 0.58 ms for the three. On PostgreSQL
    they go as one statement, the first ones as data-modifying ``WITH`` parts of the last:
    one execution, one round trip, ~0.2 ms less CPU than psycopg's pipeline mode, which sent
    them together before (docs/performance.md, session 16). The SQL and the parameters are
    SQLAlchemy's own (compiled with the session's dialect, through the columns' bind
    processors), so the rows are those ``session.execute`` would write.

    A single write goes the same way (a register's history row after each create and update):
    117 → 83 µs of CPU per row against ``session.execute`` (micro-benchmark, session 20).

    The parts of one statement see the same snapshot: none sees another's rows. So the
    statements must not read what another of them writes (an ``INSERT … SELECT`` of a row
    written before it in the list); several inserts into one table are fine. An UPDATE or
    DELETE of a table that another statement of the call also writes runs the statements one
    by one instead (PostgreSQL leaves undefined which of two changes of one row wins), as do
    statements with expanding parameters (``IN`` lists), statements that leave out a column
    whose value SQLAlchemy computes in Python (a ``default`` or ``onupdate``), and every
    driver but psycopg.

    A failure raises as ``session.execute`` would (a :class:`sqlalchemy.exc.DBAPIError` such
    as IntegrityError) and nothing of the call is written. Pending ORM changes are flushed
    first, as ``session.execute`` would.
    """
    session.flush()  # a Core statement does not autoflush
    connection = session.connection()
    dialect = connection.dialect
    combined = _combined(dialect, statements) if dialect.driver == "psycopg" and statements else None
    if combined is None:
        for statement, params in statements:
            session.execute(statement, params)
        return
    sql, parts = combined
    values: dict[str, Any] = {}
    for (prefix, compiled, processors, escaped), (_statement, params) in zip(parts, statements, strict=True):
        values |= _driver_values(compiled.construct_params(params), processors, escaped, prefix)
    with _as_sqlalchemy_errors(dialect, sql, values):
        _kept_cursor(connection).execute(sql, values)


def _kept_cursor(connection: Connection) -> Any:
    """The psycopg cursor kept with ``connection``'s driver connection, made on its first use.

    Why: a new cursor sets up the reading of every column of its first result again (psycopg
    looks each column's loader up per cursor), ~100 µs of a 20-row, 26-column list page and
    ~12 µs of a one-record read (docs/performance.md, session 24). A cursor is only ever used
    by the one request holding its connection, and each ``execute`` replaces its last result.
    Kept in the pool's ``info`` of the driver connection, which goes when that connection is
    invalidated or closed.
    """
    pooled = connection.connection
    cursor = pooled.info.get(_KEPT_CURSOR)
    if cursor is None or cursor.closed:
        dbapi: Any = pooled.dbapi_connection
        cursor = pooled.info[_KEPT_CURSOR] = dbapi.cursor()
    return cursor


_KEPT_CURSOR: Final = "safetwin.kept_cursor"
"""The key of :func:`_kept_cursor`'s cursor in the pool's ``info`` of a driver connection."""


def _driver_values(
    params: Mapping[str, Any], processors: Mapping[str, Any], escaped: Mapping[str, str], prefix: str = ""
) -> dict[str, Any]:
    """SQLAlchemy's parameters as the driver takes them: through the bind processors, under the SQL's names.

    What ``session.execute`` does to them (UtcDateTime to UTC, JSON wrapped, names the dialect
    had to escape), for the two paths here that hand compiled SQL to psycopg themselves.
    """
    values: dict[str, Any] = {}
    for name, value in params.items():
        process = processors.get(name)
        values[prefix + escaped.get(name, name)] = value if process is None else process(value)
    return values


@contextmanager
def _as_sqlalchemy_errors(dialect: Dialect, sql: str, values: Mapping[str, Any]) -> Iterator[None]:
    """A driver error raised as ``session.execute`` raises it (a DBAPIError such as IntegrityError)."""
    try:
        yield
    except dialect.loaded_dbapi.Error as err:
        raise DBAPIError.instance(sql, values, err, dialect.loaded_dbapi.Error, dialect=dialect) from err


def _prefixed(prefix: str, match: re.Match[str]) -> str:
    return f"%({prefix}{match[1]})s" if match[1] else "%%"


def _combined(
    dialect: Dialect, statements: Sequence[tuple[UpdateBase, Mapping[str, Any]]]
) -> tuple[str, tuple[_TogetherPart, ...]] | None:
    """The one PostgreSQL statement for ``statements`` (see :func:`execute_together`), or None."""
    key: _TogetherKey = (dialect.name, tuple((statement, tuple(params)) for statement, params in statements))
    if key in _TOGETHER:
        return _TOGETHER[key]
    if len(_TOGETHER) >= _CACHED_STATEMENTS:  # statements built per call: keep the cache bounded
        _TOGETHER.clear()
    tables = [getattr(statement, "table", None) for statement, _ in statements]
    shared_change = any(
        not isinstance(statement, Insert) and tables.count(table) > 1
        for (statement, _), table in zip(statements, tables, strict=True)
    )
    parts: list[_TogetherPart] = []
    texts: list[str] = []
    for number, (statement, params) in enumerate(statements):
        compiled = statement.compile(dialect=dialect, column_keys=list(params))
        # Columns with a Python-side default or onupdate (``updated_at``) left out of the
        # parameters get their value from SQLAlchemy's execution context, which this path
        # skips: such a call runs through the session instead.
        defaulted = [column.key for column in (*compiled.insert_prefetch, *compiled.update_prefetch)]
        if shared_change or compiled.post_compile_params or compiled.literal_execute_params or defaulted:
            _TOGETHER[key] = None
            return None
        prefix = f"w{number}_"
        texts.append(_PLACEHOLDER.sub(functools.partial(_prefixed, prefix), compiled.string))
        parts.append((prefix, compiled, dict(compiled._bind_processors), compiled.escaped_bind_names or {}))  # noqa: SLF001
    sql = texts[-1]
    if len(texts) > 1:
        sql = "WITH " + ", ".join(f"w{number} AS ({text})" for number, text in enumerate(texts[:-1])) + " " + sql
    combined = _TOGETHER[key] = (sql, tuple(parts))
    return combined


class _Read:
    """A SELECT compiled for :func:`fetch_rows`: its SQL, bind processors, row type and result processors."""

    __slots__ = ("binds", "compiled", "escaped", "expanding", "results", "row", "sql")

    def __init__(self, compiled: SQLCompiler) -> None:
        self.sql = compiled.string
        self.compiled = compiled
        self.binds: dict[str, Any] = dict(compiled._bind_processors)  # noqa: SLF001
        self.escaped: Mapping[str, str] = compiled.escaped_bind_names or {}
        self.expanding = bool(compiled.post_compile_params or compiled.literal_execute_params)
        names = [column[0] for column in compiled._result_columns]  # noqa: SLF001
        row_type: Any = collections.namedtuple  # noqa: PYI024 - the column names are known at run time
        self.row: Any = row_type("Row", names, rename=True)
        # (position, processor) of the columns whose values SQLAlchemy converts (UtcDateTime,
        # a float read from NUMERIC): known once the driver has said what each column's type is.
        self.results: list[tuple[int, Callable[[Any], Any]]] | None = None


def _idle_psycopg(connection: Connection) -> Any:
    """The psycopg connection under ``connection`` when the server holds no transaction for it, else ``None``."""
    if connection.dialect.driver != "psycopg":
        return None
    dbapi: Any = connection.connection.dbapi_connection
    idle = dbapi is not None and dbapi.info.transaction_status == dbapi.info.transaction_status.IDLE
    return dbapi if idle else None


@contextmanager
def reads_outside_transaction(session: Session) -> Iterator[None]:
    """Run the reads inside without opening a transaction, when the session has none open on the server.

    Why: on PostgreSQL a request's first statement opened a transaction (``BEGIN``, a round
    trip of its own) that the request then had to ``COMMIT`` (another, plus a hand-over to a
    worker thread). A request that only reads, each read one statement (its own snapshot),
    needs neither: its user look-up and its page are then one round trip each. A statement
    after the block starts a transaction as before, so what the request writes stays in one.

    Only reads belong inside (a write would be committed at once). Where a transaction is
    already open on the server, or the session has changes to flush, or on SQLite, the
    reads run in the transaction as they would without it.
    """
    if session.new or session.dirty or session.deleted:  # autoflush would write them
        yield
        return
    dbapi = _idle_psycopg(session.connection())  # checks one out if needed; psycopg sends nothing yet
    if dbapi is None:
        yield
        return
    dbapi.autocommit = True
    try:
        yield
    finally:
        if not dbapi.closed:
            dbapi.autocommit = False


def server_transaction_open(session: Session) -> bool:
    """Whether committing ``session`` has anything to send: pending changes or a server transaction.

    ``False`` after :func:`reads_outside_transaction` when nothing else used the session, so
    the request can close it without a worker thread.
    """
    if session.new or session.dirty or session.deleted:
        return True
    if not session.in_transaction():  # never used, or committed: no connection to ask
        return False
    return _idle_psycopg(session.connection()) is None


# Keyed by (statement, dialect name), the statement itself and not its id() (see _TOGETHER).
_READS: dict[tuple[Executable, str], _Read] = {}


def fetch_rows(
    session: Session, statement: Select[*tuple[Any, ...]], params: Mapping[str, Any] | None = None
) -> list[Any]:
    """The rows of a SELECT of columns (not of ORM entities), as tuples that also name their columns.

    Why: a permit move reads three or four small things besides the ticket (the signer, the
    measures, whether this person signed already), and every request reads its user. Through
    ``session.execute`` each read cost ~0.2 ms of CPU for SQLAlchemy's execution context and
    result objects; compiled once and sent through the session's own psycopg connection
    (in its transaction), ~0.08 ms (docs/performance.md, session 16). The SQL, the
    parameters' bind processors and the columns' result processors are SQLAlchemy's, so the
    values are those ``session.execute`` returns (aware UTC times, JSON, floats).

    Pending ORM changes are flushed first (autoflush), as ``session.execute`` would. On a
    driver other than psycopg it is ``session.execute(statement, params).all()``. Expanding
    parameters (``IN`` lists) are rendered per call the way SQLAlchemy renders them.
    SQLAlchemy's execution events do not see the PostgreSQL path.
    """
    params = params or {}
    if session.autoflush:
        session.flush()
    connection = session.connection()
    dialect = connection.dialect
    if dialect.driver != "psycopg":
        return list(session.execute(statement, params).all())
    key = (statement, dialect.name)
    read = _READS.get(key)
    if read is None:
        if len(_READS) >= _CACHED_STATEMENTS:  # statements built per call: keep the cache bounded
            _READS.clear()
        read = _READS[key] = _Read(statement.compile(dialect=dialect))
    compiled = read.compiled
    sql, binds, constructed = read.sql, read.binds, compiled.construct_params(params)
    raw: Mapping[str, Any] = constructed
    if read.expanding:  # IN lists: one placeholder per value, as SQLAlchemy renders them per call
        expanded = compiled._process_parameters_for_postcompile(constructed)  # noqa: SLF001
        sql, binds = expanded.statement, {**binds, **expanded.processors}
        raw = expanded.parameters
    values = _driver_values(raw, binds, read.escaped)
    cursor = _kept_cursor(connection)
    with _as_sqlalchemy_errors(dialect, sql, values):
        cursor.execute(sql, values)
        rows = cursor.fetchall()
        if read.results is None:
            columns = zip(read.compiled._result_columns, cursor.description, strict=True)  # noqa: SLF001
            read.results = [
                (position, convert)
                for position, (column, described) in enumerate(columns)
                if (convert := column[3]._cached_result_processor(dialect, described.type_code)) is not None  # noqa: SLF001
            ]
    make = read.row._make
    if not read.results:
        return [make(row) for row in rows]
    converted = []
    for row in rows:
        items = list(row)
        for position, process in read.results:
            items[position] = process(items[position])
        converted.append(make(items))
    return converted
