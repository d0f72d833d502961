"""Demo people for ``safetwin demo``, with their certificates.

The hazard sources' 包保 persons, safety staff, operators, contractor workers and a visitor.

The three responsible persons are taken from the hazard-source register (the names it holds),
so the people ledger and the 包保 assignments name the same persons.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.compliance import CertificateKind, Education, EngineerGrade
from registers.contractors import demo as contractors_demo
from registers.contractors import service as contractors
from registers.hazard_sources.models import HazardSource
from registers.people import service
from registers.people.models import PersonCategory
from registers.people.schemas import PersonCertificateCreate, PersonCreate

ACTOR = "demo"

# 学历 of the 包保 persons by post, as the staffing 学历 rules read them: the principal and the
# chief engineer (主管技术, a 分管负责人) hold related degrees; the workshop head is not a
# 分管负责人, so the rule does not look at him, but his 大专 is on file all the same.
# post -> (学历, related major, 分管负责人, 化工类中级及以上职称)
_KEY_PERSON_EDUCATION: dict[str, tuple[Education, bool, bool, bool]] = {
    "总经理": (Education.BACHELOR, True, False, False),
    "总工程师": (Education.POSTGRADUATE, True, True, True),
    "车间主任": (Education.COLLEGE, True, False, False),
}


def _responsible_persons(session: Session) -> list[tuple[str, str]]:
    """(name, position) of every 包保 person the hazard-source register names, in a stable order."""
    found: dict[str, str] = {}
    for source in session.scalars(
        select(HazardSource).where(HazardSource.deleted_at.is_(None)).order_by(HazardSource.code)
    ):
        for name, position in (
            (source.principal_person, "总经理 (主要负责人)"),
            (source.technical_person, "总工程师 (技术负责人)"),
            (source.operational_person, "车间主任 (操作负责人)"),
        ):
            if name and name not in found:
                found[name] = position
    return list(found.items())


def load_people_demo(*, session: Session, today: date) -> int:
    """Employees (incl. the 包保 persons), their certificates, and third parties; adds what is missing."""
    on_site = contractors.get_by_credit_code(session=session, credit_code=contractors_demo.ON_SITE_CODE)
    later = today + timedelta(days=900)
    people: list[tuple[PersonCreate, list[tuple[CertificateKind, str, date]]]] = []
    for index, (name, position) in enumerate(_responsible_persons(session), start=1):
        certs = [
            (CertificateKind.SAFETY_QUALIFICATION, "主要负责人" if "主要" in position else "安全生产管理人员", later)
        ]
        education, related_major, key_manager, chem_title = _KEY_PERSON_EDUCATION.get(
            position.split(" ")[0], (None, False, False, False)
        )
        people.append(
            (
                PersonCreate(
                    code=f"E{index:03d}",
                    name=name,
                    department="公司领导" if index < 3 else "生产车间",
                    position=position,
                    principal="主要负责人" in position,
                    hired_on=date(2015, 3, 1),
                    education=education,
                    related_major=related_major,
                    key_manager=key_manager,
                    chem_title=chem_title,
                ),
                certs,
            )
        )
    people += [
        (
            PersonCreate(
                code="E101",
                name="刘安",
                department="安全环保部",
                position="安全主管",
                full_time_safety=True,
                education=Education.BACHELOR,
                related_major=True,
            ),
            [
                (CertificateKind.SAFETY_QUALIFICATION, "安全生产管理人员", later),
                (CertificateKind.REGISTERED_SAFETY_ENGINEER, "化工安全", today + timedelta(days=25)),
            ],
        ),
        (
            PersonCreate(
                code="E102",
                name="陈静",
                department="安全环保部",
                position="安全员",
                full_time_safety=True,
                education=Education.COLLEGE,
                related_major=True,
            ),
            [(CertificateKind.SAFETY_QUALIFICATION, "安全生产管理人员", today + timedelta(days=80))],
        ),
        (
            PersonCreate(
                code="E201",
                name="何伟",
                department="反应车间",
                position="氯化岗位操作工",
                special_operation="氯化工艺作业",
            ),
            [(CertificateKind.SPECIAL_OPERATION, "氯化工艺作业", today + timedelta(days=6))],
        ),
        (
            PersonCreate(code="E202", name="林涛", department="储运车间", position="罐区操作工"),
            [],
        ),
    ]
    if on_site is not None:
        people += [
            (
                PersonCreate(
                    code="C001",
                    name="吴刚",
                    category=PersonCategory.CONTRACTOR_STAFF,
                    employer=on_site.name,
                    contractor_id=on_site.id,
                    position="焊工",
                    special_operation="焊接与热切割作业",
                    visit_until=today + timedelta(days=90),
                ),
                [(CertificateKind.SPECIAL_OPERATION, "焊接与热切割作业", later)],
            ),
        ]
    people += [
        (
            PersonCreate(
                code="V001",
                name="黄丽",
                category=PersonCategory.VISITOR,
                employer="某化工设计院",
                visit_until=today + timedelta(days=2),
                remarks="设计回访",
            ),
            [],
        ),
        (
            PersonCreate(
                code="S001",
                name="马力",
                category=PersonCategory.SUPPLIER,
                employer="某液氯供应商",
                position="槽车司机",
                special_operation="危险货物道路运输",
            ),
            [],
        ),
    ]
    added = 0
    for data, certs in people:
        if service.get_by_code(session=session, code=data.code) is not None:
            continue
        person = service.persons.create(session=session, data=data, actor=ACTOR)
        for number, (kind, category, expiry) in enumerate(certs, start=1):
            service.certificates.create(
                session=session,
                data=PersonCertificateCreate(
                    person_id=person.id,
                    kind=kind,
                    category=category,
                    # the demo's engineer is 中级, the grade the staffing rule counts
                    grade=EngineerGrade.INTERMEDIATE if kind == CertificateKind.REGISTERED_SAFETY_ENGINEER else None,
                    number=f"{data.code}-{number}",
                    issuer="省应急管理厅",
                    issue_date=expiry - timedelta(days=3 * 365),
                    expiry_date=expiry,
                ),
                actor=ACTOR,
            )
        added += 1
    contractors_demo.enter_on_site_contractor(session=session, today=today)
    return added
