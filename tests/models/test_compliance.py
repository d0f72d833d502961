"""Staffing compliance self-diagnosis: each rule says pass/fail and why, with the numbers."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.compliance import (
    DEFAULT_RULESET,
    RULESETS,
    CertificateFact,
    CertificateKind,
    RuleResult,
    RuleSet,
    StaffMember,
    Workforce,
    diagnose,
    required_count,
)

TODAY = date(2026, 11, 28)
QUAL = CertificateFact(CertificateKind.SAFETY_QUALIFICATION, date(2028, 1, 1))
RSE = CertificateFact(CertificateKind.REGISTERED_SAFETY_ENGINEER, date(2029, 1, 1))


def by_code(workforce: Workforce, rules: RuleSet = DEFAULT_RULESET) -> dict[str, RuleResult]:
    return {r.code: r for r in diagnose(workforce, on=TODAY, rules=rules)}


def test_too_few_safety_staff_says_how_many_and_why() -> None:
    staff = tuple(StaffMember(f"安全员{i}", full_time_safety=True, certificates=(QUAL,)) for i in range(3))
    result = by_code(Workforce(320, staff))["safety_staff"]
    assert not result.passed
    assert result.reason == "专职安全生产管理人员 3 人，要求 ≥ 7 人（从业人员 320 人，按 2% 计，至少 2 人）"
    assert "安全生产法" in result.basis


def test_a_compliant_plant_passes_every_rule() -> None:
    staff = (
        StaffMember("王建国", principal=True, certificates=(QUAL,)),
        StaffMember("刘安", full_time_safety=True, certificates=(QUAL, RSE)),
        StaffMember("陈静", full_time_safety=True, certificates=(QUAL,)),
        StaffMember(
            "赵强",
            special_operation="危险化学品安全作业",
            certificates=(CertificateFact(CertificateKind.SPECIAL_OPERATION, date(2027, 3, 1)),),
        ),
    )
    # the first table (no education rules, any engineer); the current one: test_compliance_staffing.py
    results = diagnose(Workforce(80, staff), on=TODAY, rules=RULESETS["2026.1"])
    assert [r.passed for r in results] == [True] * 5, [r.reason for r in results]


def test_expired_certificates_do_not_count_and_the_people_are_named() -> None:
    expired = CertificateFact(CertificateKind.SAFETY_QUALIFICATION, date(2026, 11, 27))
    staff = (
        StaffMember("刘安", full_time_safety=True, certificates=(expired,)),
        StaffMember("陈静", full_time_safety=True, certificates=(QUAL,)),
    )
    result = by_code(Workforce(50, staff))["safety_staff_qualified"]
    assert not result.passed
    assert result.people == ("刘安",)
    assert result.reason == "专职安全生产管理人员 2 人，1 人无有效安全资格证：刘安"


def test_no_principal_fails_and_engineer_rule_counts_against_safety_staff() -> None:
    staff = tuple(StaffMember(f"s{i}", full_time_safety=True) for i in range(8))
    results = by_code(Workforce(400, staff))
    assert results["principal_qualified"].reason == "未登记主要负责人"
    engineers = results["registered_engineers"]
    assert (engineers.actual, engineers.required, engineers.passed) == (0, 2, False)
    assert "专职安全生产管理人员 8 人，按 15% 计" in engineers.reason


def test_the_rules_table_is_configurable() -> None:
    strict = dataclasses.replace(
        DEFAULT_RULESET, version="某省2027", safety_staff_ratio=0.03, engineer_from_employees=300
    )
    staff = tuple(StaffMember(f"s{i}", full_time_safety=True) for i in range(7))
    results = by_code(Workforce(250, staff), rules=strict)
    assert results["safety_staff"].required == 8
    assert results["safety_staff"].ruleset == "某省2027"
    assert results["registered_engineers"].passed
    assert "不适用" in results["registered_engineers"].reason


def test_negative_head_count_is_refused() -> None:
    with pytest.raises(ValueError, match="从业人员"):
        diagnose(Workforce(-1), on=TODAY)


@given(employees=st.integers(0, 100_000), ratio=st.sampled_from([0.01, 0.02, 0.03, 0.15]), minimum=st.integers(0, 3))
def test_required_count_is_the_smallest_count_meeting_the_ratio(employees: int, ratio: float, minimum: int) -> None:
    n = required_count(employees, ratio, minimum)
    assert n >= minimum
    assert n * 1_000_000 >= round(employees * ratio * 1_000_000)
    if n > minimum:
        assert (n - 1) * 1_000_000 < round(employees * ratio * 1_000_000)


@given(extra=st.integers(0, 50), employees=st.integers(0, 5000))
def test_adding_safety_staff_never_turns_a_pass_into_a_fail(extra: int, employees: int) -> None:
    base = tuple(StaffMember(f"s{i}", full_time_safety=True) for i in range(5))
    more = base + tuple(StaffMember(f"t{i}", full_time_safety=True) for i in range(extra))
    before = by_code(Workforce(employees, base))["safety_staff"].passed
    after = by_code(Workforce(employees, more))["safety_staff"].passed
    assert after or not before
