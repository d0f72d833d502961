"""A worker's copy of every tag's latest reading (``api.latest_readings``) on a real DuckDB store.

What a user polling ``GET /tags/{tag}/latest`` must be able to rely on:

* what this process wrote is in the next answer (embedded mode: the flow writes the store the
  API reads);
* what another process wrote is in the answers at most ``max_age_s`` later;
* inside that window the answers cost no store query, and requests that find the copy old
  together send one query between them.

"Another process" is a second :class:`DuckDBStore` object on the same file: DuckDB lets one
process hold a file (two processes cannot both open it for writing), and the copy only knows
the writes of its own store object, which is what a separate process's writes look like to it.
The clock is a plain counter the test moves, so ages are exact rather than slept.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.app import create_app
from api.latest_readings import LatestReadings
from api.runtime import Runtime
from api.settings import Settings
from connectors.store.duckdb import DuckDBStore
from models.contracts import SensorReading
from tests.clocks import ManualClock
from twin.plant import load_plant

TAG = "PT-101"


class CountedStore(DuckDBStore):
    """A real DuckDB store that counts its ``latest`` queries (and can make them slow)."""

    def __init__(self, path: Path, delay_s: float = 0.0) -> None:
        super().__init__(path)
        self.queries = 0
        self.delay = threading.Event() if delay_s else None
        self.delay_s = delay_s
        self.after_read: list[SensorReading] = []
        """Written by this object right after the next query has read: a write racing the read."""

    def latest(self, tags: Sequence[str] | None = None) -> dict[str, SensorReading]:
        self.queries += 1
        if self.delay is not None:
            self.delay.wait(self.delay_s)
        found = super().latest(tags)
        if self.after_read:
            self.write_readings(self.after_read)
            self.after_read = []
        return found


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[CountedStore, DuckDBStore]]:
    """The API's store object and another one on the same file (another process's writes)."""
    own = CountedStore(tmp_path / "ts.duckdb")
    own.init_schema()
    other = DuckDBStore(tmp_path / "ts.duckdb")
    yield own, other
    other.close()
    own.close()


def _write(store: DuckDBStore, value: float, ts: int, tag: str = TAG) -> None:
    store.write_readings([SensorReading(tag=tag, ts=ts, value=value)])


def _value(latest: LatestReadings, tag: str = TAG) -> float | None:
    found = asyncio.run(latest.get(tag))
    return None if found is None else found.value


def test_this_process_writes_show_at_once(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, _ = stores
    latest = LatestReadings(own, max_age_s=60, clock=ManualClock())
    assert _value(latest) is None  # no reading yet: the route's 404
    _write(own, 1.0, 1_000)
    assert _value(latest) == 1.0
    _write(own, 2.0, 2_000)
    assert _value(latest) == 2.0  # 60 s window, but the write voided the copy


def test_a_write_during_the_read_is_not_hidden(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, _ = stores
    latest = LatestReadings(own, max_age_s=60, clock=ManualClock())
    _write(own, 1.0, 1_000)
    own.after_read = [SensorReading(tag=TAG, ts=2_000, value=2.0)]
    assert _value(latest) == 1.0  # what the read saw
    assert _value(latest) == 2.0  # the write committed after it voids the copy


def test_other_writes_show_within_the_age_and_the_window_sends_no_query(
    stores: tuple[CountedStore, DuckDBStore],
) -> None:
    own, other = stores
    clock = ManualClock()
    latest = LatestReadings(own, max_age_s=1.0, clock=clock)
    _write(other, 1.0, 1_000)
    _write(other, 5.0, 1_000, tag="TT-101")
    assert _value(latest) == 1.0
    assert own.queries == 1
    _write(other, 2.0, 2_000)
    for step in range(7):
        clock.now += 0.125  # up to 0.875 s after the read (binary fractions: exact sums)
        assert _value(latest) == 1.0, f"{step}: the copy is still fresh"
        assert _value(latest, "TT-101") == 5.0
    assert own.queries == 1, "answers inside the window must not query the store"
    clock.now += 0.125  # 1.0 s after the read: old
    assert _value(latest) == 2.0
    assert own.queries == 2
    assert asyncio.run(latest.get_all()).keys() == {TAG, "TT-101"}
    assert own.queries == 2


def test_age_zero_reads_the_store_every_time(stores: tuple[CountedStore, DuckDBStore]) -> None:
    own, other = stores
    latest = LatestReadings(own, max_age_s=0, clock=ManualClock())
    _write(other, 1.0, 1_000)
    assert _value(latest) == 1.0
    _write(other, 2.0, 2_000)
    assert _value(latest) == 2.0
    assert asyncio.run(latest.get_all())[TAG].value == 2.0
    assert own.queries == 3


def test_requests_that_find_the_copy_old_together_send_one_query(tmp_path: Path) -> None:
    own = CountedStore(tmp_path / "ts.duckdb", delay_s=0.2)
    own.init_schema()
    _write(own, 7.0, 1_000)
    latest = LatestReadings(own, max_age_s=5.0)

    async def many() -> list[SensorReading | None]:
        return list(await asyncio.gather(*(latest.get(TAG) for _ in range(20))))

    try:
        found = asyncio.run(many())
    finally:
        own.close()
    assert [r.value if r else None for r in found] == [7.0] * 20
    assert own.queries == 1


# One step of the property below: (what, value or seconds)
_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("own"), st.integers(0, 1_000)),
        st.tuples(st.just("other"), st.integers(0, 1_000)),
        st.tuples(st.just("wait"), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0, 2.5])),
        st.tuples(st.just("get"), st.just(0)),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(steps=_STEPS)
def test_an_answer_is_what_the_store_held_within_the_age_and_after_this_process_last_wrote(
    steps: list[tuple[str, float]],
) -> None:
    """The value served was the store's at some moment less than ``max_age_s`` ago, and no
    earlier than this process's last write."""
    max_age = 1.0
    with tempfile.TemporaryDirectory() as tmp:
        own = DuckDBStore(Path(tmp) / "ts.duckdb")
        own.init_schema()
        other = DuckDBStore(Path(tmp) / "ts.duckdb")
        clock = ManualClock()
        latest = LatestReadings(own, max_age_s=max_age, clock=clock)
        truth: float | None = None
        # (clock, value the store held then): one entry per step, so a value held at a read is listed
        held: list[tuple[float, float | None]] = []
        own_write_at = -1  # index into ``held`` of this process's last write
        ts = 0
        try:
            for what, arg in steps:
                if what in ("own", "other"):
                    ts += 1  # strictly newer, so it is the latest
                    _write(own if what == "own" else other, float(arg), ts)
                    truth = float(arg)
                    if what == "own":
                        own_write_at = len(held)
                elif what == "wait":
                    clock.now += arg
                held.append((clock.now, truth))
                if what == "get":
                    served = _value(latest)
                    allowed = {
                        value for i, (at, value) in enumerate(held) if i >= own_write_at and clock.now - at < max_age
                    }
                    assert served in allowed, (served, allowed, held)
        finally:
            other.close()
            own.close()


def test_the_route_answers_from_the_copy_and_sees_its_own_writes(tmp_path: Path) -> None:
    """``GET /tags/{tag}/latest`` and ``GET /tags`` through the app, the setting as configured."""
    settings_ = Settings(environment="test", data_dir=tmp_path, web_dist=tmp_path / "no-web", latest_max_age_s=30)
    runtime = Runtime(settings=settings_, plant=load_plant(settings_.plant_file))
    store = CountedStore(tmp_path / "ts.duckdb")
    store.init_schema()
    runtime.store = store
    other = DuckDBStore(tmp_path / "ts.duckdb")
    app = create_app(settings_, runtime=runtime, start_runtime=False)
    try:
        with TestClient(app) as c:
            r = c.post("/api/v1/auth/login", json={"username": "admin", "password": app.state.demo_admin_password})
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            assert c.get(f"/api/v1/tags/{TAG}/latest").status_code == 404
            _write(store, 3.5, 1_000)
            assert c.get(f"/api/v1/tags/{TAG}/latest").json()["value"] == 3.5
            _write(other, 4.5, 2_000)  # another process: not before 30 s
            assert c.get(f"/api/v1/tags/{TAG}/latest").json()["value"] == 3.5
            listed = {t["tag"]: t["latest"] for t in c.get("/api/v1/tags").json()}
            assert listed[TAG]["value"] == 3.5
            assert listed["TT-101"] is None
            queries = store.queries
            for _ in range(10):
                assert c.get(f"/api/v1/tags/{TAG}/latest").status_code == 200
            assert store.queries == queries
            _write(store, 5.5, 3_000)
            assert c.get(f"/api/v1/tags/{TAG}/latest").json()["value"] == 5.5
    finally:
        other.close()
        store.close()


@pytest.mark.parametrize("bad", ["-1", "61", "soon"])
def test_a_bad_age_is_refused_at_start(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFETWIN_LATEST_MAX_AGE_S", bad)
    with pytest.raises(ValidationError, match="latest_max_age_s"):
        Settings()
