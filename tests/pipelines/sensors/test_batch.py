from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.alarm_engine import LimitAlarm, TagAlarmConfig, process
from models.contracts import AlarmPriority, Quality, SensorReading
from pipelines.sensors import batch
from pipelines.sensors.batch import (
    QUALITY_CODE,
    BatchState,
    CompiledConfigs,
    ReadingColumns,
    process_batch,
    quality_names,
)

T0 = 1_750_000_000_000


def make_configs(n):
    """A mix like a plant: plain limits, delays, ROC, deviation, no BAD alarm."""
    out = []
    for i in range(n):
        out.append(
            TagAlarmConfig(
                tag=f"TT-{i:03d}",
                lo=0.0,
                hi=100.0,
                limits=(
                    LimitAlarm("HH", 90.0, AlarmPriority.HIGH),
                    LimitAlarm("H", 80.0),
                    LimitAlarm("L", 20.0),
                    LimitAlarm("LL", 10.0, AlarmPriority.HIGH),
                )[: 1 + i % 4],
                deadband=[0.0, 1.0, 2.5][i % 3],
                on_delay_ms=[0, 0, 2000, 5000][i % 4],
                off_delay_ms=[0, 1500][i % 2],
                roc_limit_per_min=[None, 120.0, 600.0][i % 3],
                deviation=(50.0, 35.0) if i % 5 == 0 else None,
                bad_quality_alarm=i % 7 != 0,
            )
        )
    return out


CONFIGS = make_configs(12)
COMPILED = CompiledConfigs.build(CONFIGS)
BY_TAG = {c.tag: c for c in CONFIGS}


def row_by_row(states, rows):
    """The per-reading path: quality verdict (range) first, then the engine."""
    events = []
    for tag, ts, value, quality in rows:
        if tag not in BY_TAG:
            continue
        cfg = BY_TAG[tag]
        if quality == Quality.GOOD and not cfg.lo <= value <= cfg.hi:
            quality = Quality.OUT_OF_RANGE
        states[tag], es = process(
            states.get(tag), SensorReading(tag=tag, ts=ts, value=value, quality=quality), BY_TAG[tag]
        )
        events += es
    return events


def run_batched(state, rows, compiled=COMPILED):
    cols = ReadingColumns.from_lists(
        compiled, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3].value for r in rows]
    )
    return process_batch(state, cols, compiled)


values = st.integers(0, 100).map(float) | st.floats(-10, 110) | st.sampled_from([80.0, 90.0, 20.0, 10.0, 1e300])
row = st.tuples(
    st.sampled_from([*BY_TAG, "UNKNOWN-1"]),
    st.integers(0, 20),
    values,
    st.just(Quality.GOOD) | st.just(Quality.GOOD) | st.sampled_from(Quality),
)


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(st.lists(row, max_size=60), max_size=6), vector_from=st.sampled_from([1, 2, 32]))
def test_the_fast_path_gives_exactly_the_events_of_row_by_row_processing(batches, vector_from):
    # second-granular times with jitter: duplicates, out-of-order rows and bursts all occur
    batches = [[(tag, T0 + sec * 1000 + b * 7000, v, q) for tag, sec, v, q in rows] for b, rows in enumerate(batches)]
    states: dict = {}
    state = BatchState.fresh(COMPILED)
    with mock.patch.object(batch, "MIN_VECTOR_ROUND", vector_from):
        for rows in batches:
            before = state.to_states(COMPILED)
            result = run_batched(state, rows)
            assert result.events == row_by_row(states, rows)
            assert result.state.to_states(COMPILED) == states
            assert state.to_states(COMPILED) == before  # the input state is untouched
            assert [rows[i][0] for i in result.unknown_rows] == ["UNKNOWN-1"] * len(result.unknown_rows)
            state = result.state


def test_a_plant_sized_batch_matches_and_only_a_few_rows_need_the_engine():
    configs = make_configs(2000)
    compiled = CompiledConfigs.build(configs)
    by_tag = {c.tag: c for c in configs}
    rng = np.random.default_rng(7)
    state, states, events_fast, events_slow, candidates = BatchState.fresh(compiled), {}, [], [], 0
    for second in range(5):
        value = rng.normal(50, 0.5, len(configs))
        value[rng.random(len(configs)) < 0.01] = 95.0  # ~1 % crossing HH
        quality = np.where(rng.random(len(configs)) < 0.002, "bad", "good")
        order = rng.permutation(len(configs))
        tags = [compiled.tags[i] for i in order]
        ts = np.full(len(configs), T0 + second * 1000, dtype=np.int64)
        cols = ReadingColumns.from_lists(compiled, tags, ts, value[order], list(quality[order]))
        result = process_batch(state, cols, compiled)
        state, candidates = result.state, candidates + result.candidates
        events_fast += result.events
        for tag, v, q in zip(tags, value[order], quality[order], strict=True):
            states[tag], es = process(
                states.get(tag), SensorReading(tag=tag, ts=T0 + second * 1000, value=float(v), quality=q), by_tag[tag]
            )
            events_slow += es
    assert events_fast == events_slow and len(events_fast) > 50
    assert state.to_states(compiled) == states
    assert candidates < 0.05 * 5 * len(configs)


def test_the_quality_verdict_flags_good_values_outside_the_range_for_the_store():
    cols = ReadingColumns.from_lists(
        COMPILED,
        ["TT-000", "TT-001", "TT-002", "NOPE"],
        [T0] * 4,
        [150.0, 50.0, -1.0, 1e9],
        ["good", "good", "stale", "good"],
    )
    codes = process_batch(BatchState.fresh(COMPILED), cols, COMPILED).quality
    assert quality_names(codes).to_pylist() == ["out_of_range", "good", "stale", "good"]
    assert codes.dtype == np.int8 and QUALITY_CODE["out_of_range"] == codes[0]


def test_state_round_trips_through_per_tag_states():
    result = run_batched(
        BatchState.fresh(COMPILED), [("TT-000", T0, 95.0, Quality.GOOD), ("TT-003", T0, 5.0, Quality.BAD)]
    )
    states = result.state.to_states(COMPILED)
    again = BatchState.from_states(COMPILED, states)
    assert again.to_states(COMPILED) == states
    assert again.busy.tolist() == result.state.busy.tolist()
