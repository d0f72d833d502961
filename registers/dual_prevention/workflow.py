"""Investigation-task states as a transition table: 待排查 → 已排查, or 已逾期 and then done late.

Example:
    >>> transition(TaskState.PENDING, TaskAction.COMPLETE)
    <TaskState.DONE: '已排查'>
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from registers.framework.service import RegisterError
from registers.framework.workflow import allowed_actions, next_state

__all__ = ["TRANSITIONS", "InvalidTransition", "TaskAction", "TaskState", "allowed", "transition"]


class TaskState(StrEnum):
    """Where an investigation task stands."""

    PENDING = "待排查"
    DONE = "已排查"
    OVERDUE = "已逾期"


class TaskAction(StrEnum):
    """What happens to an investigation task."""

    COMPLETE = "完成排查"
    EXPIRE = "逾期"


class InvalidTransition(RegisterError):
    """A move the table does not allow (completing a task twice). API: 409."""

    def __init__(self, state: TaskState, action: TaskAction) -> None:
        self.state, self.action = state, action
        super().__init__(f"排查任务状态「{state.value}」不能执行「{action.value}」")


S, A = TaskState, TaskAction
TRANSITIONS: Mapping[tuple[TaskState, TaskAction], TaskState] = {
    (S.PENDING, A.COMPLETE): S.DONE,
    (S.PENDING, A.EXPIRE): S.OVERDUE,
    (S.OVERDUE, A.COMPLETE): S.DONE,  # done late: recorded as late, never hidden
}


def transition(state: TaskState, action: TaskAction) -> TaskState:
    """The state after ``action``; raises :class:`InvalidTransition`."""
    return next_state(TRANSITIONS, state, action, InvalidTransition)


def allowed(state: TaskState) -> list[TaskAction]:
    """Actions allowed in ``state``."""
    return allowed_actions(TRANSITIONS, state)
