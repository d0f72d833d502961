import pickle
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.alarm_engine import (
    BAD,
    CHATTER_MARK,
    LimitAlarm,
    TagAlarmConfig,
    TagAlarmState,
    invariant_violations,
    process,
)
from models.contracts import AlarmPriority, AlarmState, Quality, SensorReading
from models.limits import TagLimits

TAG = "PT-101"
T0 = 1_750_000_000_000

PT_101 = TagAlarmConfig(
    tag=TAG,
    lo=0.0,
    hi=2.5,
    limits=(
        LimitAlarm("HH", 1.75, AlarmPriority.HIGH),
        LimitAlarm("H", 1.6, AlarmPriority.MEDIUM),
        LimitAlarm("L", 0.2, AlarmPriority.MEDIUM),
        LimitAlarm("LL", 0.1, AlarmPriority.HIGH),
    ),
    deadband=0.025,
    name="1#球罐压力",
    unit="MPa",
)


def run(config, steps, state=None):
    """steps: (ts, value[, quality]) -> final state, events as (kind, state, ts)."""
    out = []
    for s in steps:
        ts, value, *q = s
        reading = SensorReading(tag=config.tag, ts=ts, value=value, quality=q[0] if q else Quality.GOOD)
        state, events = process(state, reading, config)
        out.extend((e.kind, e.state.value, e.ts) for e in events)
    return state, out


def every_second(values, start=T0):
    return [(start + i * 1000, v) for i, v in enumerate(values)]


# -- examples an operator would recognise ----------------------------------------------------


def test_rising_pressure_raises_h_then_hh_and_returns_only_past_the_deadband():
    _, events = run(PT_101, every_second([1.0, 1.65, 1.8, 1.74, 1.70, 1.58, 1.55]))
    assert [(k, s) for k, s, _ in events] == [
        ("H", "active"),
        ("HH", "active"),
        ("HH", "returned"),  # 1.74 is inside HH's deadband, 1.70 is not
        ("H", "returned"),  # 1.58 is inside H's deadband, 1.55 is not
    ]
    assert [ts for *_, ts in events] == [T0 + 1000, T0 + 2000, T0 + 4000, T0 + 6000]


def test_events_carry_alarm_id_priority_limit_and_a_chinese_message():
    _, events = process(None, SensorReading(tag=TAG, ts=T0, value=0.05), PT_101)
    by_kind = {e.kind: e for e in events}
    assert set(by_kind) == {"L", "LL"}
    ll = by_kind["LL"]
    assert (ll.alarm_id, ll.source_kind, ll.source_id, ll.priority, ll.limit) == (
        "PT-101:LL",
        "tag",
        TAG,
        AlarmPriority.HIGH,
        0.1,
    )
    assert ll.message.startswith("1#球罐压力 低低限报警") and "MPa" in ll.message


def test_on_delay_needs_the_condition_to_hold_long_enough():
    cfg = TagAlarmConfig(tag=TAG, lo=0, hi=100, limits=(LimitAlarm("H", 80.0),), on_delay_ms=3000)
    # 2 s above H then back: no alarm; then 3 s above: alarm at the reading that completes 3 s
    _, events = run(cfg, every_second([50, 85, 86, 87, 50, 85, 85, 85, 85]))
    assert events == [("H", "active", T0 + 8000)]


def test_off_delay_keeps_the_alarm_through_a_short_dip():
    cfg = TagAlarmConfig(tag=TAG, lo=0, hi=100, limits=(LimitAlarm("H", 80.0),), off_delay_ms=2000)
    _, events = run(cfg, every_second([85, 70, 71, 85, 70, 70, 70]))
    assert events == [("H", "active", T0), ("H", "returned", T0 + 6000)]


def test_bad_quality_raises_bad_and_holds_the_process_alarms():
    _, events = run(
        PT_101,
        [
            (T0, 1.7),
            (T0 + 1000, 0.0, Quality.BAD),  # transmitter fails: H must not "return"
            (T0 + 2000, 3.0),  # outside the 0-2.5 MPa range: bad too
            (T0 + 3000, 1.0),  # good again, well below H
        ],
    )
    assert events == [
        ("H", "active", T0),
        (BAD, "active", T0 + 1000),
        (BAD, "returned", T0 + 3000),
        ("H", "returned", T0 + 3000),
    ]


def test_rate_of_change_uses_consecutive_good_readings():
    cfg = TagAlarmConfig(tag="LT-201", lo=0, hi=100, roc_limit_per_min=30.0)
    # +1/s = 60/min trips; after a bad reading there is no pair, so the next jump is not judged
    _, events = run(cfg, [(T0, 10), (T0 + 1000, 11), (T0 + 2000, 11.1), (T0 + 3000, 11, Quality.BAD), (T0 + 4000, 50)])
    assert [(k, s) for k, s, _ in events] == [
        ("ROC", "active"),
        ("ROC", "returned"),
        (BAD, "active"),
        (BAD, "returned"),
    ]


def test_deviation_from_setpoint():
    cfg = TagAlarmConfig(tag="TIC-301", lo=0, hi=200, deviation=(120.0, 5.0), deadband=1.0)
    _, events = run(cfg, every_second([120, 126, 124.5, 123.9]))
    assert events == [("DEV", "active", T0 + 1000), ("DEV", "returned", T0 + 3000)]


def test_chattering_alarm_is_flagged_and_the_flag_clears_after_a_quiet_minute():
    cfg = TagAlarmConfig(tag=TAG, lo=0, hi=100, limits=(LimitAlarm("H", 80.0),))
    state = None
    messages = []
    for ts, v in every_second([85, 70, 85, 70, 85]):
        state, events = process(state, SensorReading(tag=TAG, ts=ts, value=v), cfg)
        messages += [e.message for e in events]
    assert state is not None and state.chattering() == {"H"}
    assert CHATTER_MARK in messages[-1] and not any(CHATTER_MARK in m for m in messages[:-1])
    state, _ = process(state, SensorReading(tag=TAG, ts=T0 + 70_000, value=70), cfg)
    assert state.chattering() == frozenset() and state.alarms == {}


def test_duplicate_and_older_readings_change_nothing():
    state, _ = run(PT_101, every_second([1.0, 1.7]))
    for ts in (T0 + 1000, T0, T0 - 5):
        again, events = process(state, SensorReading(tag=TAG, ts=ts, value=2.0), PT_101)
        assert again is state and events == []


def test_plant_limits_map_into_the_engine():
    spec = TagLimits(tag="GT-501", lo=0, hi=100, h=25, hh=50, kind="flammable_gas", unit="%LEL", name="可燃气体")
    cfg = TagAlarmConfig.from_tag_limits(spec, on_delay_ms=2000)
    assert [(a.kind, a.limit, a.priority) for a in cfg.limits] == [
        ("HH", 50, AlarmPriority.CRITICAL),
        ("H", 25, AlarmPriority.MEDIUM),
    ]
    assert cfg.deadband == pytest.approx(1.0) and cfg.on_delay_ms == 2000 and cfg.unit == "%LEL"
    assert cfg.bad_quality_priority == AlarmPriority.HIGH  # a dead gas detector is lost protection


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lo": 5, "hi": 5},
        {"deadband": -1},
        {"on_delay_ms": -1},
        {"roc_limit_per_min": 0.0},
        {"deviation": (50.0, 0.5), "deadband": 1.0},
        {"limits": (LimitAlarm("H", 1), LimitAlarm("H", 2))},
        {"hi": float("inf")},
    ],
)
def test_unusable_configs_are_refused_with_the_tag_named(kwargs):
    args = {"tag": "XT-1", "lo": 0, "hi": 100} | kwargs
    with pytest.raises(ValueError, match="XT-1"):
        TagAlarmConfig(**args)


def test_state_pickles_small_for_bytewax_snapshots():
    state, _ = run(PT_101, every_second([1.7, 1.8]))
    blob = pickle.dumps(state)
    assert pickle.loads(blob) == state and len(blob) < 400


# -- properties --------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def configs(draw, *, roc=True, deviation=True):
    lo = draw(st.floats(-1000, 0))
    hi = lo + draw(st.floats(10, 1000))
    span = hi - lo
    marks = sorted(draw(st.lists(st.floats(0.05, 0.95), min_size=4, max_size=4, unique=True)))
    kinds = draw(st.lists(st.sampled_from(["LL", "L", "H", "HH"]), unique=True, max_size=4))
    at = dict(zip(["LL", "L", "H", "HH"], marks, strict=True))
    limits = tuple(LimitAlarm(k, lo + at[k] * span, draw(st.sampled_from(AlarmPriority))) for k in kinds)
    deadband = draw(st.floats(0, 0.02)) * span
    dev = None
    if deviation and draw(st.booleans()):
        dev = (lo + draw(st.floats(0.3, 0.7)) * span, deadband + draw(st.floats(0.01, 0.3)) * span)
    return TagAlarmConfig(
        tag=TAG,
        lo=lo,
        hi=hi,
        limits=limits,
        deadband=deadband,
        on_delay_ms=draw(st.sampled_from([0, 1000, 2500, 5000])),
        off_delay_ms=draw(st.sampled_from([0, 1000, 3000])),
        roc_limit_per_min=draw(st.none() | st.floats(0.1, 100)) if roc else None,
        deviation=dev,
        bad_quality_alarm=draw(st.booleans()),
    )


@st.composite
def reading_runs(draw, config, *, min_size=10, max_size=80):
    """Readings with forward, duplicate and backward time steps, extreme values and every quality."""
    span = config.hi - config.lo
    in_range = st.integers(0, 100).map(lambda k: config.lo + k * span / 100) | st.floats(config.lo, config.hi)
    good = st.just(Quality.GOOD)
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(-3000, 8000) | st.integers(500, 1500) | st.just(0),
                in_range | in_range | st.floats(config.lo - 1, config.hi + 1) | finite,
                good | good | good | st.sampled_from(Quality),
            ),
            min_size=min_size,
            max_size=max_size,
        )
    )
    ts, out = T0, []
    for dt, value, quality in steps:
        ts += dt
        out.append(SensorReading(tag=TAG, ts=ts, value=value, quality=quality))
    return out


def check_alternation(events):
    last = defaultdict(lambda: AlarmState.RETURNED)
    for e in events:
        assert e.state != last[e.alarm_id], f"{e.alarm_id} went {e.state} twice in a row"
        last[e.alarm_id] = e.state


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_engine_never_raises_or_reaches_an_undefined_state(data):
    cfg = data.draw(configs())
    state, everything = None, []
    for reading in data.draw(reading_runs(cfg)):
        state, events = process(state, reading, cfg)
        assert invariant_violations(state, cfg) == []
        assert {e.alarm_id for e in events} <= {f"{TAG}:{k}" for k in cfg.alarm_kinds}
        everything += events
    check_alternation(everything)
    active = {e.alarm_id for e in everything if e.state == AlarmState.ACTIVE}
    if state is not None:  # the state and the event history agree on what is active
        last = {e.alarm_id: e.state for e in everything}
        assert {f"{TAG}:{k}" for k in state.active()} == {a for a in active if last[a] == AlarmState.ACTIVE}


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_value_inside_the_limits_by_more_than_the_deadband_never_alarms(data):
    cfg = data.draw(configs(roc=False, deviation=False))
    highs = [a.limit for a in cfg.limits if a.is_high]
    lows = [a.limit for a in cfg.limits if not a.is_high]
    top = min(highs, default=cfg.hi) - cfg.deadband
    bottom = max(lows, default=cfg.lo) + cfg.deadband
    if not bottom < top:
        return
    inside = st.floats(bottom, top, exclude_min=True, exclude_max=True)
    steps = data.draw(
        st.lists(st.tuples(st.integers(-2000, 5000), inside, st.sampled_from([Quality.GOOD, Quality.UNCERTAIN])))
    )
    state, ts = None, T0
    for dt, value, quality in steps:
        ts += dt
        state, events = process(state, SensorReading(tag=TAG, ts=ts, value=value, quality=quality), cfg)
        assert events == []
        assert state.active() == frozenset()


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_spike_shorter_than_the_on_delay_never_alarms(data):
    delay = data.draw(st.integers(1000, 10_000))
    cfg = TagAlarmConfig(
        tag=TAG, lo=0, hi=100, limits=(LimitAlarm("H", 80.0), LimitAlarm("HH", 90.0)), on_delay_ms=delay
    )
    gaps = data.draw(st.lists(st.integers(1, 2000), min_size=1, max_size=20))
    if sum(gaps[1:]) >= delay:  # the spike's readings span less than the delay
        gaps = gaps[:1]
    values = data.draw(st.lists(st.floats(80, 100), min_size=len(gaps), max_size=len(gaps)))
    steps, ts = [(T0, 50.0)], T0
    for gap, v in zip(gaps, values, strict=True):
        ts += gap
        steps.append((ts, v))
    steps.append((ts + 1, 50.0))
    _, events = run(cfg, steps)
    assert events == []


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_replaying_a_prefix_then_the_rest_gives_the_same_events(data):
    cfg = data.draw(configs())
    readings = data.draw(reading_runs(cfg))
    cut = data.draw(st.integers(0, len(readings)))

    def feed(state, rs):
        out = []
        for r in rs:
            state, events = process(state, r, cfg)
            out += events
        return state, out

    whole_state, whole = feed(None, readings)
    snap, first = feed(None, readings[:cut])
    snap = pickle.loads(pickle.dumps(snap))  # a recovery snapshot
    # at-least-once: the last few readings before the snapshot arrive again after recovery
    again = readings[max(0, cut - 3) : cut]
    end_state, rest = feed(snap, again + readings[cut:])
    assert first + rest == whole
    assert end_state == whole_state


def test_a_fresh_state_is_well_defined():
    assert invariant_violations(TagAlarmState(), PT_101) == []
