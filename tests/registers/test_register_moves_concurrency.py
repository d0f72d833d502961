"""Two workflow moves of one register record at once, on SQLite and PostgreSQL.

The domain services moved their records (approve a certificate, blacklist a contractor,
accept a hidden hazard, assign a work order, escalate an overdue hazard...) after reading them
without a lock. Two moves that overlapped both read version *n* and both wrote *n + 1*: the
second's history row broke ``uq_register_versions_record_version`` (an IntegrityError, a 500
through the API), and had that constraint not been there the second would have overwritten the
first, e.g. a rejection undoing a blacklisting, or a cancelled work order put back to work. The
framework's own changes already read under a lock (``Register.get_for_change``,
tests/registers/test_framework_concurrency.py); the moves now do too, so the second waits for
the first and either builds on it or is refused by the workflow (a 409), never a 500. A job
that selected its records with a plain query (the overdue escalation, the PdM work-order
update) re-reads each under the lock and skips the ones a concurrent move took out of scope.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.contracts import PdmPrediction
from models.investigation_schedule import LOCAL_TZ
from registers.certificates import service as certificates
from registers.certificates.models import Certificate
from registers.certificates.schemas import CertificateCreate
from registers.contractors import evaluation
from registers.contractors import service as contractors
from registers.contractors.models import Contractor
from registers.contractors.schemas import ContractorCreate, ContractorUpdate
from registers.contractors.workflow import ContractorStatus
from registers.contractors.workflow import InvalidTransition as ContractorTransitionRefused
from registers.equipment import service as equipment
from registers.equipment.models import BypassRecord, WorkOrder
from registers.equipment.schemas import (
    CalibrationCreate,
    EquipmentStatus,
    LifecycleCreate,
    LifecycleEvent,
    WorkOrderCreate,
)
from registers.equipment.workflow import BypassAction, BypassState, WorkOrderAction, WorkOrderState
from registers.equipment.workflow import InvalidTransition as EquipmentTransitionRefused
from registers.framework.attachments import add_attachment, storage_for_data_dir
from registers.framework.models import RecordVersion
from registers.framework.service import InvalidInput
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.scheduled import escalate_overdue
from registers.hidden_hazards.schemas import HazardCreate
from registers.hidden_hazards.workflow import HazardState
from registers.hidden_hazards.workflow import InvalidTransition as HazardTransitionRefused
from registers.notifications import service as notifications
from tests.registers.test_equipment import PSV, T0, V101, build_tree, bypass_request  # T0: the bypass request's window
from tests.registers.test_framework_concurrency import _race

TODAY = date(2026, 11, 20)
# two days after the hazards' deadline, on the plant calendar
OVERDUE = datetime(2026, 12, 3, 10, tzinfo=LOCAL_TZ).astimezone(UTC)


def _versions(factory: sessionmaker[Session], register: str, record_id: int) -> list[int]:
    with factory() as session:
        stmt = sa.select(RecordVersion.version).where(
            RecordVersion.register == register, RecordVersion.record_id == record_id
        )
        return sorted(session.scalars(stmt))


def _actions(factory: sessionmaker[Session], register: str, record_id: int) -> list[str]:
    with factory() as session:
        stmt = (
            sa.select(RecordVersion.action)
            .where(RecordVersion.register == register, RecordVersion.record_id == record_id)
            .order_by(RecordVersion.version)
        )
        return list(session.scalars(stmt))


def _first_applied_second_refused(errors: list[BaseException | None], refusal: type[Exception]) -> None:
    """The first move applied; the second was refused by the rules (a 409), not by the database (a 500)."""
    assert not any(isinstance(e, IntegrityError) for e in errors), errors
    assert errors[0] is None
    assert isinstance(errors[1], refusal), errors[1]


# --- certificates ------------------------------------------------------------------------------


def _certificate(factory: sessionmaker[Session]) -> int:
    data = CertificateCreate.model_validate(
        {"kind": "安全生产许可证", "number": "MOVE-1", "holder": "南方化工", "expiry_date": date(2030, 1, 1)}
    )
    with factory.begin() as session:
        return certificates.register.create(session=session, data=data, actor="setup").id


def test_two_concurrent_certificate_approvals_both_apply(factory: sessionmaker[Session]) -> None:
    record_id = _certificate(factory)

    def approve(actor: str) -> Callable[[Session], Any]:
        return lambda session: certificates.approve(session=session, record_id=record_id, actor=actor)

    errors = _race(factory, approve("甲"), approve("乙"))

    assert errors == [None, None]
    with factory() as session:
        record = session.get_one(Certificate, record_id)
        assert (record.approved_by, record.version) == ("乙", 3)
    assert _versions(factory, "certificate", record_id) == [1, 2, 3]
    assert _actions(factory, "certificate", record_id) == ["create", "approve", "approve"]


def test_an_attachment_racing_an_approval_both_apply(factory: sessionmaker[Session], tmp_path: Path) -> None:
    record_id = _certificate(factory)
    storage = storage_for_data_dir(tmp_path)

    def attach(session: Session) -> Any:
        return add_attachment(
            certificates.register,
            session=session,
            storage=storage,
            record_id=record_id,
            filename="许可证.pdf",
            content=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n",
            content_type="application/pdf",
            actor="clerk",
        )

    errors = _race(factory, attach, lambda s: certificates.approve(session=s, record_id=record_id, actor="经理"))

    assert errors == [None, None]
    assert _actions(factory, "certificate", record_id) == ["create", "attach", "approve"]
    assert _versions(factory, "certificate", record_id) == [1, 2, 3]


# --- contractors -------------------------------------------------------------------------------


def _contractor(factory: sessionmaker[Session]) -> int:
    with factory.begin() as session:
        data = ContractorCreate(credit_code="91440101MA5RACE01X", name="华安检修")
        return contractors.contractors.create(session=session, data=data, actor="setup").id


def test_a_rejection_racing_a_blacklisting_is_refused_not_a_500(factory: sessionmaker[Session]) -> None:
    cid = _contractor(factory)

    errors = _race(
        factory,
        lambda s: contractors.blacklist(session=s, contractor_id=cid, reason="无票动火", actor="安全部"),
        lambda s: contractors.reject(session=s, contractor_id=cid, reason="资料不全", actor="采购部"),
    )

    # judged on the blacklisted state: a rejection must not quietly lift the blacklist
    _first_applied_second_refused(errors, ContractorTransitionRefused)
    with factory() as session:
        assert session.get_one(Contractor, cid).status == ContractorStatus.BLACKLISTED
    assert _versions(factory, "contractor", cid) == [1, 2]


def test_an_evaluation_racing_a_blacklisting_both_apply(factory: sessionmaker[Session]) -> None:
    cid = _contractor(factory)
    scores = {c.key: 90.0 for c in evaluation.CRITERIA}

    errors = _race(
        factory,
        lambda s: contractors.blacklist(session=s, contractor_id=cid, reason="无票动火", actor="安全部"),
        lambda s: contractors.evaluate(
            session=s, contractor_id=cid, period="2026Q4", scores=scores, on=TODAY, actor="评价组"
        ),
    )

    assert errors == [None, None]
    with factory() as session:
        record = session.get_one(Contractor, cid)
        assert (record.status, record.last_score, record.version) == (ContractorStatus.BLACKLISTED, 90.0, 3)
    assert _versions(factory, "contractor", cid) == [1, 2, 3]


def test_a_credit_code_change_racing_a_blacklisting_is_refused(factory: sessionmaker[Session]) -> None:
    """The blacklisted-keeps-its-code rule is judged on the state the change builds on."""
    cid = _contractor(factory)
    new_code = ContractorUpdate(credit_code="91440101MA5RACE02X")

    errors = _race(
        factory,
        lambda s: contractors.blacklist(session=s, contractor_id=cid, reason="无票动火", actor="安全部"),
        lambda s: contractors.contractors.update(session=s, record_id=cid, data=new_code, actor="采购部"),
    )

    _first_applied_second_refused(errors, InvalidInput)
    with factory() as session:
        record = session.get_one(Contractor, cid)
        assert (record.status, record.credit_code) == (ContractorStatus.BLACKLISTED, "91440101MA5RACE01X")


# --- hidden hazards ----------------------------------------------------------------------------


def _hazard(factory: sessionmaker[Session], *, submitted: bool) -> int:
    """An overdue hazard, being rectified or submitted for acceptance."""
    data = HazardCreate.model_validate(
        {"name": "储罐区消防通道堵塞", "liable_person": "li", "deadline": date(2026, 12, 1)}
    )
    with factory.begin() as session:
        hazard = hh.report(session=session, data=data, actor="reporter")
        if submitted:
            hh.submit(session=session, hazard_id=hazard.id, note="已清理通道", actor="li")
        return hazard.id


def test_a_rejection_racing_an_acceptance_is_refused_not_a_500(factory: sessionmaker[Session]) -> None:
    hazard_id = _hazard(factory, submitted=True)

    errors = _race(
        factory,
        lambda s: hh.accept(session=s, hazard_id=hazard_id, comment="同意销号", actor="manager"),
        lambda s: hh.reject(session=s, hazard_id=hazard_id, comment="仍有杂物", actor="inspector"),
    )

    _first_applied_second_refused(errors, HazardTransitionRefused)  # a closed hazard is not reopened
    with factory() as session:
        record = session.get_one(HiddenHazard, hazard_id)
        assert (record.state, record.accepted_by) == (HazardState.ACCEPTED, "manager")
    assert _versions(factory, "hidden_hazard", hazard_id) == [1, 2, 3]


def _escalate(session: Session) -> list[HiddenHazard]:
    # nobody on duty: logged unrouted, so the job needs no channel
    return escalate_overdue(session=session, notifier=notifications.Notifier(channels={}), now=OVERDUE)


def test_an_escalation_racing_a_submission_builds_on_it(factory: sessionmaker[Session]) -> None:
    hazard_id = _hazard(factory, submitted=False)

    errors = _race(
        factory,
        lambda s: hh.submit(session=s, hazard_id=hazard_id, note="已清理通道", actor="li"),
        _escalate,
    )

    assert errors == [None, None]
    with factory() as session:
        record = session.get_one(HiddenHazard, hazard_id)
        assert (record.state, record.escalated_at) == (HazardState.PENDING_ACCEPTANCE, OVERDUE)
        assert [s["action"] for s in record.steps] == ["登记", "提交验收", "逾期督办"]
    assert _actions(factory, "hidden_hazard", hazard_id) == ["create", "提交验收", "逾期督办"]


def test_an_escalation_racing_the_acceptance_skips_the_closed_hazard(factory: sessionmaker[Session]) -> None:
    hazard_id = _hazard(factory, submitted=True)
    escalated: list[list[int]] = []

    def escalate(session: Session) -> None:
        escalated.append([h.id for h in _escalate(session)])

    errors = _race(
        factory, lambda s: hh.accept(session=s, hazard_id=hazard_id, comment="同意销号", actor="manager"), escalate
    )

    assert errors == [None, None]
    assert escalated == [[]]  # closed meanwhile: no escalation, no notification
    with factory() as session:
        record = session.get_one(HiddenHazard, hazard_id)
        assert (record.state, record.escalated_at) == (HazardState.ACCEPTED, None)
    assert _actions(factory, "hidden_hazard", hazard_id) == ["create", "提交验收", "验收通过"]


# --- equipment records and their node -------------------------------------------------------


def _calibration(code: str, on: date) -> Callable[[Session], Any]:
    data = CalibrationCreate(equipment_code=code, calibrated_on=on)
    return lambda session: equipment.calibrations.create(session=session, data=data, actor=on.isoformat())


def test_two_concurrent_calibrations_leave_the_node_due_after_the_newest(factory: sessionmaker[Session]) -> None:
    """The newer calibration commits first; the older one, read without the lock, wrote back its own due date."""
    with factory.begin() as session:
        build_tree(session)

    errors = _race(factory, _calibration(PSV, date(2026, 3, 1)), _calibration(PSV, date(2026, 1, 1)))

    assert errors == [None, None]
    with factory() as session:
        valve = equipment.get_by_code(session=session, code=PSV)
        assert valve is not None
        assert valve.next_calibration_due == date(2026, 3, 1) + timedelta(days=180)  # the PSV's interval


def _lifecycle(code: str, event: LifecycleEvent) -> Callable[[Session], Any]:
    data = LifecycleCreate(equipment_code=code, event=event, occurred_on=TODAY)
    return lambda session: equipment.lifecycle.create(session=session, data=data, actor=event.value)


def test_a_commissioning_racing_a_decommissioning_sets_the_status_of_the_later(
    factory: sessionmaker[Session],
) -> None:
    """停用 then 投用 at once: the 投用, judged on the node as it was before the 停用, was skipped as no change."""
    with factory.begin() as session:
        build_tree(session)

    errors = _race(factory, _lifecycle(V101, LifecycleEvent.DECOMMISSION), _lifecycle(V101, LifecycleEvent.COMMISSION))

    assert errors == [None, None]
    with factory() as session:
        vessel = equipment.get_by_code(session=session, code=V101)
        assert vessel is not None and vessel.status == EquipmentStatus.IN_SERVICE
    node_id = vessel.id
    assert _actions(factory, "equipment", node_id)[-2:] == ["update", "update"]  # 停用, then 投用


# --- equipment: work orders and bypasses (``_bump``) -------------------------------------------


def _work_order(factory: sessionmaker[Session]) -> int:
    with factory.begin() as session:
        build_tree(session)
        data = WorkOrderCreate(equipment_code=V101, title="球罐液位计失灵", number="WO-RACE-1")
        return equipment.work_orders.create(session=session, data=data, actor="setup").id


def _work_order_move(record_id: int, action: WorkOrderAction, **kw: Any) -> Callable[[Session], Any]:
    return lambda session: equipment.transition_work_order(
        session=session, record_id=record_id, action=action, actor="调度", **kw
    )


def test_two_concurrent_work_order_assignments_both_apply(factory: sessionmaker[Session]) -> None:
    record_id = _work_order(factory)

    errors = _race(
        factory,
        _work_order_move(record_id, WorkOrderAction.ASSIGN, assignee="张工"),
        _work_order_move(record_id, WorkOrderAction.ASSIGN, assignee="李工"),
    )

    assert errors == [None, None]
    with factory() as session:
        record = session.get_one(WorkOrder, record_id)
        assert (record.state, record.assignee, record.version) == (WorkOrderState.ASSIGNED, "李工", 3)
    assert _versions(factory, "work_order", record_id) == [1, 2, 3]


def test_an_assignment_racing_a_cancellation_is_refused_not_a_500(factory: sessionmaker[Session]) -> None:
    record_id = _work_order(factory)

    errors = _race(
        factory,
        _work_order_move(record_id, WorkOrderAction.CANCEL),
        _work_order_move(record_id, WorkOrderAction.ASSIGN, assignee="张工"),
    )

    _first_applied_second_refused(errors, EquipmentTransitionRefused)  # no work on a cancelled order
    with factory() as session:
        record = session.get_one(WorkOrder, record_id)
        assert (record.state, record.assignee) == (WorkOrderState.CANCELLED, None)
    assert _versions(factory, "work_order", record_id) == [1, 2]


def test_two_concurrent_bypass_approvals_one_is_refused(factory: sessionmaker[Session]) -> None:
    with factory.begin() as session:
        record_id = bypass_request(session)

    def approve(actor: str) -> Callable[[Session], Any]:
        return lambda session: equipment.transition_bypass(
            session=session, record_id=record_id, action=BypassAction.APPROVE, actor=actor, now=T0
        )

    errors = _race(factory, approve("主任"), approve("副主任"))

    _first_applied_second_refused(errors, EquipmentTransitionRefused)
    with factory() as session:
        record = session.get_one(BypassRecord, record_id)
        assert (record.state, record.approved_by) == (BypassState.APPROVED, "主任")
    assert _versions(factory, "sis_bypass", record_id) == [1, 2]


def test_a_pdm_warning_racing_the_cancellation_of_its_order_opens_a_new_one(
    factory: sessionmaker[Session],
) -> None:
    def warning(ts: int) -> PdmPrediction:
        return PdmPrediction(
            asset_id="V-101", ts=ts, health=0.4, anomaly_score=0.7, rul_days=10, top_features=["kurtosis"]
        )

    ts = int(T0.timestamp() * 1000)
    with factory.begin() as session:
        build_tree(session)
        order_id = equipment.open_for_prediction(session=session, prediction=warning(ts))[0].id
    opened: list[tuple[int, bool]] = []

    def update(session: Session) -> None:
        order, created = equipment.open_for_prediction(session=session, prediction=warning(ts + 3_600_000))
        opened.append((order.id, created))

    errors = _race(factory, _work_order_move(order_id, WorkOrderAction.CANCEL), update)

    assert errors == [None, None]
    # the cancelled order is left as cancelled; the warning opened a new one
    assert len(opened) == 1 and opened[0][0] != order_id and opened[0][1]
    with factory() as session:
        assert session.get_one(WorkOrder, order_id).state == WorkOrderState.CANCELLED
    assert _actions(factory, "work_order", order_id) == ["create", "cancel"]
