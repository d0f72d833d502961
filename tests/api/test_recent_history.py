"""A worker's copies of hot tags' recent readings (``api.recent_history``) on a real DuckDB store.

What a user of ``GET /tags/{tag}/history`` must be able to rely on:

* the buckets are the store's (``history_rows``) for the same readings;
* what this process wrote is in the next answer, what another process wrote within
  ``max_age_s``;
* a tag asked for again and again costs no store query inside that window, and one that a
  single screen polls now and then costs what it cost before (the store's bucket query, no
  read of its raw readings).

As in tests/api/test_latest_readings.py, "another process" is a second store object on the
same file, and the clock is a counter the test moves.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.app import create_app
from api.auth import in_request_thread
from api.recent_history import HOUR_MS, OVERSIZED_PAUSE_S, RecentHistory
from api.runtime import Runtime
from api.settings import Settings
from connectors.store.base import HistoryRow
from connectors.store.duckdb import DuckDBStore
from models.contracts import SensorReading
from tests.clocks import ManualClock
from tests.connectors.test_bucket_readings import assert_same_buckets
from twin.plant import load_plant

TAG = "PT-101"
T0 = 100 * HOUR_MS
"""Readings start here (epoch ms): whole hours, so a copy's start is known."""


class CountedStore(DuckDBStore):
    """A real DuckDB store that counts its bucket queries and raw reads (and can slow the reads)."""

    def __init__(self, path: Path, delay_s: float = 0.0) -> None:
        super().__init__(path)
        self.bucket_queries = 0
        self.raw_reads: list[int] = []  # the start of each
        self.delay_s = delay_s
        self.after_read: list[int] = []
        """Written by this object right after the next raw read: a write racing the read."""

    def history_rows(self, *args: Any, **kwargs: Any) -> list[HistoryRow]:
        self.bucket_queries += 1
        return super().history_rows(*args, **kwargs)

    def readings_from(self, tag: str, start_ms: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        self.raw_reads.append(start_ms)
        if self.delay_s:
            threading.Event().wait(self.delay_s)
        found = super().readings_from(tag, start_ms)
        if self.after_read:
            _write(self, self.after_read, value=1e6)
            self.after_read = []
        return found


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[CountedStore, DuckDBStore]]:
    """The API's store object and another one on the same file (another process's writes)."""
    own = CountedStore(tmp_path / "ts.duckdb")
    own.init_schema()
    other = DuckDBStore(tmp_path / "ts.duckdb")
    _write(other, range(T0, T0 + 2 * HOUR_MS, 10_000))
    _write(other, range(T0, T0 + 2 * HOUR_MS, 60_000), tag="TT-101")
    yield own, other
    other.close()
    own.close()


def _write(store: DuckDBStore, times: range | list[int], *, tag: str = TAG, value: float | None = None) -> None:
    store.write_readings(
        [SensorReading(tag=tag, ts=t, value=value if value is not None else (t // 1000) % 97 / 3) for t in times]
    )


WINDOW = (T0 + 30 * 60_000 + 123, T0 + 2 * HOUR_MS, 100)
"""A trend's request: the last 1.5 h in 100 buckets, not on an hour."""


def _truth(store: DuckDBStore, window: tuple[int, int, int] = WINDOW, tag: str = TAG) -> list[HistoryRow]:
    return DuckDBStore.history_rows(store, tag, *window)  # the store's answer, its counters untouched


def _ask(recent: RecentHistory, window: tuple[int, int, int] = WINDOW, tag: str = TAG) -> list[HistoryRow]:
    return recent.rows(tag, *window)


def test_a_tag_asked_once_per_age_is_answered_by_the_store_query(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, _ = stores
    clock = ManualClock()
    recent = RecentHistory(own, max_age_s=1.0, budget_bytes=1 << 20, clock=clock)
    for _ in range(4):
        assert_same_buckets(_ask(recent), _truth(own))
        clock.now += 1.0  # a screen polling every second: never two requests within the age
    assert own.bucket_queries == 4
    assert own.raw_reads == [], "a tag nobody asks for twice within the age must not be copied"
    assert recent.copied_bytes == 0


def test_a_hot_tag_is_answered_from_memory(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, _ = stores
    clock = ManualClock()
    recent = RecentHistory(own, max_age_s=1.0, budget_bytes=1 << 20, clock=clock)
    assert_same_buckets(_ask(recent), _truth(own))  # the store's query
    clock.now += 0.5
    assert_same_buckets(_ask(recent), _truth(own))  # the second within the age: copied
    assert own.raw_reads == [T0]  # from the start of the hour asked for
    for window in (WINDOW, (T0 + 3_000, T0 + HOUR_MS, 7), (T0 + HOUR_MS, T0 + 5 * HOUR_MS, 500)):
        assert recent.cached(TAG, *window) is not None
        assert_same_buckets(_ask(recent, window), _truth(own, window))
    assert own.bucket_queries == 1
    assert own.raw_reads == [T0], "answers inside the window must not query the store"
    assert recent.copied_bytes == 720 * 16
    # an earlier start than the copy's is read again, from its hour, and kept for both
    early = (T0 - HOUR_MS + 5, T0 + HOUR_MS, 50)
    assert_same_buckets(_ask(recent, early), _truth(own, early))
    assert own.raw_reads == [T0, T0 - HOUR_MS]
    assert_same_buckets(_ask(recent), _truth(own))
    assert own.raw_reads == [T0, T0 - HOUR_MS]


def test_this_process_writes_show_at_once(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, _ = stores
    recent = RecentHistory(own, max_age_s=60, budget_bytes=1 << 20, clock=ManualClock())
    _ask(recent)
    _ask(recent)
    assert recent.cached(TAG, *WINDOW) is not None
    _write(own, [T0 + 2 * HOUR_MS - 1], value=1e6)  # a spike in the last bucket
    assert recent.cached(TAG, *WINDOW) is None, "the write must void the copy"
    got = _ask(recent)
    assert got[-1][2] == 1e6
    assert_same_buckets(got, _truth(own))


def test_a_write_during_the_read_is_not_hidden(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, _ = stores
    recent = RecentHistory(own, max_age_s=60, budget_bytes=1 << 20, clock=ManualClock())
    _ask(recent)
    own.after_read = [WINDOW[1] - 1]
    assert _ask(recent)[-1][2] < 1e6  # what the read saw
    assert _ask(recent)[-1][2] == 1e6  # the write committed after it voids the copy


def test_other_writes_show_within_the_age(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, other = stores
    clock = ManualClock()
    recent = RecentHistory(own, max_age_s=1.0, budget_bytes=1 << 20, clock=clock)
    _ask(recent)
    before = _ask(recent)  # copied now
    reads = len(own.raw_reads)
    _write(other, [T0 + 2 * HOUR_MS - 1], value=1e6)
    for step in range(7):
        clock.now += 0.125  # up to 0.875 s after the read
        assert _ask(recent) == before, f"{step}: the copy is still fresh"
    assert len(own.raw_reads) == reads
    clock.now += 0.125  # 1.0 s: old, and it answered others, so it is read again
    got = _ask(recent)
    assert got[-1][2] == 1e6
    assert len(own.raw_reads) == reads + 1


def test_a_copy_nobody_else_used_goes_back_to_the_store_query(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, _ = stores
    clock = ManualClock()
    recent = RecentHistory(own, max_age_s=1.0, budget_bytes=1 << 20, clock=clock)
    _ask(recent)
    _ask(recent)  # copied by this request, used by no other
    assert len(own.raw_reads) == 1
    clock.now += 5
    _ask(recent)
    assert own.bucket_queries == 2, "an unused copy must not be read again"
    assert len(own.raw_reads) == 1
    assert recent.copied_bytes == 0


def test_wide_ranges_read_the_rollups_and_age_zero_reads_the_store(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, _ = stores
    recent = RecentHistory(own, max_age_s=1.0, budget_bytes=1 << 20, clock=ManualClock())
    wide = (T0 - 30 * 24 * HOUR_MS, T0 + 2 * HOUR_MS, 500)  # 10-minute buckets or wider: rollups
    for _ in range(3):
        assert _ask(recent, wide) == _truth(own, wide)
    assert own.bucket_queries == 3
    off = RecentHistory(own, max_age_s=0, budget_bytes=1 << 20, clock=ManualClock())
    for _ in range(3):
        assert _ask(off) == _truth(own)
    assert own.bucket_queries == 6
    assert own.raw_reads == []


def test_a_store_that_cannot_be_copied_is_queried(stores: tuple[CountedStore, DuckDBStore]) -> None:
    """ClickHouse has no ``readings_from``: its query runs on its own machines."""
    own, _ = stores

    class Remote:
        def __init__(self) -> None:
            self.queries = 0

        def history_rows(self, tag: str, start_ms: int, end_ms: int, points: int = 1000) -> list[HistoryRow]:
            self.queries += 1
            return own.history_rows(tag, start_ms, end_ms, points)

    remote = Remote()
    recent = RecentHistory(remote, max_age_s=1.0, budget_bytes=1 << 20, clock=ManualClock())  # type: ignore[arg-type]
    assert not recent.enabled
    for _ in range(3):
        assert _ask(recent) == _truth(own)
    assert remote.queries == 3


def test_the_copies_stay_within_their_memory(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, other = stores
    clock = ManualClock()
    recent = RecentHistory(own, max_age_s=1.0, budget_bytes=720 * 16 * 4, clock=clock)
    for tag in ("TT-101", TAG):  # 120 and 720 readings from T0 (1,920 and 11,520 bytes)
        _ask(recent, tag=tag)
        _ask(recent, tag=tag)
    assert recent.copied_bytes == 120 * 16 + 720 * 16
    more = ("LT-101", "LT-102", "GT-101")
    for tag in more:
        _write(other, range(T0, T0 + 2 * HOUR_MS, 10_000), tag=tag)
    for tag in more:  # 3 x 11,520 bytes more: over 46,080, so the least recently used (TT-101) goes
        _ask(recent, tag=tag)
        _ask(recent, tag=tag)
    assert recent.copied_bytes == 4 * 720 * 16
    assert recent.cached("TT-101", *WINDOW) is None
    for tag in (TAG, *more):
        assert recent.cached(tag, *WINDOW) is not None
    # a window over a quarter of the budget answers its request and is not kept
    small = RecentHistory(own, max_age_s=1.0, budget_bytes=720 * 16 * 3, clock=clock)
    for _ in range(2):
        assert_same_buckets(_ask(small), _truth(own))
    assert small.copied_bytes == 0
    reads = len(own.raw_reads)
    for _ in range(3):  # and the tag goes to the store query for a while
        assert_same_buckets(_ask(small), _truth(own))
    assert len(own.raw_reads) == reads
    clock.now += OVERSIZED_PAUSE_S
    _ask(small)
    _ask(small)
    assert len(own.raw_reads) == reads + 1


def test_requests_that_find_the_copy_old_together_read_once(tmp_path: Path) -> None:
    own = CountedStore(tmp_path / "ts.duckdb", delay_s=0.2)
    own.init_schema()
    _write(own, range(T0, T0 + HOUR_MS, 10_000))
    window = (T0, T0 + HOUR_MS, 60)
    recent = RecentHistory(own, max_age_s=5.0, budget_bytes=1 << 20)
    _ask(recent, window)  # asked once: the next within the age copies

    async def many() -> list[list[HistoryRow]]:
        return list(await asyncio.gather(*(in_request_thread(lambda: _ask(recent, window)) for _ in range(20))))

    try:
        found = asyncio.run(many())
        want = _truth(own, window)
    finally:
        own.close()
    for got in found:
        assert_same_buckets(got, want)
    assert len(own.raw_reads) == 1


# One step of the property below: (what, argument)
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("own"), st.integers(0, 1_000)),
        st.tuples(st.just("other"), st.integers(0, 1_000)),
        st.tuples(st.just("wait"), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0, 2.5])),
        st.tuples(st.just("get"), st.integers(0, 2)),
    ),
    max_size=25,
)
_WINDOWS = (WINDOW, (T0 + 5, T0 + 3 * HOUR_MS, 300), (T0 + HOUR_MS, T0 + 90 * 60_000, 7))


@settings(max_examples=30, deadline=None)
@given(steps=_STEPS)
def test_an_answer_is_what_the_store_held_within_the_age_and_after_this_process_last_wrote(
    steps: list[tuple[str, float]],
) -> None:
    """The buckets served are the store's at some moment less than ``max_age_s`` ago, and no
    earlier than this process's last write."""
    max_age = 1.0
    with tempfile.TemporaryDirectory() as tmp:
        own = DuckDBStore(Path(tmp) / "ts.duckdb")
        own.init_schema()
        other = DuckDBStore(Path(tmp) / "ts.duckdb")
        _write(other, range(T0, T0 + 2 * HOUR_MS, 60_000))
        clock = ManualClock()
        recent = RecentHistory(own, max_age_s=max_age, budget_bytes=1 << 20, clock=clock)
        # (clock, the store's answer for each window then): one entry per step
        held: list[tuple[float, tuple[list[HistoryRow], ...]]] = []
        own_write_at = -1
        ts = T0 + 2 * HOUR_MS
        try:
            truth = tuple(_truth(own, w) for w in _WINDOWS)
            for what, arg in steps:
                if what in ("own", "other"):
                    ts += 1_000
                    late = ts - 30 * 60_000 - int(arg)  # a late reading, inside every window's copy
                    _write(own if what == "own" else other, [ts, late], value=float(arg))
                    truth = tuple(_truth(own, w) for w in _WINDOWS)
                    if what == "own":
                        own_write_at = len(held)
                elif what == "wait":
                    clock.now += arg
                held.append((clock.now, truth))
                if what == "get":
                    i = int(arg)
                    served = _ask(recent, _WINDOWS[i])
                    allowed = [
                        answer[i]
                        for k, (at, answer) in enumerate(held)
                        if k >= own_write_at and clock.now - at < max_age
                    ]
                    assert any(_same(served, a) for a in allowed), (served[-3:], [a[-3:] for a in allowed])
        finally:
            other.close()
            own.close()


def _same(got: list[HistoryRow], want: list[HistoryRow]) -> bool:
    try:
        assert_same_buckets(got, want)
    except AssertionError:
        return False
    return True


def test_the_route_answers_from_the_copy_and_sees_its_own_writes(tmp_path: Path) -> None:
    """``GET /tags/{tag}/history`` through the app, the settings as configured."""
    settings_ = Settings(
        environment="test", data_dir=tmp_path, web_dist=tmp_path / "no-web", history_max_age_s=30, history_cache_mb=1
    )
    runtime = Runtime(settings=settings_, plant=load_plant(settings_.plant_file))
    store = CountedStore(tmp_path / "ts.duckdb")
    store.init_schema()
    runtime.store = store
    other = DuckDBStore(tmp_path / "ts.duckdb")
    _write(other, range(T0, T0 + 2 * HOUR_MS, 10_000))
    app = create_app(settings_, runtime=runtime, start_runtime=False)
    url = f"/api/v1/tags/{TAG}/history"
    params = {"start": WINDOW[0], "end": WINDOW[1], "points": WINDOW[2]}
    try:
        with TestClient(app) as c:
            r = c.post("/api/v1/auth/login", json={"username": "admin", "password": app.state.demo_admin_password})
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            first = c.get(url, params=params).json()
            assert first["tag"] == TAG
            assert first["unit"] == "MPa"
            assert (first["start"], first["end"]) == WINDOW[:2]
            want = [(p["ts"], p["min"], p["max"], p["avg"], p["last"], p["count"]) for p in first["points"]]
            assert want == _truth(store)
            for _ in range(10):
                again = c.get(url, params=params).json()
                got = [(p["ts"], p["min"], p["max"], p["avg"], p["last"], p["count"]) for p in again["points"]]
                assert_same_buckets(got, want)
            assert store.bucket_queries == 1
            assert len(store.raw_reads) == 1
            _write(other, [WINDOW[1] - 1], value=1e6)  # another process: not before 30 s
            assert c.get(url, params=params).json()["points"][-1]["max"] < 1e6
            _write(store, [WINDOW[1] - 2], value=2e6)  # this process: at once
            assert c.get(url, params=params).json()["points"][-1]["max"] == 2e6
            assert c.get(url, params={"start": 5, "end": 4}).status_code == 422
    finally:
        other.close()
        store.close()


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("HISTORY_MAX_AGE_S", "-1"),
        ("HISTORY_MAX_AGE_S", "61"),
        ("HISTORY_CACHE_MB", "lots"),
        ("HISTORY_CACHE_MB", "-5"),
    ],
)
def test_bad_settings_are_refused_at_start(name: str, bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"SAFETWIN_{name}", bad)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()
