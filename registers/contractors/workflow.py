"""The contractor's life on site as a transition table: 申请 → 准入 → 入场 → 退场, and the blacklist.

Every allowed move is a row of :data:`TRANSITIONS`, so the table can be listed, audited and
tested with Hypothesis; any other move raises :class:`InvalidTransition`. A blacklisted
contractor can leave the blacklist only by ``lift`` (解除), which puts it back at 已退场: it
must then apply and be admitted again like a new one.

Example:
    >>> transition(ContractorStatus.APPLIED, ContractorEvent.ADMIT)
    <ContractorStatus.ADMITTED: '已准入'>
    >>> transition(ContractorStatus.BLACKLISTED, ContractorEvent.ADMIT)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    registers.contractors.workflow.InvalidTransition: 承包商状态「黑名单」不能执行「准入」
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from registers.framework.service import RegisterError
from registers.framework.workflow import allowed_actions, next_state

__all__ = ["TRANSITIONS", "ContractorEvent", "ContractorStatus", "InvalidTransition", "allowed_events", "transition"]


class ContractorStatus(StrEnum):
    """Where a contractor stands."""

    APPLIED = "申请中"
    ADMITTED = "已准入"
    ON_SITE = "已入场"
    EXITED = "已退场"
    REJECTED = "未通过"
    BLACKLISTED = "黑名单"


class ContractorEvent(StrEnum):
    """What can happen to a contractor."""

    ADMIT = "准入"
    REJECT = "驳回"
    ENTER = "入场"
    RENEW = "续期"
    EXIT = "退场"
    REAPPLY = "重新申请"
    BLACKLIST = "列入黑名单"
    LIFT = "解除黑名单"


class InvalidTransition(RegisterError):
    """A move the table does not allow (e.g. entry without admission, admission of a blacklisted one)."""

    def __init__(self, state: ContractorStatus, event: ContractorEvent) -> None:
        self.state, self.event = state, event
        super().__init__(f"承包商状态「{state.value}」不能执行「{event.value}」")


S, E = ContractorStatus, ContractorEvent

TRANSITIONS: Mapping[tuple[ContractorStatus, ContractorEvent], ContractorStatus] = {
    (S.APPLIED, E.ADMIT): S.ADMITTED,
    (S.APPLIED, E.REJECT): S.REJECTED,
    (S.REJECTED, E.REAPPLY): S.APPLIED,
    (S.ADMITTED, E.ENTER): S.ON_SITE,
    (S.ADMITTED, E.RENEW): S.ADMITTED,
    (S.ON_SITE, E.RENEW): S.ON_SITE,
    (S.ADMITTED, E.EXIT): S.EXITED,
    (S.ON_SITE, E.EXIT): S.EXITED,
    (S.EXITED, E.REAPPLY): S.APPLIED,
    (S.EXITED, E.RENEW): S.ADMITTED,  # re-admission of a known contractor for a new contract
    **{(state, E.BLACKLIST): S.BLACKLISTED for state in S if state != S.BLACKLISTED},
    (S.BLACKLISTED, E.LIFT): S.EXITED,
}


def transition(state: ContractorStatus, event: ContractorEvent) -> ContractorStatus:
    """The state after ``event``.

    Raises:
        InvalidTransition: the table has no such move.
    """
    return next_state(TRANSITIONS, state, event, InvalidTransition)


def allowed_events(state: ContractorStatus) -> list[ContractorEvent]:
    """The events allowed in ``state``, in table order (what the screen offers as buttons)."""
    return allowed_actions(TRANSITIONS, state)
