"""Workflows of the equipment register as transition tables: work orders (工单) and SIS bypasses (联锁旁路).

Each workflow is a mapping ``(state, action) -> new state`` of ``StrEnum`` values, so every
allowed move can be listed, shown to users, audited and tested with Hypothesis; any move not
in the table raises :class:`InvalidTransition`. Each action also names the permission verb it
needs (``update`` to do the work, ``approve`` to sign it off), so separation of duties is
data too.

Examples:
    >>> work_order_next(WorkOrderState.OPEN, WorkOrderAction.ASSIGN)
    <WorkOrderState.ASSIGNED: 'assigned'>
    >>> bypass_next(BypassState.REQUESTED, BypassAction.START)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    registers.equipment.workflow.InvalidTransition: 旁路状态「已申请」下不能执行「投入旁路」 / cannot start ...
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from registers.framework.workflow import allowed_actions, next_state

__all__ = [
    "BYPASS_ACTION_PERMISSION",
    "BYPASS_TRANSITIONS",
    "WORK_ORDER_ACTION_PERMISSION",
    "WORK_ORDER_TRANSITIONS",
    "BypassAction",
    "BypassState",
    "InvalidTransition",
    "WorkOrderAction",
    "WorkOrderState",
    "allowed_actions",
    "bypass_next",
    "work_order_next",
]


class InvalidTransition(ValueError):
    """A move the workflow does not allow from the current state (API: 409)."""

    def __init__(self, state: Any, action: Any, *, message: str | None = None) -> None:
        self.state, self.action = state, action
        kind, kind_en = ("工单", "work order") if isinstance(state, WorkOrderState) else ("旁路", "bypass")
        super().__init__(
            message
            or f"{kind}状态「{state.label}」下不能执行「{action.label}」 / cannot {action.value} a {kind_en}"
            f" that is {state.value.replace('_', ' ')}"
        )


# --- work orders (工单) ----------------------------------------------------------------------


class WorkOrderState(StrEnum):
    """States of a maintenance work order."""

    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    VERIFIED = "verified"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """Chinese name of the state."""
        return _WO_STATE_LABELS[self]


class WorkOrderAction(StrEnum):
    """What people do to a work order."""

    ASSIGN = "assign"  # 派工: name the maintainer
    START = "start"  # 开工
    COMPLETE = "complete"  # 完工: the maintainer reports it done
    REWORK = "rework"  # 返工: verification found it not fixed
    VERIFY = "verify"  # 验收: someone other than the maintainer confirms the fix
    CLOSE = "close"  # 关闭: records complete, archived to the equipment file
    CANCEL = "cancel"  # 取消: raised in error, or superseded

    @property
    def label(self) -> str:
        """Chinese name of the action."""
        return _WO_ACTION_LABELS[self]


_WO_STATE_LABELS: Mapping[WorkOrderState, str] = {
    WorkOrderState.OPEN: "待派工",
    WorkOrderState.ASSIGNED: "已派工",
    WorkOrderState.IN_PROGRESS: "维修中",
    WorkOrderState.DONE: "已完工",
    WorkOrderState.VERIFIED: "已验收",
    WorkOrderState.CLOSED: "已关闭",
    WorkOrderState.CANCELLED: "已取消",
}
_WO_ACTION_LABELS: Mapping[WorkOrderAction, str] = {
    WorkOrderAction.ASSIGN: "派工",
    WorkOrderAction.START: "开工",
    WorkOrderAction.COMPLETE: "完工",
    WorkOrderAction.REWORK: "返工",
    WorkOrderAction.VERIFY: "验收",
    WorkOrderAction.CLOSE: "关闭",
    WorkOrderAction.CANCEL: "取消",
}

_S, _A = WorkOrderState, WorkOrderAction
WORK_ORDER_TRANSITIONS: Mapping[tuple[WorkOrderState, WorkOrderAction], WorkOrderState] = {
    (_S.OPEN, _A.ASSIGN): _S.ASSIGNED,
    (_S.OPEN, _A.CANCEL): _S.CANCELLED,
    (_S.ASSIGNED, _A.ASSIGN): _S.ASSIGNED,  # re-assign to another maintainer
    (_S.ASSIGNED, _A.START): _S.IN_PROGRESS,
    (_S.ASSIGNED, _A.CANCEL): _S.CANCELLED,
    (_S.IN_PROGRESS, _A.COMPLETE): _S.DONE,
    (_S.IN_PROGRESS, _A.CANCEL): _S.CANCELLED,
    (_S.DONE, _A.VERIFY): _S.VERIFIED,
    (_S.DONE, _A.REWORK): _S.IN_PROGRESS,
    (_S.VERIFIED, _A.CLOSE): _S.CLOSED,
}
# Doing the work needs "update"; signing it off needs "approve" (not the maintainer's own role).
WORK_ORDER_ACTION_PERMISSION: Mapping[WorkOrderAction, str] = {
    _A.ASSIGN: "update",
    _A.START: "update",
    _A.COMPLETE: "update",
    _A.CANCEL: "update",
    _A.REWORK: "approve",
    _A.VERIFY: "approve",
    _A.CLOSE: "approve",
}
WORK_ORDER_TERMINAL: frozenset[WorkOrderState] = frozenset({_S.CLOSED, _S.CANCELLED})


def work_order_next(state: WorkOrderState, action: WorkOrderAction) -> WorkOrderState:
    """The state a work order moves to when ``action`` is done in ``state``.

    Raises:
        InvalidTransition: the table has no such move.
    """
    return next_state(WORK_ORDER_TRANSITIONS, state, action, InvalidTransition)


# --- SIS interlock bypasses (联锁旁路) -------------------------------------------------------


class BypassState(StrEnum):
    """States of an interlock bypass (联锁摘除/旁路) request."""

    REQUESTED = "requested"
    APPROVED = "approved"
    ACTIVE = "active"
    RESTORED = "restored"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """Chinese name of the state."""
        return _BP_STATE_LABELS[self]


class BypassAction(StrEnum):
    """What people do to a bypass request."""

    APPROVE = "approve"  # 批准
    REJECT = "reject"  # 驳回
    START = "start"  # 投入旁路 (the interlock is now out of service)
    CLOSE = "close"  # 关闭旁路, 恢复联锁
    CANCEL = "cancel"  # 撤销 (not needed any more, before it started)

    @property
    def label(self) -> str:
        """Chinese name of the action."""
        return _BP_ACTION_LABELS[self]


_BP_STATE_LABELS: Mapping[BypassState, str] = {
    BypassState.REQUESTED: "已申请",
    BypassState.APPROVED: "已批准",
    BypassState.ACTIVE: "旁路中",
    BypassState.RESTORED: "已恢复",
    BypassState.REJECTED: "已驳回",
    BypassState.CANCELLED: "已撤销",
}
_BP_ACTION_LABELS: Mapping[BypassAction, str] = {
    BypassAction.APPROVE: "批准",
    BypassAction.REJECT: "驳回",
    BypassAction.START: "投入旁路",
    BypassAction.CLOSE: "恢复联锁",
    BypassAction.CANCEL: "撤销",
}

_B, _BA = BypassState, BypassAction
BYPASS_TRANSITIONS: Mapping[tuple[BypassState, BypassAction], BypassState] = {
    (_B.REQUESTED, _BA.APPROVE): _B.APPROVED,
    (_B.REQUESTED, _BA.REJECT): _B.REJECTED,
    (_B.REQUESTED, _BA.CANCEL): _B.CANCELLED,
    (_B.APPROVED, _BA.START): _B.ACTIVE,
    (_B.APPROVED, _BA.CANCEL): _B.CANCELLED,
    (_B.ACTIVE, _BA.CLOSE): _B.RESTORED,
}
BYPASS_ACTION_PERMISSION: Mapping[BypassAction, str] = {
    _BA.APPROVE: "approve",
    _BA.REJECT: "approve",
    _BA.START: "update",
    _BA.CLOSE: "update",
    _BA.CANCEL: "update",
}
BYPASS_TERMINAL: frozenset[BypassState] = frozenset({_B.RESTORED, _B.REJECTED, _B.CANCELLED})


def bypass_next(state: BypassState, action: BypassAction) -> BypassState:
    """The state a bypass moves to when ``action`` is done in ``state``.

    Raises:
        InvalidTransition: the table has no such move.
    """
    return next_state(BYPASS_TRANSITIONS, state, action, InvalidTransition)
