"""The closed loop of a risk warning as a transition table (DOMAIN.md §3.1, §3.3).

A level change of a major hazard source raises a warning. It is dispatched to the people the
level calls for (red: the enterprise principal and the regulator; orange: the 包保 persons and
the safety department; yellow/blue: shift and unit), they report the disposal with its cause,
measures and verdict (已处置 / 误报 / 设备故障), and a safety manager closes it or sends it
back. Every move is a row of the table; anything else raises :class:`InvalidTransition`.

Example:
    >>> warning_next(WarningState.RAISED, WarningAction.DISPATCH)
    <WarningState.DISPATCHED: 'dispatched'>
    >>> warning_next(WarningState.RAISED, WarningAction.CLOSE)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    registers.risk_warnings.workflow.InvalidTransition: 预警状态「已预警」下不能执行「闭环」 / cannot close ...
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from registers.framework.workflow import allowed_actions, next_state

__all__ = [
    "ACTION_PERMISSION",
    "TRANSITIONS",
    "Feedback",
    "InvalidTransition",
    "WarningAction",
    "WarningState",
    "allowed_actions",
    "warning_next",
]


class WarningState(StrEnum):
    """Where a warning is in its closed loop."""

    RAISED = "raised"
    DISPATCHED = "dispatched"
    REPORTED = "reported"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """Chinese name shown in the warning list."""
        return {"raised": "已预警", "dispatched": "已派发", "reported": "已反馈", "closed": "已闭环"}[self.value]


class WarningAction(StrEnum):
    """What a user does to a warning."""

    DISPATCH = "dispatch"
    REPORT = "report"
    REJECT = "reject"
    CLOSE = "close"

    @property
    def label(self) -> str:
        """Chinese name shown on the button."""
        return {"dispatch": "派发", "report": "反馈处置", "reject": "退回", "close": "闭环"}[self.value]


class Feedback(StrEnum):
    """The disposal verdict a warning needs before it may close (DOMAIN.md §3.3)."""

    HANDLED = "handled"
    FALSE_ALARM = "false_alarm"
    EQUIPMENT_FAULT = "equipment_fault"

    @property
    def label(self) -> str:
        """Chinese name."""
        return {"handled": "已处置", "false_alarm": "误报", "equipment_fault": "设备故障"}[self.value]


TRANSITIONS: Mapping[tuple[WarningState, WarningAction], WarningState] = {
    (WarningState.RAISED, WarningAction.DISPATCH): WarningState.DISPATCHED,
    (WarningState.DISPATCHED, WarningAction.DISPATCH): WarningState.DISPATCHED,  # re-dispatch to others
    (WarningState.DISPATCHED, WarningAction.REPORT): WarningState.REPORTED,
    (WarningState.REPORTED, WarningAction.REJECT): WarningState.DISPATCHED,
    (WarningState.REPORTED, WarningAction.CLOSE): WarningState.CLOSED,
}

ACTION_PERMISSION: Mapping[WarningAction, tuple[str, str]] = {
    WarningAction.DISPATCH: ("acknowledge", "alarm"),
    WarningAction.REPORT: ("update", "alarm"),
    WarningAction.REJECT: ("approve", "alarm"),
    WarningAction.CLOSE: ("approve", "alarm"),
}
"""(verb, resource) each action needs. Warnings are worked at the alarm desk: the control room
acknowledges and dispatches (接警派发) and reports the disposal; closing or sending a report back
is the safety manager's sign-off (``approve``)."""


class InvalidTransition(ValueError):
    """A move the closed loop does not allow from the current state (API: 409)."""

    def __init__(self, state: Any, action: Any) -> None:
        self.state, self.action = state, action
        super().__init__(
            f"预警状态「{state.label}」下不能执行「{action.label}」"
            f" / cannot {action.value} a warning that is {state.value}"
        )


def warning_next(state: WarningState, action: WarningAction) -> WarningState:
    """The state ``action`` leads to; :class:`InvalidTransition` if the table has no such move."""
    return next_state(TRANSITIONS, state, action, InvalidTransition)
