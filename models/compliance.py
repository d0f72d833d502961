"""Compliance self-diagnosis of safety staffing (人员合规自诊断): which rule fails and why.

Pure: it takes a snapshot of the workforce (:class:`Workforce`) and a versioned rules table
(:class:`RuleSet`) and returns, for every rule, pass/fail and a sentence a safety manager can
act on, e.g. ``专职安全生产管理人员 3 人，要求 ≥ 7 人（从业人员 320 人，按 2% 计，至少 2 人）``.

DOMAIN.md gives no staffing numbers, so the thresholds are a *configurable, versioned* table
rather than constants in code, and every result names its table and its basis. A province
with stricter rules registers another :class:`RuleSet` (or a ``dataclasses.replace`` of one)
and passes it in. The default, ``RULESETS["2026.2"]``, follows 《危险化学品企业重点人员安全
资质达标导则（试行）》 (应急危化二〔2021〕1号, "导则" below) for hazardous-chemical enterprises:

* 专职安全生产管理人员: at least 1 below 50 employees, at least 2 from 50, not below 2% of
  the employees above 100 (《安全生产法》第二十四条; 导则);
* 注册安全工程师: from 300 employees, ≥ 15% of the full-time safety staff, at least 1, and only
  engineers *of the right grade and category* count: 中级 or 高级 (《注册安全工程师分类管理
  办法》, 安监总人事〔2017〕118号: 相应专业类别的中级及以上) in 化工安全 (导则);
* the principal (主要负责人) and every safety manager hold a valid 安全生产知识和管理能力考核
  合格证 (安全资格证) (《安全生产法》第二十七条);
* everyone in a special operation holds a valid 特种作业操作证 (《特种作业人员安全技术培训
  考核管理规定》);
* 学历 of key persons: where the enterprise has 两重点一重大 (重点监管危险化工工艺, 重点监管
  危险化学品, 重大危险源), the principal and the heads of production, equipment, technology
  and safety (:attr:`StaffMember.key_manager`) have a 化学/化工/安全-related 大专 or higher, or
  a 化工类 intermediate or higher title (《关于全面加强危险化学品安全生产工作的意见》,
  厅字〔2020〕3号; 导则);
* every full-time safety manager has a 化工安全-related 大专 or higher, or a 化工-related
  intermediate title, or a 技师 grade in a 化工安全 trade, or is a 化工安全类 注册安全工程师
  (导则).

A person whose education or certificate grade is not recorded does not meet a rule that needs
it: the reason names them ("学历未登记"), since the ledger cannot show compliance.

The first table, ``RULESETS["2026.1"]``, is kept so an earlier result can be reproduced; it
cited 《关于加强化工过程安全管理的指导意见》 for the 2% (that guidance sets no ratio), counted
any registered engineer, and had no education rules.

Example:
    >>> from datetime import date
    >>> staff = [StaffMember("张三", full_time_safety=True)] * 3
    >>> result = diagnose(Workforce(employees=320, staff=tuple(staff)), on=date(2026, 11, 28))[0]
    >>> result.passed, result.reason
    (False, '专职安全生产管理人员 3 人，要求 ≥ 7 人（从业人员 320 人，按 2% 计，至少 2 人）')
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
    "Education",
    "EngineerCategory",
    "EngineerGrade",
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


class EngineerGrade(StrEnum):
    """注册安全工程师级别 (《注册安全工程师分类管理办法》第四条)."""

    JUNIOR = "初级"  # 助理
    INTERMEDIATE = "中级"
    SENIOR = "高级"


class EngineerCategory(StrEnum):
    """注册安全工程师专业类别 (《注册安全工程师分类管理办法》第三条)."""

    COAL = "煤矿安全"
    MINES = "金属非金属矿山安全"
    CHEMICAL = "化工安全"
    METALLURGY = "金属冶炼安全"
    CONSTRUCTION = "建筑施工安全"
    ROAD = "道路运输安全"
    OTHER = "其他安全"


class Education(StrEnum):
    """学历, lowest first (compare with :func:`education_rank`)."""

    JUNIOR_HIGH = "初中及以下"
    SENIOR_HIGH = "高中/中专/技校"
    COLLEGE = "大专"
    BACHELOR = "本科"
    POSTGRADUATE = "研究生"


def education_rank(level: Education) -> int:
    """Position of ``level`` in :class:`Education` (higher is more)."""
    return list(Education).index(level)


@dataclass(frozen=True)
class CertificateFact:
    """A certificate as the rules see it: its kind and until when it is valid (None: no expiry).

    ``grade`` and ``category`` are a registered safety engineer's 级别 and 专业类别 (None: not
    recorded; such an engineer does not count where the rule names them).
    """

    kind: CertificateKind
    expiry_date: date | None = None
    grade: EngineerGrade | None = None
    category: EngineerCategory | None = None

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
        key_manager: 主管生产、设备、技术、安全的负责人 (besides the principal).
        education: 学历 (None: not recorded).
        related_major: the degree is in 化学、化工、安全 or a related subject.
        chem_title: holds a 化工类 (化工相关专业) 中级 or higher professional title (职称).
        chem_technician: holds a 技师 or higher skill grade in a 化工安全 trade.
    """

    name: str
    full_time_safety: bool = False
    principal: bool = False
    special_operation: str | None = None
    certificates: tuple[CertificateFact, ...] = ()
    key_manager: bool = False
    education: Education | None = None
    related_major: bool = False
    chem_title: bool = False
    chem_technician: bool = False

    def holds(self, kind: CertificateKind, on: date) -> bool:
        """Whether the person holds a certificate of ``kind`` valid on ``on``."""
        return any(c.kind == kind and c.valid_on(on) for c in self.certificates)

    def engineer_certificates(self, on: date) -> list[CertificateFact]:
        """The person's 注册安全工程师 certificates valid on ``on``."""
        return [c for c in self.certificates if c.kind == CertificateKind.REGISTERED_SAFETY_ENGINEER and c.valid_on(on)]


@dataclass(frozen=True)
class Workforce:
    """The snapshot the rules judge: head count (从业人员, incl. those not in ``staff``) and the staff list."""

    employees: int
    staff: tuple[StaffMember, ...] = ()
    two_key_one_major: bool = True  # 涉及两重点一重大 (the platform's plants have a 重大危险源)


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
        safety_staff_tiers: ``(from_employees, minimum)`` pairs raising the minimum with the
            head count (e.g. at least 2 from 50 employees).
        engineer_grades: grades that count for the engineer rule (None: any, even unrecorded).
        engineer_category: the 专业类别 that counts (None: any, even unrecorded).
        engineers_among_safety_staff: count only engineers who are full-time safety staff.
        education_rules: judge the 学历 of key persons and safety staff.
        education_minimum: the lowest 学历 that meets those rules.
    """

    version: str
    safety_staff_ratio: float = 0.02
    safety_staff_minimum: int = 1
    engineer_ratio: float = 0.15
    engineer_minimum: int = 1
    engineer_from_employees: int = 0
    basis: Mapping[str, str] = field(default_factory=dict)
    safety_staff_tiers: tuple[tuple[int, int], ...] = ()
    engineer_grades: frozenset[EngineerGrade] | None = None
    engineer_category: EngineerCategory | None = None
    engineers_among_safety_staff: bool = False
    education_rules: bool = False
    education_minimum: Education = Education.COLLEGE

    def safety_staff_floor(self, employees: int) -> int:
        """The least number of full-time safety staff whatever the ratio gives."""
        tiers = [minimum for start, minimum in self.safety_staff_tiers if employees >= start]
        return max([self.safety_staff_minimum, *tiers])

    def engineer_counts(self, fact: CertificateFact) -> bool:
        """Whether a (valid) engineer certificate is of a grade and category this table counts."""
        grade_ok = self.engineer_grades is None or fact.grade in self.engineer_grades
        category_ok = self.engineer_category is None or fact.category == self.engineer_category
        return grade_ok and category_ok


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


RULESET_2026_1 = RuleSet(
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

_GUIDE = "《危险化学品企业重点人员安全资质达标导则（试行）》（应急危化二〔2021〕1号）"

DEFAULT_RULESET = RuleSet(
    version="2026.2",
    safety_staff_tiers=((50, 2),),
    engineer_from_employees=300,
    engineer_grades=frozenset({EngineerGrade.INTERMEDIATE, EngineerGrade.SENIOR}),
    engineer_category=EngineerCategory.CHEMICAL,
    engineers_among_safety_staff=True,
    education_rules=True,
    basis={
        "safety_staff": (
            f"《安全生产法》第二十四条；{_GUIDE}（从业人员不足 50 人至少 1 名，50 人及以上至少 2 名，"
            "超过 100 人不低于从业人员 2%）"
        ),
        "registered_engineers": (
            "《安全生产法》第二十七条；《注册安全工程师分类管理办法》（安监总人事〔2017〕118号，"
            f"相应专业类别的中级及以上注册安全工程师）；{_GUIDE}（从业人员 300 人以上，专职安全生产管理人员中"
            "化工安全类注册安全工程师不低于 15%，至少 1 名）"
        ),
        "principal_qualified": "《安全生产法》第二十七条（主要负责人考核合格）",
        "safety_staff_qualified": "《安全生产法》第二十七条（安全生产管理人员考核合格）",
        "special_operations_certified": "《特种作业人员安全技术培训考核管理规定》（持证上岗）",
        "key_persons_education": (
            "《关于全面加强危险化学品安全生产工作的意见》（厅字〔2020〕3号）；"
            f"{_GUIDE}（涉及两重点一重大的企业，主要负责人和主管生产、设备、技术、安全的负责人"
            "具备化学、化工、安全等相关专业大专及以上学历或化工类中级及以上职称）"
        ),
        "safety_staff_education": (
            f"{_GUIDE}（专职安全生产管理人员具有化工安全相关专业大专及以上学历，或化工相关专业中级及以上"
            "专业技术职称，或化工安全相关工种技师及以上技能等级，或化工安全类注册安全工程师资格）"
        ),
    },
)

RULESETS: dict[str, RuleSet] = {r.version: r for r in (RULESET_2026_1, DEFAULT_RULESET)}


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

    floor = rules.safety_staff_floor(workforce.employees)
    needed = required_count(workforce.employees, rules.safety_staff_ratio, floor)
    results.append(
        RuleResult(
            code="safety_staff",
            title="专职安全生产管理人员配备",
            passed=len(safety) >= needed,
            actual=len(safety),
            required=needed,
            reason=(
                f"专职安全生产管理人员 {len(safety)} 人，要求 ≥ {needed} 人（从业人员 {workforce.employees} 人，"
                f"按 {_percent(rules.safety_staff_ratio)} 计，至少 {floor} 人）"
            ),
            basis=rules.basis.get("safety_staff", ""),
            ruleset=rules.version,
        )
    )

    pool = safety if rules.engineers_among_safety_staff else staff
    engineers = [p for p in pool if any(rules.engineer_counts(c) for c in p.engineer_certificates(on))]
    # engineers whose certificate is of another grade or category (or not recorded): named, not counted
    uncounted = tuple(p.name for p in pool if p.engineer_certificates(on) and p not in engineers)
    if workforce.employees >= rules.engineer_from_employees:
        needed = required_count(len(safety), rules.engineer_ratio, rules.engineer_minimum)
        reason = (
            f"注册安全工程师 {len(engineers)} 人，要求 ≥ {needed} 人（专职安全生产管理人员 {len(safety)} 人，"
            f"按 {_percent(rules.engineer_ratio)} 计，至少 {rules.engineer_minimum} 人"
            f"{_engineer_scope(rules)}）"
        )
        if uncounted:
            reason += f"；不计（级别或类别不符或未登记）：{'、'.join(uncounted)}"
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
            people=uncounted if needed and len(engineers) < needed else (),
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
    if rules.education_rules:
        results.append(_key_persons_education(workforce, rules))
        results.append(_safety_staff_education(safety, on, rules))
    return results


def _engineer_scope(rules: RuleSet) -> str:
    parts = []
    if rules.engineers_among_safety_staff:
        parts.append("只计专职安全生产管理人员")
    if rules.engineer_grades is not None:
        parts.append("、".join(g.value for g in EngineerGrade if g in rules.engineer_grades))
    if rules.engineer_category is not None:
        parts.append(f"{rules.engineer_category.value}类")
    return "；" + "，".join(parts) if parts else ""


def _degree_ok(person: StaffMember, rules: RuleSet) -> bool:
    return (
        person.education is not None
        and person.related_major
        and education_rank(person.education) >= education_rank(rules.education_minimum)
    )


def _shortfall(person: StaffMember) -> str:
    """Why a person fails an education rule, for the reason text."""
    return f"{person.name}（学历未登记）" if person.education is None else f"{person.name}（{person.education.value}）"


def _education_result(
    *, code: str, title: str, who: str, need: str, people: list[StaffMember], lacking: list[StaffMember], rules: RuleSet
) -> RuleResult:
    if lacking:
        reason = f"{who} {len(people)} 人，{len(lacking)} 人不满足{need}：{'、'.join(_shortfall(p) for p in lacking)}"
    else:
        reason = f"{who} {len(people)} 人，均满足{need}"
    return RuleResult(
        code=code,
        title=title,
        passed=not lacking,
        actual=len(people) - len(lacking),
        required=len(people),
        reason=reason,
        basis=rules.basis.get(code, ""),
        ruleset=rules.version,
        people=tuple(p.name for p in lacking),
    )


def _key_persons_education(workforce: Workforce, rules: RuleSet) -> RuleResult:
    """主要负责人 and 分管负责人: a related 大专+ degree or a 化工类 intermediate title (两重点一重大)."""
    code, title, who = "key_persons_education", "主要负责人及分管负责人学历", "主要负责人及分管负责人"
    people = [p for p in workforce.staff if p.principal or p.key_manager]
    if not workforce.two_key_one_major:
        return RuleResult(
            code=code,
            title=title,
            passed=True,
            actual=len(people),
            required=0,
            reason=f"{who} {len(people)} 人；企业不涉及两重点一重大，本条不适用",
            basis=rules.basis.get(code, ""),
            ruleset=rules.version,
        )
    need = f"化学、化工、安全等相关专业{rules.education_minimum.value}及以上学历或化工类中级及以上职称"
    lacking = [p for p in people if not (_degree_ok(p, rules) or p.chem_title)]
    return _education_result(code=code, title=title, who=who, need=need, people=people, lacking=lacking, rules=rules)


def _safety_staff_education(safety: list[StaffMember], on: date, rules: RuleSet) -> RuleResult:
    """Full-time safety staff: degree, title, 技师 grade or a 化工安全类 engineer certificate."""
    category = rules.engineer_category or EngineerCategory.CHEMICAL

    def qualified(p: StaffMember) -> bool:
        engineer = any(c.category == category for c in p.engineer_certificates(on))
        return _degree_ok(p, rules) or p.chem_title or p.chem_technician or engineer

    need = (
        f"化工安全相关专业{rules.education_minimum.value}及以上学历、化工相关中级及以上职称、"
        f"化工安全相关工种技师及以上或{category.value}类注册安全工程师之一"
    )
    lacking = [p for p in safety if not qualified(p)]
    return _education_result(
        code="safety_staff_education",
        title="专职安全生产管理人员学历/资格",
        who="专职安全生产管理人员",
        need=need,
        people=safety,
        lacking=lacking,
        rules=rules,
    )


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
