"""Staffing self-diagnosis, rules table 2026.2 (issue 12): the sources, the engineer's grade and
category, and the education (学历) of key persons, table-driven.

The issue: the self-diagnosis "cites a source that may be wrong and ignores the engineer rule's
grade and category; there is no education (学历) check of key persons". The numbers now come
from 《危险化学品企业重点人员安全资质达标导则（试行）》 (应急危化二〔2021〕1号), which is
what they were taken from, and the engineer rule counts only 中级/高级, 化工安全类 engineers
among the full-time safety staff.
"""

from __future__ import annotations

from datetime import date

import pytest

from models.compliance import (
    DEFAULT_RULESET,
    RULESETS,
    CertificateFact,
    CertificateKind,
    Education,
    EngineerCategory,
    EngineerGrade,
    RuleResult,
    StaffMember,
    Workforce,
    diagnose,
)

TODAY = date(2026, 11, 28)
QUAL = CertificateFact(CertificateKind.SAFETY_QUALIFICATION, date(2028, 1, 1))
RSE = CertificateKind.REGISTERED_SAFETY_ENGINEER
CHEM = EngineerCategory.CHEMICAL


def engineer(
    grade: EngineerGrade | None, category: EngineerCategory | None, expiry: date = date(2029, 1, 1)
) -> CertificateFact:
    return CertificateFact(RSE, expiry, grade=grade, category=category)


def results(workforce: Workforce) -> dict[str, RuleResult]:
    return {r.code: r for r in diagnose(workforce, on=TODAY)}


def test_the_default_is_the_new_table_and_the_old_one_is_kept() -> None:
    assert DEFAULT_RULESET.version == "2026.2"
    assert set(RULESETS) >= {"2026.1", "2026.2"}  # a result names its table: old ones stay reproducible
    basis = {r.code: r.basis for r in diagnose(Workforce(10), on=TODAY)}
    assert "应急危化二〔2021〕1号" in basis["safety_staff"]
    assert "关于加强化工过程安全管理的指导意见" not in basis["safety_staff"]  # said nothing of 2 %
    assert "注册安全工程师分类管理办法" in basis["registered_engineers"]
    assert "中级及以上" in basis["registered_engineers"] and "化工安全" in basis["registered_engineers"]
    assert "学历" in basis["key_persons_education"] and "学历" in basis["safety_staff_education"]


@pytest.mark.parametrize(
    ("employees", "required"),
    [(0, 1), (10, 1), (49, 1), (50, 2), (99, 2), (100, 2), (101, 3), (320, 7), (350, 7), (1000, 20)],
)
def test_safety_staff_count_by_head_count(employees: int, required: int) -> None:
    """不足 50 人至少 1 名；50 人及以上至少 2 名；超过 100 人不低于 2%."""
    result = results(Workforce(employees))["safety_staff"]
    assert result.required == required


# (engineer certificates of the full-time safety staff, employees, counted, required, passed, named)
ENGINEER_CASES = [
    pytest.param([engineer(EngineerGrade.INTERMEDIATE, CHEM)], 320, 1, 1, True, (), id="intermediate-chemical"),
    pytest.param([engineer(EngineerGrade.SENIOR, CHEM)], 320, 1, 1, True, (), id="senior-chemical"),
    pytest.param([engineer(EngineerGrade.JUNIOR, CHEM)], 320, 0, 1, False, ("s0",), id="junior-does-not-count"),
    pytest.param(
        [engineer(EngineerGrade.INTERMEDIATE, EngineerCategory.CONSTRUCTION)],
        320,
        0,
        1,
        False,
        ("s0",),
        id="wrong-category",
    ),
    pytest.param([engineer(None, None)], 320, 0, 1, False, ("s0",), id="grade-and-category-unknown"),
    pytest.param(
        [engineer(EngineerGrade.INTERMEDIATE, CHEM, expiry=date(2026, 11, 27))], 320, 0, 1, False, (), id="expired"
    ),
    pytest.param([], 299, 0, 0, True, (), id="below-300-not-applicable"),
    pytest.param(
        [engineer(EngineerGrade.INTERMEDIATE, CHEM), engineer(EngineerGrade.INTERMEDIATE, CHEM)],
        1000,
        2,
        3,
        False,
        (),
        id="15-percent-of-20-safety-staff",
    ),
]


@pytest.mark.parametrize(("certs", "employees", "counted", "required", "passed", "named"), ENGINEER_CASES)
def test_engineer_rule_counts_grade_and_category(
    certs: list[CertificateFact], employees: int, counted: int, required: int, passed: bool, named: tuple[str, ...]
) -> None:
    safety_count = max(1, round(employees * 0.02))
    staff = [StaffMember(f"s{i}", full_time_safety=True, certificates=(c,)) for i, c in enumerate(certs)]
    staff += [StaffMember(f"t{i}", full_time_safety=True) for i in range(safety_count - len(staff))]
    result = results(Workforce(employees, tuple(staff)))["registered_engineers"]
    assert (result.actual, result.required, result.passed, result.people) == (counted, required, passed, named)
    if named:
        assert "不计" in result.reason and named[0] in result.reason


def test_an_engineer_outside_the_safety_staff_does_not_count() -> None:
    """The 15 % is of the 专职安全生产管理人员: an engineer in the workshop does not fill it."""
    staff = (
        StaffMember("车间主任", certificates=(engineer(EngineerGrade.INTERMEDIATE, CHEM),)),
        *(StaffMember(f"s{i}", full_time_safety=True) for i in range(7)),
    )
    result = results(Workforce(320, staff))["registered_engineers"]
    assert (result.actual, result.passed) == (0, False)


def person(name: str, **fields: object) -> StaffMember:
    return StaffMember(name, **fields)  # type: ignore[arg-type]


# (the person, passes the key-person education rule) — 主要负责人 / 分管负责人
KEY_PERSON_CASES = [
    pytest.param(
        person("甲", principal=True, education=Education.COLLEGE, related_major=True), True, id="college-related"
    ),
    pytest.param(person("乙", principal=True, education=Education.BACHELOR, related_major=True), True, id="bachelor"),
    pytest.param(
        person("丙", principal=True, education=Education.BACHELOR, related_major=False), False, id="unrelated-major"
    ),
    pytest.param(
        person("丁", principal=True, education=Education.SENIOR_HIGH, related_major=True), False, id="below-college"
    ),
    pytest.param(person("戊", principal=True, education=Education.SENIOR_HIGH, chem_title=True), True, id="chem-title"),
    pytest.param(person("己", principal=True), False, id="education-not-recorded"),
    pytest.param(person("庚", key_manager=True, education=Education.JUNIOR_HIGH), False, id="deputy-below"),
    pytest.param(
        person("辛", key_manager=True, education=Education.POSTGRADUATE, related_major=True), True, id="deputy-ok"
    ),
]


@pytest.mark.parametrize(("member", "passed"), KEY_PERSON_CASES)
def test_key_persons_education(member: StaffMember, passed: bool) -> None:
    result = results(Workforce(80, (member,)))["key_persons_education"]
    assert result.passed is passed
    assert result.people == (() if passed else (member.name,))
    if member.education is None:
        assert f"{member.name}（学历未登记）" in result.reason


def test_key_person_education_applies_only_with_two_key_one_major() -> None:
    member = person("丁", principal=True, education=Education.SENIOR_HIGH)
    result = results(Workforce(80, (member,), two_key_one_major=False))["key_persons_education"]
    assert result.passed and "不适用" in result.reason


# (the safety manager, passes the safety-staff education/qualification rule)
SAFETY_STAFF_CASES = [
    pytest.param(
        person("a", full_time_safety=True, education=Education.COLLEGE, related_major=True), True, id="college"
    ),
    pytest.param(person("b", full_time_safety=True, education=Education.COLLEGE), False, id="unrelated-major"),
    pytest.param(person("c", full_time_safety=True, chem_title=True), True, id="chem-title"),
    pytest.param(person("d", full_time_safety=True, chem_technician=True), True, id="technician"),
    pytest.param(
        person("e", full_time_safety=True, certificates=(engineer(EngineerGrade.JUNIOR, CHEM),)),
        True,
        id="chem-engineer",
    ),
    pytest.param(
        person("f", full_time_safety=True, certificates=(engineer(EngineerGrade.SENIOR, EngineerCategory.OTHER),)),
        False,
        id="other-engineer",
    ),
    pytest.param(person("g", full_time_safety=True), False, id="nothing-recorded"),
]


@pytest.mark.parametrize(("member", "passed"), SAFETY_STAFF_CASES)
def test_safety_staff_education(member: StaffMember, passed: bool) -> None:
    result = results(Workforce(40, (member,)))["safety_staff_education"]
    assert result.passed is passed
    assert result.people == (() if passed else (member.name,))


def test_a_compliant_plant_passes_every_rule_of_the_new_table() -> None:
    chem = {"education": Education.BACHELOR, "related_major": True}
    staff = (
        person("王建国", principal=True, certificates=(QUAL,), **chem),
        person("李副总", key_manager=True, **chem),
        person("刘安", full_time_safety=True, certificates=(QUAL, engineer(EngineerGrade.INTERMEDIATE, CHEM))),
        *(person(f"安全员{i}", full_time_safety=True, certificates=(QUAL,), **chem) for i in range(5)),
    )
    got = diagnose(Workforce(300, staff), on=TODAY)  # 300: the engineer rule applies (300 人以上)
    assert [r.code for r in got][:5] == [
        "safety_staff",
        "registered_engineers",
        "principal_qualified",
        "safety_staff_qualified",
        "special_operations_certified",
    ]  # the old rules keep their places; the new ones follow
    assert all(r.passed for r in got), [r.reason for r in got if not r.passed]
    assert {r.ruleset for r in got} == {"2026.2"}


def test_the_old_table_still_gives_the_old_answers() -> None:
    old = RULESETS["2026.1"]
    staff = (person("s0", full_time_safety=True, certificates=(engineer(None, None),)),)
    got = {r.code: r for r in diagnose(Workforce(50, staff), on=TODAY, rules=old)}
    assert "key_persons_education" not in got
    assert got["safety_staff"].required == 1  # 2026.1: 2 %, at least 1 (2026.2: at least 2 from 50)
    assert got["registered_engineers"].passed  # any grade, any category, anyone
