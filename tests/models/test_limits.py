from hypothesis import given
from hypothesis import strategies as st

from models.contracts import AlarmState, Quality, SensorReading
from models.limits import TagLimits, TagState, evaluate

SPEC = TagLimits(tag="PT-101", lo=0.0, hi=2.5, ll=0.1, l=0.2, h=1.6, hh=1.75, name="1#球罐压力", unit="MPa")


def run(values, spec=SPEC, start=1_000):
    state, out = None, []
    for i, v in enumerate(values):
        ts = start + i * 1000
        state, q, events = evaluate(state, SensorReading(tag=spec.tag, ts=ts, value=v), spec, now_ms=ts)
        out.append((q, [(e.kind, e.state.value) for e in events]))
    return state, out


def test_rising_value_raises_h_then_hh_and_returns_with_deadband():
    _, out = run([1.0, 1.65, 1.8, 1.74, 1.70, 1.5, 1.58, 1.55])
    events = [e for _, es in out for e in es]
    assert events == [("H", "active"), ("HH", "active"), ("HH", "returned"), ("H", "returned")]
    # 1.74 is inside HH's deadband (0.025): HH stays active until 1.70
    assert out[3][1] == [] and out[4][1] == [("HH", "returned")]


def test_low_limits_and_messages_are_chinese():
    state, q, events = evaluate(None, SensorReading(tag="PT-101", ts=5, value=0.05), SPEC, now_ms=5)
    assert {e.kind for e in events} == {"L", "LL"}
    assert all("低" in e.message and "MPa" in e.message for e in events)
    assert state.active == frozenset({"L", "LL"})


def test_quality_flags():
    _, q, _ = evaluate(None, SensorReading(tag="PT-101", ts=1, value=9.0), SPEC, now_ms=1)
    assert q == Quality.OUT_OF_RANGE
    _, q, _ = evaluate(None, SensorReading(tag="PT-101", ts=1, value=1.0), SPEC, now_ms=1 + 61_000)
    assert q == Quality.STALE
    _, out = run([1.0] * 31)
    assert out[28][0] == Quality.GOOD and out[29][0] == Quality.FLATLINE


def test_bad_quality_never_returns_an_alarm():
    state, _, _ = evaluate(None, SensorReading(tag="PT-101", ts=1, value=2.0), SPEC, now_ms=1)
    state, q, events = evaluate(
        state, SensorReading(tag="PT-101", ts=2, value=1.0, quality=Quality.BAD), SPEC, now_ms=2
    )
    assert q == Quality.BAD and events == [] and "HH" in state.active


def test_replayed_reading_raises_nothing_twice():
    r = SensorReading(tag="PT-101", ts=10, value=2.0)
    state, _, first = evaluate(None, r, SPEC, now_ms=10)
    state2, _, again = evaluate(state, r, SPEC, now_ms=10)
    assert len(first) == 2 and again == [] and state2 == state


@given(st.lists(st.floats(min_value=0.0, max_value=2.5), min_size=1, max_size=60))
def test_active_set_always_matches_alarm_history(values):
    state, out = run(values)
    active: set[str] = set()
    for _, events in out:
        for kind, s in events:
            assert (kind in active) == (s == AlarmState.RETURNED.value)  # alternate strictly
            (active.add if s == "active" else active.discard)(kind)
    assert frozenset(active) == state.active


@given(st.floats(min_value=0.2, max_value=1.6, exclude_min=True, exclude_max=True))
def test_value_inside_limits_from_fresh_state_raises_nothing(v):
    _, q, events = evaluate(TagState(), SensorReading(tag="PT-101", ts=1, value=v), SPEC, now_ms=1)
    assert q == Quality.GOOD and events == []
