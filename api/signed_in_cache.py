"""The signed-in users of live tokens, kept per process while PostgreSQL reports every change.

Why: every request looked its token's user up in the database (the user, its roles, "was
this token logged out", one joined query). That cost a hand-over to a worker thread, the
query, and ~0.15 ms of PostgreSQL's CPU per request. On the business mix it was ~13 % of the
API's CPU and ~27 % of PostgreSQL's (docs/performance.md, session 18).

When an entry may be used. Only while the cache is *live*: a listener connection of this
process holds ``LISTEN safetwin_auth``. Triggers on ``users``, ``roles``, ``user_roles`` and
``revoked_tokens`` (migration 2026_12_05_0045) notify that channel at the commit of any change
to them, whoever made it: a worker of any replica, the CLI, psql. The notification names the
account (``user:<id>``: its row or its role grants), the logged-out token (``token:<jti>``) or
everything (``all``: a role's definition, a truncate), and the cache forgets that. The
listener's start and any loss of its connection empty it.

How fast a change takes effect. A commit made through a SQLAlchemy session of this process
(a logout, a password or role change, a disabled account) empties this process's cache
before ``commit()`` returns (:func:`_note_auth_writes`). The next request on this worker is
refused, as before the cache. Other processes refuse the token once their listener has read
the notification: milliseconds, measured by tests/api/test_signed_in_cache.py. A request
that started before a commit could already finish after it without the cache. An entry
also expires after :data:`MAX_AGE_S` whatever happens. The token's signature and expiry
are checked on every request; only the database look-up is skipped.

SQLite (the embedded demo) has no ``NOTIFY``. There the cache is never created, and every
request reads its user as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from registers.users.models import RevokedToken, Role, User

if TYPE_CHECKING:
    from api.auth import SignedInUser, TokenClaims

log = logging.getLogger(__name__)

CHANNEL = "safetwin_auth"
"""The PostgreSQL notification channel the auth triggers notify (migration 2026_12_05_0045)."""
AUTH_TABLES = frozenset({"users", "roles", "user_roles", "revoked_tokens"})
"""Tables whose rows decide whether a token is live and what its user may do."""
MAX_AGE_S = 60.0
"""An entry is looked up again after this long, even if no change was reported."""
MAX_ENTRIES = 20_000
"""Beyond this many live tokens in one process the cache starts afresh (a bound, not an LRU)."""
RECONNECT_S = (0.5, 10.0)
"""The listener's back-off after a lost connection: first wait, longest wait."""

_KEEPALIVE = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}
"""A listener whose server or network vanished notices within ~1 minute and stops the cache serving."""
_CHANGED = "safetwin_auth_changed"
_CACHES: weakref.WeakSet[SignedInCache] = weakref.WeakSet()


ALL = "all"
"""A change key: anything may have changed (a role's definition, a bulk statement, a truncate)."""


def user_key(user_id: int) -> str:
    """The change key of one account: its row, its role grants."""
    return f"user:{user_id}"


def token_key(jti: str) -> str:
    """The change key of one token id: it was logged out."""
    return f"token:{jti}"


class SignedInCache:
    """Users of live tokens by token id (``jti``); used only while :attr:`live`.

    Thread-safe: the event loop reads and fills it, the listener thread and committing
    worker threads empty it. A change forgets what it names (one account's tokens, one token,
    or everything, see :func:`user_key`, :func:`token_key`, :data:`ALL`), so one user's login
    does not cost everyone else a look-up. Every change also bumps :attr:`generation`: a fill
    carries the generation read *before* its database look-up started and is dropped if any
    change came meanwhile, so a look-up that raced a change can never store what it made stale.
    """

    def __init__(self, *, max_age_s: float = MAX_AGE_S, clock: Any = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.clock = clock
        self.live = False
        self.generation = 0
        # jti -> (user, the token's subject, expiry on self.clock)
        self._entries: dict[str, tuple[SignedInUser, str, float]] = {}
        self._lock = threading.Lock()
        _CACHES.add(self)

    def get(self, claims: TokenClaims) -> SignedInUser | None:
        """The user of a token whose signature and expiry were checked, or ``None`` (look it up)."""
        if not self.live:
            return None
        entry = self._entries.get(claims.jti)
        if entry is None:
            return None
        user, subject, expires = entry
        if expires <= self.clock() or subject != claims.sub:
            return None
        return user

    def put(self, claims: TokenClaims, user: SignedInUser, generation: int) -> None:
        """Keep ``user``, looked up for ``claims`` from :attr:`generation` ``generation`` on."""
        with self._lock:
            if not self.live or generation != self.generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[claims.jti] = (user, claims.sub, self.clock() + self.max_age_s)

    def forget(self, changes: Iterable[str]) -> None:
        """Forget what ``changes`` name (change keys); fills of look-ups already running are dropped."""
        changes = set(changes)
        with self._lock:
            self.generation += 1
            if ALL in changes or not all(c.startswith(("user:", "token:")) for c in changes):
                self._entries.clear()
                return
            for change in changes:
                if change.startswith("token:"):
                    self._entries.pop(change.removeprefix("token:"), None)
            if accounts := {change for change in changes if change.startswith("user:")}:
                self._entries = {
                    jti: entry for jti, entry in self._entries.items() if user_key(entry[0].id) not in accounts
                }

    def set_live(self, live: bool) -> None:
        """Start or stop serving entries; either way the cache starts empty."""
        with self._lock:
            self.live = live
            self.generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def forget_everywhere(changes: set[str]) -> None:
    """Tell every cache of this process what a commit here changed."""
    for cache in list(_CACHES):
        cache.forget(changes)


# --- this process's commits ------------------------------------------------------------------


@event.listens_for(Session, "after_flush")
def _note_auth_writes(session: Session, _flush: UOWTransaction) -> None:
    """Note the accounts, role definitions and logged-out tokens a flush wrote."""
    changes: set[str] | None = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, User):
            key = user_key(obj.id)
        elif isinstance(obj, RevokedToken):
            key = token_key(obj.jti)
        elif isinstance(obj, Role):
            key = ALL
        else:
            continue
        if changes is None:
            changes = session.info.setdefault(_CHANGED, set())
        changes.add(key)


@event.listens_for(Session, "do_orm_execute")
def _note_auth_statements(state: ORMExecuteState) -> None:
    """Note an INSERT, UPDATE or DELETE sent to an auth table as a statement (bulk or Core): all."""
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in AUTH_TABLES:
            state.session.info.setdefault(_CHANGED, set()).add(ALL)


@event.listens_for(Session, "after_commit")
def _forget_after_auth_commit(session: Session) -> None:
    if changes := session.info.pop(_CHANGED, None):
        forget_everywhere(changes)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)


# --- other processes' commits ----------------------------------------------------------------


def conninfo_of(engine: Engine) -> str:
    """The libpq connection string of ``engine``'s database (its query options included)."""
    url = engine.url
    args: dict[str, Any] = url.translate_connect_args(database="dbname", username="user")
    args.update({k: v if isinstance(v, str) else v[-1] for k, v in url.query.items()})
    return psycopg.conninfo.make_conninfo(**args)


class AuthChangeListener:
    """A thread holding ``LISTEN safetwin_auth``: the cache is live exactly while it listens.

    It waits on the connection's socket and on a pipe of its own, so :meth:`stop` returns at
    once instead of after a polling period (tests start and stop hundreds of apps).
    """

    def __init__(self, cache: SignedInCache, conninfo: str, *, poll_s: float = 5.0) -> None:
        self.cache = cache
        self.conninfo = conninfo
        self.poll_s = poll_s
        self.notifications = 0
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="safetwin-auth-listener", daemon=True)

    def start(self) -> AuthChangeListener:
        """Connect and listen in the background; the cache turns live once listening."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening; the cache stops serving at once."""
        self.cache.set_live(False)
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(timeout)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def wait_live(self, timeout: float) -> bool:
        """Wait until the listener listens (tests, start-up checks)."""
        deadline = time.monotonic() + timeout
        while not self.cache.live and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.cache.live

    def _run(self) -> None:
        wait = RECONNECT_S[0]
        while not self._stop.is_set():
            try:
                conninfo = psycopg.conninfo.make_conninfo(self.conninfo, **_KEEPALIVE)
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.cache.set_live(True)  # from here every change is reported
                    wait = RECONNECT_S[0]
                    self._listen(connection)
            except (psycopg.Error, OSError) as err:
                if not self._stop.is_set():
                    log.warning("auth change listener lost its connection (%s); users looked up per request", err)
            finally:
                self.cache.set_live(False)
            self._stop.wait(wait)
            wait = min(wait * 2, RECONNECT_S[1])

    def _listen(self, connection: psycopg.Connection[Any]) -> None:
        socket = connection.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([socket, self._wake_r], [], [], self.poll_s)
            if self._wake_r in ready:
                return
            # timeout=0: what arrived, without waiting. A connection the server closed reads as
            # ready and raises here; a silent network loss is found by TCP keepalives.
            for notification in connection.notifies(timeout=0):
                self.notifications += 1
                self.cache.forget((notification.payload or ALL,))


def start_for(engine: Engine) -> tuple[SignedInCache, AuthChangeListener] | None:
    """A live cache and its listener for a PostgreSQL ``engine``; ``None`` elsewhere (SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    cache = SignedInCache()
    return cache, AuthChangeListener(cache, conninfo_of(engine)).start()
