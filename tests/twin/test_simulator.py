from __future__ import annotations

import math
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.contracts import SENSOR_READING, Quality, SensorReading, decode_message, encode
from twin.plant import Limits, Plant, SimProfile, Tag, load_plant
from twin.simulator import Simulator, default_excursion_target, highest_limit

START = 1_700_000_000.0


@cache
def demo() -> Plant:
    return load_plant()


def high_limited_tags() -> list[str]:
    return [t.tag for t in demo().tags if highest_limit(t) is not None]


seeds = st.integers(min_value=0, max_value=2**63)
times = st.floats(min_value=START - 86_400, max_value=START + 30 * 86_400, allow_nan=False)
tag_names = st.sampled_from(demo().tag_names)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, t=times)
def test_same_seed_and_time_give_the_same_values(seed: int, t: float) -> None:
    a = Simulator(demo(), seed, START)
    b = Simulator(demo(), seed, START)
    b.values_at(t + 3600.0)  # sampling other instants first must not matter
    assert a.values_at(t) == b.values_at(t)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, t=times)
def test_values_stay_inside_the_instrument_range(seed: int, t: float) -> None:
    values = Simulator(demo(), seed, START).values_at(t)
    assert set(values) == set(demo().tag_names)
    for tag in demo().tags:
        lo, hi = tag.range
        assert lo <= values[tag.tag] <= hi, tag.tag
        assert math.isfinite(values[tag.tag])


@settings(max_examples=200, deadline=None)
@given(
    seed=seeds,
    tag=st.sampled_from(high_limited_tags()),
    at=times,
    duration=st.floats(min_value=1.0, max_value=600.0),
    where=st.floats(min_value=0.0, max_value=0.999),
)
def test_forced_excursion_exceeds_the_highest_limit_while_held(
    seed: int, tag: str, at: float, duration: float, where: float
) -> None:
    sim = Simulator(demo(), seed, START)
    forced = sim.trigger_excursion(tag, duration_s=duration, at_s=at)
    limit = highest_limit(demo().tag(tag))
    assert limit is not None
    ramp = min(10.0, 0.2 * duration)
    t = at + ramp + where * (duration - ramp)
    assert forced.at_s <= t < forced.end_s
    assert sim.values_at(t)[tag] > limit


@st.composite
def quiet_tags(draw: st.DrawFn) -> Tag:
    lo = draw(st.floats(min_value=-1000, max_value=1000))
    span = draw(st.floats(min_value=0.01, max_value=5000))
    base = draw(st.floats(min_value=lo, max_value=lo + span))
    return Tag(
        tag="XT-001",
        name="quiet",
        equipment="V-101",
        kind="temperature",
        unit="°C",
        range=(lo, lo + span),
        limits=Limits(),
        sim=SimProfile(base=base),
    )


@settings(max_examples=200, deadline=None)
@given(tag=quiet_tags(), seed=seeds, t=times)
def test_noise_free_tag_equals_its_base(tag: Tag, seed: int, t: float) -> None:
    plant = demo().model_copy(update={"tags": (tag,)})
    assert Simulator(plant, seed, START).values_at(t) == {"XT-001": tag.sim.base}


@settings(max_examples=50, deadline=None)
@given(seed=seeds)
def test_no_scheduled_excursion_is_running_at_start(seed: int) -> None:
    sim = Simulator(demo(), seed, START)
    for tag in demo().tags:
        assert sim.scheduled_excursion(tag.tag, START) is None


def test_scheduled_excursion_reaches_its_target() -> None:
    sim = Simulator(demo(), 11, START)
    tag = demo().tag("PT-101")
    assert tag.sim.excursion is not None
    every = tag.sim.excursion.every_s
    windows = [w for t in range(int(START), int(START + every)) if (w := sim.scheduled_excursion("PT-101", t))]
    assert windows, "PT-101 must have an excursion in its first period"
    start, end = windows[0]
    assert end - start == pytest.approx(tag.sim.excursion.duration_s)
    held = sim.value_at("PT-101", start + tag.sim.excursion.duration_s / 2)
    assert held == pytest.approx(tag.sim.excursion.to, abs=4 * tag.sim.noise)
    assert sim.value_at("PT-101", end + 1) < tag.limits.h  # type: ignore[operator]


def test_degradation_accumulates_from_start() -> None:
    sim = Simulator(demo(), 5, START)
    vt = demo().tag("VT-401")
    early = sum(sim.value_at("VT-401", START + k) for k in range(200)) / 200
    later = sum(sim.value_at("VT-401", START + 100 * 3600 + k) for k in range(200)) / 200
    assert later - early == pytest.approx(100 * vt.sim.degradation, abs=0.1)


def test_default_target_is_five_percent_of_span_beyond_hh() -> None:
    pt = demo().tag("PT-101")
    assert default_excursion_target(pt) == pytest.approx(1.75 + 0.05 * 2.5)
    sim = Simulator(demo(), 1, START)
    forced = sim.trigger_excursion("PT-101", at_s=START + 100)
    assert forced.to == pytest.approx(1.875)
    assert forced.duration_s == 30.0


def test_trigger_defaults_to_the_latest_sampled_time() -> None:
    sim = Simulator(demo(), 1, START)
    sim.values_at(START + 42)
    assert sim.trigger_excursion("TT-101").at_s == START + 42


def test_forced_target_is_clipped_to_range() -> None:
    sim = Simulator(demo(), 1, START)
    forced = sim.trigger_excursion("TT-101", to=1e6, at_s=START, duration_s=60)
    assert forced.to == 80.0
    assert 80.0 - 4 * 0.2 <= sim.value_at("TT-101", START + 30) <= 80.0


def test_unknown_tag_raises_a_clear_key_error() -> None:
    sim = Simulator(demo(), 1, START)
    with pytest.raises(KeyError, match="unknown tag 'NOPE-1'"):
        sim.trigger_excursion("NOPE-1")
    with pytest.raises(ValueError, match="duration_s must be positive"):
        sim.trigger_excursion("TT-101", duration_s=0)


def test_readings_follow_the_contract() -> None:
    sim = Simulator(demo(), 1, START)
    readings = sim.readings_at(START + 1.2345)
    assert [r.tag for r in readings] == demo().tag_names
    assert all(r.ts == 1_700_000_001_234 or r.ts == 1_700_000_001_235 for r in readings)
    assert all(r.source == "simulator" and r.quality is Quality.GOOD for r in readings)
    for r in readings:
        assert decode_message(SENSOR_READING, encode(r)) == r
    assert isinstance(readings[0], SensorReading)


def test_noise_changes_every_second_but_not_within_one() -> None:
    sim = Simulator(demo(), 1, START)
    assert sim.value_at("TT-101", START + 10.1) == sim.value_at("TT-101", START + 10.9)
    assert sim.value_at("TT-101", START + 10.1) != sim.value_at("TT-101", START + 11.1)
