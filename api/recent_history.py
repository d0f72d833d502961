"""The recent readings of the tags whose history is asked for again and again, kept in memory.

A trend chart asks for a tag's last hours or day in a few hundred buckets, and every screen
that shows the tag asks again every few seconds. On the embedded store each request cost a
DuckDB query in the API process (2.2 ms of CPU for a day of 10 s readings, 3.7 ms at 1 Hz;
~0.8 ms of it planning) to answer what had not changed since the last request. This
module keeps, per such tag, every reading from the start of the hour of the earliest start
asked onwards (times and values, 16 bytes a reading), read in one query, and cuts the buckets
of each request from memory (:func:`connectors.store.base.bucket_readings`, a fraction of a
millisecond).

What a reader can see (the same rule as :mod:`api.latest_readings`):

* A write through this process's store object (embedded mode) voids every copy at once,
  through the store's ``readings_written`` count.
* A write by another process shows within ``max_age_s`` (``SAFETWIN_HISTORY_MAX_AGE_S``, 1 s
  by default). Readings are only ever added (a replay is ignored), so a copy is exactly what
  the store held at its read. ``0`` queries the store on every request.

What it costs, and when it is not used:

* A tag is copied only when its history is asked for a second time within ``max_age_s``, and
  a copy is read again only if it answered some request besides the one that read it: a tag a
  single screen polls every 5 s is answered by the store query, as before, and never pays for
  a read of its raw readings that nothing else uses.
* Only buckets cut from raw readings (:func:`~connectors.store.base.plan_buckets`; about a
  week of range at 1,000 points) are answered here; wider ranges read the rollups.
* The copies of a process together stay under ``SAFETWIN_HISTORY_CACHE_MB`` (64 MB by
  default: 44 tags of 25 h at 1 Hz); the least recently used goes first, and a window larger
  than a quarter of it is not kept.
* A store without ``readings_from`` (ClickHouse) is always queried: the query runs on
  ClickHouse's machines, and a copy would carry every raw reading over the network.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from api.latest_readings import readings_written, still_fresh
from connectors.store.base import HistoryRow, TimeSeriesStore, bucket_readings, check_history_args, plan_buckets

HOUR_MS: Final = 3_600_000
"""A copy starts at the start of an hour, so windows that move with the clock keep using it."""

_ASKED_LIMIT: Final = 10_000
"""Tags remembered as recently asked for (cleared past it: a bound, not a policy)."""

OVERSIZED_PAUSE_S: Final = 60.0
"""A tag whose readings did not fit the budget is queried for this long before it is tried again."""


@dataclass(slots=True)
class _Copy:
    """Every reading of one tag from ``start`` on, as the store held them when the read began."""

    start: int
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    read_at: float  # the clock when the read began
    written: int | None  # the store's write count before the read
    served: int = 0  # requests answered besides the one that read it
    nbytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.nbytes = int(self.ts.nbytes + self.values.nbytes)


class RecentHistory:
    """Buckets of a tag's recent history, from memory while a copy of its readings is fresh.

    One per store object and process. :meth:`cached` is cheap and never blocks (the event loop
    calls it); :meth:`rows` may query the store (a request thread calls it). Reads of one tag
    are serialised: requests that find its copy old while it is being read wait for that read.
    """

    __slots__ = (
        "_asked",
        "_clock",
        "_copies",
        "_lock",
        "_oversized",
        "_tag_locks",
        "budget_bytes",
        "max_age_s",
        "store",
    )

    def __init__(
        self,
        store: TimeSeriesStore,
        max_age_s: float,
        budget_bytes: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_age_s = max_age_s
        self.budget_bytes = budget_bytes
        self._clock = clock
        self._lock = threading.Lock()  # guards the dicts below, never held during a query
        self._copies: OrderedDict[str, _Copy] = OrderedDict()  # least recently used first
        self._asked: dict[str, float] = {}
        self._oversized: dict[str, float] = {}
        self._tag_locks: dict[str, threading.Lock] = {}

    @property
    def enabled(self) -> bool:
        """Whether copies are kept at all (a positive age and budget, a store that can be copied)."""
        return self.max_age_s > 0 and self.budget_bytes > 0 and callable(getattr(self.store, "readings_from", None))

    @property
    def copied_bytes(self) -> int:
        """Memory the copies hold now."""
        with self._lock:
            return sum(c.nbytes for c in self._copies.values())

    def cached(self, tag: str, start_ms: int, end_ms: int, points: int) -> list[HistoryRow] | None:
        """The buckets from a fresh copy of ``tag``'s readings covering ``start_ms``, else None.

        Raises:
            ValueError: If ``points < 1`` or ``end_ms < start_ms``.
        """
        check_history_args(start_ms, end_ms, points)
        plan = plan_buckets(start_ms, end_ms, points)
        if plan.unit is not None or end_ms == start_ms:
            return None
        with self._lock:
            copy = self._copies.get(tag)
            if (
                copy is None
                or copy.start > start_ms
                or not still_fresh(self.store, copy.read_at, copy.written, self.max_age_s, self._clock())
            ):
                return None
            copy.served += 1
            self._copies.move_to_end(tag)
        return bucket_readings(copy.ts, copy.values, plan)

    def rows(self, tag: str, start_ms: int, end_ms: int, points: int) -> list[HistoryRow]:
        """The buckets of ``tag``'s history in ``[start_ms, end_ms)`` (blocking: may query the store).

        Raises:
            ValueError: If ``points < 1`` or ``end_ms < start_ms``.
        """
        found = self.cached(tag, start_ms, end_ms, points)
        if found is not None:
            return found
        plan = plan_buckets(start_ms, end_ms, points)
        if not self.enabled or plan.unit is not None or end_ms == start_ms or not self._worth_copying(tag):
            return self.store.history_rows(tag, start_ms, end_ms, points)
        with self._tag_lock(tag):
            found = self.cached(tag, start_ms, end_ms, points)  # read by another request meanwhile
            if found is not None:
                return found
            copy = self._read(tag, start_ms)
        return bucket_readings(copy.ts, copy.values, plan)

    # --- internals ---------------------------------------------------------------------------

    def _worth_copying(self, tag: str) -> bool:
        """A second request within the age, or an old copy that answered more than its reader."""
        now = self._clock()
        with self._lock:
            if now - self._oversized.get(tag, float("-inf")) < OVERSIZED_PAUSE_S:
                return False
            copy = self._copies.get(tag)
            if copy is not None:
                if copy.served > 0:
                    return True
                del self._copies[tag]  # nobody else used it: back to the store query
            last = self._asked.get(tag)
            if len(self._asked) >= _ASKED_LIMIT:
                self._asked.clear()
                self._oversized.clear()
            self._asked[tag] = now
        return last is not None and now - last < self.max_age_s

    def _tag_lock(self, tag: str) -> threading.Lock:
        with self._lock:
            lock = self._tag_locks.get(tag)
            if lock is None:
                if len(self._tag_locks) >= _ASKED_LIMIT:  # only idle locks are dropped: a holder keeps its own
                    self._tag_locks = {t: k for t, k in self._tag_locks.items() if k.locked()}
                lock = self._tag_locks[tag] = threading.Lock()
            return lock

    def _read(self, tag: str, start_ms: int) -> _Copy:
        """Read ``tag``'s readings from the hour of ``start_ms`` on, and keep them unless too large."""
        with self._lock:
            old = self._copies.get(tag)
        start = start_ms - start_ms % HOUR_MS
        if old is not None:
            start = min(start, old.start)  # a window that moved on keeps the earlier start it served
        # Count and clock before the read: a write during it voids the copy, never hides itself.
        written = readings_written(self.store)
        read_at = self._clock()
        ts, values = self.store.readings_from(tag, start)  # type: ignore[attr-defined]  # checked by enabled
        copy = _Copy(start, ts, values, read_at, written)
        with self._lock:
            self._copies.pop(tag, None)
            if copy.nbytes * 4 > self.budget_bytes:  # answers this request, is not kept
                self._oversized[tag] = read_at
                return copy
            self._copies[tag] = copy
            used = sum(c.nbytes for c in self._copies.values())
            while used > self.budget_bytes and len(self._copies) > 1:
                _, dropped = self._copies.popitem(last=False)
                used -= dropped.nbytes
        return copy
