"""The contractor registers, the workflow actions and the permit gate (:func:`may_issue_permit`).

Workflow actions change ``status`` through :func:`registers.contractors.workflow.transition`,
bump the version and write a history entry named after the event, so the file shows who
admitted, let in, evaluated or blacklisted the contractor and when.

Other modules ask before issuing a work permit::

    from registers.contractors import service as contractors
    allowed, reason = contractors.may_issue_permit(session=session, contractor_id=42)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registers.contractors import evaluation as scoring
from registers.contractors.models import (
    Contractor,
    ContractorDocument,
    ContractorEvaluation,
    ContractorTool,
    ContractorViolation,
    DocumentKind,
    Severity,
)
from registers.contractors.schemas import (
    CONTRACTOR_LABELS,
    DOCUMENT_LABELS,
    TOOL_LABELS,
    VIOLATION_LABELS,
    ContractorCreate,
    ContractorRead,
    ContractorUpdate,
    DocumentCreate,
    DocumentRead,
    DocumentUpdate,
    ToolCreate,
    ToolRead,
    ToolUpdate,
    ViolationCreate,
    ViolationRead,
    ViolationUpdate,
    normalise_credit_code,
)
from registers.contractors.workflow import ContractorEvent, ContractorStatus, allowed_events, transition
from registers.db import utcnow
from registers.framework.service import DueDate, InvalidInput, Register, RegisterError, jsonable
from registers.people.models import Person
from registers.people.references import ReferencingRegister

__all__ = [
    "AdmissionRefused",
    "ContractorFile",
    "admit",
    "blacklist",
    "blacklist_entry",
    "contractors",
    "documents",
    "enter",
    "evaluate",
    "exit_site",
    "file_of",
    "get_by_credit_code",
    "lift_blacklist",
    "may_issue_permit",
    "reapply",
    "reject",
    "renew",
    "tools",
    "violations",
]

# Documents without which a contractor is not admitted (准入): a qualification and a signed
# safety agreement, both valid on the day.
ADMISSION_DOCUMENTS: tuple[DocumentKind, ...] = (DocumentKind.QUALIFICATION, DocumentKind.SAFETY_AGREEMENT)


class AdmissionRefused(RegisterError):
    """Admission or entry refused for reasons a safety manager can fix (missing documents...)."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("；".join(reasons))


def _remind_contractor(record: Contractor) -> bool:
    return record.status in (ContractorStatus.ADMITTED, ContractorStatus.ON_SITE)


def blacklist_entry(*, session: Session, credit_code: str, exclude_id: int | None = None) -> Contractor | None:
    """A blacklisted contractor record with this 统一社会信用代码, deleted or not (newest first).

    The blacklist is keyed by the credit code, not by the row: deleting a blacklisted
    contractor and entering it again under the same code must not clear it.
    """
    stmt = select(Contractor).where(
        Contractor.credit_code == normalise_credit_code(credit_code), Contractor.status == ContractorStatus.BLACKLISTED
    )
    if exclude_id is not None:
        stmt = stmt.where(Contractor.id != exclude_id)
    return session.scalars(stmt.order_by(Contractor.id.desc()).limit(1)).first()


def _blacklisted_message(entry: Contractor) -> str:
    where = "（记录已删除，可恢复后按程序解除）" if entry.deleted_at is not None else ""
    return (
        f"统一社会信用代码 {entry.credit_code} 已列入黑名单：承包商「{entry.name}」，"
        f"原因：{entry.blacklist_reason or '未注明'}{where} / this credit code is blacklisted (record #{entry.id})"
    )


class ContractorRegister(Register[Contractor, ContractorCreate, ContractorUpdate, ContractorRead]):
    """The contractor register; a blacklisted 统一社会信用代码 cannot be entered again, deleted or not."""

    def validate_rows(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, InvalidInput]]:
        """As the framework's, plus: no row (typed or imported) may carry a blacklisted credit code."""
        problems = super().validate_rows(session, rows)
        for index, row in enumerate(rows):
            code = row.get("credit_code")
            entry = blacklist_entry(session=session, credit_code=code) if code else None
            if entry is not None:
                problems.append((index, InvalidInput("credit_code", _blacklisted_message(entry))))
        return problems

    def update(
        self,
        *,
        session: Session,
        record_id: int,
        data: ContractorUpdate,
        actor: str | None,
        expected_version: int | None = None,
    ) -> Contractor:
        """As the framework's; a blacklisted contractor keeps its code and no other takes a blacklisted one."""
        code = data.model_dump(exclude_unset=True).get("credit_code")
        if code is not None:
            # locked: judged on the state the update builds on, not one a blacklisting just replaced
            record = self.get_for_change(session=session, record_id=record_id)
            if record.status == ContractorStatus.BLACKLISTED and code != record.credit_code:
                msg = "已列入黑名单的承包商不能修改统一社会信用代码 / a blacklisted contractor keeps its credit code"
                raise InvalidInput("credit_code", msg)  # noqa: EM101 - the field name
            entry = blacklist_entry(session=session, credit_code=code, exclude_id=record_id)
            if entry is not None:
                raise InvalidInput("credit_code", _blacklisted_message(entry))  # noqa: EM101 - the field name
        return super().update(
            session=session, record_id=record_id, data=data, actor=actor, expected_version=expected_version
        )


contractors = ContractorRegister(
    name="contractor",
    title="承包商",
    model=Contractor,
    create_schema=ContractorCreate,
    update_schema=ContractorUpdate,
    read_schema=ContractorRead,
    labels=CONTRACTOR_LABELS,
    searchable=("credit_code", "name", "contact_person", "scope", "remarks"),
    sortable=("id", "credit_code", "name", "status", "admission_valid_until", "last_score", "updated_at"),
    filterable=("status", "qualification_level", "admission_valid_until", "last_grade"),
    unique=("credit_code",),
    due_dates=(DueDate("admission_valid_until", (30, 7, 0), label="准入有效期", applies=_remind_contractor),),
    describe=lambda r: r.name,
    default_sort="name",
)

documents: ReferencingRegister[ContractorDocument, DocumentCreate, DocumentUpdate, DocumentRead] = ReferencingRegister(
    name="contractor_document",
    title="承包商资质与协议",
    model=ContractorDocument,
    create_schema=DocumentCreate,
    update_schema=DocumentUpdate,
    read_schema=DocumentRead,
    labels=DOCUMENT_LABELS,
    searchable=("number", "title", "issuer", "remarks"),
    sortable=("id", "contractor_id", "kind", "signed_on", "expiry_date", "updated_at"),
    filterable=("contractor_id", "kind", "signed_on", "expiry_date"),
    due_dates=(DueDate("expiry_date", (60, 30, 7, 0), label="有效期"),),
    describe=lambda r: " ".join(p for p in (r.kind, r.number or r.title or f"#{r.id}") if p),
    default_sort="expiry_date",
    references={"contractor_id": Contractor},
)

tools: ReferencingRegister[ContractorTool, ToolCreate, ToolUpdate, ToolRead] = ReferencingRegister(
    name="contractor_tool",
    title="承包商机具",
    model=ContractorTool,
    create_schema=ToolCreate,
    update_schema=ToolUpdate,
    read_schema=ToolRead,
    labels=TOOL_LABELS,
    searchable=("name", "model", "number"),
    sortable=("id", "contractor_id", "name", "inspection_due", "updated_at"),
    filterable=("contractor_id", "inspection_due"),
    due_dates=(DueDate("inspection_due", (7, 0), label="检验日期"),),
    describe=lambda r: f"{r.name} {r.number or ''}".strip(),
    default_sort="inspection_due",
    references={"contractor_id": Contractor},
)

violations: ReferencingRegister[ContractorViolation, ViolationCreate, ViolationUpdate, ViolationRead] = (
    ReferencingRegister(
        name="contractor_violation",
        title="承包商违章与事故",
        model=ContractorViolation,
        create_schema=ViolationCreate,
        update_schema=ViolationUpdate,
        read_schema=ViolationRead,
        labels=VIOLATION_LABELS,
        searchable=("person_name", "description"),
        sortable=("id", "contractor_id", "occurred_on", "severity", "penalty_points", "updated_at"),
        filterable=("contractor_id", "kind", "severity", "occurred_on"),
        default_sort="-occurred_on",
        references={"contractor_id": Contractor},
    )
)


def get_by_credit_code(*, session: Session, credit_code: str) -> Contractor | None:
    """The live contractor with this 统一社会信用代码, if any."""
    return session.scalar(
        select(Contractor).where(Contractor.credit_code == credit_code, Contractor.deleted_at.is_(None))
    )


def _move(
    session: Session,
    record: Contractor,
    event: ContractorEvent,
    actor: str | None,
    extra: dict[str, Any] | None = None,
) -> Contractor:
    """Apply ``event``: new status (or InvalidTransition), extra fields, version, history."""
    before = ContractorStatus(record.status)
    after = transition(before, event)
    changes: dict[str, Any] = {"status": [before.value, after.value]} if after != before else {}
    for name, value in (extra or {}).items():
        old = getattr(record, name)
        if jsonable(old) != jsonable(value):
            changes[name] = [jsonable(old), jsonable(value)]
        setattr(record, name, value)
    record.status = after
    record.version += 1
    record.updated_by, record.updated_at = actor, utcnow()
    session.flush()
    contractors.record_history(session, record, event.value, actor, changes)
    return record


def _valid_documents(session: Session, contractor_id: int, on: date) -> set[str]:
    stmt = select(ContractorDocument.kind).where(
        ContractorDocument.contractor_id == contractor_id,
        ContractorDocument.deleted_at.is_(None),
        (ContractorDocument.expiry_date.is_(None)) | (ContractorDocument.expiry_date >= on),
    )
    return set(session.scalars(stmt))


def admit(*, session: Session, contractor_id: int, valid_until: date, on: date, actor: str | None) -> Contractor:
    """准入: admit an applicant whose qualification and safety agreement are valid on ``on``.

    Raises:
        RecordNotFound: unknown contractor.
        InvalidTransition: not an applicant (e.g. blacklisted).
        AdmissionRefused: documents missing or expired, or ``valid_until`` not after ``on``.
    """
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    transition(ContractorStatus(record.status), ContractorEvent.ADMIT)  # refuse a blacklisted one first
    entry = blacklist_entry(session=session, credit_code=record.credit_code, exclude_id=record.id)
    if entry is not None:  # a record entered before the register refused the code
        raise AdmissionRefused([_blacklisted_message(entry)])
    held = _valid_documents(session, contractor_id, on)
    reasons = [f"缺少有效的{kind.value}" for kind in ADMISSION_DOCUMENTS if kind.value not in held]
    if valid_until <= on:
        reasons.append(f"准入有效期 {valid_until.isoformat()} 须晚于 {on.isoformat()}")
    if reasons:
        raise AdmissionRefused(reasons)
    return _move(session, record, ContractorEvent.ADMIT, actor, {"admission_valid_until": valid_until})


def reject(*, session: Session, contractor_id: int, reason: str, actor: str | None) -> Contractor:
    """驳回 an application."""
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    return _move(session, record, ContractorEvent.REJECT, actor, {"remarks": reason})


def enter(*, session: Session, contractor_id: int, on: date, actor: str | None) -> Contractor:
    """入场: let an admitted contractor on site, if its admission is valid and it has registered people.

    Raises:
        InvalidTransition: not admitted.
        AdmissionRefused: admission expired, or no person of the contractor registered.
    """
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    transition(ContractorStatus(record.status), ContractorEvent.ENTER)
    reasons = []
    if record.admission_valid_until is not None and record.admission_valid_until < on:
        reasons.append(f"准入已于 {record.admission_valid_until.isoformat()} 过期，请先续期")
    people = session.scalar(
        select(Person.id).where(Person.contractor_id == contractor_id, Person.deleted_at.is_(None)).limit(1)
    )
    if people is None:
        reasons.append("未登记承包商作业人员")
    if reasons:
        raise AdmissionRefused(reasons)
    return _move(session, record, ContractorEvent.ENTER, actor)


def renew(*, session: Session, contractor_id: int, valid_until: date, on: date, actor: str | None) -> Contractor:
    """续期: extend the admission (documents must still be valid, as on admission)."""
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    transition(ContractorStatus(record.status), ContractorEvent.RENEW)
    held = _valid_documents(session, contractor_id, on)
    reasons = [f"缺少有效的{kind.value}" for kind in ADMISSION_DOCUMENTS if kind.value not in held]
    if valid_until <= on:
        reasons.append(f"准入有效期 {valid_until.isoformat()} 须晚于 {on.isoformat()}")
    if reasons:
        raise AdmissionRefused(reasons)
    return _move(session, record, ContractorEvent.RENEW, actor, {"admission_valid_until": valid_until})


def exit_site(*, session: Session, contractor_id: int, actor: str | None) -> Contractor:
    """退场: the contractor leaves the site (work finished or admission ended)."""
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    return _move(session, record, ContractorEvent.EXIT, actor)


def reapply(*, session: Session, contractor_id: int, actor: str | None) -> Contractor:
    """重新申请 after rejection or exit."""
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    return _move(session, record, ContractorEvent.REAPPLY, actor)


def blacklist(*, session: Session, contractor_id: int, reason: str, actor: str | None) -> Contractor:
    """列入黑名单: blocks admission and every permit until lifted."""
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    return _move(
        session, record, ContractorEvent.BLACKLIST, actor, {"blacklist_reason": reason, "blacklisted_at": utcnow()}
    )


def lift_blacklist(*, session: Session, contractor_id: int, reason: str, actor: str | None) -> Contractor:
    """解除黑名单: back to 已退场; the contractor must apply and be admitted again."""
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    return _move(session, record, ContractorEvent.LIFT, actor, {"blacklist_reason": None, "remarks": reason})


def may_issue_permit(*, session: Session, contractor_id: int, on: date | None = None) -> tuple[bool, str]:
    """Whether a work permit may be issued for work by this contractor, and why not.

    Allowed only for a contractor that is on site (已入场), not blacklisted, with a valid
    admission. Never raises for an unknown id: the permit module shows the reason.

    Args:
        session: the session.
        contractor_id: the contractor.
        on: the day of the permit (default: today, UTC).
    """
    day = on or utcnow().date()
    record = session.get(Contractor, contractor_id)
    if record is None or record.deleted_at is not None:
        return False, f"承包商 #{contractor_id} 不存在"
    if record.status == ContractorStatus.BLACKLISTED:
        return False, f"承包商「{record.name}」已列入黑名单：{record.blacklist_reason or '未注明原因'}"
    entry = blacklist_entry(session=session, credit_code=record.credit_code, exclude_id=record.id)
    if entry is not None:
        return False, _blacklisted_message(entry)
    if record.status != ContractorStatus.ON_SITE:
        return False, f"承包商「{record.name}」状态为「{record.status}」，未办理入场"
    if record.admission_valid_until is not None and record.admission_valid_until < day:
        return False, f"承包商「{record.name}」准入已于 {record.admission_valid_until.isoformat()} 过期"
    return True, f"承包商「{record.name}」已入场，准入有效"


def evaluate(
    *, session: Session, contractor_id: int, period: str, scores: dict[str, float], on: date, actor: str | None
) -> ContractorEvaluation:
    """评价: score the contractor; a fatal or major incident in the last 12 months vetoes it.

    Raises:
        InvalidInput: a missing or unknown criterion, or a score outside 0..100.
    """
    record = contractors.get_for_change(session=session, record_id=contractor_id)
    since = date(on.year - 1, on.month, min(on.day, 28))
    fatal = session.scalar(
        select(ContractorViolation)
        .where(
            ContractorViolation.contractor_id == contractor_id,
            ContractorViolation.deleted_at.is_(None),
            ContractorViolation.severity.in_([Severity.FATAL, Severity.MAJOR]),
            ContractorViolation.occurred_on >= since,
        )
        .order_by(ContractorViolation.occurred_on.desc())
        .limit(1)
    )
    veto = f"{fatal.occurred_on.isoformat()} {fatal.severity}{fatal.kind}" if fatal is not None else None
    try:
        result = scoring.evaluate(scores, veto=veto)
    except ValueError as err:
        msg = "scores"
        raise InvalidInput(msg, str(err)) from err
    row = ContractorEvaluation(
        contractor_id=contractor_id,
        period=period,
        evaluated_on=on,
        scores=result.scores,
        total=result.total,
        grade=result.grade,
        vetoed=result.vetoed,
        evaluator=actor,
        created_by=actor,
        updated_by=actor,
    )
    session.add(row)
    changes = {"last_score": [record.last_score, result.total], "last_grade": [record.last_grade, result.grade]}
    record.last_score, record.last_grade = result.total, result.grade
    record.version += 1
    record.updated_by, record.updated_at = actor, utcnow()
    session.flush()
    contractors.record_history(session, record, "评价", actor, changes)
    return row


@dataclass(frozen=True)
class ContractorFile:
    """一企一档: the contractor and everything filed under it."""

    contractor: Contractor
    allowed_events: list[ContractorEvent]
    documents: list[ContractorDocument]
    tools: list[ContractorTool]
    violations: list[ContractorViolation]
    evaluations: list[ContractorEvaluation]
    people: list[Person]


def _children(session: Session, model: Any, contractor_id: int) -> list[Any]:
    stmt = select(model).where(model.contractor_id == contractor_id, model.deleted_at.is_(None)).order_by(model.id)
    return list(session.scalars(stmt))


def file_of(*, session: Session, contractor_id: int) -> ContractorFile:
    """The whole file of one contractor."""
    record = contractors.get(session=session, record_id=contractor_id)
    return ContractorFile(
        contractor=record,
        allowed_events=allowed_events(ContractorStatus(record.status)),
        documents=_children(session, ContractorDocument, contractor_id),
        tools=_children(session, ContractorTool, contractor_id),
        violations=_children(session, ContractorViolation, contractor_id),
        evaluations=_children(session, ContractorEvaluation, contractor_id),
        people=_children(session, Person, contractor_id),
    )
