"""Pure steps of the sensor flow: parse (bad input), judge (parity), the source watchdog."""

from __future__ import annotations

import json

from bytewax.testing import TestingSink, TestingSource, run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.batches import AlarmBatch, ReadingBatch
from models.alarm_engine import TagAlarmConfig, process
from models.contracts import ALARM_EVENT, AlarmState, DeadLetter, Quality, SensorReading, decode_message, encode, now_ms
from models.limits import TagLimits, TagState, quality_of
from pipelines.sensors.flow import build_flow
from pipelines.sensors.steps import COMM, FlowPlan, IngestRules, judge, parse, shard, watch_sources

SPECS = {
    "TT-401": TagLimits(tag="TT-401", lo=0, hi=200, h=85, hh=95, flatline_count=4, stale_after_ms=5_000),
    "PT-101": TagLimits(tag="PT-101", lo=0, hi=2.5, l=0.2, h=1.6, hh=1.75, flatline_count=3, stale_after_ms=2_000),
}
PLAN = FlowPlan.build(SPECS, rules=IngestRules(max_payload_bytes=64 * 1024))
NOW = now_ms()
GOOD = encode(SensorReading(tag="TT-401", ts=NOW, value=70.0))


def good_json(ts: int = NOW, value: float = 70.0) -> bytes:
    return encode(SensorReading(tag="TT-401", ts=ts, value=value))


# -- bad input: every case of issue 7 is a dead letter with a reason, the rest of the batch lives --


def test_invalid_utf8_inside_a_json_string_is_a_dead_letter():
    batch = parse(PLAN, NOW, b'{"tag": "TT-4\xff\xfe01", "ts": 1, "value": 1.0}')
    assert len(batch) == 0 and len(batch.dead) == 1 and batch.dead[0].reason


def test_200000_nested_brackets_are_a_dead_letter():
    batch = parse(PLAN, NOW, b"[" * 200_000)
    assert len(batch) == 0 and len(batch.dead) == 1 and batch.dead[0].reason


def test_a_timestamp_beyond_int64_is_refused_and_the_good_rows_of_its_array_are_kept():
    payload = b'[{"tag":"TT-401","ts":18446744073709551616,"value":1.0},' + good_json() + b"]"
    batch = parse(PLAN, NOW, payload)
    assert len(batch) == 1 and int(batch.cols.ts[0]) == NOW
    assert len(batch.dead) == 1 and "future" in batch.dead[0].reason


def test_a_reading_dated_2100_is_refused_so_it_cannot_freeze_the_tag():
    batch = parse(PLAN, NOW, good_json(ts=4_102_444_800_000))
    assert len(batch) == 0 and "in the future" in batch.dead[0].reason


def test_a_reading_in_seconds_not_ms_is_refused():
    batch = parse(PLAN, NOW, good_json(ts=NOW // 1000))
    assert len(batch) == 0 and "before 2000" in batch.dead[0].reason


def test_an_oversized_payload_keeps_only_its_head_and_says_how_big_it_was():
    payload = b"[" + b",".join([good_json()] * 2_000) + b"]"
    assert len(payload) > 64 * 1024
    batch = parse(PLAN, NOW, payload)
    assert len(batch) == 0 and len(batch.dead) == 1
    assert len(batch.dead[0].raw) <= 1024 and f"{len(payload):,} bytes" in batch.dead[0].reason


def test_bad_elements_of_an_array_are_dead_letters_and_the_good_ones_are_kept():
    payload = b'[{"tag":"TT-401","ts":1,"value":"hot"},{"tag":"NOPE","ts":%d,"value":1},%s,{"tag":"TT-401"}]' % (
        NOW,
        good_json(),
    )
    batch = parse(PLAN, NOW, payload)
    assert len(batch) == 1
    reasons = [d.reason for d in batch.dead]
    assert len(reasons) == 3 and any("unknown tag 'NOPE'" in r for r in reasons)
    assert all(json.loads(d.raw) for d in batch.dead)  # each dead letter holds its own element


def test_arrow_and_polars_tables_are_parsed_and_unknown_tags_and_qualities_dead_lettered():
    import polars as pl
    import pyarrow as pa

    table = pa.table(
        {
            "tag": ["TT-401", "NOPE", "PT-101", "PT-101"],
            "ts": [NOW, NOW, NOW, NOW + 1],
            "value": [95.0, 1.0, 1.0, 1.1],
            "quality": ["good", "good", "bad", "excellent"],
        }
    )
    for source in (table, pl.from_arrow(table).to_arrow()):
        batch = parse(PLAN, NOW, source)
        assert [PLAN.compiled.tags[i] for i in batch.cols.tag.tolist()] == ["TT-401", "PT-101"]
        reasons = sorted(d.reason for d in batch.dead)
        assert reasons == ["unknown quality 'excellent'", "unknown tag 'NOPE'"]


def test_a_json_scan_and_the_same_contract_structs_give_the_same_columns():
    readings = [
        SensorReading(tag="TT-401", ts=NOW, value=95.0),
        SensorReading(tag="PT-101", ts=NOW, value=1.0, quality=Quality.STALE, source="opcua"),
        SensorReading(tag="PT-101", ts=NOW + 1, value=-3.5, quality=Quality.BAD),
    ]
    fast = parse(PLAN, NOW, encode(readings))  # type: ignore[arg-type]
    slow = parse(PLAN, NOW, readings)
    for name in ("tag", "ts", "value", "quality"):
        assert getattr(fast.cols, name).tolist() == getattr(slow.cols, name).tolist()
    assert fast.source.to_pylist() == slow.source.to_pylist() == ["", "opcua", ""]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300) | st.integers() | st.none() | st.lists(st.binary(max_size=40)))
def test_parse_never_raises(item):
    batch = parse(PLAN, NOW, item)
    assert len(batch) + len(batch.dead) >= 0


def test_after_every_bad_input_the_flow_still_runs_and_stores_the_next_good_reading():
    bad = [
        b'{"tag": "TT-4\xff01", "ts": 1, "value": 1.0}',
        b"[" * 200_000,
        b'{"tag":"TT-401","ts":18446744073709551616,"value":1.0}',
        good_json(ts=4_102_444_800_000),
        b"x" * (10 * 1024 * 1024),
        object(),
    ]
    items = []
    for i, b in enumerate(bad):
        items += [b, good_json(ts=NOW - 10_000 + i * 1_000, value=60.0 + i)]
    out: list = []
    run_main(build_flow(PLAN, TestingSource(items), [TestingSink(out)], clock=None))
    stored = [r for m in out if isinstance(m, ReadingBatch) for r in m.readings()]
    dead = [d for m in out if isinstance(m, ReadingBatch) for d in m.dead]
    assert [r.value for r in stored] == [60.0 + i for i in range(len(bad))]
    assert len(dead) == len(bad) and all(d.reason for d in dead)
    assert max(len(d.raw) for d in dead) <= 1024 * 4  # the 10 MB payload is not stored verbatim


# -- judge: the batch verdict equals the per-reading path, reading for reading ------------------


def per_reading(rows, now):
    """The per-reading path of the old flow: quality_of, then the engine, one reading at a time."""
    qstate: dict[str, TagState] = {}
    astate: dict = {}
    qualities, events = [], []
    configs = {t: TagAlarmConfig.from_tag_limits(s) for t, s in SPECS.items()}
    for tag, ts, value, quality in rows:
        r = SensorReading(tag=tag, ts=ts, value=value, quality=quality)
        q = qstate.get(tag, TagState())
        if q.last_ts and ts <= q.last_ts:
            qualities.append(quality if ts == q.last_ts else Quality.STALE)
            continue
        verdict = quality_of(q, r, SPECS[tag], now)
        repeats = q.repeats + 1 if q.last_value == value else 0
        qstate[tag] = TagState(last_ts=ts, last_value=value, repeats=repeats)
        flagged = SensorReading(tag=tag, ts=ts, value=value, quality=verdict)
        astate[tag], es = process(astate.get(tag), flagged, configs[tag])
        qualities.append(verdict)
        events += es
    return qualities, events


rows = st.lists(
    st.tuples(
        st.sampled_from(list(SPECS)),
        st.integers(0, 30),
        st.sampled_from([0.1, 1.0, 1.7, 1.8, 90.0, 96.0, 250.0, 50.0]),
        st.sampled_from([Quality.GOOD, Quality.GOOD, Quality.GOOD, Quality.BAD, Quality.UNCERTAIN]),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(rows, max_size=5), lag=st.integers(0, 40_000))
def test_judge_gives_the_qualities_and_events_of_the_per_reading_path(batches, lag):
    t0 = 1_767_225_600_000
    now = t0 + lag
    state = None
    flat_rows, got_q, got_e = [], [], []
    for b, batch_rows in enumerate(batches):
        rows_ = [(tag, t0 + (b * 10 + s) * 1000, v, q) for tag, s, v, q in batch_rows]
        flat_rows += rows_
        payload = [SensorReading(tag=t, ts=ts, value=v, quality=q) for t, ts, v, q in rows_]
        sb = parse(PLAN, now, payload)
        assert not sb.dead
        state, judged = judge(PLAN, now, state, sb)
        got_q += [Quality(q) for q in judged.readings.table["quality"].to_pylist()]
        got_e += judged.events
    want_q, want_e = per_reading(flat_rows, now)
    assert got_q == want_q
    assert got_e == want_e


def test_shard_keeps_dead_letters_and_every_row():
    plan = FlowPlan.build(SPECS, shards=4)
    payload = [SensorReading(tag=t, ts=NOW, value=1.0) for t in SPECS] + [b"junk"]
    pieces = shard(plan, parse(plan, NOW, payload))
    assert sum(len(b) for _, b in pieces) == 2 and sum(len(b.dead) for _, b in pieces) == 1
    assert all(key == b.shard == plan.shard_key(plan.compiled.tags[int(b.cols.tag[0])]) for key, b in pieces)


# -- source watchdog ------------------------------------------------------------------------


def test_a_silent_source_raises_one_comm_failure_and_returns_when_data_flows():
    state, events = watch_sources(5_000, None, {"opcua": 1_000, "modbus": 1_000}, 2_000)
    assert events == []
    state, events = watch_sources(5_000, state, {"modbus": 6_000}, 7_000)
    assert [(e.alarm_id, e.kind, e.state, e.source_kind) for e in events] == [
        ("opcua:COMM", COMM, AlarmState.ACTIVE, "source")
    ]
    assert "通讯故障" in events[0].message
    assert decode_message(ALARM_EVENT, encode(events[0])) == events[0]  # travels over Kafka as a contract message
    state, events = watch_sources(5_000, state, {}, 9_000)
    assert events == []  # once per outage, not once per tick
    state, events = watch_sources(5_000, state, {"opcua": 9_500}, 9_500)
    assert [(e.alarm_id, e.state) for e in events] == [("opcua:COMM", AlarmState.RETURNED)]


def test_the_flow_raises_comm_failure_when_its_source_falls_silent():
    from datetime import timedelta

    items = [good_json(ts=now_ms()), TestingSource.PAUSE(timedelta(seconds=2.5)), good_json(ts=now_ms() + 2_600)]
    out: list = []
    run_main(build_flow(PLAN, TestingSource(items), [TestingSink(out)], clock=None, watch_sources_ms=1_000))
    comm = [(e.kind, e.state) for m in out if isinstance(m, AlarmBatch) for e in m.annunciated if e.kind == COMM]
    assert comm == [(COMM, AlarmState.ACTIVE), (COMM, AlarmState.RETURNED)]


def test_dead_letters_are_contract_dead_letters():
    batch = parse(PLAN, NOW, b"garbage")
    assert isinstance(batch.dead[0], DeadLetter) and batch.dead[0].stream == "sensor.reading"
