from hypothesis import given
from hypothesis import strategies as st

from models.contracts import AlarmPriority, Quality, SensorReading
from models.limits import TagLimits, TagState, quality_of

SPEC = TagLimits(tag="PT-101", lo=0, hi=2.5, ll=0.1, l=0.2, h=1.6, hh=1.75, flatline_count=3, stale_after_ms=60_000)


def reading(value: float, ts: int = 1_000, quality: Quality = Quality.GOOD) -> SensorReading:
    return SensorReading(tag="PT-101", ts=ts, value=value, quality=quality)


def test_out_of_range_stale_and_flatline_flags():
    assert quality_of(TagState(), reading(9.0), SPEC, 1_000) == Quality.OUT_OF_RANGE
    assert quality_of(TagState(), reading(1.0), SPEC, 1_000 + 61_000) == Quality.STALE
    assert quality_of(TagState(last_ts=2_000), reading(1.0, ts=1_000), SPEC, 2_000) == Quality.STALE  # older
    assert quality_of(TagState(last_ts=500, last_value=1.0, repeats=1), reading(1.0), SPEC, 1_000) == Quality.FLATLINE
    assert quality_of(TagState(last_ts=500, last_value=1.0, repeats=0), reading(1.0), SPEC, 1_000) == Quality.GOOD


def test_a_sources_own_bad_quality_is_kept():
    assert quality_of(TagState(), reading(9.0, quality=Quality.BAD), SPEC, 1_000) == Quality.BAD


def test_gas_detector_hh_is_critical():
    gas = TagLimits(tag="GT-1", lo=0, hi=100, h=20, hh=40, kind="flammable_gas")
    assert gas.priority("HH") == AlarmPriority.CRITICAL and gas.priority("H") == AlarmPriority.MEDIUM
    assert SPEC.priority("LL") == AlarmPriority.HIGH


@given(st.floats(0, 2.5))
def test_any_fresh_value_inside_the_range_is_good(v):
    assert quality_of(TagState(), reading(v), SPEC, 1_000) == Quality.GOOD
