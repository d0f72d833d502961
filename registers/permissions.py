"""Role-based permissions as a pure table: ``can(roles, action, resource) -> bool``.

Pure (no database, no request) so the whole policy can be listed, reviewed by the safety
department and checked with Hypothesis; routes ask it through ``api.auth.require``.
等保2.0 asks for least privilege and separation of duties (三员分立): ``admin`` runs the
system but neither manages accounts (``security_admin``) nor reads the audit log
(``auditor``), and the regulator (监管人员) may look but never change anything.

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
    SECURITY_ADMIN = "security_admin"  # 三员分立: accounts, roles and grants; nothing else
    AUDITOR = "auditor"  # 三员分立: reads and exports the audit log; nothing else


ROLE_TITLES: Mapping[RoleName, str] = {
    RoleName.ADMIN: "系统管理员",
    RoleName.SAFETY_MANAGER: "安全管理员",
    RoleName.OPERATOR: "中控操作员",
    RoleName.INSPECTOR: "巡检人员",
    RoleName.PDM_ENGINEER: "设备工程师",
    RoleName.ANALYST: "数据分析员",
    RoleName.REGULATOR: "监管人员",
    RoleName.SECURITY_ADMIN: "安全管理员(系统)",
    RoleName.AUDITOR: "审计员",
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
    IMPORT = "import"  # bulk-load a register from an Excel / CSV file (all rows or none)


READ_ONLY_ACTIONS: frozenset[str] = frozenset({Action.READ, Action.EXPORT})
WRITE_ACTIONS: frozenset[str] = frozenset(a.value for a in Action) - READ_ONLY_ACTIONS
ALL = "*"

_READ = frozenset({Action.READ})
_LOOK = READ_ONLY_ACTIONS
_EDIT = frozenset({Action.READ, Action.EXPORT, Action.CREATE, Action.UPDATE})
_MANAGE = frozenset(Action) - {Action.EXECUTE}

# Accounts, roles and the audit log: 三员分立 (等保2.0 L3 separation of duties). The system
# administrator's "*" does not reach them; the security administrator manages accounts and
# roles, the auditor reads the audit log, and neither may touch anything else.
SECURITY_RESOURCES: frozenset[str] = frozenset({"user", "role", "audit"})

# Resources named by the register and API domains.
_OPERATIONS = ("reading", "twin", "risk", "hazard_source", "equipment", "position", "video", "prediction")
_REGISTERS = (
    "hazard_source",
    "hazard_source_duty",  # 包保履职记录
    "process",  # 生产过程基础信息: hazardous processes, chemicals (MSDS), start-up / shut-down
    "hazard",
    "permit",
    "inspection",
    "dual_prevention",  # 风险分级管控 and 隐患排查 tasks (双重预防)
    "training",  # 培训管理: courses, plans, sessions, records, question bank, exams
    "person",  # 企业人员/第三方人员 and their certificates, staffing compliance
    "certificate",
    "equipment",  # 设备设施: tree, inspections, safety valves, rupture discs, lifecycle, spares, interlocks
    "work_order",  # 设备工单
    "sis_bypass",  # SIS联锁旁路申请 (approve = 批准旁路)
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
        "training": _MANAGE | {Action.EXECUTE},  # records paper answer sheets for marking
        "dual_prevention": _MANAGE | {Action.EXECUTE},  # 包保责任人 do their own check tasks
        "alarm": _MANAGE,
        "exchange": _LOOK,
        "simulator": frozenset({Action.READ, Action.EXECUTE}),  # drills on the demo plant
        "reminder": frozenset({Action.READ, Action.EXECUTE}),  # 到期提醒: sees and fires them
    },
    RoleName.OPERATOR: {
        **dict.fromkeys(_OPERATIONS, _READ),
        "alarm": frozenset({Action.READ, Action.ACKNOWLEDGE, Action.UPDATE}),
        "hazard": frozenset({Action.READ, Action.CREATE}),  # report a hazard from the control room
        "process": _READ,  # process limits and MSDS at the console
        "hazard_source_duty": frozenset({Action.READ, Action.CREATE}),  # 操作负责人 records the weekly check
        "permit": _READ,
        "inspection": _READ,
        "dual_prevention": frozenset({Action.READ, Action.EXECUTE}),  # does the 隐患排查 tasks of the post
        "training": frozenset({Action.READ, Action.EXECUTE}),  # reads the training file, sits exams
        "work_order": frozenset({Action.READ, Action.CREATE}),  # report a fault from the console
        "sis_bypass": frozenset({Action.READ, Action.CREATE, Action.UPDATE}),  # request, put in, restore
    },
    RoleName.INSPECTOR: {
        "twin": _READ,
        "reading": _READ,  # compares the field gauge with the DCS value on a round
        "equipment": _READ,
        "hazard_source": _READ,
        "hazard_source_duty": frozenset({Action.READ, Action.CREATE}),  # a duty done on a round
        "process": _READ,
        "alarm": _READ,
        "permit": frozenset({Action.READ, Action.UPDATE}),  # field sign-off, gas test results
        "inspection": frozenset({Action.READ, Action.CREATE, Action.UPDATE, Action.EXECUTE}),
        "hazard": frozenset({Action.READ, Action.CREATE, Action.UPDATE}),  # report with photos
        "dual_prevention": frozenset({Action.READ, Action.EXECUTE}),  # does the 隐患排查 tasks of the post
        "training": frozenset({Action.READ, Action.EXECUTE}),  # sits exams
        "person": _READ,  # checks a worker's certificates on site
        "contractor": _READ,  # checks a contractor is admitted and not blacklisted at the gate
        "work_order": frozenset({Action.READ, Action.UPDATE}),  # the maintainer starts and completes the work
        "sis_bypass": _READ,
    },
    RoleName.PDM_ENGINEER: {
        **dict.fromkeys(_OPERATIONS, _LOOK),
        "alarm": _READ,
        "equipment": _EDIT | {Action.IMPORT},  # keeps the equipment ledger, loads it from Excel
        "work_order": _EDIT | {Action.APPROVE},  # plans, assigns and verifies repairs
        "sis_bypass": _LOOK,
        "prediction": frozenset({Action.READ, Action.EXPORT, Action.EXECUTE}),
        "reminder": _READ,  # inspections and calibrations falling due
        "pdm_model": frozenset({Action.READ, Action.EXPORT, Action.CREATE, Action.UPDATE, Action.EXECUTE}),
    },
    RoleName.ANALYST: {
        **dict.fromkeys(_OPERATIONS, _LOOK),
        **dict.fromkeys(_REGISTERS, _LOOK),
        "alarm": _LOOK,
        "pdm_model": _LOOK,
        "reminder": _READ,
    },
    RoleName.REGULATOR: {
        resource: _LOOK
        for resource in (
            "reading",  # 重大危险源在线监测: the monitored values of the hazard sources
            "risk",
            "alarm",
            "hazard_source",
            "hazard_source_duty",  # whether the 包保 persons do their checks
            "process",
            "hazard",
            "dual_prevention",  # 双重预防: risk grading, check tasks (the first thing audited)
            "permit",
            "report",
            "certificate",  # licences and evaluation reports are the first thing an inspection asks for
            "equipment",  # special-equipment inspections and safety-valve calibrations in date
            "sis_bypass",  # interlock bypasses are reported to the monitoring system
            "person",  # 持证上岗 and staffing are checked on every inspection
            "training",  # 培训档案
            "contractor",  # 相关方管理: admission, blacklist
            "exchange",
            "twin",
        )
    },
    RoleName.SECURITY_ADMIN: {
        "user": frozenset({Action.READ, Action.CREATE, Action.UPDATE, Action.DELETE}),
        "role": frozenset({Action.READ, Action.UPDATE}),
    },
    RoleName.AUDITOR: {
        "audit": frozenset({Action.READ, Action.EXPORT}),
        "user": _READ,  # who holds which role, to check it against the trail
        "role": _READ,
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
        allowed = grants.get(resource, frozenset())
        if resource not in SECURITY_RESOURCES:
            allowed |= grants.get(ALL, frozenset())
        if action in allowed or ALL in allowed:
            return True
    return False


def grants() -> dict[str, dict[str, list[str]]]:
    """The whole table, for review screens and documentation: role -> resource -> actions."""
    return {
        role.value: {resource: sorted(actions) for resource, actions in table.items()}
        for role, table in _GRANTS.items()
    }
