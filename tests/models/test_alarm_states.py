"""ISA-18.2 alarm state model: the transition table is total, recorded and returns hidden alarms right."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.alarm_states import (
    BASE_STATES,
    HIDDEN_STATES,
    MAX_SHELVE,
    OPERATOR_TRIGGERS,
    TRANSITIONS,
    AlarmCondition,
    AlarmStatus,
    InvalidShelve,
    InvalidTransition,
    Trigger,
    allowed,
    is_active,
    transition,
)

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
S = AlarmStatus
T = Trigger

triggers = st.sampled_from(list(Trigger))
process = st.sampled_from([T.PROCESS_ACTIVE, T.PROCESS_RETURN])


def step(condition: AlarmCondition, trigger: Trigger, ts: datetime, actor: str = "op1") -> AlarmCondition:
    until = ts + timedelta(hours=1) if trigger is T.SHELVE else None
    if trigger is T.SHELVE_EXPIRED and condition.shelved_until is not None:
        ts = condition.shelved_until
    after, record = transition(condition, trigger, actor=actor, ts=ts, until=until)
    assert record.actor == actor and record.ts == ts and record.trigger is trigger
    assert record.from_state is condition.state and record.to_state is after.state
    return after


def check_invariants(c: AlarmCondition) -> None:
    assert c.state in set(AlarmStatus)
    assert c.underlying in BASE_STATES
    if c.state in BASE_STATES:
        assert c.underlying is c.state
    assert (c.shelved_until is not None) == (c.state is S.SHELVED)


@given(st.lists(st.tuples(triggers, st.integers(0, 600)), max_size=60))
def test_any_sequence_of_legal_triggers_stays_in_defined_states(moves):
    c, ts = AlarmCondition(), T0
    for trigger, gap in moves:
        ts += timedelta(seconds=gap)
        if trigger not in allowed(c):
            with pytest.raises(InvalidTransition) as err:
                transition(c, trigger, actor="op1", ts=ts, until=ts + timedelta(hours=1))
            assert err.value.state is c.state
            assert set(err.value.allowed) == allowed(c) & OPERATOR_TRIGGERS
            continue
        c = step(c, trigger, ts)
        check_invariants(c)


@given(st.lists(process, max_size=30), st.sampled_from([T.SHELVE, T.SUPPRESS, T.REMOVE_FROM_SERVICE]), st.data())
def test_hidden_alarm_comes_back_where_it_would_be_without_hiding(changes, hide, data):
    """Shelve/suppress/out-of-service at any moment; the release lands on the unhidden path's state."""
    prefix = data.draw(st.lists(st.sampled_from([T.PROCESS_ACTIVE, T.PROCESS_RETURN, T.ACK]), max_size=10))
    plain = AlarmCondition()
    for trigger in prefix:
        if trigger in allowed(plain):
            plain = step(plain, trigger, T0)
    hidden = step(plain, hide, T0)
    for trigger in changes:
        plain = step(plain, trigger, T0)
        hidden = step(hidden, trigger, T0)
        assert hidden.state is {T.SHELVE: S.SHELVED, T.SUPPRESS: S.SUPPRESSED_BY_DESIGN}.get(hide, S.OUT_OF_SERVICE)
    release = {T.SHELVE: T.SHELVE_EXPIRED, T.SUPPRESS: T.UNSUPPRESS, T.REMOVE_FROM_SERVICE: T.RETURN_TO_SERVICE}[hide]
    released = step(hidden, release, T0 + timedelta(hours=2))
    assert released == plain


def test_every_state_is_reachable_from_normal():
    seen, queue = {S.NORMAL}, deque([AlarmCondition()])
    while queue:
        c = queue.popleft()
        for trigger in allowed(c):
            nxt = step(c, trigger, T0)
            if nxt.state not in seen:
                seen.add(nxt.state)
                queue.append(nxt)
    assert seen == set(AlarmStatus)


def test_table_covers_every_state_and_only_known_triggers():
    assert set(TRANSITIONS) == set(AlarmStatus)
    for state, moves in TRANSITIONS.items():
        assert set(moves) <= set(Trigger)
        assert T.PROCESS_ACTIVE in moves and T.PROCESS_RETURN in moves, state


def test_isa_lifecycle_raise_ack_return():
    c = step(AlarmCondition(), T.PROCESS_ACTIVE, T0)
    assert c.state is S.UNACK_ACTIVE
    c = step(c, T.PROCESS_RETURN, T0)
    assert c.state is S.UNACK_RTN  # cleared before anyone looked: still owed an acknowledgement
    c = step(c, T.PROCESS_ACTIVE, T0)
    assert c.state is S.UNACK_ACTIVE  # came back: re-annunciates
    c = step(c, T.ACK, T0, actor="zhangsan")
    assert c.state is S.ACK_ACTIVE
    c = step(c, T.PROCESS_RETURN, T0)
    assert c.state is S.NORMAL


def test_acknowledging_twice_is_refused_with_the_allowed_actions():
    c = step(step(AlarmCondition(), T.PROCESS_ACTIVE, T0), T.ACK, T0)
    with pytest.raises(InvalidTransition) as err:
        transition(c, T.ACK, actor="op1", ts=T0)
    message = str(err.value)
    assert "已确认-报警中" in message and "ack" in message and "shelve" in message
    assert T.ACK not in err.value.allowed


def test_shelving_needs_a_future_bounded_end_and_expiry_waits_for_it():
    c = step(AlarmCondition(), T.PROCESS_ACTIVE, T0)
    for bad in (None, T0, T0 - timedelta(minutes=1), T0 + MAX_SHELVE + timedelta(seconds=1)):
        with pytest.raises(InvalidShelve):
            transition(c, T.SHELVE, actor="op1", ts=T0, until=bad)
    with pytest.raises(InvalidShelve):
        transition(c, T.SHELVE, actor="op1", ts=T0, until=datetime(2026, 11, 28, 9, 0))  # noqa: DTZ001 - naive on purpose
    shelved, record = transition(c, T.SHELVE, actor="op1", ts=T0, until=T0 + timedelta(hours=2), comment="仪表检修")
    assert record.shelved_until == T0 + timedelta(hours=2) and record.comment == "仪表检修"
    with pytest.raises(InvalidTransition):
        transition(shelved, T.SHELVE_EXPIRED, actor="system", ts=T0 + timedelta(hours=1))
    back, _ = transition(shelved, T.SHELVE_EXPIRED, actor="system", ts=T0 + timedelta(hours=2))
    assert back == AlarmCondition(S.UNACK_ACTIVE, S.UNACK_ACTIVE)


def test_hidden_alarms_cannot_be_acknowledged_and_overrides_nest():
    c = step(step(AlarmCondition(), T.PROCESS_ACTIVE, T0), T.SHELVE, T0)
    assert T.ACK not in allowed(c)
    c = step(c, T.SUPPRESS, T0)
    assert c.state is S.SUPPRESSED_BY_DESIGN and c.shelved_until is None and is_active(c.underlying)
    c = step(c, T.REMOVE_FROM_SERVICE, T0)
    assert c.state is S.OUT_OF_SERVICE
    assert allowed(c) - {T.PROCESS_ACTIVE, T.PROCESS_RETURN} == {T.RETURN_TO_SERVICE}
    c = step(step(c, T.PROCESS_RETURN, T0), T.RETURN_TO_SERVICE, T0)
    assert c.state is S.UNACK_RTN


def test_labels_are_chinese_for_every_state_and_trigger():
    assert all(s.label and not s.label.isascii() for s in AlarmStatus)
    assert all(t.label and not t.label.isascii() for t in Trigger)
    assert HIDDEN_STATES == {S.SHELVED, S.SUPPRESSED_BY_DESIGN, S.OUT_OF_SERVICE}
