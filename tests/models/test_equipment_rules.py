"""Pure rules of the equipment register: hierarchical codes, due dates, flags, and both workflows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.equipment_rules import (
    CodeError,
    Level,
    bypass_overrun,
    check_code,
    check_plant_id,
    child_code,
    is_below_min_stock,
    next_due,
    parse_code,
    pdm_priority,
)
from registers.equipment.workflow import (
    BYPASS_ACTION_PERMISSION,
    BYPASS_TERMINAL,
    BYPASS_TRANSITIONS,
    WORK_ORDER_ACTION_PERMISSION,
    WORK_ORDER_TERMINAL,
    WORK_ORDER_TRANSITIONS,
    BypassAction,
    BypassState,
    InvalidTransition,
    WorkOrderAction,
    WorkOrderState,
    allowed_actions,
    bypass_next,
    work_order_next,
)

# --- codes -----------------------------------------------------------------------------------

upper = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
digit = st.sampled_from("0123456789")
site_segments = st.builds(lambda a, b: a + b, upper, st.text("ABCXYZ0129", min_size=1, max_size=11))
unit_segments = st.builds(lambda a, b: a + b, upper, st.text("ABC_XYZ019", min_size=1, max_size=23))
equipment_segments = st.builds(
    lambda a, n, s: f"{a}-{n}{s}",
    st.text("ABCPRTVWHE", min_size=1, max_size=4),
    st.text("0123456789", min_size=2, max_size=4),
    st.sampled_from(["", "A", "B"]),
)
component_segments = st.builds(
    lambda a, b, c: a + b + (f"-{c}" if c else ""),
    upper,
    st.text("ABSVPRD019", max_size=5),
    st.text("ABC0123", max_size=8),
)
paths = st.tuples(site_segments, unit_segments, equipment_segments, component_segments).flatmap(
    lambda segments: st.integers(1, 4).map(lambda depth: segments[:depth])
)


@given(paths)
def test_valid_codes_say_their_level_and_parent(segments: tuple[str, ...]) -> None:
    code = ".".join(segments)
    parts = parse_code(code)
    assert parts.level.depth == len(segments)
    assert parts.segment == segments[-1]
    assert parts.parent == (".".join(segments[:-1]) or None)
    if parts.parent is not None:
        assert child_code(parts.parent, parts.segment) == code
        assert parse_code(parts.parent).level is parts.level.parent


@given(paths, st.text(min_size=1, max_size=3))
def test_a_broken_segment_is_refused_with_its_level_named(segments: tuple[str, ...], junk: str) -> None:
    bad = segments[-1][:3].lower() + junk + " "  # a space breaks every level's pattern; stays under 64 chars
    code = ".".join((*segments[:-1], bad))
    with pytest.raises(CodeError, match=Level(parse_code(".".join(segments)).level).label):
        parse_code(code)


def test_the_demo_plant_codes() -> None:
    assert parse_code("DEMO").level is Level.SITE
    assert parse_code("DEMO.TANK_FARM").level is Level.UNIT
    for plant_id in ("V-101", "T-201", "R-401", "P-401", "E-401", "WH-501", "CR-01"):
        assert parse_code(f"DEMO.TANK_FARM.{plant_id}").level is Level.EQUIPMENT
    assert parse_code("DEMO.TANK_FARM.V-101.PSV-101A").level is Level.COMPONENT


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "不能为空"),
        ("DEMO.TANK_FARM.V-101.PSV-1.X", "最多 4 级"),
        ("DEMO.TANK_FARM.V101", "设备编码段「V101」"),
        ("DEMO..V-101", "装置编码段「」"),
        ("D" * 70, "超过 64"),
    ],
)
def test_bad_codes_say_which_rule(code: str, message: str) -> None:
    with pytest.raises(CodeError, match=message):
        parse_code(code)


def test_expected_level_and_parent() -> None:
    with pytest.raises(CodeError, match="应为设备级"):
        check_code("DEMO.TANK_FARM", level=Level.EQUIPMENT)
    with pytest.raises(CodeError, match="须以上级编码「DEMO.REACTION_UNIT.」开头"):
        check_code("DEMO.TANK_FARM.V-101", parent="DEMO.REACTION_UNIT")
    with pytest.raises(CodeError, match="最多 4 级"):
        child_code("DEMO.TANK_FARM.V-101.PSV-101A", "X1")


def test_plant_id_must_match_the_last_segment() -> None:
    check_plant_id("DEMO.TANK_FARM", "tank_farm")
    check_plant_id("DEMO.TANK_FARM.V-101", "V-101")
    check_plant_id("DEMO.TANK_FARM.V-101", None)
    with pytest.raises(CodeError, match="不一致"):
        check_plant_id("DEMO.TANK_FARM.V-101", "V-102")


# --- due dates and flags ---------------------------------------------------------------------


@given(st.dates(max_value=date(9000, 1, 1)), st.integers(1, 3650))
def test_next_due_is_the_interval_later(done: date, interval: int) -> None:
    assert (next_due(done, interval) - done).days == interval


def test_next_due_refuses_a_non_positive_interval() -> None:
    with pytest.raises(ValueError, match="周期须大于 0"):
        next_due(date(2026, 1, 1), 0)


T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("started", "ended", "now", "overrun"),
    [
        (None, None, T0 + timedelta(days=9), False),  # approved, never started
        (T0, None, T0 + timedelta(hours=7), False),  # open, inside the window
        (T0, None, T0 + timedelta(hours=9), True),  # open past the window
        (T0, T0 + timedelta(hours=7), T0 + timedelta(days=9), False),  # closed in time
        (T0, T0 + timedelta(hours=8, minutes=1), T0 + timedelta(days=9), True),  # closed late
    ],
)
def test_bypass_overrun(started: datetime | None, ended: datetime | None, now: datetime, overrun: bool) -> None:
    assert bypass_overrun(planned_end=T0 + timedelta(hours=8), started_at=started, ended_at=ended, now=now) is overrun


def test_low_stock_and_pdm_priority() -> None:
    assert is_below_min_stock(1, 2) and not is_below_min_stock(2, 2) and not is_below_min_stock(0, None)
    assert pdm_priority(health=0.9, rul_days=3) == "urgent"
    assert pdm_priority(health=0.2, rul_days=None) == "urgent"
    assert pdm_priority(health=0.9, rul_days=20) == "high"
    assert pdm_priority(health=0.5, rul_days=200) == "high"
    assert pdm_priority(health=0.9, rul_days=200) == "normal"


# --- workflows -------------------------------------------------------------------------------


@given(st.sampled_from(WorkOrderState), st.sampled_from(WorkOrderAction))
def test_work_order_accepts_exactly_the_table(state: WorkOrderState, action: WorkOrderAction) -> None:
    if (state, action) in WORK_ORDER_TRANSITIONS:
        assert work_order_next(state, action) is WORK_ORDER_TRANSITIONS[(state, action)]
    else:
        with pytest.raises(InvalidTransition, match="工单状态"):
            work_order_next(state, action)


@given(st.sampled_from(BypassState), st.sampled_from(BypassAction))
def test_bypass_accepts_exactly_the_table(state: BypassState, action: BypassAction) -> None:
    if (state, action) in BYPASS_TRANSITIONS:
        assert bypass_next(state, action) is BYPASS_TRANSITIONS[(state, action)]
    else:
        with pytest.raises(InvalidTransition, match="旁路状态"):
            bypass_next(state, action)


@given(st.lists(st.sampled_from(WorkOrderAction), max_size=30))
def test_any_action_sequence_stays_inside_the_work_order_table(actions: list[WorkOrderAction]) -> None:
    state = WorkOrderState.OPEN
    for action in actions:
        try:
            new = work_order_next(state, action)
        except InvalidTransition:
            assert action not in allowed_actions(WORK_ORDER_TRANSITIONS, state)
            continue
        assert (state, action) in WORK_ORDER_TRANSITIONS
        state = new
    assert state in WorkOrderState


def _reachable(table: dict, start: object) -> set[object]:  # type: ignore[type-arg]
    seen, frontier = {start}, [start]
    while frontier:
        state = frontier.pop()
        for (source, _), target in table.items():
            if source == state and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_every_state_is_reachable_and_terminals_are_final() -> None:
    assert _reachable(dict(WORK_ORDER_TRANSITIONS), WorkOrderState.OPEN) == set(WorkOrderState)
    assert _reachable(dict(BYPASS_TRANSITIONS), BypassState.REQUESTED) == set(BypassState)
    for state in WORK_ORDER_TERMINAL:
        assert allowed_actions(WORK_ORDER_TRANSITIONS, state) == []
    for bypass_state in BYPASS_TERMINAL:
        assert allowed_actions(BYPASS_TRANSITIONS, bypass_state) == []
    # every non-terminal state has a way out (nothing gets stuck half-done)
    for state in set(WorkOrderState) - WORK_ORDER_TERMINAL:
        assert allowed_actions(WORK_ORDER_TRANSITIONS, state)


def test_signing_off_needs_approve() -> None:
    assert WORK_ORDER_ACTION_PERMISSION[WorkOrderAction.VERIFY] == "approve"
    assert WORK_ORDER_ACTION_PERMISSION[WorkOrderAction.START] == "update"
    assert BYPASS_ACTION_PERMISSION[BypassAction.APPROVE] == "approve"
    assert set(WORK_ORDER_ACTION_PERMISSION) == set(WorkOrderAction)
    assert set(BYPASS_ACTION_PERMISSION) == set(BypassAction)
