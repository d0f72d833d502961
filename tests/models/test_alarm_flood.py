import pickle
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.alarm_flood import DEFAULT_POSITION, FLOOD, FloodConfig, FloodState, step, tick
from models.contracts import AlarmEvent, AlarmPriority, AlarmState

T0 = 1_750_000_000_000
MIN = 60_000
POSITIONS = {"TT-101": "tank_farm", "PT-102": "tank_farm", "LT-103": "tank_farm", "GT-201": "unit"}


def alarm(tag, ts, *, state=AlarmState.ACTIVE, priority=AlarmPriority.MEDIUM, kind="H"):
    return AlarmEvent(
        alarm_id=f"{tag}:{kind}",
        source_kind="tag",
        source_id=tag,
        kind=kind,
        priority=priority,
        state=state,
        ts=ts,
    )


def summaries(out):
    return [e for e in out.annunciated if e.kind == FLOOD]


def test_eleven_alarms_in_ten_minutes_give_one_summary_naming_the_top_tags():
    events = [alarm(["TT-101", "PT-102", "TT-101"][i % 3], T0 + i * 50_000) for i in range(11)]
    state, out = step(FloodState(), events, POSITIONS)
    (summary,) = summaries(out)
    assert (summary.alarm_id, summary.source_kind, summary.source_id, summary.state) == (
        "FLOOD:tank_farm",
        "asset",
        "tank_farm",
        AlarmState.ACTIVE,
    )
    assert summary.value == 11 and "11 条报警" in summary.message and "TT-101×" in summary.message
    assert summary.ts == events[-1].ts
    assert state.flooding() == {"tank_farm"}
    # the first ten were annunciated; the eleventh (medium) is recorded only
    assert out.recorded_only == [events[-1]]


def test_ten_alarms_are_not_a_flood_nor_eleven_spread_over_more_than_ten_minutes():
    _, out = step(FloodState(), [alarm("TT-101", T0 + i * 1000) for i in range(10)], POSITIONS)
    assert summaries(out) == [] and out.recorded_only == []
    _, out = step(FloodState(), [alarm("TT-101", T0 + i * 61_000) for i in range(30)], POSITIONS)
    assert summaries(out) == []


def test_positions_flood_separately():
    events = [alarm(tag, T0 + i) for i in range(6) for tag in ("TT-101", "GT-201")]
    _, out = step(FloodState(), events, POSITIONS)
    assert summaries(out) == []


def test_during_a_flood_urgent_alarms_still_annunciate_and_low_ones_are_only_recorded():
    state, _ = step(FloodState(), [alarm("TT-101", T0 + i) for i in range(11)], POSITIONS)
    gas_hh = alarm("GT-201", T0 + 20, priority=AlarmPriority.CRITICAL, kind="HH")
    tank_hh = alarm("LT-103", T0 + 21, priority=AlarmPriority.HIGH, kind="HH")
    tank_l = alarm("LT-103", T0 + 22, priority=AlarmPriority.LOW, kind="L")
    tank_return = alarm("TT-101", T0 + 23, state=AlarmState.RETURNED)
    state, out = step(state, [gas_hh, tank_hh, tank_l, tank_return], POSITIONS)
    assert out.annunciated == [gas_hh, tank_hh]
    assert out.recorded_only == [tank_l, tank_return]
    assert summaries(out) == []  # still the one flood


def test_the_flood_ends_with_a_returned_summary_once_alarms_stop():
    state, _ = step(FloodState(), [alarm("TT-101", T0 + i * 1000) for i in range(15)], POSITIONS)
    state, out = tick(state, T0 + 5 * MIN)
    assert out.annunciated == [] and state.flooding() == {"tank_farm"}
    state, out = tick(state, T0 + 11 * MIN)
    (end,) = out.annunciated
    assert (end.alarm_id, end.state, end.ts) == ("FLOOD:tank_farm", AlarmState.RETURNED, T0 + 11 * MIN)
    assert "泛滥期间 5 条报警" in end.message and "其中 5 条仅记录" in end.message
    assert state.flooding() == frozenset() and state.positions == {}
    # after the flood, alarms annunciate again
    _, out = step(state, [alarm("TT-101", T0 + 12 * MIN)], POSITIONS)
    assert out.recorded_only == [] and len(out.annunciated) == 1


def test_unmapped_sources_go_to_the_default_position():
    _, out = step(FloodState(), [alarm("XX-9", T0 + i) for i in range(11)], POSITIONS)
    assert [s.source_id for s in summaries(out)] == [DEFAULT_POSITION]


def test_bad_flood_rules_are_refused():
    with pytest.raises(ValueError, match="end_below"):
        FloodConfig(threshold=10, end_below=11)


# -- properties --------------------------------------------------------------------------------

event_lists = st.lists(
    st.builds(
        alarm,
        st.sampled_from([*POSITIONS, "XX-9"]),
        st.integers(T0, T0 + 30 * MIN),
        state=st.sampled_from(AlarmState),
        priority=st.sampled_from(AlarmPriority),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(11, 40),
    offsets=st.lists(st.integers(0, 10 * MIN - 1), min_size=40, max_size=40),
    priorities=st.lists(st.sampled_from(AlarmPriority), min_size=40, max_size=40),
)
def test_any_burst_over_ten_in_ten_minutes_gives_exactly_one_summary(n, offsets, priorities):
    events = [alarm("TT-101", T0 + off, priority=p) for off, p in zip(sorted(offsets[:n]), priorities[:n], strict=True)]
    _, out = step(FloodState(), events, POSITIONS)
    assert len(summaries(out)) == 1


@settings(max_examples=150, deadline=None)
@given(events=event_lists, cut=st.integers(0, 80))
def test_no_event_is_ever_lost_and_splitting_the_stream_changes_nothing(events, cut):
    state, out = step(FloodState(), events, POSITIONS)
    passed = [e for e in out.annunciated if e.kind != FLOOD]
    assert Counter(map(pickle.dumps, passed + out.recorded_only)) == Counter(map(pickle.dumps, events))
    # each list keeps the engine's order
    ids = {id(e) for e in passed}
    assert passed == [e for e in events if id(e) in ids]
    # flood summaries strictly alternate active/returned per position
    last = {}
    for s in summaries(out):
        assert last.get(s.alarm_id, AlarmState.RETURNED) != s.state
        last[s.alarm_id] = s.state
    # recovery: a pickled snapshot after any prefix continues identically
    mid, first = step(FloodState(), events[:cut], POSITIONS)
    end, rest = step(pickle.loads(pickle.dumps(mid)), events[cut:], POSITIONS)
    assert first.annunciated + rest.annunciated == out.annunciated
    assert first.recorded_only + rest.recorded_only == out.recorded_only
    assert end == state
