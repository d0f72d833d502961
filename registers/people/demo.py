"""Demo people for ``safetwin demo``, with their certificates.

The hazard sources' 包保 persons, safety staff, operators, contractor workers and a visitor.

The three responsible persons are taken from the hazard-source register (the names it holds),
so the people ledger and the 包保 assignments name the same persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.compliance import CertificateKind, Education, EngineerGrade
from registers.contractors import demo as contractors_demo
from registers.contractors import service as contractors
from registers.contractors.models import Contractor
from registers.hazard_sources.models import HazardSource
from registers.people import service
from registers.people.models import PersonCategory
from registers.people.schemas import PersonCertificateCreate, PersonCreate

ACTOR = "demo"
LONG_VALID_DAYS = 900
"""Validity left on a certificate the demo does not want to see expire."""

# 学历 of the 包保 persons by post, as the staffing 学历 rules read them: the principal and the
# chief engineer (主管技术, a 分管负责人) hold related degrees; the workshop head is not a
# 分管负责人, so the rule does not look at him, but his 大专 is on file all the same.
# post -> (学历, related major, 分管负责人, 化工类中级及以上职称)
_KEY_PERSON_EDUCATION: dict[str, tuple[Education, bool, bool, bool]] = {
    "总经理": (Education.BACHELOR, True, False, False),
    "总工程师": (Education.POSTGRADUATE, True, True, True),
    "车间主任": (Education.COLLEGE, True, False, False),
}

Cert = tuple[CertificateKind, str, int]
"""A demo certificate: kind, category, days of validity left."""


@dataclass(frozen=True)
class _Row:
    """One demo person: the :class:`PersonCreate` fields the demo sets, dates as days from today.

    A row with ``on_site_contractor`` works for the demo's on-site contractor (employer and
    contractor id are filled in when it exists; without it the row is left out).
    """

    code: str
    name: str
    department: str | None = None
    position: str | None = None
    category: PersonCategory = PersonCategory.EMPLOYEE
    employer: str | None = None
    on_site_contractor: bool = False
    full_time_safety: bool = False
    principal: bool = False
    key_manager: bool = False
    education: Education | None = None
    related_major: bool = False
    chem_title: bool = False
    special_operation: str | None = None
    hired_on: date | None = None
    visit_days: int | None = None
    remarks: str | None = None
    certs: tuple[Cert, ...] = ()

    def create(self, *, today: date, contractor: Contractor | None) -> PersonCreate:
        """The person as the ledger takes it."""
        return PersonCreate(
            code=self.code,
            name=self.name,
            category=self.category,
            employer=contractor.name if contractor is not None else self.employer,
            contractor_id=contractor.id if contractor is not None else None,
            department=self.department,
            position=self.position,
            full_time_safety=self.full_time_safety,
            principal=self.principal,
            key_manager=self.key_manager,
            education=self.education,
            related_major=self.related_major,
            chem_title=self.chem_title,
            special_operation=self.special_operation,
            hired_on=self.hired_on,
            visit_until=None if self.visit_days is None else today + timedelta(days=self.visit_days),
            remarks=self.remarks,
        )


_QUALIFICATION = CertificateKind.SAFETY_QUALIFICATION
_SPECIAL = CertificateKind.SPECIAL_OPERATION

# Safety staff, operators, the on-site contractor's welder, a visitor and a supplier's driver,
# in ledger order after the 包保 persons.
_OTHERS: tuple[_Row, ...] = (
    _Row(
        "E101",
        "刘安",
        "安全环保部",
        "安全主管",
        full_time_safety=True,
        education=Education.BACHELOR,
        related_major=True,
        certs=(
            (_QUALIFICATION, "安全生产管理人员", LONG_VALID_DAYS),
            (CertificateKind.REGISTERED_SAFETY_ENGINEER, "化工安全", 25),
        ),
    ),
    _Row(
        "E102",
        "陈静",
        "安全环保部",
        "安全员",
        full_time_safety=True,
        education=Education.COLLEGE,
        related_major=True,
        certs=((_QUALIFICATION, "安全生产管理人员", 80),),
    ),
    _Row(
        "E201",
        "何伟",
        "反应车间",
        "氯化岗位操作工",
        special_operation="氯化工艺作业",
        certs=((_SPECIAL, "氯化工艺作业", 6),),
    ),
    _Row("E202", "林涛", "储运车间", "罐区操作工"),
    _Row(
        "C001",
        "吴刚",
        position="焊工",
        category=PersonCategory.CONTRACTOR_STAFF,
        on_site_contractor=True,
        special_operation="焊接与热切割作业",
        visit_days=90,
        certs=((_SPECIAL, "焊接与热切割作业", LONG_VALID_DAYS),),
    ),
    _Row(
        "V001",
        "黄丽",
        category=PersonCategory.VISITOR,
        employer="某化工设计院",
        visit_days=2,
        remarks="设计回访",
    ),
    _Row(
        "S001",
        "马力",
        position="槽车司机",
        category=PersonCategory.SUPPLIER,
        employer="某液氯供应商",
        special_operation="危险货物道路运输",
    ),
)


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


def _key_person(index: int, name: str, position: str) -> _Row:
    """The ``index``-th 包保 person: the company's leaders first, then the workshop heads."""
    education, related_major, key_manager, chem_title = _KEY_PERSON_EDUCATION.get(
        position.split(" ")[0], (None, False, False, False)
    )
    principal = "主要负责人" in position
    return _Row(
        f"E{index:03d}",
        name,
        "公司领导" if index < 3 else "生产车间",  # the first two are the leaders
        position,
        principal=principal,
        hired_on=date(2015, 3, 1),
        education=education,
        related_major=related_major,
        key_manager=key_manager,
        chem_title=chem_title,
        certs=((_QUALIFICATION, "主要负责人" if "主要" in position else "安全生产管理人员", LONG_VALID_DAYS),),
    )


def load_people_demo(*, session: Session, today: date) -> int:
    """Employees (incl. the 包保 persons), their certificates, and third parties; adds what is missing."""
    on_site = contractors.get_by_credit_code(session=session, credit_code=contractors_demo.ON_SITE_CODE)
    rows = [_key_person(i, name, position) for i, (name, position) in enumerate(_responsible_persons(session), 1)]
    rows += [r for r in _OTHERS if on_site is not None or not r.on_site_contractor]
    added = 0
    for row in rows:
        if service.get_by_code(session=session, code=row.code) is not None:
            continue
        data = row.create(today=today, contractor=on_site if row.on_site_contractor else None)
        person = service.persons.create(session=session, data=data, actor=ACTOR)
        for number, (kind, category, days) in enumerate(row.certs, start=1):
            expiry = today + timedelta(days=days)
            service.certificates.create(
                session=session,
                data=PersonCertificateCreate(
                    person_id=person.id,
                    kind=kind,
                    category=category,
                    # the demo's engineer is 中级, the grade the staffing rule counts
                    grade=EngineerGrade.INTERMEDIATE if kind == CertificateKind.REGISTERED_SAFETY_ENGINEER else None,
                    number=f"{row.code}-{number}",
                    issuer="省应急管理厅",
                    issue_date=expiry - timedelta(days=3 * 365),
                    expiry_date=expiry,
                ),
                actor=ACTOR,
            )
        added += 1
    contractors_demo.enter_on_site_contractor(session=session, today=today)
    return added
