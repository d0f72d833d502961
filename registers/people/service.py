"""The people registers (persons, personal certificates), the duty-roster link and the compliance self-diagnosis.

The duty roster (值班表) is kept by :mod:`registers.notifications` (it decides who is called
for an alarm); people do not copy it, they look it up by name (:func:`duty_roster`).

Example:
    >>> persons.name, certificates.name
    ('person', 'person_certificate')
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.compliance import (
    DEFAULT_RULESET,
    RULESETS,
    CertificateFact,
    CertificateKind,
    Education,
    EngineerCategory,
    EngineerGrade,
    RuleResult,
    RuleSet,
    StaffMember,
    Workforce,
    diagnose,
)
from registers.contractors.models import Contractor
from registers.framework.service import DueDate, InvalidQuery
from registers.notifications.models import RosterEntryRow
from registers.people.models import Person, PersonCategory, PersonCertificate, PersonStatus
from registers.people.references import ReferencingRegister
from registers.people.schemas import (
    CERTIFICATE_LABELS,
    PERSON_LABELS,
    PersonCertificateCreate,
    PersonCertificateRead,
    PersonCertificateUpdate,
    PersonCreate,
    PersonRead,
    PersonUpdate,
)

__all__ = [
    "CERTIFICATE_LEAD_DAYS",
    "REVIEW_LEAD_DAYS",
    "Diagnosis",
    "certificates",
    "certificates_of",
    "diagnose_staffing",
    "duty_roster",
    "get_by_code",
    "count_by_category",
    "persons",
    "ruleset",
    "workforce",
]

# A certificate renewal needs a training course and an exam: start three months ahead.
CERTIFICATE_LEAD_DAYS: tuple[int, ...] = (90, 30, 7, 0)
# 特种作业操作证 复审 is booked with the training centre two months ahead.
REVIEW_LEAD_DAYS: tuple[int, ...] = (60, 30, 7, 0)


def _describe_person(record: Person) -> str:
    return f"{record.name} ({record.code})"


def _describe_certificate(record: PersonCertificate) -> str:
    return " ".join(p for p in (record.kind, record.category or "", record.number or f"#{record.id}") if p)


persons: ReferencingRegister[Person, PersonCreate, PersonUpdate, PersonRead] = ReferencingRegister(
    name="person",
    title="人员",
    model=Person,
    create_schema=PersonCreate,
    update_schema=PersonUpdate,
    read_schema=PersonRead,
    labels=PERSON_LABELS,
    searchable=("code", "name", "employer", "department", "position", "special_operation"),
    sortable=("id", "code", "name", "category", "department", "hired_on", "visit_until", "updated_at"),
    filterable=(
        "category",
        "status",
        "department",
        "position",
        "contractor_id",
        "full_time_safety",
        "principal",
        "key_manager",
        "education",
        "special_operation",
        "hired_on",
        "visit_until",
    ),
    unique=("code",),
    due_dates=(DueDate("visit_until", (7, 0), label="准入期限", applies=lambda p: p.status == PersonStatus.ACTIVE),),
    describe=_describe_person,
    default_sort="code",
    references={"contractor_id": Contractor},
)


certificates: ReferencingRegister[
    PersonCertificate, PersonCertificateCreate, PersonCertificateUpdate, PersonCertificateRead
] = ReferencingRegister(
    name="person_certificate",
    title="人员证书",
    model=PersonCertificate,
    create_schema=PersonCertificateCreate,
    update_schema=PersonCertificateUpdate,
    read_schema=PersonCertificateRead,
    labels=CERTIFICATE_LABELS,
    searchable=("category", "number", "issuer", "remarks"),
    sortable=("id", "person_id", "kind", "number", "issue_date", "expiry_date", "review_due", "updated_at"),
    filterable=("person_id", "kind", "category", "issuer", "expiry_date", "review_due"),
    due_dates=(
        DueDate("expiry_date", CERTIFICATE_LEAD_DAYS, label="有效期"),
        DueDate("review_due", REVIEW_LEAD_DAYS, label="复审日期"),
    ),
    describe=_describe_certificate,
    default_sort="expiry_date",
    references={"person_id": Person},
)


def get_by_code(*, session: Session, code: str) -> Person | None:
    """The live person with this 人员编号, if any (the natural key of imports and demo data)."""
    return session.scalar(select(Person).where(Person.code == code, Person.deleted_at.is_(None)))


def certificates_of(*, session: Session, person_id: int) -> list[PersonCertificate]:
    """The person's live certificates, soonest expiry first."""
    persons.get(session=session, record_id=person_id)
    stmt = (
        select(PersonCertificate)
        .where(PersonCertificate.person_id == person_id, PersonCertificate.deleted_at.is_(None))
        .order_by(PersonCertificate.expiry_date.asc().nulls_last(), PersonCertificate.id)
    )
    return list(session.scalars(stmt))


def duty_roster(*, session: Session, person_id: int) -> list[RosterEntryRow]:
    """The person's lines of the alarm duty roster (值班表), matched by name."""
    person = persons.get(session=session, record_id=person_id)
    stmt = select(RosterEntryRow).where(RosterEntryRow.person == person.name).order_by(RosterEntryRow.id)
    return list(session.scalars(stmt))


def _effective_expiry(cert: PersonCertificate) -> date | None:
    """A certificate lapses at the earlier of expiry and a missed 复审."""
    dates = [d for d in (cert.expiry_date, cert.review_due) if d is not None]
    return min(dates) if dates else None


def _education(value: str | None) -> Education | None:
    """The ledger's 学历; a value the rules do not know counts as not recorded (it cannot show compliance)."""
    try:
        return Education(value) if value else None
    except ValueError:
        return None


def _engineer_category(kind: CertificateKind, category: str | None) -> EngineerCategory | None:
    """A 注册安全工程师 certificate's 专业类别, read from its 类别 (e.g. ``化工安全``); None if another text."""
    if kind != CertificateKind.REGISTERED_SAFETY_ENGINEER or not category:
        return None
    text = category.strip().removesuffix("类")
    try:
        return EngineerCategory(text)
    except ValueError:
        return None


def _engineer_grade(kind: CertificateKind, grade: str | None) -> EngineerGrade | None:
    """A 注册安全工程师 certificate's 级别 (None: another kind, or not recorded)."""
    if kind != CertificateKind.REGISTERED_SAFETY_ENGINEER or not grade:
        return None
    try:
        return EngineerGrade(grade)
    except ValueError:
        return None


def workforce(*, session: Session, employees: int | None = None) -> Workforce:
    """The compliance snapshot of the enterprise's active employees and their certificates.

    Args:
        session: the session.
        employees: 从业人员 head count when the ledger does not list everyone (e.g. the
            figure reported to the authorities); default: active employees in the ledger.
    """
    staff_rows = list(
        session.scalars(
            select(Person)
            .where(
                Person.deleted_at.is_(None),
                Person.category == PersonCategory.EMPLOYEE,
                Person.status == PersonStatus.ACTIVE,
            )
            .order_by(Person.code)
        )
    )
    facts: dict[int, list[CertificateFact]] = defaultdict(list)
    ids = [p.id for p in staff_rows]
    for start in range(0, len(ids), 500):
        stmt = select(PersonCertificate).where(
            PersonCertificate.person_id.in_(ids[start : start + 500]), PersonCertificate.deleted_at.is_(None)
        )
        for cert in session.scalars(stmt):
            try:
                kind = CertificateKind(cert.kind)
            except ValueError:
                kind = CertificateKind.OTHER
            facts[cert.person_id].append(
                CertificateFact(
                    kind,
                    _effective_expiry(cert),
                    grade=_engineer_grade(kind, cert.grade),
                    category=_engineer_category(kind, cert.category),
                )
            )
    staff = tuple(
        StaffMember(
            name=p.name,
            full_time_safety=p.full_time_safety,
            principal=p.principal,
            special_operation=p.special_operation,
            certificates=tuple(facts[p.id]),
            key_manager=p.key_manager,
            education=_education(p.education),
            related_major=p.related_major,
            chem_title=p.chem_title,
            chem_technician=p.chem_technician,
        )
        for p in staff_rows
    )
    return Workforce(employees=len(staff) if employees is None else employees, staff=staff)


@dataclass(frozen=True)
class Diagnosis:
    """The self-diagnosis result: inputs used and every rule's verdict."""

    employees: int
    on: date
    ruleset: str
    passed: bool
    rules: list[RuleResult]


def ruleset(version: str | None) -> RuleSet:
    """The rules table of that version (default: the current one).

    Raises:
        InvalidQuery: an unknown version.
    """
    if version is None:
        return DEFAULT_RULESET
    try:
        return RULESETS[version]
    except KeyError as err:
        known = ", ".join(RULESETS)
        msg = "ruleset"
        raise InvalidQuery(msg, f"未知规则版本「{version}」/ unknown ruleset; known: {known}") from err


def diagnose_staffing(
    *, session: Session, on: date, employees: int | None = None, rules: RuleSet = DEFAULT_RULESET
) -> Diagnosis:
    """Run the staffing rules against the ledger: which rule fails and why."""
    if employees is not None and employees < 0:
        msg = "employees"
        raise InvalidQuery(msg, "从业人员数不能为负 / must be ≥ 0")
    snapshot = workforce(session=session, employees=employees)
    results = diagnose(snapshot, on=on, rules=rules)
    return Diagnosis(
        employees=snapshot.employees,
        on=on,
        ruleset=rules.version,
        passed=all(r.passed for r in results),
        rules=results,
    )


def count_by_category(*, session: Session) -> dict[str, int]:
    """Live persons per category, for the people overview."""
    stmt = select(Person.category, func.count()).where(Person.deleted_at.is_(None)).group_by(Person.category)
    return {category: count for category, count in session.execute(stmt)}
