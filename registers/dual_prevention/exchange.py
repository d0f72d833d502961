"""Dual-prevention data in the exchange specification's JSON shapes, and the outbox that delivers it.

:func:`export_document` renders every live record in the field names and enum codes of
DOMAIN.md §4.1 (``docs/dual-prevention-exchange.schema.json`` is the JSON Schema written from
that list). :func:`enqueue_changes` puts each record whose content changed since it was last
queued into the outbox (one row per record version, keyed by an idempotency key), and
:func:`deliver_pending` sends what is due through an
:class:`~connectors.exchange.client.ExchangeClient`, with exponential back-off, a delivery log
row per attempt, and ``FOR UPDATE SKIP LOCKED`` so two workers never send the same row.

Delivery is at-least-once on the wire and exactly-once as the receiver sees it: a retry
carries the same ``Idempotency-Key``, so a receiver that applied a record whose answer was
lost drops the repeat. The same outbox serves other park/regulator exchanges later: ``kind``
is free text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.exchange.client import ExchangeResult
from models.investigation_schedule import LOCAL_TZ, CycleUnit, WorkDayType
from models.risk_grading import RiskLevel
from registers.db import utcnow
from registers.dual_prevention.models import (
    CheckSchedule,
    CheckTask,
    ControlMeasure,
    DeliveryAttempt,
    OutboxMessage,
    RiskEvent,
    RiskObject,
    RiskUnit,
)
from registers.dual_prevention.schemas import CheckMeans, DataSrc
from registers.dual_prevention.workflow import TaskState
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.schemas import DangerSrc, HazardLevel, HazardType, ManagementClass, ManageType
from registers.hidden_hazards.workflow import HazardState

__all__ = [
    "KINDS",
    "PENDING",
    "DELIVERED",
    "FAILED",
    "DeliveryPolicy",
    "Sender",
    "deliver_pending",
    "enqueue_changes",
    "export_document",
    "exchange_id",
    "outbox",
]

SPEC_VERSION: Final = "双重预防机制数字化-2022"
PENDING: Final = "pending"
DELIVERED: Final = "delivered"
FAILED: Final = "failed"
# Record kinds in parent-first order: a receiver gets a unit before its events.
KINDS: Final = ("riskUnits", "riskEvents", "controlMeasures", "checkTasks", "checkRecords", "hiddenDangers")
_NAMESPACE: Final = uuid.UUID("5b1c7a4e-3f0d-4d47-9a55-2f3f0ad1c0de")


def exchange_id(kind: str, record_id: int) -> str:
    """The record's stable UUID in the exchange (36 characters): our ids are integers."""
    return str(uuid.uuid5(_NAMESPACE, f"{kind}:{record_id}"))


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S") if value else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _clock(value: time) -> str:
    return value.strftime("%H:%M:%S")


def _common(kind: str, record: Any, company_code: str) -> dict[str, Any]:
    return {
        "id": exchange_id(kind, record.id),
        "companyCode": company_code,
        "deleted": "1" if getattr(record, "deleted_at", None) else "0",
        "createDate": _ts(record.created_at),
        "createBy": record.created_by or "system",
        "updateDate": _ts(record.updated_at),
        "updateBy": record.updated_by or "system",
    }


def _records(session: Session, company_code: str) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """(kind, record id, version tag, JSON object) of every exchanged record, parents first."""
    codes = dict(session.execute(select(RiskObject.id, RiskObject.code)).all())
    for unit in session.scalars(select(RiskUnit).order_by(RiskUnit.id)):
        level = RiskLevel(unit.risk_level) if unit.risk_level else RiskLevel.LOW
        yield (
            "riskUnits",
            unit.id,
            str(unit.version),
            {
                **_common("riskUnits", unit, company_code),
                "hazardCode": codes.get(unit.object_id, ""),
                "hazardDep": (unit.department or "")[:200],
                "hazardLiablePerson": (unit.liable_person or "")[:20],
                "riskUnitName": unit.name,
                "riskLevel": str(level.code),
            },
        )
    for event in session.scalars(select(RiskEvent).order_by(RiskEvent.id)):
        yield (
            "riskEvents",
            event.id,
            str(event.version),
            {
                **_common("riskEvents", event, company_code),
                "riskUnitId": exchange_id("riskUnits", event.unit_id),
                "riskEventName": event.name[:500],
            },
        )
    for measure in session.scalars(select(ControlMeasure).order_by(ControlMeasure.id)):
        yield (
            "controlMeasures",
            measure.id,
            str(measure.version),
            {
                **_common("controlMeasures", measure, company_code),
                "riskEventId": exchange_id("riskEvents", measure.event_id),
                "dataSrc": str(DataSrc(measure.data_src).code),
                "riskMeasureDesc": measure.description[:4000],
                "classify1": measure.classify1,
                "classify2": measure.classify2 or "其他",
                "classify3": measure.classify3 or "",
                "troubleshootContent": (measure.troubleshoot_content or measure.description)[:1000],
            },
        )
    for sched in session.scalars(select(CheckSchedule).order_by(CheckSchedule.id)):
        yield (
            "checkTasks",
            sched.id,
            str(sched.version),
            {
                **_common("checkTasks", sched, company_code),
                "riskMeasureId": exchange_id("controlMeasures", sched.measure_id),
                "troubleshootContent": sched.content[:1000],
                "checkCycle": float(sched.cycle),
                "checkCycleUnit": CycleUnit(sched.cycle_unit).value,
                "taskStartTime": _ts(sched.anchor),
                "workStartTime": _clock(sched.work_start),
                "workEndTime": _clock(sched.work_end),
                "workDayType": str(WorkDayType(sched.day_type).code),
                "checkMeans": "0" if sched.check_means == CheckMeans.ON_SITE else "1",
                "isDefend": "1" if sched.is_defend else "0",
            },
        )
    defend = dict(session.execute(select(CheckSchedule.id, CheckSchedule.is_defend)).all())
    for task in session.scalars(select(CheckTask).where(CheckTask.state != TaskState.PENDING).order_by(CheckTask.id)):
        status = task.check_status if task.check_status is not None else 2  # 2 未排查: overdue, not done
        yield (
            "checkRecords",
            task.id,
            f"{len(task.steps or [])}",
            {
                "id": exchange_id("checkRecords", task.id),
                "companyCode": company_code,
                "deleted": "0",
                "createDate": _ts(task.checked_at or task.slot_end),
                "createBy": task.checked_by or "system",
                "updateDate": _ts(task.checked_at or task.slot_end),
                "updateBy": task.checked_by or "system",
                "checkTaskId": exchange_id("checkTasks", task.schedule_id),
                "checkTime": _ts(task.checked_at or task.slot_end),
                "mobileMe": task.device or "",
                "isDefend": "1" if defend.get(task.schedule_id) else "0",
                "checkStatus": str(status),
            },
        )
    for hazard in session.scalars(select(HiddenHazard).order_by(HiddenHazard.id)):
        obj: dict[str, Any] = {
            **_common("hiddenDangers", hazard, company_code),
            "hazardCode": hazard.hazard_code or "",
            "riskMeasureId": exchange_id("controlMeasures", hazard.measure_id) if hazard.measure_id else None,
            "checkRecordId": exchange_id("checkRecords", hazard.check_task_id) if hazard.check_task_id else None,
            "dangerName": hazard.name[:300],
            "dangerLevel": str(HazardLevel(hazard.level).code),
            "registTime": _ts(hazard.registered_at or hazard.created_at),
            "registrant": hazard.registrant or "system",
            "dangerSrc": str(DangerSrc(hazard.danger_src).code),
            "dangerManageType": str(ManageType(hazard.manage_type).code),
            "hazardDangerType": str(HazardType(hazard.hazard_type).code),
            "managementClassification": str(ManagementClass(hazard.management_class).code)
            if hazard.management_class
            else None,
            "dangerDesc": (hazard.description or hazard.name)[:1000],
            "dangerReason": (hazard.reason or "")[:1000],
            "controlMeasures": (hazard.control_measures or "")[:1000],
            "cost": hazard.cost,
            "liablePerson": hazard.liable_person,
            "dangerManageDeadline": _day(hazard.deadline),
            "checkAcceptPerson": hazard.accepted_by,
            "checkAcceptTime": _ts(hazard.accepted_at),
            "checkAcceptComment": hazard.accept_comment,
            "dangerState": str(HazardState(hazard.state).code),
        }
        yield "hiddenDangers", hazard.id, str(hazard.version), obj


def export_document(*, session: Session, company_code: str, now: datetime | None = None) -> dict[str, Any]:
    """Every dual-prevention record in the exchange shapes, grouped by kind (soft-deleted ones as ``deleted: 1``)."""
    doc: dict[str, Any] = {
        "specVersion": SPEC_VERSION,
        "companyCode": company_code,
        "generatedAt": _ts(now or utcnow()),
    }
    for kind in KINDS:
        doc[kind] = []
    for kind, _record_id, _version, obj in _records(session, company_code):
        doc[kind].append(obj)
    return doc


def enqueue_changes(*, session: Session, company_code: str, now: datetime | None = None) -> int:
    """Queue every record whose current version is not in the outbox yet; returns how many.

    Called after changes (or on a schedule): a record queued at version 3 and changed to
    version 4 is queued again, with a new key; unchanged records add nothing.
    """
    now = now or utcnow()
    known = set(session.scalars(select(OutboxMessage.idempotency_key)))
    added = 0
    for kind, _record_id, version, obj in _records(session, company_code):
        key = f"{kind}:{obj['id']}:{version}"
        if key in known:
            continue
        session.add(
            OutboxMessage(
                kind=kind,
                record_id=obj["id"],
                idempotency_key=key,
                payload=obj,
                state=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        known.add(key)
        added += 1
    session.flush()
    return added


class Sender(Protocol):
    """What delivery needs of a client (``connectors.exchange.ExchangeClient``)."""

    def send(self, *, kind: str, payload: Any, idempotency_key: str) -> ExchangeResult:
        """POST one record; never raises."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Retry with exponential back-off; after ``max_attempts`` a row is parked as failed for a person to look at."""

    max_attempts: int = 10
    base_delay_s: float = 5.0
    factor: float = 2.0
    max_delay_s: float = 3600.0

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failure."""
        return timedelta(seconds=min(self.max_delay_s, self.base_delay_s * self.factor ** (attempts - 1)))


def deliver_pending(
    *,
    session: Session,
    sender: Sender,
    now: datetime | None = None,
    policy: DeliveryPolicy | None = None,
    batch: int = 200,
) -> tuple[int, int]:
    """Send the due outbox rows, oldest first; returns (delivered, failed attempts).

    Each row's attempts are logged; a delivered row is never sent again. A row that failed
    with a non-retryable answer, or ``max_attempts`` times, is parked as ``failed``.
    """
    now = now or utcnow()
    policy = policy or DeliveryPolicy()
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    delivered = failed = 0
    for row in rows:
        result = sender.send(kind=row.kind, payload=row.payload, idempotency_key=row.idempotency_key)
        row.attempts += 1
        session.add(
            DeliveryAttempt(
                outbox_id=row.id,
                attempt=row.attempts,
                at=now,
                ok=result.ok,
                status_code=result.status_code,
                error=result.error,
                elapsed_ms=result.elapsed_ms,
            )
        )
        if result.ok:
            row.state, row.delivered_at, row.last_error = DELIVERED, now, None
            delivered += 1
            continue
        failed += 1
        row.last_error = result.error
        if not result.retryable or row.attempts >= policy.max_attempts:
            row.state = FAILED
        else:
            row.next_attempt_at = now + policy.delay(row.attempts)
    session.flush()
    return delivered, failed


def outbox(*, session: Session, state: str | None = None, offset: int = 0, limit: int = 100) -> list[OutboxMessage]:
    """Outbox rows, newest first, optionally of one state."""
    stmt = select(OutboxMessage)
    if state is not None:
        stmt = stmt.where(OutboxMessage.state == state)
    return list(session.scalars(stmt.order_by(OutboxMessage.id.desc()).offset(offset).limit(limit)))
