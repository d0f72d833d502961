"""Each rule of DOMAIN.md §3.3 on its own, plus properties every score must keep."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.contracts import AlarmEvent, AlarmPriority, AlarmState, RiskLevel, SensorReading
from models.risk import (
    HazardContext,
    ManagementStatus,
    OperatingMode,
    PeopleCount,
    RiskItem,
    SisBypass,
    SpecialWork,
    input_decoder,
    score_of,
)
from models.risk_rules import BAND, LEVEL_ORDER, default_table, load_table

T0 = 1_780_000_000_000
CTX = HazardContext(
    id="HS",
    name="测试",
    area="A",
    grade=3,  # 三级 -> yellow
    tags={"PT-1": "pressure", "PT-2": "pressure", "GT-1": "flammable_gas", "GT-2": "flammable_gas"},
    gas_limits={"GT-1": 20.0, "GT-2": 20.0},
)
BLUE_CTX = HazardContext(id="HB", name="低", area="A", grade=4, tags=CTX.tags, gas_limits=CTX.gas_limits)


def alarm(tag: str, kind: str, ts: int = T0, state: AlarmState = AlarmState.ACTIVE) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{tag}:{kind}",
        source_kind="tag",
        source_id=tag,
        kind=kind,
        priority=AlarmPriority.HIGH,
        state=state,
        ts=ts,
    )


def level(ctx: HazardContext, *items: RiskItem) -> RiskLevel:
    return score_of(ctx, list(items), default_table())[1].level


def factors(ctx: HazardContext, *items: RiskItem) -> set[str]:
    return {c.factor for c in score_of(ctx, list(items), default_table())[1].contributions}


def test_grade_sets_inherent_level() -> None:
    levels = [HazardContext(id="x", name="x", area="a", grade=g).inherent for g in (1, 2, 3, 4)]
    assert levels == [RiskLevel.RED, RiskLevel.ORANGE, RiskLevel.YELLOW, RiskLevel.BLUE]


def test_toxic_beta_five_raises_inherent() -> None:
    ctx = HazardContext(id="x", name="x", area="a", grade=4, max_toxic_beta=5)
    assert level(ctx) == RiskLevel.YELLOW
    assert "INH.TOXIC" in factors(ctx)


def test_process_alarm_levels() -> None:
    assert level(CTX, alarm("PT-1", "H")) == RiskLevel.ORANGE  # H/L: +1
    assert level(CTX, alarm("PT-1", "HH")) == RiskLevel.RED  # HH/LL: +1 more
    assert level(BLUE_CTX, alarm("PT-1", "HH")) == RiskLevel.ORANGE


def test_long_alarm_is_severe() -> None:
    start = alarm("PT-1", "H", ts=T0)
    later = SensorReading(tag="PT-1", ts=T0 + 31 * 60_000, value=1.0)  # only moves the clock
    assert level(BLUE_CTX, start) == RiskLevel.YELLOW
    assert level(BLUE_CTX, start, later) == RiskLevel.ORANGE
    assert "ALM.SEVERE" in factors(BLUE_CTX, start, later)


def test_repeating_alarm_is_severe() -> None:
    items: list[RiskItem] = []
    for i in range(4):  # activated 4 times within an hour (> 3)
        items += [alarm("PT-1", "H", T0 + i * 60_000), alarm("PT-1", "H", T0 + i * 60_000 + 1, AlarmState.RETURNED)]
    items.append(alarm("PT-1", "H", T0 + 5 * 60_000))
    assert level(BLUE_CTX, *items) == RiskLevel.ORANGE


def test_gas_second_level_or_two_detectors_go_straight_to_red() -> None:
    assert level(BLUE_CTX, alarm("GT-1", "H")) == RiskLevel.YELLOW
    assert level(BLUE_CTX, alarm("GT-1", "HH")) == RiskLevel.RED
    assert level(BLUE_CTX, alarm("GT-1", "H"), alarm("GT-2", "H")) == RiskLevel.RED


def test_returned_alarm_clears() -> None:
    assert level(CTX, alarm("PT-1", "H"), alarm("PT-1", "H", T0 + 1, AlarmState.RETURNED)) == RiskLevel.YELLOW


def test_data_quality_loss_is_at_least_yellow() -> None:
    assert level(BLUE_CTX, alarm("PT-1", "BAD")) == RiskLevel.YELLOW
    assert level(CTX, alarm("PT-1", "BAD")) == RiskLevel.YELLOW  # a floor, not a step


def test_special_hot_work_or_confined_space_forces_orange() -> None:
    for work_type, grade in (("hot_work", "special"), ("confined_space", None)):
        work = SpecialWork(work_id="w", work_type=work_type, grade=grade, area="A", active=True, ts=T0)
        assert level(BLUE_CTX, work) == RiskLevel.ORANGE


def test_grade1_work_only_raises_yellow_or_below() -> None:
    work = SpecialWork(work_id="w", work_type="lifting", area="A", active=True, ts=T0)
    assert level(CTX, work) == RiskLevel.ORANGE
    orange = HazardContext(id="o", name="o", area="A", grade=2)
    assert level(orange, work) == RiskLevel.ORANGE


def test_bypass_is_one_level_and_red_with_an_alarm() -> None:
    bp = SisBypass(interlock_id="I-1", hazard_source_id="HB", bypassed=True, ts=T0)
    assert level(BLUE_CTX, bp) == RiskLevel.YELLOW
    assert level(BLUE_CTX, bp, alarm("PT-1", "H")) == RiskLevel.RED


def test_operating_mode_and_hidden_hazards() -> None:
    assert level(BLUE_CTX, OperatingMode(hazard_source_id="HB", mode="startup", ts=T0)) == RiskLevel.YELLOW
    m = ManagementStatus(hazard_source_id="HB", overdue_hidden_hazards=2, ts=T0)
    assert level(BLUE_CTX, m) == RiskLevel.YELLOW
    major = ManagementStatus(hazard_source_id="HB", open_major_hidden_hazards=1, ts=T0)
    assert level(BLUE_CTX, major) == RiskLevel.RED
    overdue = ManagementStatus(hazard_source_id="HB", overdue_inspections=1, ts=T0)
    assert level(BLUE_CTX, overdue) == RiskLevel.YELLOW


def test_score_only_rules_move_the_score_not_the_colour() -> None:
    near = SensorReading(tag="GT-1", ts=T0, value=18.0)  # 90 % of the first limit
    crowd = PeopleCount(area="A", count=40, ts=T0)
    _, s = score_of(BLUE_CTX, [near, crowd], default_table())
    assert s.level == RiskLevel.BLUE
    assert {c.factor for c in s.contributions} == {"INH.GRADE", "GAS.NEAR", "PEOPLE"}
    assert 0 < s.score < BAND


def test_disabled_rule_never_fires_and_table_round_trips() -> None:
    table = default_table()
    raw = msgspec.json.encode(table)
    assert load_table(raw) == table
    data = msgspec.json.decode(raw)
    for r in data["rules"]:
        if r["id"] == "GAS.L1":
            r["enabled"] = False
    off = load_table(msgspec.json.encode(data))
    _, s = score_of(BLUE_CTX, [alarm("GT-1", "H")], off)
    assert s.level == RiskLevel.BLUE


def test_unknown_input_type_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        input_decoder.decode(b'{"type": "teleport", "ts": 1}')
    with pytest.raises(msgspec.ValidationError):
        input_decoder.decode(b'{"type": "people_count", "area": "A", "count": -1, "ts": 1}')


# -- properties --------------------------------------------------------------------------------

TAGS = sorted(CTX.tags)
alarms = st.builds(
    alarm,
    st.sampled_from(TAGS),
    st.sampled_from(["H", "L", "HH", "LL", "BAD", "ROC"]),
    st.integers(T0, T0 + 7_200_000),
    st.sampled_from(list(AlarmState)),
)
works = st.builds(
    SpecialWork,
    work_id=st.sampled_from(["w1", "w2"]),
    work_type=st.sampled_from(["hot_work", "confined_space", "lifting", "at_height"]),
    grade=st.sampled_from([None, "special", "1", "2"]),
    area=st.just("A"),
    active=st.booleans(),
    ts=st.integers(T0, T0 + 7_200_000),
)
others = st.one_of(
    st.builds(
        SisBypass, interlock_id=st.just("I"), hazard_source_id=st.just("HS"), bypassed=st.booleans(), ts=st.just(T0)
    ),
    st.builds(PeopleCount, area=st.just("A"), count=st.integers(0, 100), ts=st.just(T0)),
    st.builds(
        ManagementStatus,
        hazard_source_id=st.just("HS"),
        overdue_inspections=st.integers(0, 2),
        overdue_hidden_hazards=st.integers(0, 2),
        open_major_hidden_hazards=st.integers(0, 1),
        ts=st.just(T0),
    ),
    st.builds(SensorReading, tag=st.sampled_from(["GT-1", "GT-2"]), ts=st.just(T0), value=st.floats(0, 100)),
)
items_st = st.lists(st.one_of(alarms, works, others), max_size=30)
grades = st.integers(1, 4)


@settings(max_examples=150, deadline=None)
@given(items=items_st, grade=grades)
def test_score_and_colour_never_disagree(items: list[RiskItem], grade: int) -> None:
    ctx = HazardContext(id="HS", name="x", area="A", grade=grade, tags=CTX.tags, gas_limits=CTX.gas_limits)
    _, s = score_of(ctx, items, default_table())
    assert int(s.score // BAND) == LEVEL_ORDER.index(s.level)
    assert s.score == pytest.approx(sum(c.value for c in s.contributions))
    assert s.level.value in {"red", "orange", "yellow", "blue"}
    assert LEVEL_ORDER.index(s.level) >= LEVEL_ORDER.index(ctx.inherent)  # never below inherent


@settings(max_examples=150, deadline=None)
@given(items=items_st, grade=grades, extra=st.sampled_from(["gas", "bypass", "major", "special"]))
def test_adding_a_hazard_never_lowers_the_level(items: list[RiskItem], grade: int, extra: str) -> None:
    ctx = HazardContext(id="HS", name="x", area="A", grade=grade, tags=CTX.tags, gas_limits=CTX.gas_limits)
    table = default_table()
    late = T0 + 8_000_000
    add: RiskItem = {
        "gas": alarm("GT-1", "H", late),
        "bypass": SisBypass(interlock_id="I-new", hazard_source_id="HS", bypassed=True, ts=late),
        "major": ManagementStatus(hazard_source_id="HS", open_major_hidden_hazards=1, ts=late),
        "special": SpecialWork(work_id="new", work_type="confined_space", area="A", active=True, ts=late),
    }[extra]
    # the time step alone may age alarms into "long": compare against the same clock
    clock = SensorReading(tag="PT-1", ts=late, value=0.0)
    _, same_time = score_of(ctx, [*items, clock], table)
    _, after = score_of(ctx, [*items, clock, add], table)
    assert LEVEL_ORDER.index(after.level) >= LEVEL_ORDER.index(same_time.level)
