"""Role-based permissions as a pure table: ``can(roles, action, resource) -> bool``.

Pure (no database, no request) so the whole policy can be listed, reviewed by the safety
department and checked with Hypothesis; routes ask it through ``api.auth.require``.
等保2.0 asks for least privilege and separation of duties: only ``admin`` manages accounts,
and the regulator (监管人员) may look but never change anything.

Examples:
    >>> can(["operator"], "acknowledge", "alarm")
    True
    >>> can(["regulator"], "approve", "permit")
    False
    >>> can(["inspector", "regulator"], "create", "inspection")
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class RoleName(StrEnum):
    """The fixed roles of SafeTwin; the values are stored in ``roles.name``."""

    ADMIN = "admin"
    SAFETY_MANAGER = "safety_manager"
    OPERATOR = "operator"
    INSPECTOR = "inspector"
    PDM_ENGINEER = "pdm_engineer"
    ANALYST = "analyst"
    REGULATOR = "regulator"


ROLE_TITLES: Mapping[RoleName, str] = {
    RoleName.ADMIN: "系统管理员",
    RoleName.SAFETY_MANAGER: "安全管理员",
    RoleName.OPERATOR: "中控操作员",
    RoleName.INSPECTOR: "巡检人员",
    RoleName.PDM_ENGINEER: "设备工程师",
    RoleName.ANALYST: "数据分析员",
    RoleName.REGULATOR: "监管人员",
}


class Action(StrEnum):
    """Verbs a route can ask permission for."""

    READ = "read"
    EXPORT = "export"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    APPROVE = "approve"  # sign a permit, close a hazard, accept a contractor
    ACKNOWLEDGE = "acknowledge"  # acknowledge / dispose an alarm
    EXECUTE = "execute"  # run an inspection round, train or run a model


READ_ONLY_ACTIONS: frozenset[str] = frozenset({Action.READ, Action.EXPORT})
WRITE_ACTIONS: frozenset[str] = frozenset(a.value for a in Action) - READ_ONLY_ACTIONS
ALL = "*"

_READ = frozenset({Action.READ})
_LOOK = READ_ONLY_ACTIONS
_EDIT = frozenset({Action.READ, Action.EXPORT, Action.CREATE, Action.UPDATE})
_MANAGE = frozenset(Action) - {Action.EXECUTE}

# Resources named by the register and API domains. Accounts (user, role) and the audit log
# are deliberately absent from every list but admin's (separation of duties).
_OPERATIONS = ("reading", "twin", "risk", "hazard_source", "equipment", "position", "video", "prediction")
_REGISTERS = (
    "hazard_source",
    "hazard",
    "permit",
    "inspection",
    "training",
    "certificate",
    "equipment",
    "contractor",
    "emergency",
    "report",
)

# role -> resource -> allowed actions; "*" as a resource means every resource, and as an
# action every action (admin only: it may do whatever a route asks, even a verb added later).
_GRANTS: Mapping[RoleName, Mapping[str, frozenset[str]]] = {
    RoleName.ADMIN: {ALL: frozenset({ALL})},
    RoleName.SAFETY_MANAGER: {
        **dict.fromkeys(_OPERATIONS, _LOOK),
        **dict.fromkeys(_REGISTERS, _MANAGE),
        "alarm": _MANAGE,
        "exchange": _LOOK,
        "simulator": frozenset({Action.READ, Action.EXECUTE}),  # drills on the demo plant
    },
    RoleName.OPERATOR: {
        **dict.fromkeys(_OPERATIONS, _READ),
        "alarm": frozenset({Action.READ, Action.ACKNOWLEDGE, Action.UPDATE}),
        "hazard": frozenset({Action.READ, Action.CREATE}),  # report a hazard from the control room
        "permit": _READ,
        "inspection": _READ,
    },
    RoleName.INSPECTOR: {
        "twin": _READ,
        "equipment": _READ,
        "hazard_source": _READ,
        "alarm": _READ,
        "permit": frozenset({Action.READ, Action.UPDATE}),  # field sign-off, gas test results
        "inspection": frozenset({Action.READ, Action.CREATE, Action.UPDATE, Action.EXECUTE}),
        "hazard": frozenset({Action.READ, Action.CREATE, Action.UPDATE}),  # report with photos
    },
    RoleName.PDM_ENGINEER: {
        **dict.fromkeys(_OPERATIONS, _LOOK),
        "alarm": _READ,
        "equipment": _EDIT,
        "prediction": frozenset({Action.READ, Action.EXPORT, Action.EXECUTE}),
        "pdm_model": frozenset({Action.READ, Action.EXPORT, Action.CREATE, Action.UPDATE, Action.EXECUTE}),
    },
    RoleName.ANALYST: {
        **dict.fromkeys(_OPERATIONS, _LOOK),
        **dict.fromkeys(_REGISTERS, _LOOK),
        "alarm": _LOOK,
        "pdm_model": _LOOK,
    },
    RoleName.REGULATOR: {
        resource: _LOOK
        for resource in ("risk", "alarm", "hazard_source", "hazard", "permit", "report", "exchange", "twin")
    },
}


def can(roles: Iterable[str], action: str, resource: str) -> bool:
    """Whether a user holding ``roles`` may do ``action`` on ``resource``.

    A user with several roles may do what any one of them may. Unknown roles, actions and
    resources grant nothing, so a typo denies instead of opening a hole.

    Args:
        roles: role names of the user (``RoleName`` values).
        action: an ``Action`` value.
        resource: a resource name such as ``"permit"`` or ``"alarm"``.

    Returns:
        True when at least one role grants the action.
    """
    for role in roles:
        try:
            grants = _GRANTS[RoleName(role)]
        except ValueError:
            continue
        allowed = grants.get(resource, frozenset()) | grants.get(ALL, frozenset())
        if action in allowed or ALL in allowed:
            return True
    return False


def grants() -> dict[str, dict[str, list[str]]]:
    """The whole table, for review screens and documentation: role -> resource -> actions."""
    return {
        role.value: {resource: sorted(actions) for resource, actions in table.items()}
        for role, table in _GRANTS.items()
    }
