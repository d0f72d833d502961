"""Certificates and reports (证照与报告): the completeness check, approval and reminders per kind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from registers.certificates import service
from registers.certificates.models import CertificateKind
from registers.certificates.schemas import CertificateCreate, CertificateUpdate
from registers.framework.reminders import due_reminders

register = service.register

COMPLETE: dict[CertificateKind, dict[str, Any]] = {
    CertificateKind.SAFETY_LICENCE: {
        "number": "(粤)WH安许证字[2024]0001",
        "holder": "南方化工有限公司",
        "issuer": "广东省应急管理厅",
        "issue_date": date(2024, 3, 1),
        "expiry_date": date(2027, 2, 28),
        "scope": "危险化学品生产",
    },
    CertificateKind.HAZCHEM_REGISTRATION: {
        "number": "44012300123",
        "holder": "南方化工有限公司",
        "issuer": "应急管理部化学品登记中心",
        "issue_date": date(2024, 5, 1),
        "expiry_date": date(2027, 4, 30),
        "scope": "甲醇、液氯、液化石油气",
    },
    CertificateKind.STANDARDISATION: {
        "number": "AQBIIWH粤202400012",
        "holder": "南方化工有限公司",
        "issuer": "广东省应急管理厅",
        "grade": "二级",
        "issue_date": date(2024, 6, 1),
        "expiry_date": date(2027, 5, 31),
    },
    CertificateKind.SAFETY_EVALUATION: {
        "name": "安全现状评价报告",
        "holder": "南方化工有限公司",
        "issuer": "某安全评价有限公司",
        "issue_date": date(2025, 1, 10),
        "expiry_date": date(2028, 1, 9),
        "scope": "全厂",
    },
    CertificateKind.THREE_SIMULTANEITIES: {
        "name": "甲醇罐区扩建项目安全设施设计专篇",
        "project": "甲醇罐区扩建",
        "stage": "设计专篇",
        "issuer": "某设计院",
        "issue_date": date(2025, 3, 1),
    },
}


@pytest.mark.parametrize("kind", list(CertificateKind))
def test_every_kind_is_complete_with_its_key_fields(kind: CertificateKind) -> None:
    assert set(service.KEY_FIELDS[kind]) == set(COMPLETE[kind])
    assert service.missing_key_fields({"kind": kind, **COMPLETE[kind]}) == []


@pytest.mark.parametrize("kind", list(CertificateKind))
def test_each_missing_key_field_is_named(kind: CertificateKind) -> None:
    for name in COMPLETE[kind]:
        values = {"kind": kind, **COMPLETE[kind], name: None}
        assert service.missing_key_fields(values) == [name]


def test_the_check_runs_on_create_and_update_and_is_filterable(session: Session) -> None:
    values = dict(COMPLETE[CertificateKind.SAFETY_LICENCE], scope=None, expiry_date=None)
    record = register.create(
        session=session, data=CertificateCreate(kind=CertificateKind.SAFETY_LICENCE, **values), actor="a"
    )
    read = register.to_read(record)
    assert (read.is_complete, read.missing_fields, read.missing_labels) == (
        False,
        ["expiry_date", "scope"],
        ["有效期至", "许可范围"],
    )
    assert [r.id for r in register.list(session=session, filters={"is_complete": False}).items] == [record.id]
    register.update(
        session=session,
        record_id=record.id,
        data=CertificateUpdate(scope="危险化学品生产", expiry_date=date(2027, 2, 28)),
        actor="b",
    )
    assert record.is_complete
    assert record.missing_fields == []
    assert register.list(session=session, filters={"is_complete": False}).total == 0
    # changing the kind re-checks against the new kind's key fields
    register.update(
        session=session, record_id=record.id, data=CertificateUpdate(kind=CertificateKind.STANDARDISATION), actor="b"
    )
    assert record.missing_fields == ["grade"]


def test_expiry_before_issue_is_refused_on_the_expiry_field() -> None:
    with pytest.raises(ValidationError) as err:
        CertificateCreate(
            kind=CertificateKind.SAFETY_LICENCE, issue_date=date(2025, 1, 2), expiry_date=date(2025, 1, 1)
        )
    assert err.value.errors()[0]["loc"] == ("expiry_date",)


def test_text_longer_than_the_column_or_with_nul_is_refused() -> None:
    with pytest.raises(ValidationError):
        CertificateCreate(kind=CertificateKind.SAFETY_LICENCE, number="x" * 65)
    with pytest.raises(ValidationError, match="control characters"):
        CertificateCreate(kind=CertificateKind.SAFETY_LICENCE, holder="a\x00b")


def test_approve_is_recorded(session: Session) -> None:
    record = register.create(session=session, data=CertificateCreate(kind=CertificateKind.SAFETY_LICENCE), actor="a")
    service.approve(session=session, record_id=record.id, actor="boss")
    assert record.approved_by == "boss"
    assert record.approved_at is not None
    assert register.history(session=session, record_id=record.id)[-1].action == "approve"


def test_licences_are_reminded_at_90_30_7_days_and_on_the_day(session: Session) -> None:
    register.create(
        session=session,
        data=CertificateCreate(kind=CertificateKind.SAFETY_LICENCE, number="L-1", expiry_date=date(2027, 4, 1)),
        actor="a",
    )
    fired = []
    for day in ("2027-01-01", "2027-01-02", "2027-03-02", "2027-03-25", "2027-04-01", "2027-06-01"):
        now = datetime.fromisoformat(day + "T02:00:00").replace(tzinfo=UTC)
        fired += [(day, r.lead_days) for r in due_reminders([register], session=session, now=now)]
    assert fired == [("2027-01-01", 90), ("2027-03-02", 30), ("2027-03-25", 7), ("2027-04-01", 0)]
