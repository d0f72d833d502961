"""A ticket's life as a transition table: 草稿 → 审批中 → 已批准 → 作业中 ⇄ 已中断 → 已完工 → 已验收关闭.

Every allowed move is a row of :data:`TRANSITIONS`; anything else raises
:class:`InvalidTransition`. The guards (gas analysis, certificates, approver roles, validity,
SIMOPS) are in the service, which asks this table first. 已验收关闭 is reachable only by
``ACCEPT`` from 已完工, so no ticket closes without acceptance.

Example:
    >>> transition(PermitStatus.COMPLETED, PermitEvent.ACCEPT)
    <PermitStatus.CLOSED: '已验收关闭'>
    >>> transition(PermitStatus.WORKING, PermitEvent.ACCEPT)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    registers.permits.workflow.InvalidTransition: 作业票状态「作业中」不能执行「验收关闭」
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from registers.framework.service import RegisterError
from registers.framework.workflow import allowed_actions, next_state
from registers.permits.models import PermitStatus

__all__ = ["LIVE", "TERMINAL", "TRANSITIONS", "InvalidTransition", "PermitEvent", "allowed_events", "transition"]


class PermitEvent(StrEnum):
    """What can happen to a ticket."""

    SUBMIT = "提交审批"
    SIGN = "审批"  # an intermediate level signs
    ISSUE = "签发"  # the last level signs
    REJECT = "驳回"
    REVISE = "修改重报"
    START = "开始作业"
    SUSPEND = "中断作业"
    RESUME = "恢复作业"
    COMPLETE = "完工"
    ACCEPT = "验收关闭"
    CANCEL = "作废"
    EXPIRE = "超期"


class InvalidTransition(RegisterError):
    """A move the table does not allow (e.g. closing without acceptance)."""

    def __init__(self, state: PermitStatus, event: PermitEvent) -> None:
        self.state, self.event = state, event
        super().__init__(f"作业票状态「{state.value}」不能执行「{event.value}」")


S, E = PermitStatus, PermitEvent

TRANSITIONS: Mapping[tuple[PermitStatus, PermitEvent], PermitStatus] = {
    (S.DRAFT, E.SUBMIT): S.APPROVING,
    (S.APPROVING, E.SIGN): S.APPROVING,
    (S.APPROVING, E.ISSUE): S.APPROVED,
    (S.APPROVING, E.REJECT): S.REJECTED,
    (S.REJECTED, E.REVISE): S.DRAFT,
    (S.APPROVED, E.START): S.WORKING,
    (S.WORKING, E.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, E.RESUME): S.WORKING,
    (S.WORKING, E.COMPLETE): S.COMPLETED,
    (S.COMPLETED, E.ACCEPT): S.CLOSED,
    **{(s, E.CANCEL): S.CANCELLED for s in (S.DRAFT, S.APPROVING, S.APPROVED, S.REJECTED, S.SUSPENDED)},
    **{(s, E.EXPIRE): S.EXPIRED for s in (S.APPROVED, S.WORKING, S.SUSPENDED)},
}

TERMINAL: frozenset[PermitStatus] = frozenset({S.CLOSED, S.CANCELLED, S.EXPIRED})
LIVE: frozenset[PermitStatus] = frozenset({S.APPROVING, S.APPROVED, S.WORKING, S.SUSPENDED})
"""States in which a ticket holds its place on site (SIMOPS looks at these)."""


def transition(state: PermitStatus, event: PermitEvent) -> PermitStatus:
    """The state after ``event``.

    Raises:
        InvalidTransition: the table has no such move.
    """
    return next_state(TRANSITIONS, state, event, InvalidTransition)


def allowed_events(state: PermitStatus) -> list[PermitEvent]:
    """The events allowed in ``state``, in table order (what the screen offers as buttons)."""
    return allowed_actions(TRANSITIONS, state)
