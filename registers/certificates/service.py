"""The certificates register: declaration, completeness check (资料完整性检查) and approval (审核).

Example:
    >>> missing_key_fields({"kind": "安全生产许可证", "number": "(粤)WH安许证字[2024]0001"})
    ['holder', 'issuer', 'issue_date', 'expiry_date', 'scope']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from registers.certificates.models import Certificate, CertificateKind, CertificateStatus
from registers.certificates.schemas import LABELS, CertificateCreate, CertificateRead, CertificateUpdate
from registers.db import utcnow
from registers.framework.service import DueDate, Register

__all__ = ["EXPIRY_LEAD_DAYS", "KEY_FIELDS", "approve", "missing_key_fields", "register"]

# Key fields per kind: what a regulator checks first on each document.
KEY_FIELDS: Mapping[CertificateKind, tuple[str, ...]] = {
    CertificateKind.SAFETY_LICENCE: ("number", "holder", "issuer", "issue_date", "expiry_date", "scope"),
    CertificateKind.HAZCHEM_REGISTRATION: ("number", "holder", "issuer", "issue_date", "expiry_date", "scope"),
    CertificateKind.STANDARDISATION: ("number", "holder", "issuer", "grade", "issue_date", "expiry_date"),
    CertificateKind.SAFETY_EVALUATION: ("name", "holder", "issuer", "issue_date", "expiry_date", "scope"),
    CertificateKind.THREE_SIMULTANEITIES: ("name", "project", "stage", "issuer", "issue_date"),
}

# Reminders before expiry: a licence renewal takes months (apply 3 months ahead), then the
# last month and week, and on the day it lapses.
EXPIRY_LEAD_DAYS: tuple[int, ...] = (90, 30, 7, 0)


def missing_key_fields(values: Mapping[str, Any]) -> list[str]:
    """The key fields of the document's kind that are empty, in the order of ``KEY_FIELDS``."""
    try:
        kind = CertificateKind(str(values.get("kind")))
    except ValueError:
        return ["kind"]
    return [name for name in KEY_FIELDS[kind] if values.get(name) in (None, "")]


def _completeness(values: Mapping[str, Any]) -> dict[str, Any]:
    missing = missing_key_fields(values)
    return {"missing_fields": missing, "is_complete": not missing}


def _describe(record: Certificate) -> str:
    return " ".join(p for p in (record.kind, record.number or record.name or f"#{record.id}") if p)


def _remind(record: Certificate) -> bool:
    return record.status != CertificateStatus.CANCELLED


register: Register[Certificate, CertificateCreate, CertificateUpdate, CertificateRead] = Register(
    name="certificate",
    title="证照与报告",
    model=Certificate,
    create_schema=CertificateCreate,
    update_schema=CertificateUpdate,
    read_schema=CertificateRead,
    labels=LABELS,
    searchable=("number", "name", "holder", "issuer", "scope", "project", "remarks"),
    sortable=("id", "kind", "number", "holder", "issue_date", "expiry_date", "status", "updated_at"),
    filterable=("kind", "status", "holder", "issuer", "is_complete", "issue_date", "expiry_date"),
    unique=("number",),
    due_dates=(DueDate("expiry_date", EXPIRY_LEAD_DAYS, label="有效期", applies=_remind),),
    derive=_completeness,
    describe=_describe,
    default_sort="expiry_date",
)


def approve(*, session: Session, record_id: int, actor: str) -> Certificate:
    """Record that a safety manager checked the document against the original (审核); kept in history.

    Raises:
        RecordNotFound: unknown or deleted record.
    """
    record = register.get_for_change(session=session, record_id=record_id)
    now, before = utcnow(), record.approved_by
    record.approved_by, record.approved_at = actor, now
    record.version += 1
    record.updated_by, record.updated_at = actor, now
    session.flush()
    register.record_history(session, record, "approve", actor, {"approved_by": [before, actor]})
    return record
