"""People register: persons and certificates on the framework, reference checks, reminders, compliance."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy.orm import Session

from models.compliance import CertificateKind
from registers.framework.reminders import due_reminders
from registers.framework.service import DuplicateValue, InvalidInput
from registers.notifications.models import RosterEntryRow
from registers.people import service
from registers.people.models import PersonCategory
from registers.people.schemas import PersonCertificateCreate, PersonCreate, PersonUpdate

TODAY = date(2026, 11, 28)


def person(session: Session, code: str, name: str, **kwargs: object) -> int:
    return service.persons.create(session=session, data=PersonCreate(code=code, name=name, **kwargs), actor="t").id  # type: ignore[arg-type]


def certificate(session: Session, person_id: int, kind: CertificateKind, expiry: date | None, **kw: object) -> int:
    data = PersonCertificateCreate(person_id=person_id, kind=kind, expiry_date=expiry, **kw)  # type: ignore[arg-type]
    return service.certificates.create(session=session, data=data, actor="t").id


def test_person_crud_history_and_unique_code(session: Session) -> None:
    pid = person(session, "E1", "张三", department="反应车间")
    service.persons.update(session=session, record_id=pid, data=PersonUpdate(position="班长"), actor="lead")
    history = service.persons.history(session=session, record_id=pid)
    assert [(h.version, h.action, h.actor) for h in history] == [(1, "create", "t"), (2, "update", "lead")]
    assert history[1].changes == {"position": [None, "班长"]}
    with pytest.raises(DuplicateValue):
        person(session, "E1", "李四")


def test_references_must_name_live_records(session: Session) -> None:
    with pytest.raises(InvalidInput, match="人员ID 999 不存在"):
        certificate(session, 999, CertificateKind.SPECIAL_OPERATION, TODAY)
    with pytest.raises(InvalidInput, match="承包商ID"):
        person(session, "C1", "王五", category=PersonCategory.CONTRACTOR_STAFF, contractor_id=12345)
    pid = person(session, "E2", "赵六")
    service.persons.soft_delete(session=session, record_id=pid, actor="t")
    with pytest.raises(InvalidInput):
        certificate(session, pid, CertificateKind.SPECIAL_OPERATION, TODAY)


def test_certificate_expiry_and_review_reminders_fire_once(session: Session) -> None:
    pid = person(session, "E3", "何伟")
    cid = certificate(
        session,
        pid,
        CertificateKind.SPECIAL_OPERATION,
        date(2027, 6, 1),
        category="氯化工艺作业",
        review_due=date(2026, 12, 20),
    )
    now = datetime(2026, 11, 28, 1, tzinfo=UTC)
    first = due_reminders([service.certificates], session=session, now=now)
    assert [(r.record_id, r.field, r.lead_days) for r in first] == [(cid, "review_due", 30)]
    assert "复审日期" in first[0].message
    assert due_reminders([service.certificates], session=session, now=now) == []


def test_duty_roster_is_read_from_the_notifications_register(session: Session) -> None:
    pid = person(session, "E4", "孙明")
    session.add(
        RosterEntryRow(
            person="孙明", role="shift_leader", area="reaction_unit", shift_start=time(8), shift_end=time(20)
        )
    )
    session.add(RosterEntryRow(person="别人", role="operator", shift_start=time(8), shift_end=time(20)))
    session.flush()
    assert [r.role for r in service.duty_roster(session=session, person_id=pid)] == ["shift_leader"]


def test_compliance_reads_the_ledger(session: Session) -> None:
    boss = person(session, "E10", "王建国", principal=True)
    certificate(session, boss, CertificateKind.SAFETY_QUALIFICATION, date(2028, 1, 1))
    safety = person(session, "E11", "刘安", full_time_safety=True)
    certificate(session, safety, CertificateKind.SAFETY_QUALIFICATION, date(2028, 1, 1))
    # a registered engineer whose review lapsed yesterday no longer counts
    certificate(
        session, safety, CertificateKind.REGISTERED_SAFETY_ENGINEER, date(2029, 1, 1), review_due=date(2026, 11, 27)
    )
    person(
        session, "C10", "访客甲", category=PersonCategory.VISITOR, full_time_safety=True
    )  # third parties do not count

    result = service.diagnose_staffing(session=session, on=TODAY, employees=320)
    rules = {r.code: r for r in result.rules}
    assert not result.passed
    assert (
        rules["safety_staff"].reason == "专职安全生产管理人员 1 人，要求 ≥ 7 人（从业人员 320 人，按 2% 计，至少 2 人）"
    )
    assert (rules["registered_engineers"].actual, rules["registered_engineers"].passed) == (0, False)
    assert rules["principal_qualified"].passed
    default = service.diagnose_staffing(session=session, on=TODAY)
    assert default.employees == 2  # active employees in the ledger
