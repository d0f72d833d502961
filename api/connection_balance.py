"""Keep-alive users shared out evenly over the workers of one ``safetwin api --workers N``.

Why: a keep-alive connection stays with the worker that accepted it, and under load every
worker gets about the same CPU, so the users of a worker holding 30 of 50 connections wait
1.5 times as long as those of one holding 20. Two ways a replica gets there:

* a worker dies and the supervisor restarts it: its users reconnect to the workers left and
  stay there, so the restarted worker got none of them (50/0 in
  ``tests/e2e/test_api_workers.py``) and the replica served on one core until they left;
* the kernel deals new connections out by a hash of their addresses
  (``api.workers.listening_socket``): a binomial split, 20/30 and 23/27 of
  ``bench/permits.py``'s 50 users, each worker using ~0.7 of a core.

How: every worker counts the connections that sent it at least two requests in the last
second (its busy users) and publishes the count in a small file the workers share
(:class:`WorkerShares`, one slot per worker). A worker that holds more than its even share
answers that many of its busy users' next requests with ``Connection: close``; the client
reconnects (browsers, HTTP libraries and wrk do so by themselves) and the kernel deals the
new connection to a worker at random. One-shot connections are never closed, and nothing
happens on a worker that holds its share or less.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.cpu_affinity import choose_core, cores_of, keep_to

SHARES_ENV = "SAFETWIN_WORKER_SHARES"
"""``"path,slots"``: the file the workers publish their busy connections in (internal hand-over)."""

_SLOT = struct.Struct("<qqd")  # pid, busy connections, time.time() of the count
LIVE_S = 2.0
"""A slot not rewritten for this long belongs to a worker that is gone."""
HEARTBEAT_S = 0.5
"""How often a worker rewrites its slot, requests or not."""
BUSY_WINDOW_S = 1.0
"""A connection is busy while its last request is at most this old."""
CHECK_EVERY_S = 0.2
"""How often a worker publishes its count and reads the others'."""


def excess_connections(mine: int, everyone: Sequence[int]) -> int:
    """How many of its busy connections a worker holding ``mine`` of ``everyone``'s should hand back.

    ``everyone`` is every live worker's count, this worker's included. A worker keeps up to
    the even share, rounded up, so a split that cannot be more even (26/25 of 51) stays.

    Example:
        >>> excess_connections(30, [30, 20])
        5
        >>> excess_connections(26, [26, 25])
        0
        >>> excess_connections(20, [30, 20])
        0
    """
    if not everyone:
        return 0
    share = math.ceil(sum(everyone) / len(everyone))
    return max(0, mine - share)


class WorkerShares:
    """The busy-connection counts of a replica's workers, in a file each worker maps.

    One 24-byte slot per worker: its pid, its count and when it wrote it. A worker claims a
    free slot (never used, or not rewritten for :data:`LIVE_S`) under a file lock when it
    starts, and keeps it fresh with :meth:`start_heartbeat`, so a worker that has had no
    request yet (one just restarted) still counts, with none busy. Liveness is the slot's
    age, not its pid: a dead worker's pid may belong to another process by now. Reads take
    no lock (a torn read costs at most one needless or missed hand-back).
    """

    def __init__(self, path: Path, slots: int, *, pid: int | None = None, now: float | None = None) -> None:
        self.path = path
        self.slots = slots
        self.pid = os.getpid() if pid is None else pid
        now = time.time() if now is None else now
        self._count, self._counted_at = 0, now
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, slots * _SLOT.size)
        self._slot = self._claim(now)
        self._stop = threading.Event()

    @staticmethod
    def create(path: Path, slots: int) -> None:
        """Make the file empty, with ``slots`` free slots (the parent, before the workers start)."""
        path.write_bytes(bytes(slots * _SLOT.size))
        path.chmod(0o600)

    def close(self) -> None:
        """Stop the heartbeat, give the slot back and unmap the file."""
        self._stop.set()
        self._write(0, 0.0, pid=0)
        self._map.close()
        os.close(self._fd)

    def start_heartbeat(self, *, idle_after_s: float) -> None:
        """Rewrite this worker's slot every :data:`HEARTBEAT_S` from a daemon thread.

        The count written is the last one published, or 0 once nothing was published for
        ``idle_after_s`` (no request since: no busy connection).
        """

        def beat() -> None:
            while not self._stop.wait(HEARTBEAT_S):
                now = time.time()
                self._write(self._count if now - self._counted_at <= idle_after_s else 0, now)

        threading.Thread(target=beat, name="safetwin-worker-shares", daemon=True).start()

    def keep_to_a_free_core(self, usable: Set[int], *, now: float | None = None) -> int:
        """Keep this worker to the usable core the fewest live siblings keep to; returns it.

        Under the file's lock, so workers starting together each see the cores the others
        took (:mod:`api.cpu_affinity`).
        """
        now = time.time() if now is None else now
        with _locked(self._fd):
            siblings = [cores for pid, _count in self._live_siblings(now) if (cores := cores_of(pid)) is not None]
            core = choose_core(usable, siblings)
            keep_to(core)
        return core

    def _write(self, count: int, now: float, *, pid: int | None = None) -> None:
        _SLOT.pack_into(self._map, self._slot * _SLOT.size, self.pid if pid is None else pid, count, now)

    def _entries(self) -> Iterable[tuple[int, int, int, float]]:
        for slot in range(self.slots):
            pid, count, at = _SLOT.unpack_from(self._map, slot * _SLOT.size)
            yield slot, pid, count, at

    def _live_siblings(self, now: float) -> Iterator[tuple[int, int]]:
        """The pid and count of every other worker whose slot is live at ``now``."""
        for slot, pid, count, at in self._entries():
            if slot != self._slot and pid and now - at <= LIVE_S:
                yield pid, count

    def _claim(self, now: float) -> int:
        with _locked(self._fd):
            free = next((slot for slot, pid, _c, at in self._entries() if pid == 0 or now - at > LIVE_S), None)
            if free is None:
                msg = f"no free slot of {self.slots} in {self.path}"
                raise RuntimeError(msg)
            _SLOT.pack_into(self._map, free * _SLOT.size, self.pid, 0, now)
            return free

    def publish(self, count: int, *, now: float | None = None) -> list[int]:
        """Write this worker's count; return every live worker's, this one's first."""
        now = time.time() if now is None else now
        self._count, self._counted_at = count, now
        self._write(count, now)
        return [count, *(c for _pid, c in self._live_siblings(now))]


@contextlib.contextmanager
def _locked(fd: int):  # type: ignore[no-untyped-def]  # a generator context manager
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


class ConnectionBalance:
    """ASGI middleware: hand busy connections back while this worker holds more than its share.

    Outermost in a worker's app (see :func:`api.workers.worker_app`); costs a dict update
    per request, and a file read and write every :data:`CHECK_EVERY_S`.
    """

    def __init__(self, app: ASGIApp, *, shares: WorkerShares, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.shares = shares
        self.clock = clock
        # client address -> (requests seen on it, time of the last one)
        self._connections: dict[tuple[str, int], tuple[int, float]] = {}
        self._next_check = 0.0
        self._hand_back = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Note the request's connection; close it after the response if it is one to hand back."""
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        now = self.clock()
        key = (client[0], client[1])
        seen, _ = self._connections.get(key, (0, now))
        self._connections[key] = (seen + 1, now)
        if now >= self._next_check:
            self._check(now)
        if self._hand_back <= 0 or seen == 0:  # a connection's first request never hands it back
            await self.app(scope, receive, send)
            return
        self._hand_back -= 1
        del self._connections[key]

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)

    def busy(self, now: float) -> int:
        """Connections with two requests or more, the last within :data:`BUSY_WINDOW_S` (forgets older ones)."""
        cutoff = now - BUSY_WINDOW_S
        self._connections = {k: v for k, v in self._connections.items() if v[1] >= cutoff}
        return sum(1 for seen, _ in self._connections.values() if seen >= 2)  # noqa: PLR2004

    def _check(self, now: float) -> None:
        self._next_check = now + CHECK_EVERY_S
        mine = self.busy(now)
        self._hand_back = excess_connections(mine, self.shares.publish(mine))
        if self._hand_back:  # let the others count the users who reconnect before judging again
            self._next_check = now + 2 * CHECK_EVERY_S
