"""The hidden-hazard closed loop as a transition table (DOMAIN.md §4.2, ``dangerState``).

登记 puts a hazard at 整改中 (0); the rectifier submits it (待验收, 1); someone other than the
rectifier accepts it (已验收 = 销号, 9) or sends it back to 整改中. There is no other way to
已验收: no row of the table closes a hazard that was not submitted and accepted.

Example:
    >>> transition(HazardState.RECTIFYING, HazardAction.SUBMIT)
    <HazardState.PENDING_ACCEPTANCE: '待验收'>
    >>> transition(HazardState.RECTIFYING, HazardAction.ACCEPT)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    registers.hidden_hazards.workflow.InvalidTransition: 隐患状态「整改中」不能执行「验收通过」
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from registers.framework.service import RegisterError
from registers.framework.workflow import allowed_actions, next_state

__all__ = ["TRANSITIONS", "HazardAction", "HazardState", "InvalidTransition", "allowed", "transition"]


class HazardState(StrEnum):
    """``dangerState`` of the exchange specification."""

    RECTIFYING = "整改中"
    PENDING_ACCEPTANCE = "待验收"
    ACCEPTED = "已验收"

    @property
    def code(self) -> int:
        """Exchange code: 0 整改中, 1 待验收, 9 已验收."""
        return {"整改中": 0, "待验收": 1, "已验收": 9}[self.value]


class HazardAction(StrEnum):
    """What people do to a hidden hazard."""

    SUBMIT = "提交验收"
    ACCEPT = "验收通过"
    REJECT = "验收不通过"


class InvalidTransition(RegisterError):
    """A move the closed loop does not allow (e.g. closing without acceptance). API: 409."""

    def __init__(self, state: HazardState, action: HazardAction) -> None:
        self.state, self.action = state, action
        super().__init__(f"隐患状态「{state.value}」不能执行「{action.value}」")


S, A = HazardState, HazardAction
TRANSITIONS: Mapping[tuple[HazardState, HazardAction], HazardState] = {
    (S.RECTIFYING, A.SUBMIT): S.PENDING_ACCEPTANCE,
    (S.PENDING_ACCEPTANCE, A.ACCEPT): S.ACCEPTED,
    (S.PENDING_ACCEPTANCE, A.REJECT): S.RECTIFYING,
}


def transition(state: HazardState, action: HazardAction) -> HazardState:
    """The state after ``action``; raises :class:`InvalidTransition`."""
    return next_state(TRANSITIONS, state, action, InvalidTransition)


def allowed(state: HazardState) -> list[HazardAction]:
    """Actions the screen offers in ``state``."""
    return allowed_actions(TRANSITIONS, state)
