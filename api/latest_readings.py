"""Every tag's latest reading as this process last read it, served without a query per request.

``GET /api/v1/tags/{tag}/latest`` is what the park's systems and dashboards poll, each tag
every few seconds; one request cost a thread hand-over and a store query (~0.4 ms of DuckDB
in-process, a round trip to ClickHouse in production) to answer with one row that changes
once a second at most. One read of every tag's latest reading (the store keeps them in a
table of one row per tag) answers every such request for ``max_age_s``; inside that window a
request is answered on the event loop from memory, with no thread and no query.

What a reader can see:

* A write through this process's store object (embedded mode: the flow writes the store the
  API reads) voids the copy at once, through the store's ``readings_written`` count, so what
  this process stored is never hidden.
* A write by another process (the distributed flow, another host's ClickHouse writer) shows
  within ``max_age_s`` (``SAFETWIN_LATEST_MAX_AGE_S``, 1 s by default; sensors report once a
  second and the flow writes in batches, so a reading is no fresher than that anyway). ``0``
  reads the store on every request, as before.

Every answer still judges staleness (通讯故障) against the clock of the request, not of the
read (``api.routers.tags._live``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

from api.auth import in_request_thread
from connectors.store.base import TimeSeriesStore
from models.contracts import SensorReading

_Snapshot = tuple[Mapping[str, SensorReading], float, int | None]
"""The readings, the clock when their read began, the store's write count before it."""

_NEVER: _Snapshot = ({}, float("-inf"), None)


def readings_written(store: TimeSeriesStore) -> int | None:
    """How many reading batches this store object has written (None: it does not count)."""
    count = getattr(store, "readings_written", None)
    return count if isinstance(count, int) else None


def still_fresh(store: TimeSeriesStore, read_at: float, written: int | None, max_age_s: float, now: float) -> bool:
    """Whether a copy of ``store`` read at ``read_at`` may still be served at ``now``.

    The one rule of the API's copies of the store (this module's, api/recent_history.py's):
    younger than ``max_age_s``, and no batch of readings written through this store object
    since the count ``written`` taken before the read (None: the store does not count).
    """
    if now - read_at >= max_age_s:
        return False
    return written is None or written == readings_written(store)


class LatestReadings:
    """The latest reading of every tag, read from ``store`` at most once per ``max_age_s``.

    One per store object and process. The copy is swapped in as one tuple, so the event loop
    never sees readings of one read with the age of another. Reads are serialised by a lock:
    requests that find the copy old while another is being read wait for that read instead of
    sending their own.
    """

    __slots__ = ("_clock", "_lock", "_snapshot", "max_age_s", "store")

    def __init__(
        self, store: TimeSeriesStore, max_age_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = _NEVER

    def fresh(self) -> Mapping[str, SensorReading] | None:
        """The copy while it may still be served, else None (cheap: the event loop calls it)."""
        readings, read_at, written = self._snapshot
        return readings if still_fresh(self.store, read_at, written, self.max_age_s, self._clock()) else None

    def read(self) -> Mapping[str, SensorReading]:
        """Every tag's latest reading, read from the store unless a fresh copy is there (blocking)."""
        with self._lock:
            readings = self.fresh()
            if readings is not None:  # read by another request while this one waited for the lock
                return readings
            # Count and clock before the read: a write during it voids the copy, never hides itself.
            written = readings_written(self.store)
            started = self._clock()
            readings = self.store.latest()
            self._snapshot = (readings, started, written)
            return readings

    async def get(self, tag: str) -> SensorReading | None:
        """The latest reading of ``tag`` (None before its first), from memory while fresh."""
        if self.max_age_s <= 0:  # one tag's row, not every tag's
            return await in_request_thread(lambda: self.store.latest([tag]).get(tag))
        return (await self.get_all()).get(tag)

    async def get_all(self) -> Mapping[str, SensorReading]:
        """The latest reading of every tag that has one, from memory while fresh."""
        if self.max_age_s <= 0:
            return await in_request_thread(self.store.latest)
        readings = self.fresh()
        if readings is None:
            readings = await in_request_thread(self.read)
        return readings
