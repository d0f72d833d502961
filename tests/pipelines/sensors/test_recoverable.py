"""The recoverable sensor flow across in-process crashes (``TestingSource.ABORT``), no Kafka.

``ABORT`` stops the worker the way a crash does: nothing after the last snapshot survives, and
the next run resumes from the recovery store. Each "restart" builds a fresh store object on
the same DuckDB file, as a new process would.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, run_main

from connectors.store.duckdb import DuckDBStore
from models.contracts import AlarmEvent, SensorReading, encode
from models.limits import TagLimits
from pipelines.sensors.recoverable import (
    AuditedStoreSink,
    MapperFactory,
    alarm_engine_mapper,
    build_recoverable_flow,
    dump_specs,
    event_time_limits_mapper,
    load_specs,
    read_audit,
    resolve_mapper_factory,
)

SPECS = {f"PT-{i}": TagLimits(tag=f"PT-{i}", lo=0, hi=100, ll=5, l=10, h=80, hh=90) for i in range(8)}


def _recovery(tmp_path: Path) -> RecoveryConfig:
    db = tmp_path / "recovery"
    db.mkdir()
    init_db_dir(db, 1)
    return RecoveryConfig(str(db), backup_interval=timedelta(0))


def _events(store: DuckDBStore) -> list[tuple[Any, ...]]:
    return sorted((a.alarm_id, a.ts, a.state.value, a.kind, a.value) for a in store.alarm_events(limit=1_000_000))


def _run_to_end(
    items: list[Any], db: Path, recovery: RecoveryConfig, audit: Path | None, factory: MapperFactory
) -> int:
    """One run per abort plus the last one that reaches the end; returns the run count."""
    source = TestingSource(items, batch_size=20)
    runs = sum(isinstance(i, TestingSource.ABORT) for i in items) + 1
    for _ in range(runs):
        store = DuckDBStore(db)  # a restarted process opens the file afresh
        store.init_schema()
        flow = build_recoverable_flow(SPECS, source, [AuditedStoreSink(store, audit)], mapper_factory=factory)
        run_main(flow, epoch_interval=timedelta(0), recovery_config=recovery)
    assert all(i._triggered for i in items if isinstance(i, TestingSource.ABORT))
    return runs


def test_active_alarm_returns_after_a_crash_because_the_state_was_restored(tmp_path):
    items: list[Any] = [
        SensorReading(tag="PT-1", ts=1_000, value=50.0),
        SensorReading(tag="PT-1", ts=2_000, value=95.0),  # H and HH raised
        SensorReading(tag="PT-1", ts=3_000, value=96.0),
        TestingSource.ABORT(),
        SensorReading(tag="PT-1", ts=4_000, value=50.0),  # both return: only if state survived
    ]
    recovery = _recovery(tmp_path)
    source = TestingSource(items)
    first: list[Any] = []
    run_main(
        build_recoverable_flow(SPECS, source, [TestingSink(first)]),
        epoch_interval=timedelta(0),
        recovery_config=recovery,
    )
    assert SensorReading(tag="PT-1", ts=4_000, value=50.0) not in first  # the crash came first
    second: list[Any] = []
    run_main(
        build_recoverable_flow(SPECS, source, [TestingSink(second)]),
        epoch_interval=timedelta(0),
        recovery_config=recovery,
    )
    returned = [(a.kind, a.state.value, a.ts) for a in second if isinstance(a, AlarmEvent) and a.ts == 4_000]
    assert sorted(returned) == [("H", "returned", 4_000), ("HH", "returned", 4_000)]
    # No alarm was raised a second time: the replay (if any) saw the restored active state.
    raised = [a for a in first + second if isinstance(a, AlarmEvent) and a.state.value == "active"]
    assert {(a.kind, a.ts) for a in raised} == {("H", 2_000), ("HH", 2_000)}


@pytest.mark.parametrize(
    ("seed", "factory"), [(1, event_time_limits_mapper), (2, event_time_limits_mapper), (3, alarm_engine_mapper)]
)
def test_store_after_several_crashes_equals_an_uninterrupted_run(tmp_path, seed, factory):
    rng = random.Random(seed)
    readings: list[Any] = []
    values = {tag: 50.0 for tag in SPECS}
    for step in range(25):
        for tag in SPECS:
            values[tag] = min(100.0, max(0.0, values[tag] + rng.uniform(-15, 15)))
            readings.append(encode(SensorReading(tag=tag, ts=1_000 * (step + 1), value=round(values[tag], 1))))
    readings.insert(37, b"not json")  # a dead letter survives the crashes too
    items: list[Any] = list(readings)
    for pos in sorted(rng.sample(range(1, len(readings)), 4), reverse=True):
        items.insert(pos, TestingSource.ABORT())

    crashed_db, audit = tmp_path / "crashed.duckdb", tmp_path / "audit.log"
    runs = _run_to_end(items, crashed_db, _recovery(tmp_path), audit, factory)
    reference_db = tmp_path / "reference.duckdb"
    ref = DuckDBStore(reference_db)
    ref.init_schema()
    source = TestingSource(readings, batch_size=20)
    run_main(build_recoverable_flow(SPECS, source, [AuditedStoreSink(ref)], mapper_factory=factory))

    crashed, ref = DuckDBStore(crashed_db), DuckDBStore(reference_db)
    try:
        assert runs == 5
        assert crashed.count_readings() == ref.count_readings() == len(SPECS) * 25
        assert _events(crashed) == _events(ref)
        assert len(_events(ref)) > 10  # the walk does cross limits
        assert [d.raw for d in crashed.deadletters()] == ["not json"]
        offered, _ = read_audit(audit)
        assert offered >= len(SPECS) * 25  # replays may re-offer; the store keeps one of each
    finally:
        crashed.close()
        ref.close()


def test_a_plugged_in_mapper_keeps_its_state_across_a_crash(tmp_path):
    """Any per-tag engine gets the same guarantee: here a counter of readings per tag."""

    def counting(specs: Any) -> Any:
        def mapper(state: int | None, reading: SensorReading) -> tuple[int, list[Any]]:
            n = (state or 0) + 1
            return n, [(reading.ts, n)]

        return mapper

    items: list[Any] = [SensorReading(tag="PT-2", ts=t, value=1.0) for t in range(1, 6)]
    items.insert(3, TestingSource.ABORT())
    source, recovery, out = TestingSource(items), _recovery(tmp_path), []
    for _ in range(2):
        flow = build_recoverable_flow(SPECS, source, [TestingSink(out)], mapper_factory=counting)
        run_main(flow, epoch_interval=timedelta(0), recovery_config=recovery)
    assert sorted(set(out)) == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]


def test_event_time_mapper_flags_quality_without_the_wall_clock():
    mapper = event_time_limits_mapper({"PT-1": TagLimits(tag="PT-1", lo=0, hi=10, h=8)})
    # A reading from long ago is judged at its own time: not stale, alarm raised as usual.
    state, out = mapper(None, SensorReading(tag="PT-1", ts=1, value=9.0))
    assert [type(m).__name__ for m in out] == ["SensorReading", "AlarmEvent"]
    assert out[0].quality == "good"
    _, out = mapper(state, SensorReading(tag="PT-1", ts=2, value=11.0))
    assert out == [SensorReading(tag="PT-1", ts=2, value=11.0, quality="out_of_range")]


def test_specs_round_trip_and_bad_files_are_refused(tmp_path):
    path = tmp_path / "tags.json"
    path.write_bytes(dump_specs(SPECS))
    assert load_specs(path) == SPECS
    path.write_bytes(b'{"tag": "x"}')
    with pytest.raises(ValueError, match="not a JSON list of tag limits"):
        load_specs(path)
    path.write_bytes(dump_specs([SPECS["PT-1"], SPECS["PT-1"]]))
    with pytest.raises(ValueError, match="more than once"):
        load_specs(path)


def test_mapper_reference_is_resolved_or_refused():
    assert resolve_mapper_factory("pipelines.sensors.recoverable:event_time_limits_mapper") is event_time_limits_mapper
    with pytest.raises(ValueError, match="package.module:attribute"):
        resolve_mapper_factory("no_colon")
    with pytest.raises(ValueError, match="does not name a callable"):
        resolve_mapper_factory("pipelines.sensors.recoverable:NOPE")
