"""Compliance self-diagnosis of safety staffing (人员合规自诊断): which rule fails and why.

Pure: it takes a snapshot of the workforce (:class:`Workforce`) and a versioned rules table
(:class:`RuleSet`) and returns, for every rule, pass/fail and a sentence a safety manager can
act on, e.g. ``专职安全生产管理人员 3 人，要求 ≥ 7 人（从业人员 320 人，按 2% 计）``.

DOMAIN.md gives no staffing numbers, so the thresholds are a *configurable, versioned* table
rather than constants in code. The default set (``RULESETS["2026.1"]``) takes its numbers from
the national rules most provinces apply to hazardous-chemical producers and names its basis
on every result; a province with stricter rules registers another :class:`RuleSet` (or a
``dataclasses.replace`` of this one) and passes it in:

* 专职安全生产管理人员 ≥ 2% of 从业人员, at least 1 (《关于加强化工过程安全管理的指导意见》
  and provincial rules based on 《安全生产法》第二十四条);
* 注册安全工程师 ≥ 15% of the safety management staff, at least 1 (《注册安全工程师分类管理办法》
  第十一条: 危险物品生产、储存单位 … 15% 左右);
* the principal (主要负责人) and every safety manager hold a valid 安全生产知识和管理能力考核
  合格证 (安全资格证) (《安全生产法》第二十七条);
* everyone in a special operation holds a valid 特种作业操作证 (《特种作业人员安全技术培训
  考核管理规定》).

Example:
    >>> from datetime import date
    >>> staff = [StaffMember("张三", full_time_safety=True)] * 3
    >>> result = diagnose(Workforce(employees=320, staff=tuple(staff)), on=date(2026, 11, 28))[0]
    >>> result.passed, result.reason
    (False, '专职安全生产管理人员 3 人，要求 ≥ 7 人（从业人员 320 人，按 2% 计，至少 1 人）')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

__all__ = [
    "DEFAULT_RULESET",
    "RULESETS",
    "CertificateFact",
    "CertificateKind",
    "RuleResult",
    "RuleSet",
    "StaffMember",
    "Workforce",
    "diagnose",
    "required_count",
]


class CertificateKind(StrEnum):
    """Kinds of personal certificate the rules look at; the values are what the ledger says."""

    SAFETY_QUALIFICATION = "安全资格证"  # 主要负责人/安全生产管理人员 安全生产知识和管理能力考核合格证
    SPECIAL_OPERATION = "特种作业操作证"
    REGISTERED_SAFETY_ENGINEER = "注册安全工程师"
    OTHER = "其他"


@dataclass(frozen=True)
class CertificateFact:
    """A certificate as the rules see it: its kind and until when it is valid (None: no expiry)."""

    kind: CertificateKind
    expiry_date: date | None = None

    def valid_on(self, day: date) -> bool:
        """Whether the certificate is still valid on ``day`` (valid through its expiry date)."""
        return self.expiry_date is None or self.expiry_date >= day


@dataclass(frozen=True)
class StaffMember:
    """One employee as the rules see them.

    Attributes:
        name: for the reasons (who lacks what).
        full_time_safety: 专职安全生产管理人员.
        principal: 主要负责人.
        special_operation: the 特种作业 category the job requires (e.g. ``危险化学品安全作业``), or None.
        certificates: the person's certificates.
    """

    name: str
    full_time_safety: bool = False
    principal: bool = False
    special_operation: str | None = None
    certificates: tuple[CertificateFact, ...] = ()

    def holds(self, kind: CertificateKind, on: date) -> bool:
        """Whether the person holds a certificate of ``kind`` valid on ``on``."""
        return any(c.kind == kind and c.valid_on(on) for c in self.certificates)


@dataclass(frozen=True)
class Workforce:
    """The snapshot the rules judge: head count (从业人员, incl. those not in ``staff``) and the staff list."""

    employees: int
    staff: tuple[StaffMember, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """A versioned table of staffing thresholds; change the numbers here, not the code.

    Attributes:
        version: identifier shown with every result, e.g. ``"2026.1"``.
        safety_staff_ratio: 专职安全生产管理人员 per 从业人员 (0.02 = 2%).
        safety_staff_minimum: at least this many, whatever the head count.
        engineer_ratio: 注册安全工程师 per 专职安全生产管理人员 (0.15 = 15%).
        engineer_minimum: at least this many.
        engineer_from_employees: the engineer rule applies from this head count (0 = always).
        basis: rule code -> the regulation it comes from, shown with each result.
    """

    version: str
    safety_staff_ratio: float = 0.02
    safety_staff_minimum: int = 1
    engineer_ratio: float = 0.15
    engineer_minimum: int = 1
    engineer_from_employees: int = 0
    basis: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleResult:
    """The verdict of one rule: pass/fail, the counts compared, and why in plain Chinese."""

    code: str
    title: str
    passed: bool
    actual: int
    required: int
    reason: str
    basis: str
    ruleset: str
    people: tuple[str, ...] = ()  # who is missing what, when the rule is about persons


DEFAULT_RULESET = RuleSet(
    version="2026.1",
    basis={
        "safety_staff": (
            "《安全生产法》第二十四条；《关于加强化工过程安全管理的指导意见》（专职安全管理人员不少于从业人员 2%）"
        ),
        "registered_engineers": "《注册安全工程师分类管理办法》第十一条（不少于安全生产管理人员 15%）",
        "principal_qualified": "《安全生产法》第二十七条（主要负责人考核合格）",
        "safety_staff_qualified": "《安全生产法》第二十七条（安全生产管理人员考核合格）",
        "special_operations_certified": "《特种作业人员安全技术培训考核管理规定》（持证上岗）",
    },
)

RULESETS: dict[str, RuleSet] = {DEFAULT_RULESET.version: DEFAULT_RULESET}


def required_count(base: int, ratio: float, minimum: int) -> int:
    """``max(minimum, ⌈base × ratio⌉)``, robust to float noise (2% of 350 is 7, not 8).

    Examples:
        >>> required_count(320, 0.02, 1), required_count(350, 0.02, 1), required_count(10, 0.02, 1)
        (7, 7, 1)
    """
    exact = round(base * ratio, 9)
    return max(minimum, math.ceil(exact))


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def diagnose(workforce: Workforce, *, on: date, rules: RuleSet = DEFAULT_RULESET) -> list[RuleResult]:
    """Judge the workforce against every rule of ``rules`` on day ``on``.

    Args:
        workforce: head count and staff.
        on: the day the certificates must be valid on (an expired one does not count).
        rules: the thresholds; defaults to the current national set.

    Returns:
        One :class:`RuleResult` per rule, in a fixed order.

    Raises:
        ValueError: a negative head count.
    """
    if workforce.employees < 0:
        msg = f"从业人员数不能为负 / employees must be ≥ 0, got {workforce.employees}"
        raise ValueError(msg)
    staff = workforce.staff
    safety = [p for p in staff if p.full_time_safety]
    results: list[RuleResult] = []

    needed = required_count(workforce.employees, rules.safety_staff_ratio, rules.safety_staff_minimum)
    results.append(
        RuleResult(
            code="safety_staff",
            title="专职安全生产管理人员配备",
            passed=len(safety) >= needed,
            actual=len(safety),
            required=needed,
            reason=(
                f"专职安全生产管理人员 {len(safety)} 人，要求 ≥ {needed} 人（从业人员 {workforce.employees} 人，"
                f"按 {_percent(rules.safety_staff_ratio)} 计，至少 {rules.safety_staff_minimum} 人）"
            ),
            basis=rules.basis.get("safety_staff", ""),
            ruleset=rules.version,
        )
    )

    engineers = [p for p in staff if p.holds(CertificateKind.REGISTERED_SAFETY_ENGINEER, on)]
    if workforce.employees >= rules.engineer_from_employees:
        needed = required_count(len(safety), rules.engineer_ratio, rules.engineer_minimum)
        reason = (
            f"注册安全工程师 {len(engineers)} 人，要求 ≥ {needed} 人（专职安全生产管理人员 {len(safety)} 人，"
            f"按 {_percent(rules.engineer_ratio)} 计，至少 {rules.engineer_minimum} 人）"
        )
    else:
        needed = 0
        reason = (
            f"注册安全工程师 {len(engineers)} 人；从业人员 {workforce.employees} 人，"
            f"不足 {rules.engineer_from_employees} 人，本条不适用"
        )
    results.append(
        RuleResult(
            code="registered_engineers",
            title="注册安全工程师配备",
            passed=len(engineers) >= needed,
            actual=len(engineers),
            required=needed,
            reason=reason,
            basis=rules.basis.get("registered_engineers", ""),
            ruleset=rules.version,
        )
    )

    results.append(
        _everyone_holds(
            code="principal_qualified",
            title="主要负责人持证",
            who="主要负责人",
            people=[p for p in staff if p.principal],
            kind=CertificateKind.SAFETY_QUALIFICATION,
            on=on,
            rules=rules,
            at_least_one=True,
        )
    )
    results.append(
        _everyone_holds(
            code="safety_staff_qualified",
            title="安全生产管理人员持证",
            who="专职安全生产管理人员",
            people=safety,
            kind=CertificateKind.SAFETY_QUALIFICATION,
            on=on,
            rules=rules,
        )
    )
    results.append(
        _everyone_holds(
            code="special_operations_certified",
            title="特种作业人员持证上岗",
            who="特种作业人员",
            people=[p for p in staff if p.special_operation],
            kind=CertificateKind.SPECIAL_OPERATION,
            on=on,
            rules=rules,
        )
    )
    return results


def _everyone_holds(
    *,
    code: str,
    title: str,
    who: str,
    people: list[StaffMember],
    kind: CertificateKind,
    on: date,
    rules: RuleSet,
    at_least_one: bool = False,
) -> RuleResult:
    """A rule of the form "every ``who`` holds a valid ``kind``" (optionally: and there is one)."""
    lacking = tuple(p.name for p in people if not p.holds(kind, on))
    holding = len(people) - len(lacking)
    if at_least_one and not people:
        passed, reason = False, f"未登记{who}"
    elif lacking:
        passed = False
        reason = f"{who} {len(people)} 人，{len(lacking)} 人无有效{kind.value}：{'、'.join(lacking)}"
    else:
        passed, reason = True, f"{who} {len(people)} 人，均持有有效{kind.value}"
    return RuleResult(
        code=code,
        title=title,
        passed=passed,
        actual=holding,
        required=max(len(people), 1 if at_least_one else 0),
        reason=reason,
        basis=rules.basis.get(code, ""),
        ruleset=rules.version,
        people=lacking,
    )
