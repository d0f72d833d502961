"""ISA-18.2 / IEC 62682 alarm states as a pure transition table.

The pipeline's :class:`~models.contracts.AlarmEvent` only says whether the process
condition holds (``active`` / ``returned``). Operators need more: whether someone has
acknowledged the alarm, and whether it is deliberately hidden (shelved by an operator,
suppressed by design, or out of service for maintenance). This module is that state model,
as data: :data:`TRANSITIONS` lists every allowed move, so the table can be shown to the
safety department, tested exhaustively and audited; an illegal move raises
:class:`InvalidTransition`.

A hidden alarm keeps following the process underneath (``underlying``), so un-shelving,
un-suppressing or returning to service lands where the alarm would be had it never been
hidden: an alarm that became active while shelved comes back unacknowledged-active, one that
came and went while shelved comes back returned-unacknowledged.

Examples:
    >>> from datetime import UTC, datetime
    >>> t0 = datetime(2026, 11, 28, tzinfo=UTC)
    >>> c, rec = transition(AlarmCondition(), Trigger.PROCESS_ACTIVE, actor="process", ts=t0)
    >>> c.state.value, rec.from_state.value, rec.to_state.value
    ('unack_active', 'normal', 'unack_active')
    >>> c, rec = transition(c, Trigger.ACK, actor="zhangsan", ts=t0)
    >>> c.state.label, rec.actor
    ('已确认-报警中', 'zhangsan')
    >>> sorted(t.value for t in allowed(AlarmStatus.NORMAL))
    ['process_active', 'process_return', 'remove_from_service', 'shelve', 'suppress']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

__all__ = [
    "BASE_STATES",
    "HIDDEN_STATES",
    "MAX_SHELVE",
    "OPERATOR_TRIGGERS",
    "PROCESS_TRIGGERS",
    "TRANSITIONS",
    "AlarmCondition",
    "AlarmStatus",
    "InvalidShelve",
    "InvalidTransition",
    "TransitionRecord",
    "Trigger",
    "allowed",
    "is_active",
    "is_unacknowledged",
    "transition",
]

# ISA-18.2 asks that shelving be time-limited; one day covers the longest shift pattern.
MAX_SHELVE: Final = timedelta(hours=24)


class AlarmStatus(StrEnum):
    """States of one alarm (ISA-18.2 figure 5 letters in brackets)."""

    NORMAL = "normal"  # (A) condition clear, nothing to acknowledge
    UNACK_ACTIVE = "unack_active"  # (B) condition holds, not yet acknowledged
    ACK_ACTIVE = "ack_active"  # (C) condition holds, acknowledged
    UNACK_RTN = "unack_rtn"  # (D) condition cleared before anyone acknowledged
    SHELVED = "shelved"  # (E) hidden by an operator until a time
    SUPPRESSED_BY_DESIGN = "suppressed_by_design"  # (F) hidden by plant state logic
    OUT_OF_SERVICE = "out_of_service"  # (G) removed for maintenance

    @property
    def label(self) -> str:
        """The Chinese name shown in the alarm list."""
        return _STATUS_LABELS[self]


_STATUS_LABELS: Mapping[AlarmStatus, str] = {
    AlarmStatus.NORMAL: "正常",
    AlarmStatus.UNACK_ACTIVE: "未确认-报警中",
    AlarmStatus.ACK_ACTIVE: "已确认-报警中",
    AlarmStatus.UNACK_RTN: "未确认-已恢复",
    AlarmStatus.SHELVED: "已搁置",
    AlarmStatus.SUPPRESSED_BY_DESIGN: "设计抑制",
    AlarmStatus.OUT_OF_SERVICE: "停用",
}

BASE_STATES: Final = frozenset(
    {AlarmStatus.NORMAL, AlarmStatus.UNACK_ACTIVE, AlarmStatus.ACK_ACTIVE, AlarmStatus.UNACK_RTN}
)
HIDDEN_STATES: Final = frozenset(AlarmStatus) - BASE_STATES


class Trigger(StrEnum):
    """What can happen to an alarm: process changes, operator actions, design logic, time."""

    PROCESS_ACTIVE = "process_active"  # the pipeline raised the condition
    PROCESS_RETURN = "process_return"  # the pipeline cleared it
    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    SHELVE_EXPIRED = "shelve_expired"  # the shelving time ran out (actor: the system)
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"
    REMOVE_FROM_SERVICE = "remove_from_service"
    RETURN_TO_SERVICE = "return_to_service"

    @property
    def label(self) -> str:
        """The Chinese name shown in the alarm journal."""
        return _TRIGGER_LABELS[self]


_TRIGGER_LABELS: Mapping[Trigger, str] = {
    Trigger.PROCESS_ACTIVE: "报警触发",
    Trigger.PROCESS_RETURN: "报警恢复",
    Trigger.ACK: "确认",
    Trigger.SHELVE: "搁置",
    Trigger.UNSHELVE: "取消搁置",
    Trigger.SHELVE_EXPIRED: "搁置到期",
    Trigger.SUPPRESS: "设计抑制",
    Trigger.UNSUPPRESS: "解除抑制",
    Trigger.REMOVE_FROM_SERVICE: "停用",
    Trigger.RETURN_TO_SERVICE: "恢复投用",
}

PROCESS_TRIGGERS: Final = frozenset({Trigger.PROCESS_ACTIVE, Trigger.PROCESS_RETURN})
# What people may ask for; process changes and expiry come from the pipeline and the clock.
OPERATOR_TRIGGERS: Final = frozenset(Trigger) - PROCESS_TRIGGERS - {Trigger.SHELVE_EXPIRED}


class _Target(StrEnum):
    """Destinations that depend on the condition, not only on the state."""

    KEEP = "keep"  # stay hidden; the process change only moves the underlying state
    UNDERLYING = "underlying"  # leave the hidden state for the tracked underlying one


_S = AlarmStatus
_T = Trigger
_HIDE: Mapping[Trigger, AlarmStatus | _Target] = {
    _T.SHELVE: _S.SHELVED,
    _T.SUPPRESS: _S.SUPPRESSED_BY_DESIGN,
    _T.REMOVE_FROM_SERVICE: _S.OUT_OF_SERVICE,
}
_TRACK: Mapping[Trigger, AlarmStatus | _Target] = {_T.PROCESS_ACTIVE: _Target.KEEP, _T.PROCESS_RETURN: _Target.KEEP}

# The whole policy. Process triggers are legal everywhere: the process does not ask.
TRANSITIONS: Final[Mapping[AlarmStatus, Mapping[Trigger, AlarmStatus | _Target]]] = {
    _S.NORMAL: {_T.PROCESS_ACTIVE: _S.UNACK_ACTIVE, _T.PROCESS_RETURN: _S.NORMAL, **_HIDE},
    _S.UNACK_ACTIVE: {
        _T.PROCESS_ACTIVE: _S.UNACK_ACTIVE,
        _T.PROCESS_RETURN: _S.UNACK_RTN,
        _T.ACK: _S.ACK_ACTIVE,
        **_HIDE,
    },
    _S.ACK_ACTIVE: {_T.PROCESS_ACTIVE: _S.ACK_ACTIVE, _T.PROCESS_RETURN: _S.NORMAL, **_HIDE},
    _S.UNACK_RTN: {_T.PROCESS_ACTIVE: _S.UNACK_ACTIVE, _T.PROCESS_RETURN: _S.UNACK_RTN, _T.ACK: _S.NORMAL, **_HIDE},
    # Re-shelving extends or shortens the shelf; design suppression and maintenance override it.
    _S.SHELVED: {
        **_TRACK,
        _T.SHELVE: _S.SHELVED,
        _T.UNSHELVE: _Target.UNDERLYING,
        _T.SHELVE_EXPIRED: _Target.UNDERLYING,
        _T.SUPPRESS: _S.SUPPRESSED_BY_DESIGN,
        _T.REMOVE_FROM_SERVICE: _S.OUT_OF_SERVICE,
    },
    _S.SUPPRESSED_BY_DESIGN: {
        **_TRACK,
        _T.UNSUPPRESS: _Target.UNDERLYING,
        _T.REMOVE_FROM_SERVICE: _S.OUT_OF_SERVICE,
    },
    _S.OUT_OF_SERVICE: {**_TRACK, _T.RETURN_TO_SERVICE: _Target.UNDERLYING},
}


class InvalidTransition(Exception):
    """A trigger that the alarm's current state does not allow."""

    def __init__(self, state: AlarmStatus, trigger: Trigger, reason: str = "") -> None:
        self.state = state
        self.trigger = trigger
        self.allowed = sorted(allowed(state) & OPERATOR_TRIGGERS)
        shown = ", ".join(f"{t.value}({t.label})" for t in self.allowed) or "无 / none"
        why = f": {reason}" if reason else ""
        super().__init__(
            f"报警处于「{state.label}」状态，不能执行「{trigger.label}」 / "
            f"{trigger.value} is not allowed in state {state.value}{why}; allowed: {shown}"
        )


class InvalidShelve(ValueError):
    """A shelving time that is not in the future or is longer than :data:`MAX_SHELVE`."""


@dataclass(frozen=True, slots=True)
class AlarmCondition:
    """Everything the state machine needs to know about one alarm.

    Attributes:
        state: what the operator sees.
        underlying: the ISA base state the alarm would be in if it were not hidden; equal to
            ``state`` whenever ``state`` is a base state.
        shelved_until: end of the shelf; set exactly while ``state`` is ``SHELVED``.
    """

    state: AlarmStatus = AlarmStatus.NORMAL
    underlying: AlarmStatus = AlarmStatus.NORMAL
    shelved_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One line of the alarm journal: who did what, when, from which state to which."""

    actor: str
    ts: datetime
    trigger: Trigger
    from_state: AlarmStatus
    to_state: AlarmStatus
    comment: str = ""
    shelved_until: datetime | None = None


def allowed(state: AlarmStatus | AlarmCondition) -> frozenset[Trigger]:
    """Every trigger the state accepts (operator actions and process changes alike)."""
    status = state.state if isinstance(state, AlarmCondition) else AlarmStatus(state)
    return frozenset(TRANSITIONS[status])


def is_active(status: AlarmStatus) -> bool:
    """Whether a base state means the process condition holds."""
    return status in (AlarmStatus.UNACK_ACTIVE, AlarmStatus.ACK_ACTIVE)


def is_unacknowledged(status: AlarmStatus) -> bool:
    """Whether the operator still owes this alarm an acknowledgement."""
    return status in (AlarmStatus.UNACK_ACTIVE, AlarmStatus.UNACK_RTN)


def _check_shelve(ts: datetime, until: datetime | None) -> datetime:
    if until is None:
        msg = "搁置必须给出到期时间 / shelving needs an end time (until)"
        raise InvalidShelve(msg)
    if until.tzinfo is None:
        msg = f"搁置到期时间必须带时区 / until must be timezone-aware, got {until!r}"
        raise InvalidShelve(msg)
    if until <= ts:
        msg = f"搁置到期时间必须晚于当前时间 / until {until.isoformat()} is not after {ts.isoformat()}"
        raise InvalidShelve(msg)
    if until - ts > MAX_SHELVE:
        hours = MAX_SHELVE.total_seconds() / 3600
        msg = f"搁置时间不能超过 {hours:g} 小时 / shelving is limited to {hours:g} h"
        raise InvalidShelve(msg)
    return until


def transition(
    condition: AlarmCondition,
    trigger: Trigger,
    *,
    actor: str,
    ts: datetime,
    comment: str = "",
    until: datetime | None = None,
) -> tuple[AlarmCondition, TransitionRecord]:
    """Apply one trigger and say what happened.

    Args:
        condition: the alarm before the trigger.
        trigger: what happened.
        actor: username of the person, or ``"process"`` / ``"system"``.
        ts: when it happened (aware UTC).
        comment: free text kept in the journal (e.g. why an alarm was shelved).
        until: end of the shelf; required by ``SHELVE``.

    Returns:
        The new condition and the journal record of the move.

    Raises:
        InvalidTransition: the state does not accept the trigger, or a shelf is expired
            before its time.
        InvalidShelve: ``SHELVE`` without a valid future ``until``.
    """
    trigger = Trigger(trigger)
    before = condition.state
    target = TRANSITIONS[before].get(trigger)
    if target is None:
        raise InvalidTransition(before, trigger)
    if trigger is Trigger.SHELVE_EXPIRED and condition.shelved_until is not None and ts < condition.shelved_until:
        raise InvalidTransition(before, trigger, f"shelved until {condition.shelved_until.isoformat()}")

    if target is _Target.KEEP:
        base_target = TRANSITIONS[condition.underlying][trigger]
        assert isinstance(base_target, AlarmStatus)  # process triggers on base states are concrete
        after = replace(condition, underlying=base_target)
    elif target is _Target.UNDERLYING:
        after = AlarmCondition(state=condition.underlying, underlying=condition.underlying)
    elif target is AlarmStatus.SHELVED:
        after = AlarmCondition(
            state=AlarmStatus.SHELVED, underlying=condition.underlying, shelved_until=_check_shelve(ts, until)
        )
    elif target in HIDDEN_STATES:
        after = AlarmCondition(state=AlarmStatus(target), underlying=condition.underlying)
    else:
        status = AlarmStatus(target)
        after = AlarmCondition(state=status, underlying=status)

    record = TransitionRecord(
        actor=actor,
        ts=ts,
        trigger=trigger,
        from_state=before,
        to_state=after.state,
        comment=comment,
        shelved_until=after.shelved_until,
    )
    return after, record
