"""学历 of key persons and safety staff, read from the people ledger (issue 12, seed 一.4), SQLite and PostgreSQL.

The rules table 2026.2 (:mod:`models.compliance`) already judged 学历, but the ledger had no
学历 column, so every key person came out "学历未登记". The expected verdicts below were worked
out by hand from the rule text the diagnosis cites (导则, 应急危化二〔2021〕1号; 厅字〔2020〕3号):

* 主要负责人 and 分管负责人 (主管生产、设备、技术、安全): a 化学/化工/安全-related 大专 or higher,
  or a 化工类 intermediate or higher title;
* 专职安全生产管理人员: a related 大专 or higher, a 化工 intermediate title, a 技师 grade in a
  化工安全 trade, or a 化工安全类 注册安全工程师 certificate;
* anyone else (an operator) is not judged on 学历.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from models.compliance import RULESETS, CertificateKind, Education, EngineerGrade
from registers.db import alembic_config, make_engine
from registers.people import service
from registers.people.schemas import PersonCertificateCreate, PersonCreate, PersonUpdate

TODAY = date(2026, 11, 28)
EDUCATION_REVISION = "2026_12_03_0043"
E = Education


@dataclass(frozen=True)
class Case:
    """One person on the ledger and whether the 学历 rule that covers them passes."""

    label: str
    person: dict[str, object]
    rule: str
    passes: bool
    shown_as: str = ""  # how a failing person is named in the reason


KEY = "key_persons_education"
SAFETY = "safety_staff_education"

CASES = [
    Case("主要负责人 本科 化工", {"principal": True, "education": E.BACHELOR, "related_major": True}, KEY, True),
    Case(
        "主要负责人 大专 化工 (the floor)",
        {"principal": True, "education": E.COLLEGE, "related_major": True},
        KEY,
        True,
    ),
    Case("主要负责人 研究生 化工", {"principal": True, "education": E.POSTGRADUATE, "related_major": True}, KEY, True),
    Case(
        "主要负责人 高中 化工: one level short",
        {"principal": True, "education": E.SENIOR_HIGH, "related_major": True},
        KEY,
        False,
        "（高中/中专/技校）",
    ),
    Case(
        "主要负责人 本科 but not a related major",
        {"principal": True, "education": E.BACHELOR, "related_major": False},
        KEY,
        False,
        "（本科）",
    ),
    Case(
        "主要负责人 高中 with a 化工 intermediate title",
        {"principal": True, "education": E.SENIOR_HIGH, "chem_title": True},
        KEY,
        True,
    ),
    Case("主要负责人 学历 not recorded", {"principal": True}, KEY, False, "（学历未登记）"),
    Case("分管负责人 大专 安全", {"key_manager": True, "education": E.COLLEGE, "related_major": True}, KEY, True),
    Case(
        "分管负责人 初中",
        {"key_manager": True, "education": E.JUNIOR_HIGH, "related_major": True},
        KEY,
        False,
        "（初中及以下）",
    ),
    Case("操作工 初中: not a key person", {"education": E.JUNIOR_HIGH}, KEY, True),
    Case("专职安全 大专 安全", {"full_time_safety": True, "education": E.COLLEGE, "related_major": True}, SAFETY, True),
    Case(
        "专职安全 高中, 化工安全 技师",
        {"full_time_safety": True, "education": E.SENIOR_HIGH, "chem_technician": True},
        SAFETY,
        True,
    ),
    Case(
        "专职安全 高中, nothing else",
        {"full_time_safety": True, "education": E.SENIOR_HIGH, "related_major": True},
        SAFETY,
        False,
        "（高中/中专/技校）",
    ),
]


def enter(session: Session, code: str, name: str, fields: dict[str, object]) -> int:
    data = PersonCreate(code=code, name=name, **fields)  # type: ignore[arg-type]
    return service.persons.create(session=session, data=data, actor="t").id


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_education_rule_on_the_ledger(session: Session, case: Case) -> None:
    enter(session, "E1", "王建国", case.person)
    result = service.diagnose_staffing(session=session, on=TODAY, employees=10)
    rule = {r.code: r for r in result.rules}[case.rule]
    assert rule.passed is case.passes, rule.reason
    assert rule.ruleset == "2026.2"
    if case.passes:
        assert rule.people == ()
    else:
        assert rule.people == ("王建国",)
        assert f"王建国{case.shown_as}" in rule.reason
        assert "不满足" in rule.reason and "大专及以上学历" in rule.reason
    if case.rule == KEY:  # the reason cites where the rule comes from
        assert "厅字〔2020〕3号" in rule.basis and "应急危化二〔2021〕1号" in rule.basis
    else:
        assert "应急危化二〔2021〕1号" in rule.basis


def test_a_chemical_safety_engineer_certificate_qualifies_safety_staff(session: Session) -> None:
    """专业类别 is read from the certificate's 类别: 化工安全 counts, 建筑施工安全 does not."""
    chem = enter(session, "E1", "刘安", {"full_time_safety": True, "education": E.SENIOR_HIGH})
    build = enter(session, "E2", "陈静", {"full_time_safety": True, "education": E.SENIOR_HIGH})
    for pid, category in ((chem, "化工安全"), (build, "建筑施工安全")):
        data = PersonCertificateCreate(
            person_id=pid,
            kind=CertificateKind.REGISTERED_SAFETY_ENGINEER,
            category=category,
            expiry_date=date(2029, 1, 1),
        )
        service.certificates.create(session=session, data=data, actor="t")
    rule = {r.code: r for r in service.diagnose_staffing(session=session, on=TODAY).rules}[SAFETY]
    assert (rule.passed, rule.people) == (False, ("陈静",))
    assert rule.reason.startswith("专职安全生产管理人员 2 人，1 人不满足")


def test_recording_the_education_fixes_the_finding_and_is_in_the_history(session: Session) -> None:
    pid = enter(session, "E1", "王建国", {"principal": True})
    before = {r.code: r for r in service.diagnose_staffing(session=session, on=TODAY).rules}[KEY]
    assert (before.passed, before.reason) == (
        False,
        "主要负责人及分管负责人 1 人，1 人不满足化学、化工、安全等相关专业大专及以上学历或化工类中级及以上职称："
        "王建国（学历未登记）",
    )
    change = PersonUpdate(education=E.BACHELOR, related_major=True)
    service.persons.update(session=session, record_id=pid, data=change, actor="lead")
    after = {r.code: r for r in service.diagnose_staffing(session=session, on=TODAY).rules}[KEY]
    assert (after.passed, after.reason) == (
        True,
        "主要负责人及分管负责人 1 人，均满足化学、化工、安全等相关专业大专及以上学历或化工类中级及以上职称",
    )
    history = service.persons.history(session=session, record_id=pid)
    assert history[-1].changes["education"] == [None, "本科"]


def test_the_older_ruleset_still_has_no_education_rules(session: Session) -> None:
    enter(session, "E1", "王建国", {"principal": True, "education": E.JUNIOR_HIGH})
    codes = [r.code for r in service.diagnose_staffing(session=session, on=TODAY, rules=RULESETS["2026.1"]).rules]
    assert KEY not in codes and SAFETY not in codes


def test_migration_keeps_existing_people_and_goes_back(database_url: str) -> None:
    """A person entered before the 学历 columns reads as 学历未登记 (null, flags false); downgrade drops them."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, f"{EDUCATION_REVISION}-1")
            assert "education" not in {c["name"] for c in sa.inspect(conn).get_columns("people")}
            insert = "INSERT INTO people (code, name, category, status, version) VALUES (:c, :n, :k, :s, 1)"
            conn.execute(sa.text(insert), {"c": "E9", "n": "老员工", "k": "企业人员", "s": "在岗"})
            command.upgrade(cfg, "heads")
            row = conn.execute(
                sa.text("SELECT education, key_manager, related_major, chem_title, chem_technician FROM people")
            ).one()
        assert tuple(row) == (None, False, False, False, False)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("grade", "counts"),
    [(None, False), (EngineerGrade.JUNIOR, False), (EngineerGrade.INTERMEDIATE, True), (EngineerGrade.SENIOR, True)],
)
def test_a_registered_engineer_counts_only_with_a_recorded_grade_of_中级_or_above(
    session: Session, grade: EngineerGrade | None, counts: bool
) -> None:
    """Rules v2026.2 count 化工安全 engineers of 中级 or 高级 (安监总人事〔2017〕118号); the register had
    no 级别, so no engineer entered through it could ever count."""
    pid = enter(session, "E1", "刘安", {"full_time_safety": True, "education": E.BACHELOR, "related_major": True})
    data = PersonCertificateCreate(
        person_id=pid,
        kind=CertificateKind.REGISTERED_SAFETY_ENGINEER,
        category="化工安全",
        grade=grade,
        expiry_date=date(2029, 1, 1),
    )
    service.certificates.create(session=session, data=data, actor="t")
    diagnosis = service.diagnose_staffing(session=session, on=TODAY, employees=300)  # the rule applies from 300
    rule = {r.code: r for r in diagnosis.rules}["registered_engineers"]
    assert (rule.actual, rule.required, rule.passed) == (1 if counts else 0, 1, counts)
    if not counts:
        assert "刘安" in rule.reason and "级别或类别不符或未登记" in rule.reason
