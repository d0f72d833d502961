from __future__ import annotations

import math
import time
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


# -- the vectorised sampler against the scalar formulas of the module docstring ---------------


def scalar_value(sim: Simulator, tag: Tag, t: float) -> float:
    """One tag's value computed with ``math``, one formula at a time (the reference)."""
    from twin.simulator import (  # noqa: PLC0415 - private helpers, only the reference needs them
        _DRIFT_COMPONENTS,
        _MASK64,
        _splitmix64,
        _tag_key,
        _unit,
    )

    key = _tag_key(sim.seed, tag.tag)
    value = tag.sim.base
    if tag.sim.drift:
        phases = [2.0 * math.pi * _unit(_splitmix64(key ^ (i + 1))) for i in range(len(_DRIFT_COMPONENTS))]
        wander = sum(
            w * math.sin(2.0 * math.pi * t / period + phase)
            for (period, w), phase in zip(_DRIFT_COMPONENTS, phases, strict=True)
        )
        value += tag.sim.drift * wander
    value += tag.sim.degradation * max(0.0, t - START) / 3600.0
    window = sim.scheduled_excursion(tag.tag, t)
    if window is not None and tag.sim.excursion is not None:
        ramp = min(10.0, 0.2 * tag.sim.excursion.duration_s)
        elapsed = t - window[0]
        to = tag.sim.excursion.to
        value = to if elapsed >= ramp else value + (to - value) * (elapsed / ramp)
    if tag.sim.noise:
        h1 = _splitmix64(key ^ _splitmix64(math.floor(t) & _MASK64))
        z = math.sqrt(-2.0 * math.log(_unit(h1))) * math.cos(2.0 * math.pi * _unit(_splitmix64(h1)))
        value += tag.sim.noise * max(-4.0, min(4.0, z))
    lo, hi = tag.range
    return min(hi, max(lo, value))


@cache
def generated() -> Plant:
    from twin.generate import generate_plant  # noqa: PLC0415

    return generate_plant(2_000)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, t=times)
def test_vectorised_values_match_the_scalar_formulas(seed: int, t: float) -> None:
    for plant in (demo(), generated()):
        sim = Simulator(plant, seed, START)
        values = sim.values_at(t)
        for tag in plant.tags:
            assert values[tag.tag] == pytest.approx(scalar_value(sim, tag, t), rel=1e-12, abs=1e-12), tag.tag


@settings(max_examples=30, deadline=None)
@given(seed=seeds, t=times)
def test_one_tag_reads_exactly_what_the_whole_plant_sample_gave_it(seed: int, t: float) -> None:
    sim = Simulator(generated(), seed, START)
    sim.trigger_excursion("PT-101", at_s=t - 5, duration_s=60)
    values = sim.values_at(t)
    fresh = Simulator(generated(), seed, START)
    fresh.trigger_excursion("PT-101", at_s=t - 5, duration_s=60)
    for name in generated().tag_names[::97] + ["PT-101"]:
        assert sim.value_at(name, t) == values[name]
        assert fresh.value_at(name, t) == values[name]  # computed without a prior whole-plant call


def test_trigger_and_clear_take_effect_on_an_instant_already_sampled() -> None:
    sim = Simulator(demo(), 3, START)
    before = sim.values_at(START + 100)["TT-101"]
    sim.trigger_excursion("TT-101", to=70.0, at_s=START + 50, duration_s=100)
    assert sim.values_at(START + 100)["TT-101"] == pytest.approx(70.0, abs=1.0)
    sim.clear_excursions("TT-101")
    assert sim.values_at(START + 100)["TT-101"] == before


def test_array_at_is_the_read_only_column_form_of_values_at() -> None:
    sim = Simulator(demo(), 3, START)
    array = sim.array_at(START + 12.5)
    assert array.tolist() == list(sim.values_at(START + 12.5).values())
    assert sim.tag_names == demo().tag_names
    with pytest.raises(ValueError, match="read-only"):
        array[0] = 1.0


def test_a_10000_tag_plant_costs_well_under_50_ms_of_cpu_per_step() -> None:
    from twin.generate import generate_plant  # noqa: PLC0415

    sim = Simulator(generate_plant(10_000), 7, START)
    sim.readings_at(START)
    costs = []
    for k in range(1, 12):
        t0 = time.process_time()
        readings = sim.readings_at(START + k)
        costs.append(time.process_time() - t0)
    assert len(readings) == 10_000
    assert sorted(costs)[len(costs) // 2] < 0.05, costs
