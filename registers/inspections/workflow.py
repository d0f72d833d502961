"""Inspection-round states as a transition table: 待巡检 → 巡检中 → 已完成, or 已漏检 when never started.

Example:
    >>> transition(RoundState.PENDING, RoundAction.CHECK_IN)
    <RoundState.IN_PROGRESS: '巡检中'>
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from registers.framework.service import RegisterError
from registers.framework.workflow import allowed_actions, next_state

__all__ = ["TRANSITIONS", "InvalidTransition", "RoundAction", "RoundState", "allowed", "transition"]


class RoundState(StrEnum):
    """Where an inspection round stands."""

    PENDING = "待巡检"
    IN_PROGRESS = "巡检中"
    DONE = "已完成"
    MISSED = "已漏检"


class RoundAction(StrEnum):
    """What happens to a round."""

    CHECK_IN = "到位打卡"
    RECORD = "录入读数"
    FINISH = "完成巡检"
    EXPIRE = "超时"


class InvalidTransition(RegisterError):
    """A move the table does not allow (a reading in a finished round). API: 409."""

    def __init__(self, state: RoundState, action: RoundAction) -> None:
        self.state, self.action = state, action
        super().__init__(f"巡检任务状态「{state.value}」不能执行「{action.value}」")


S, A = RoundState, RoundAction
TRANSITIONS: Mapping[tuple[RoundState, RoundAction], RoundState] = {
    (S.PENDING, A.CHECK_IN): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.CHECK_IN): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.RECORD): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.FINISH): S.DONE,
    (S.PENDING, A.EXPIRE): S.MISSED,
    (S.IN_PROGRESS, A.EXPIRE): S.DONE,  # closed by time: the points not reached are recorded as missed
}


def transition(state: RoundState, action: RoundAction) -> RoundState:
    """The state after ``action``; raises :class:`InvalidTransition`."""
    return next_state(TRANSITIONS, state, action, InvalidTransition)


def allowed(state: RoundState) -> list[RoundAction]:
    """Actions allowed in ``state``."""
    return allowed_actions(TRANSITIONS, state)
