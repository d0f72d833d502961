"""The equipment and facilities register (设备设施) on the register framework.

Registers (each a :class:`~registers.framework.service.Register`, so CRUD, soft delete, history,
list/search, import/export and attachments come from the framework):

* :data:`register`: the equipment tree (site → unit → equipment → component) with hierarchical
  codes; a node needs a live parent, and a node with live children cannot be deleted;
* :data:`inspections` (特种设备定期检验), :data:`calibrations` (安全阀校验),
  :data:`replacements` (爆破片更换): each refreshes its equipment's next due date, which the
  reminders (:data:`REMINDER_REGISTERS`) watch;
* :data:`lifecycle` (购置…报废; 投用/停用/报废 set the status), :data:`spare_parts` (备品备件);
* :data:`interlocks` (SIS联锁) and :data:`bypasses` (旁路) with :func:`transition_bypass`;
* :data:`work_orders` (工单) with :func:`transition_work_order` and :func:`create_from_prediction`.

Plus the views :func:`tree` and :func:`equipment_file` (一台一档).

Services only ``flush()``; the request commits once.

Example:
    >>> register.name, inspections.title
    ('equipment', '特种设备检验记录')
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.contracts import PdmPrediction
from models.equipment_rules import (
    DEFAULT_CALIBRATION_INTERVAL_DAYS,
    DEFAULT_REPLACEMENT_INTERVAL_DAYS,
    SEPARATOR,
    CodeError,
    Level,
    bypass_overrun,
    check_plant_id,
    is_below_min_stock,
    next_due,
    parse_code,
    pdm_priority,
)
from models.pdm.failure_modes import FAILURE_MODE_LABELS, failure_mode
from registers.db import utcnow
from registers.equipment.models import (
    BypassRecord,
    EquipmentNode,
    InspectionRecord,
    LifecycleRecord,
    RuptureDiscReplacement,
    SafetyValveCalibration,
    SisInterlock,
    SparePart,
    WorkOrder,
)
from registers.equipment.schemas import (
    BypassCreate,
    BypassRead,
    BypassUpdate,
    CalibrationCreate,
    CalibrationRead,
    CalibrationUpdate,
    EquipmentCategory,
    EquipmentCreate,
    EquipmentRead,
    EquipmentStatus,
    EquipmentUpdate,
    InspectionCreate,
    InspectionRead,
    InspectionUpdate,
    InterlockCreate,
    InterlockRead,
    InterlockUpdate,
    LifecycleCreate,
    LifecycleEvent,
    LifecycleRead,
    LifecycleUpdate,
    Priority,
    ReplacementCreate,
    ReplacementRead,
    ReplacementUpdate,
    SparePartCreate,
    SparePartRead,
    SparePartUpdate,
    TreeNode,
    WorkOrderCreate,
    WorkOrderRead,
    WorkOrderSource,
    WorkOrderUpdate,
)
from registers.equipment.workflow import (
    WORK_ORDER_TERMINAL,
    BypassAction,
    BypassState,
    InvalidTransition,
    WorkOrderAction,
    WorkOrderState,
    bypass_next,
    work_order_next,
)
from registers.framework.importing import ImportFailed, ImportReport, RowError, header_map, import_rows, read_table
from registers.framework.models import Attachment, RegisterMixin
from registers.framework.reminders import LOCAL_TZ
from registers.framework.service import DueDate, InvalidInput, Register, RegisterError, jsonable

__all__ = [
    "DUE_LEAD_DAYS",
    "REMINDER_REGISTERS",
    "SeparationOfDuties",
    "UnknownEquipment",
    "bypasses",
    "calibrations",
    "create_from_prediction",
    "open_for_prediction",
    "equipment_file",
    "get_by_code",
    "import_equipment_file",
    "inspections",
    "interlocks",
    "lifecycle",
    "node_for_asset",
    "overrun_bypasses",
    "register",
    "replacements",
    "spare_parts",
    "transition_bypass",
    "transition_work_order",
    "tree",
    "work_orders",
]

M = TypeVar("M", bound=RegisterMixin)
C = TypeVar("C", bound=BaseModel)
U = TypeVar("U", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)

# Special equipment: the user must ask the agency for the periodic inspection a month before
# it falls due (特种设备安全法 第四十条), hence 30 days; then a week, and the day itself.
DUE_LEAD_DAYS: tuple[int, ...] = (30, 7, 0)
_ACTIVE = (EquipmentStatus.IN_SERVICE.value, EquipmentStatus.STANDBY.value)


class UnknownEquipment(InvalidInput):
    """A code or PdM asset id that names no live equipment node (422 naming the field)."""


class SeparationOfDuties(RegisterError):
    """The same person may not request and approve a bypass, nor repair and verify a work order (403)."""


# --- the equipment tree ----------------------------------------------------------------------

LABELS: Mapping[str, str] = {
    "code": "设备编码",
    "name": "名称",
    "level": "层级",
    "parent_code": "上级编码",
    "plant_id": "数字孪生编号",
    "category": "设备类别",
    "special_kind": "特种设备种类",
    "registration_no": "使用登记证编号",
    "status": "状态",
    "hazard_source_code": "所属重大危险源",
    "manufacturer": "制造单位",
    "model_no": "规格型号",
    "serial_no": "出厂编号",
    "commissioned_on": "投用日期",
    "responsible_person": "责任人",
    "medium": "介质",
    "design_pressure_mpa": "设计/整定压力(MPa)",
    "interval_days": "校验/更换周期(天)",
    "next_inspection_due": "下次检验日期",
    "next_calibration_due": "下次校验日期",
    "next_replacement_due": "下次更换日期",
    "remarks": "备注",
}


def derive_tree_position(values: Mapping[str, Any]) -> dict[str, Any]:
    """Level and parent code read off the hierarchical code (so they can never disagree with it)."""
    try:
        parts = parse_code(values["code"])
    except CodeError as err:
        raise InvalidInput("code", str(err)) from err  # noqa: EM101 - the field name
    return {"level": parts.level.value, "parent_code": parts.parent}


def get_by_code(*, session: Session, code: str) -> EquipmentNode | None:
    """The live node with this code, if any."""
    stmt = select(EquipmentNode).where(EquipmentNode.code == code, EquipmentNode.deleted_at.is_(None))
    return session.scalars(stmt.limit(1)).first()


def require_node(*, session: Session, code: str, field: str = "equipment_code") -> EquipmentNode:
    """The live node with this code.

    Raises:
        UnknownEquipment: none (422 naming ``field``).
    """
    node = get_by_code(session=session, code=code)
    if node is None:
        raise UnknownEquipment(field, f"设备「{code}」不存在 / unknown equipment code")
    return node


def _subtree(model: Any, column: Any, code: str) -> Any:
    """``column`` is ``code`` or a code below it (dots separate levels; ``_`` is escaped)."""
    return or_(column == code, column.startswith(code + SEPARATOR, autoescape=True))


class EquipmentRegister(Register[EquipmentNode, EquipmentCreate, EquipmentUpdate, EquipmentRead]):
    """The tree: a node needs a live parent of the level above; a node with live children stays."""

    def create(self, *, session: Session, data: EquipmentCreate, actor: str | None) -> EquipmentNode:
        """Add a node under its parent (named by its code's prefix).

        Raises:
            UnknownEquipment: the parent code names no live node.
            DuplicateValue: the code or plant id is taken.
        """
        parts = parse_code(data.code)
        if parts.parent is not None:
            require_node(session=session, code=parts.parent, field="code")
        return super().create(session=session, data=data, actor=actor)

    def update(
        self,
        *,
        session: Session,
        record_id: int,
        data: EquipmentUpdate,
        actor: str | None,
        expected_version: int | None = None,
    ) -> EquipmentNode:
        """Change fields; a new plant id must still match the code."""
        if "plant_id" in data.model_fields_set:
            record = self.get(session=session, record_id=record_id)
            try:
                check_plant_id(record.code, data.plant_id)
            except CodeError as err:
                raise InvalidInput("plant_id", str(err)) from err  # noqa: EM101 - the field name
        return super().update(
            session=session, record_id=record_id, data=data, actor=actor, expected_version=expected_version
        )

    def soft_delete(
        self, *, session: Session, record_id: int, actor: str | None, expected_version: int | None = None
    ) -> EquipmentNode:
        """Hide a node that has no live children.

        Raises:
            InvalidInput: it still has children (delete or move them first).
        """
        record = self.get(session=session, record_id=record_id)
        children = session.scalar(
            select(func.count())
            .select_from(EquipmentNode)
            .where(EquipmentNode.parent_code == record.code, EquipmentNode.deleted_at.is_(None))
        )
        if children:
            msg = f"「{record.code}」下还有 {children} 个下级节点，不能删除 / node has live children"
            raise InvalidInput("code", msg)  # noqa: EM101 - the field name
        return super().soft_delete(session=session, record_id=record_id, actor=actor, expected_version=expected_version)

    def restore(self, *, session: Session, record_id: int, actor: str | None) -> EquipmentNode:
        """Bring a node back; its parent must be live.

        Read under the lock: whether the parent is checked depends on ``deleted_at``, which a
        concurrent delete or restore may have just changed.
        """
        record = self.get_for_change(session=session, record_id=record_id, include_deleted=True)
        if record.parent_code is not None and record.deleted_at is not None:
            require_node(session=session, code=record.parent_code, field="code")
        return super().restore(session=session, record_id=record_id, actor=actor)


def _describe_node(node: EquipmentNode) -> str:
    return f"{node.code} {node.name}"


def _due_applies(category: EquipmentCategory | None, *, special: bool = False) -> Callable[[Any], bool]:
    def applies(node: EquipmentNode) -> bool:
        if node.status not in _ACTIVE:
            return False  # 停用/报废: no inspection until it is put back into service
        if special:
            return node.special_kind is not None
        return category is not None and node.category == category.value

    return applies


register = EquipmentRegister(
    name="equipment",
    title="设备设施",
    model=EquipmentNode,
    create_schema=EquipmentCreate,
    update_schema=EquipmentUpdate,
    read_schema=EquipmentRead,
    labels=LABELS,
    searchable=("code", "name", "plant_id", "registration_no", "manufacturer", "model_no", "responsible_person"),
    sortable=(
        "id",
        "code",
        "name",
        "level",
        "status",
        "next_inspection_due",
        "next_calibration_due",
        "next_replacement_due",
        "updated_at",
    ),
    filterable=(
        "code",
        "level",
        "parent_code",
        "plant_id",
        "category",
        "special_kind",
        "status",
        "hazard_source_code",
        "next_inspection_due",
        "next_calibration_due",
        "next_replacement_due",
    ),
    unique=("code", "plant_id"),
    due_dates=(
        DueDate("next_inspection_due", DUE_LEAD_DAYS, label="定期检验", applies=_due_applies(None, special=True)),
        DueDate(
            "next_calibration_due",
            DUE_LEAD_DAYS,
            label="安全阀校验",
            applies=_due_applies(EquipmentCategory.SAFETY_VALVE),
        ),
        DueDate(
            "next_replacement_due",
            DUE_LEAD_DAYS,
            label="爆破片更换",
            applies=_due_applies(EquipmentCategory.RUPTURE_DISC),
        ),
    ),
    derive=derive_tree_position,
    describe=_describe_node,
    default_sort="code",
)

# What the reminder scheduler passes to ``registers.framework.reminders.due_reminders``.
REMINDER_REGISTERS: tuple[Register[Any, Any, Any, Any], ...] = (register,)


# --- records about one equipment -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EquipmentRecordRegister(Register[M, C, U, R]):
    """A register of records that name their equipment by ``equipment_code``.

    Attributes:
        requirement: refuses an equipment the records do not apply to (returns a message, or
            None when it applies), e.g. calibrations only for safety valves.
        due_field: the node's due-date column this register keeps current (or None).
        done_field: the record's date the newest record is chosen by.
        default_interval: interval for ``next_due`` when the record gives none and the node has none.
    """

    requirement: Callable[[EquipmentNode], str | None] | None = None
    due_field: str | None = None
    done_field: str | None = None
    default_interval: int | None = None
    code_field: str = "equipment_code"

    def check_equipment(self, session: Session, code: str | None) -> EquipmentNode | None:
        """The node a record names, if it exists and the record applies to it.

        Raises:
            UnknownEquipment: no such live node, or the record does not apply to it.
        """
        if code is None:
            return None
        node = require_node(session=session, code=code, field=self.code_field)
        problem = self.requirement(node) if self.requirement else None
        if problem:
            raise UnknownEquipment(self.code_field, problem)
        return node

    def validate_rows(
        self, session: Session, rows: Sequence[Mapping[str, Any]]
    ) -> builtins.list[tuple[int, InvalidInput]]:
        """As the framework's, plus: each row names a live equipment the record applies to.

        Import calls this too, so an imported inspection roll cannot hold records of
        equipment that does not exist (one query for the whole file).
        """
        problems = super().validate_rows(session, rows)
        codes = {row.get(self.code_field) for row in rows} - {None}
        nodes = {
            node.code: node
            for node in session.scalars(
                select(EquipmentNode).where(EquipmentNode.code.in_(codes), EquipmentNode.deleted_at.is_(None))
            )
        }
        for index, row in enumerate(rows):
            code = row.get(self.code_field)
            if code is None:
                continue
            node = nodes.get(code)
            if node is None:
                problem: str | None = f"设备「{code}」不存在 / unknown equipment code"
            else:
                problem = self.requirement(node) if self.requirement else None
            if problem:
                problems.append((index, UnknownEquipment(self.code_field, problem)))
        return problems

    def create(self, *, session: Session, data: C, actor: str | None) -> M:
        """Add a record for a live equipment; fill a missing next due date; refresh the node's."""
        code = getattr(data, self.code_field)
        node = self.check_equipment(session, code)
        if node is not None and self.default_interval and getattr(data, "next_due", "") is None:
            interval = node.interval_days or self.default_interval
            done: date = getattr(data, str(self.done_field))
            data = data.model_copy(update={"next_due": next_due(done, interval)})
        record = super().create(session=session, data=data, actor=actor)
        self.after_change(session, code, actor)
        return record

    def update(
        self,
        *,
        session: Session,
        record_id: int,
        data: U,
        actor: str | None,
        expected_version: int | None = None,
    ) -> M:
        """Change a record (a changed equipment code must name a live node); refresh due dates."""
        if self.code_field in data.model_fields_set:
            self.check_equipment(session, getattr(data, self.code_field))
        # locked: ``before`` is the code this update moves the record from, not one a concurrent update left
        before = getattr(self.get_for_change(session=session, record_id=record_id), self.code_field)
        if self.due_field is not None and self.code_field in data.model_fields_set:
            # both nodes locked in one order, so two records moved opposite ways cannot deadlock
            for code in sorted({before, getattr(data, self.code_field)} - {None}):
                _node_for_change(session, code)
        record = super().update(
            session=session, record_id=record_id, data=data, actor=actor, expected_version=expected_version
        )
        self.after_change(session, before, actor)
        self.after_change(session, getattr(record, self.code_field), actor)
        return record

    def soft_delete(
        self, *, session: Session, record_id: int, actor: str | None, expected_version: int | None = None
    ) -> M:
        """Hide a record; the node's due date falls back to the newest remaining record."""
        record = super().soft_delete(
            session=session, record_id=record_id, actor=actor, expected_version=expected_version
        )
        self.after_change(session, getattr(record, self.code_field), actor)
        return record

    def restore(self, *, session: Session, record_id: int, actor: str | None) -> M:
        """Bring a record back and refresh the node's due date."""
        record = super().restore(session=session, record_id=record_id, actor=actor)
        self.after_change(session, getattr(record, self.code_field), actor)
        return record

    def after_change(self, session: Session, code: str | None, actor: str | None) -> None:
        """Keep the node's due date equal to the newest live record's ``next_due``."""
        if code is None or self.due_field is None or self.done_field is None:
            return
        refresh_due_date(session=session, code=code, records=self, actor=actor)

    def for_equipment(self, *, session: Session, code: str) -> builtins.list[M]:
        """Live records of an equipment and its components, newest first."""
        model: Any = self.model
        column = getattr(model, self.code_field)
        order = getattr(model, self.done_field) if self.done_field else model.id
        stmt = (
            select(model)
            .where(_subtree(model, column, code), model.deleted_at.is_(None))
            .order_by(order.desc(), model.id.desc())
        )
        return builtins.list(session.scalars(stmt))


def _node_for_change(session: Session, code: str) -> EquipmentNode | None:
    """The live node of ``code``, locked until the transaction ends (read as last committed), or ``None``.

    Why: a record's change decides whether the node needs updating (its due date, its status)
    from what it reads of the node and of the node's other records. Read without the lock, a
    second record written at the same moment judged the node as it was before the first: its
    older due date overwrote the newer one, or a 投用 after a concurrent 停用 was skipped as "no
    change" (tests/registers/test_register_moves_concurrency.py). Locked first, the second waits
    and reads the first's record and result.
    """
    node = get_by_code(session=session, code=code)
    return None if node is None else register.get_for_change(session=session, record_id=node.id)


def refresh_due_date(
    *, session: Session, code: str, records: EquipmentRecordRegister[Any, Any, Any, Any], actor: str | None
) -> None:
    """Set the node's due date (e.g. ``next_calibration_due``) from the newest live record.

    With no live record left, the node keeps its date (it may come from the imported ledger).
    The change goes through the tree register, so the node's history shows it.
    """
    node = _node_for_change(session, code)
    if node is None or records.due_field is None or records.done_field is None:
        return
    model: Any = records.model
    latest = session.scalar(
        select(model.next_due)
        .where(model.equipment_code == code, model.deleted_at.is_(None))
        .order_by(getattr(model, records.done_field).desc(), model.id.desc())
        .limit(1)
    )
    if latest is None or getattr(node, records.due_field) == latest:
        return
    register.update(
        session=session, record_id=node.id, data=EquipmentUpdate(**{records.due_field: latest}), actor=actor
    )


def refresh_all_due_dates(*, session: Session, codes: Iterable[str], actor: str | None) -> None:
    """Refresh the due dates of many nodes (after an import of records)."""
    for code in dict.fromkeys(codes):
        for records in (inspections, calibrations, replacements):
            refresh_due_date(session=session, code=code, records=records, actor=actor)


def _special_only(node: EquipmentNode) -> str | None:
    if node.special_kind is None:
        return f"「{node.code}」不是特种设备，无定期检验记录 / not special equipment"
    return None


def _category_only(category: EquipmentCategory) -> Callable[[EquipmentNode], str | None]:
    def requirement(node: EquipmentNode) -> str | None:
        if node.category != category.value:
            return f"「{node.code}」不是{category.value} / equipment is not a {category.name.lower()}"
        return None

    return requirement


def _default_next_due(done_field: str, interval: int) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """Imported rows without a next due date get one from the default interval (never NULL)."""

    def derive(values: Mapping[str, Any]) -> Mapping[str, Any]:
        if values.get("next_due") is None and values.get(done_field) is not None:
            return {"next_due": next_due(values[done_field], interval)}
        return {}

    return derive


inspections: EquipmentRecordRegister[InspectionRecord, InspectionCreate, InspectionUpdate, InspectionRead] = (
    EquipmentRecordRegister(
        name="equipment_inspection",
        title="特种设备检验记录",
        model=InspectionRecord,
        create_schema=InspectionCreate,
        update_schema=InspectionUpdate,
        read_schema=InspectionRead,
        labels={
            "equipment_code": "设备编码",
            "kind": "检验类别",
            "inspected_on": "检验日期",
            "next_due": "下次检验日期",
            "result": "检验结论",
            "safety_grade": "安全状况等级",
            "agency": "检验机构",
            "report_no": "报告编号",
            "remarks": "备注",
        },
        searchable=("equipment_code", "agency", "report_no", "remarks"),
        sortable=("id", "equipment_code", "inspected_on", "next_due", "updated_at"),
        filterable=("equipment_code", "kind", "result", "inspected_on", "next_due"),
        default_sort="-inspected_on",
        requirement=_special_only,
        due_field="next_inspection_due",
        done_field="inspected_on",
    )
)

calibrations: EquipmentRecordRegister[SafetyValveCalibration, CalibrationCreate, CalibrationUpdate, CalibrationRead] = (
    EquipmentRecordRegister(
        name="safety_valve_calibration",
        title="安全阀校验记录",
        model=SafetyValveCalibration,
        create_schema=CalibrationCreate,
        update_schema=CalibrationUpdate,
        read_schema=CalibrationRead,
        labels={
            "equipment_code": "安全阀编码",
            "calibrated_on": "校验日期",
            "next_due": "下次校验日期",
            "set_pressure_mpa": "整定压力(MPa)",
            "result": "校验结论",
            "agency": "校验机构",
            "report_no": "报告编号",
            "remarks": "备注",
        },
        searchable=("equipment_code", "agency", "report_no", "remarks"),
        sortable=("id", "equipment_code", "calibrated_on", "next_due", "updated_at"),
        filterable=("equipment_code", "result", "calibrated_on", "next_due"),
        derive=_default_next_due("calibrated_on", DEFAULT_CALIBRATION_INTERVAL_DAYS),
        default_sort="-calibrated_on",
        requirement=_category_only(EquipmentCategory.SAFETY_VALVE),
        due_field="next_calibration_due",
        done_field="calibrated_on",
        default_interval=DEFAULT_CALIBRATION_INTERVAL_DAYS,
    )
)

replacements: EquipmentRecordRegister[RuptureDiscReplacement, ReplacementCreate, ReplacementUpdate, ReplacementRead] = (
    EquipmentRecordRegister(
        name="rupture_disc_replacement",
        title="爆破片更换记录",
        model=RuptureDiscReplacement,
        create_schema=ReplacementCreate,
        update_schema=ReplacementUpdate,
        read_schema=ReplacementRead,
        labels={
            "equipment_code": "爆破片编码",
            "replaced_on": "更换日期",
            "next_due": "下次更换日期",
            "burst_pressure_mpa": "爆破压力(MPa)",
            "batch_no": "批号",
            "reason": "更换原因",
            "performed_by": "更换人",
        },
        searchable=("equipment_code", "batch_no", "reason", "performed_by"),
        sortable=("id", "equipment_code", "replaced_on", "next_due", "updated_at"),
        filterable=("equipment_code", "replaced_on", "next_due"),
        derive=_default_next_due("replaced_on", DEFAULT_REPLACEMENT_INTERVAL_DAYS),
        default_sort="-replaced_on",
        requirement=_category_only(EquipmentCategory.RUPTURE_DISC),
        due_field="next_replacement_due",
        done_field="replaced_on",
        default_interval=DEFAULT_REPLACEMENT_INTERVAL_DAYS,
    )
)


# Lifecycle events that change the equipment's status.
_STATUS_AFTER: Mapping[str, EquipmentStatus] = {
    LifecycleEvent.COMMISSION.value: EquipmentStatus.IN_SERVICE,
    LifecycleEvent.DECOMMISSION.value: EquipmentStatus.OUT_OF_SERVICE,
    LifecycleEvent.SCRAP.value: EquipmentStatus.SCRAPPED,
}


@dataclass(frozen=True, eq=False)
class LifecycleRegister(EquipmentRecordRegister[LifecycleRecord, LifecycleCreate, LifecycleUpdate, LifecycleRead]):
    """Lifecycle records; 投用, 停用 and 报废 also set the equipment's status (one history entry each)."""

    def create(self, *, session: Session, data: LifecycleCreate, actor: str | None) -> LifecycleRecord:
        """Record the event and apply its status change."""
        record = super().create(session=session, data=data, actor=actor)
        status = _STATUS_AFTER.get(record.event)
        node = _node_for_change(session, record.equipment_code) if status is not None else None
        if status is not None and node is not None and node.status != status.value:
            register.update(session=session, record_id=node.id, data=EquipmentUpdate(status=status), actor=actor)
        return record


lifecycle = LifecycleRegister(
    name="equipment_lifecycle",
    title="设备全生命周期记录",
    model=LifecycleRecord,
    create_schema=LifecycleCreate,
    update_schema=LifecycleUpdate,
    read_schema=LifecycleRead,
    labels={
        "equipment_code": "设备编码",
        "event": "事件",
        "occurred_on": "日期",
        "description": "说明",
        "cost_yuan": "费用(元)",
        "performed_by": "执行单位/人",
    },
    searchable=("equipment_code", "description", "performed_by"),
    sortable=("id", "equipment_code", "occurred_on", "updated_at"),
    filterable=("equipment_code", "event", "occurred_on"),
    default_sort="-occurred_on",
    done_field="occurred_on",
)


def _stock_flag(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"below_min": is_below_min_stock(values.get("stock") or 0.0, values.get("min_stock"))}


spare_parts: EquipmentRecordRegister[SparePart, SparePartCreate, SparePartUpdate, SparePartRead] = (
    EquipmentRecordRegister(
        name="spare_part",
        title="备品备件",
        model=SparePart,
        create_schema=SparePartCreate,
        update_schema=SparePartUpdate,
        read_schema=SparePartRead,
        labels={
            "part_no": "备件编号",
            "name": "名称",
            "spec": "规格型号",
            "equipment_code": "适用设备编码",
            "unit": "单位",
            "stock": "库存",
            "min_stock": "最低库存",
            "location": "存放位置",
            "below_min": "低于最低库存",
        },
        searchable=("part_no", "name", "spec", "equipment_code", "location"),
        sortable=("id", "part_no", "name", "stock", "updated_at"),
        filterable=("part_no", "equipment_code", "below_min", "location"),
        unique=("part_no",),
        derive=_stock_flag,
        default_sort="part_no",
    )
)

interlocks: EquipmentRecordRegister[SisInterlock, InterlockCreate, InterlockUpdate, InterlockRead] = (
    EquipmentRecordRegister(
        name="sis_interlock",
        title="SIS联锁",
        model=SisInterlock,
        create_schema=InterlockCreate,
        update_schema=InterlockUpdate,
        read_schema=InterlockRead,
        labels={
            "code": "联锁编号",
            "name": "联锁名称",
            "equipment_code": "设备编码",
            "tag": "联锁位号",
            "trip_condition": "触发条件",
            "action": "联锁动作",
            "sil": "SIL等级",
            "in_service": "是否投用",
        },
        searchable=("code", "name", "equipment_code", "tag", "trip_condition", "action"),
        sortable=("id", "code", "equipment_code", "sil", "updated_at"),
        filterable=("code", "equipment_code", "tag", "in_service", "sil"),
        unique=("code",),
        default_sort="code",
    )
)


# --- SIS bypasses ----------------------------------------------------------------------------

_OPEN_BYPASS = (BypassState.REQUESTED.value, BypassState.APPROVED.value, BypassState.ACTIVE.value)


class BypassRegister(Register[BypassRecord, BypassCreate, BypassUpdate, BypassRead]):
    """Bypass requests: the interlock must exist and be in service, and have no other open bypass."""

    def create(self, *, session: Session, data: BypassCreate, actor: str | None) -> BypassRecord:
        """File a request (state ``requested``; the actor is the requester).

        Raises:
            UnknownEquipment: no live interlock with that code.
            InvalidInput: it already has an open bypass.
        """
        interlock = session.scalars(
            select(SisInterlock).where(SisInterlock.code == data.interlock_code, SisInterlock.deleted_at.is_(None))
        ).first()
        if interlock is None:
            raise UnknownEquipment("interlock_code", f"联锁「{data.interlock_code}」不存在 / unknown interlock")  # noqa: EM101 - the field name
        open_id = session.scalar(
            select(BypassRecord.id).where(
                BypassRecord.interlock_code == data.interlock_code,
                BypassRecord.state.in_(_OPEN_BYPASS),
                BypassRecord.deleted_at.is_(None),
            )
        )
        if open_id is not None:
            msg = f"联锁「{data.interlock_code}」已有未关闭的旁路申请 (#{open_id}) / an open bypass exists"
            raise InvalidInput("interlock_code", msg)  # noqa: EM101 - the field name
        record = super().create(session=session, data=data, actor=actor)
        record.requested_by = actor
        record.state = BypassState.REQUESTED.value
        session.flush()
        return record


bypasses = BypassRegister(
    name="sis_bypass",
    title="联锁旁路记录",
    model=BypassRecord,
    create_schema=BypassCreate,
    update_schema=BypassUpdate,
    read_schema=BypassRead,
    labels={
        "interlock_code": "联锁编号",
        "reason": "旁路原因",
        "measures": "安全措施",
        "planned_start": "计划开始",
        "planned_end": "计划结束",
        "state": "状态",
        "requested_by": "申请人",
        "approved_by": "批准人",
        "approved_at": "批准时间",
        "started_at": "旁路投入时间",
        "ended_at": "联锁恢复时间",
        "closed_by": "恢复/关闭人",
        "note": "意见",
    },
    searchable=("interlock_code", "reason", "measures", "requested_by", "approved_by"),
    sortable=("id", "interlock_code", "planned_start", "planned_end", "state", "updated_at"),
    filterable=("interlock_code", "state", "requested_by", "approved_by", "planned_start", "planned_end"),
    default_sort="-planned_start",
)


def transition_bypass(
    *,
    session: Session,
    record_id: int,
    action: BypassAction,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> BypassRecord:
    """Move a bypass through its workflow; kept in history with who, when and what changed.

    Raises:
        RecordNotFound: unknown or deleted bypass.
        InvalidTransition: the move is not allowed from the current state, or the approved
            window has already ended when someone tries to start the bypass.
        SeparationOfDuties: the requester tries to approve or reject their own request.
    """
    now = now or utcnow()
    record = bypasses.get_for_change(session=session, record_id=record_id)
    state = BypassState(record.state)
    new_state = bypass_next(state, action)
    if action in (BypassAction.APPROVE, BypassAction.REJECT) and record.requested_by == actor:
        msg = "申请人不能审批自己的旁路申请 / the requester may not approve their own bypass"
        raise SeparationOfDuties(msg)
    if action is BypassAction.START and now >= record.planned_end:
        msg = (
            f"批准的旁路时间窗已于 {record.planned_end.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} 结束，请重新申请"
            " / the approved window has ended; file a new request"
        )
        raise InvalidTransition(state, action, message=msg)
    before = bypasses.snapshot(record)
    record.state = new_state.value
    if action is BypassAction.APPROVE:
        record.approved_by, record.approved_at = actor, now
    elif action is BypassAction.START:
        record.started_at = now
    elif action is BypassAction.CLOSE:
        record.ended_at, record.closed_by = now, actor
    else:  # reject / cancel
        record.closed_by = actor
    if note:
        record.note = note
    _bump(bypasses, session, record, actor, action.value, before, now)
    return record


def overrun_bypasses(*, session: Session, now: datetime | None = None) -> builtins.list[BypassRecord]:
    """Bypasses still active past their approved end (超期旁路), oldest end first: what to chase now."""
    now = now or utcnow()
    stmt = (
        select(BypassRecord)
        .where(
            BypassRecord.state == BypassState.ACTIVE.value,
            BypassRecord.planned_end < now,
            BypassRecord.deleted_at.is_(None),
        )
        .order_by(BypassRecord.planned_end, BypassRecord.id)
    )
    return builtins.list(session.scalars(stmt))


def is_overrun(record: BypassRecord, now: datetime | None = None) -> bool:
    """Whether this bypass ran, or still runs, past its approved window."""
    return bypass_overrun(
        planned_end=record.planned_end, started_at=record.started_at, ended_at=record.ended_at, now=now or utcnow()
    )


def _bump(
    reg: Register[Any, Any, Any, Any],
    session: Session,
    record: Any,
    actor: str | None,
    action: str,
    before: Mapping[str, Any],
    now: datetime,
) -> None:
    """New version, who and when, and a history entry with the fields that changed."""
    record.version += 1
    record.updated_by, record.updated_at = actor, now
    session.flush()
    after = reg.snapshot(record)
    changes = {
        k: [jsonable(before.get(k)), jsonable(v)] for k, v in after.items() if jsonable(before.get(k)) != jsonable(v)
    }
    reg.record_history(session, record, action, actor, changes)


# --- work orders -----------------------------------------------------------------------------


def _next_number(session: Session, day: date) -> str:
    """``WO-YYYYMMDD-NNNN``: the day's next sequence number (deleted orders keep theirs)."""
    prefix = f"WO-{day:%Y%m%d}-"
    last = session.scalar(select(func.max(WorkOrder.number)).where(WorkOrder.number.startswith(prefix)))
    seq = int(last.rsplit("-", 1)[1]) + 1 if last and last.rsplit("-", 1)[1].isdigit() else 1
    return f"{prefix}{seq:04d}"


class WorkOrderRegister(Register[WorkOrder, WorkOrderCreate, WorkOrderUpdate, WorkOrderRead]):
    """Work orders: the equipment must exist; a number is generated when none is given."""

    def create(self, *, session: Session, data: WorkOrderCreate, actor: str | None) -> WorkOrder:
        """Raise a work order by hand (state ``open``).

        Raises:
            UnknownEquipment: no live equipment with that code.
            DuplicateValue: the given number is taken.
        """
        require_node(session=session, code=data.equipment_code)
        if data.number is None:
            today = utcnow().astimezone(LOCAL_TZ).date()
            data = data.model_copy(update={"number": _next_number(session, today)})
        return super().create(session=session, data=data, actor=actor)


work_orders = WorkOrderRegister(
    name="work_order",
    title="工单",
    model=WorkOrder,
    create_schema=WorkOrderCreate,
    update_schema=WorkOrderUpdate,
    read_schema=WorkOrderRead,
    labels={
        "number": "工单号",
        "equipment_code": "设备编码",
        "title": "标题",
        "description": "故障/工作内容",
        "priority": "优先级",
        "source": "来源",
        "state": "状态",
        "assignee": "维修人",
        "due_on": "要求完成日期",
        "result": "处理结果",
        "verified_by": "验收人",
        "closed_at": "关闭时间",
    },
    searchable=("number", "equipment_code", "title", "description", "assignee"),
    sortable=("id", "number", "equipment_code", "priority", "state", "due_on", "updated_at"),
    filterable=("equipment_code", "priority", "source", "state", "assignee", "due_on"),
    unique=("number",),
    default_sort="-id",
)


def transition_work_order(
    *,
    session: Session,
    record_id: int,
    action: WorkOrderAction,
    actor: str,
    assignee: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> WorkOrder:
    """Move a work order through its workflow; kept in history.

    Raises:
        RecordNotFound: unknown or deleted work order.
        InvalidTransition: the move is not allowed from the current state.
        SeparationOfDuties: the maintainer tries to verify their own repair.
    """
    now = now or utcnow()
    record = work_orders.get_for_change(session=session, record_id=record_id)
    new_state = work_order_next(WorkOrderState(record.state), action)
    if action is WorkOrderAction.VERIFY and record.assignee is not None and record.assignee == actor:
        msg = "维修人不能验收自己的工单 / the maintainer may not verify their own work"
        raise SeparationOfDuties(msg)
    before = work_orders.snapshot(record)
    record.state = new_state.value
    if action is WorkOrderAction.ASSIGN:
        record.assignee = assignee
    elif action is WorkOrderAction.COMPLETE and note:
        record.result = note
    elif action is WorkOrderAction.VERIFY:
        record.verified_by = actor
    elif action is WorkOrderAction.REWORK:
        record.verified_by = None
    if new_state in (WorkOrderState.CLOSED, WorkOrderState.CANCELLED):
        record.closed_at = now
    if note and action is not WorkOrderAction.COMPLETE:
        record.description = f"{record.description or ''}\n[{action.label}] {note}".strip()
    _bump(work_orders, session, record, actor, action.value, before, now)
    return record


def node_for_asset(*, session: Session, asset_id: str) -> EquipmentNode | None:
    """The live node a PdM asset id names: by plant id (``P-401``) first, else by full code."""
    stmt = select(EquipmentNode).where(
        or_(EquipmentNode.plant_id == asset_id, EquipmentNode.code == asset_id), EquipmentNode.deleted_at.is_(None)
    )
    nodes = builtins.list(session.scalars(stmt))
    return next((n for n in nodes if n.plant_id == asset_id), nodes[0] if nodes else None)


def create_from_prediction(
    *, session: Session, prediction: PdmPrediction, actor: str | None = None, failure_mode: str | None = None
) -> WorkOrder:
    """A work order for a PdM prediction; the same ``(asset_id, ts)`` again returns the same order.

    ``failure_mode`` (:mod:`models.pdm.failure_modes`) is named in the title and kept on the
    order; :func:`open_for_prediction` uses it to keep one open order per asset and mode.

    The priority comes from health and remaining useful life (:func:`models.equipment_rules.pdm_priority`);
    the order is due before the predicted failure. Safe under concurrent delivery: the unique
    key ``(pdm_asset_id, pdm_ts)`` decides, and the loser returns the winner's order.

    Raises:
        UnknownEquipment: the asset names no live equipment (the caller dead-letters the event).
    """
    existing = _order_for_prediction(session, prediction)
    if existing is not None:
        return existing
    node = node_for_asset(session=session, asset_id=prediction.asset_id)
    if node is None:
        raise UnknownEquipment("asset_id", f"预测性维护资产「{prediction.asset_id}」不在设备台账中 / unknown asset")  # noqa: EM101 - the field name
    at = datetime.fromtimestamp(prediction.ts / 1000, UTC)
    day = at.astimezone(LOCAL_TZ).date()
    rul = prediction.rul_days
    features = "、".join(prediction.top_features[:5]) or "—"
    life = f"，预计剩余寿命 {rul:.1f} 天" if rul is not None else ""
    data = WorkOrderCreate(
        equipment_code=node.code,
        title=(
            f"预测性维护: {node.name}"
            + (f" {FAILURE_MODE_LABELS.get(failure_mode, failure_mode)}" if failure_mode else "")
            + f" 健康度 {prediction.health:.2f}"
        )[:200],
        description=(
            f"PdM 预测 {at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}: 健康度 {prediction.health:.2f}，"
            f"异常分 {prediction.anomaly_score:.2f}{life}；主要特征: {features}"
        ),
        priority=Priority(pdm_priority(health=prediction.health, rul_days=rul)),
        due_on=day + timedelta(days=int(max(rul, 0.0))) if rul is not None else None,
        number=_next_number(session, day),
    )
    try:
        with session.begin_nested():
            record = work_orders.create(session=session, data=data, actor=actor)
            record.source = WorkOrderSource.PDM.value
            record.pdm_asset_id, record.pdm_ts = prediction.asset_id, prediction.ts
            record.pdm_health, record.pdm_rul_days = prediction.health, rul
            record.pdm_failure_mode = failure_mode
            session.flush()
    except IntegrityError:
        existing = _order_for_prediction(session, prediction)
        if existing is None:
            raise
        return existing
    return record


def _order_for_prediction(session: Session, prediction: PdmPrediction) -> WorkOrder | None:
    stmt = select(WorkOrder).where(WorkOrder.pdm_asset_id == prediction.asset_id, WorkOrder.pdm_ts == prediction.ts)
    return session.scalars(stmt.limit(1)).first()


_PRIORITY_RANK: Mapping[str, int] = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


def _open_order_for_change(session: Session, asset_id: str, mode: str) -> WorkOrder | None:
    """The oldest open order of this asset and failure mode, locked (:meth:`Register.each_for_change`).

    Why: a person may cancel or close the order between the query and the update. Updated
    from the query's copy, both wrote the next version (an IntegrityError that dead-lettered
    the warning) or the warning moved a closed order. Read again under the lock, an order that
    is no longer open is passed over, and with none left the warning opens a new one.
    """
    stmt = (
        select(WorkOrder.id)
        .where(
            WorkOrder.pdm_asset_id == asset_id,
            WorkOrder.pdm_failure_mode == mode,
            WorkOrder.state.not_in([s.value for s in WORK_ORDER_TERMINAL]),
            WorkOrder.deleted_at.is_(None),
        )
        .order_by(WorkOrder.id)
    )
    for order in work_orders.each_for_change(session=session, record_ids=builtins.list(session.scalars(stmt))):
        if WorkOrderState(order.state) not in WORK_ORDER_TERMINAL:
            return order
    return None


def open_for_prediction(
    *, session: Session, prediction: PdmPrediction, actor: str | None = None, now: datetime | None = None
) -> tuple[WorkOrder, bool]:
    """ONE open work order per asset and failure mode for a PdM failure warning; ``(order, created)``.

    The failure mode comes from the prediction's top features
    (:func:`models.pdm.failure_modes.failure_mode`). While an order of that asset and mode is
    open (not closed, cancelled or deleted), a new warning updates it (latest health and RUL,
    priority raised and due date brought forward when the new prediction is more urgent, a line
    in its description and its history) instead of raising a duplicate; once it is closed, the
    next warning opens a new one. The same prediction delivered again returns its order.

    Raises:
        UnknownEquipment: the asset names no live equipment (the caller dead-letters the event).
    """
    replay = _order_for_prediction(session, prediction)
    if replay is not None:
        return replay, False
    mode = failure_mode(prediction.top_features)
    order = _open_order_for_change(session, prediction.asset_id, mode)
    if order is None:
        return create_from_prediction(session=session, prediction=prediction, actor=actor, failure_mode=mode), True
    now = now or utcnow()
    before = work_orders.snapshot(order)
    rul = prediction.rul_days
    order.pdm_health, order.pdm_rul_days = prediction.health, rul
    priority = pdm_priority(health=prediction.health, rul_days=rul)
    if _PRIORITY_RANK[priority] > _PRIORITY_RANK.get(order.priority, 0):
        order.priority = priority
    if rul is not None:
        due = datetime.fromtimestamp(prediction.ts / 1000, UTC).astimezone(LOCAL_TZ).date() + timedelta(
            days=int(max(rul, 0.0))
        )
        if order.due_on is None or due < order.due_on:
            order.due_on = due
    at = datetime.fromtimestamp(prediction.ts / 1000, UTC).astimezone(LOCAL_TZ)
    life = f"，预计剩余寿命 {rul:.1f} 天" if rul is not None else ""
    line = f"[PdM 更新 {at:%Y-%m-%d %H:%M}] 健康度 {prediction.health:.2f}{life}"
    order.description = f"{order.description or ''}\n{line}".strip()
    _bump(work_orders, session, order, actor, "pdm_update", before, now)
    return order, False


# --- views -----------------------------------------------------------------------------------


def tree(*, session: Session, root: str | None = None) -> builtins.list[TreeNode]:
    """The live tree (or the subtree under ``root``) as nested nodes, ordered by code.

    Raises:
        UnknownEquipment: ``root`` names no live node.
    """
    stmt = select(EquipmentNode).where(EquipmentNode.deleted_at.is_(None)).order_by(EquipmentNode.code)
    if root is not None:
        require_node(session=session, code=root, field="root")
        stmt = stmt.where(_subtree(EquipmentNode, EquipmentNode.code, root))
    nodes: dict[str, TreeNode] = {}
    tops: builtins.list[TreeNode] = []
    for row in session.scalars(stmt):
        node = TreeNode(
            code=row.code,
            name=row.name,
            level=row.level,
            status=row.status,
            category=row.category,
            special_kind=row.special_kind,
            plant_id=row.plant_id,
        )
        nodes[row.code] = node
        parent = nodes.get(row.parent_code) if row.parent_code else None
        # codes sort parents before children ("A" < "A.B"), so a parent is always seen first
        (parent.children if parent is not None else tops).append(node)
    return tops


def equipment_file(*, session: Session, code: str) -> dict[str, Any]:
    """一台一档: the node, its path, its components and every record of it and them.

    Returns:
        A dict shaped like :class:`registers.equipment.schemas.EquipmentFile`.

    Raises:
        UnknownEquipment: no live node with this code.
    """
    node = require_node(session=session, code=code, field="code")
    ancestors = [node.code.rsplit(SEPARATOR, n)[0] for n in range(node.code.count(SEPARATOR), 0, -1)]
    path = builtins.list(
        session.scalars(
            select(EquipmentNode)
            .where(EquipmentNode.code.in_(ancestors), EquipmentNode.deleted_at.is_(None))
            .order_by(EquipmentNode.code)
        )
    )
    components = builtins.list(
        session.scalars(
            select(EquipmentNode)
            .where(EquipmentNode.code.startswith(code + SEPARATOR, autoescape=True), EquipmentNode.deleted_at.is_(None))
            .order_by(EquipmentNode.code)
        )
    )
    found_interlocks = interlocks.for_equipment(session=session, code=code)
    found_bypasses = builtins.list(
        session.scalars(
            select(BypassRecord)
            .where(
                BypassRecord.interlock_code.in_([i.code for i in found_interlocks]),
                BypassRecord.deleted_at.is_(None),
            )
            .order_by(BypassRecord.planned_start.desc(), BypassRecord.id.desc())
        )
    )
    node_ids = [node.id, *(c.id for c in components)]
    attachments = builtins.list(
        session.scalars(
            select(Attachment)
            .where(Attachment.register == register.name, Attachment.record_id.in_(node_ids))
            .order_by(Attachment.id)
        )
    )
    orders = builtins.list(
        session.scalars(
            select(WorkOrder)
            .where(_subtree(WorkOrder, WorkOrder.equipment_code, code), WorkOrder.deleted_at.is_(None))
            .order_by(WorkOrder.id.desc())
        )
    )
    parts = builtins.list(
        session.scalars(
            select(SparePart)
            .where(_subtree(SparePart, SparePart.equipment_code, code), SparePart.deleted_at.is_(None))
            .order_by(SparePart.part_no)
        )
    )
    return {
        "equipment": node,
        "path": path,
        "components": components,
        "inspections": inspections.for_equipment(session=session, code=code),
        "calibrations": calibrations.for_equipment(session=session, code=code),
        "replacements": replacements.for_equipment(session=session, code=code),
        "lifecycle": lifecycle.for_equipment(session=session, code=code),
        "work_orders": orders,
        "spare_parts": parts,
        "interlocks": found_interlocks,
        "bypasses": found_bypasses,
        "attachments": attachments,
    }


def level_of(node: EquipmentNode) -> Level:
    """The node's level as the enum."""
    return Level(node.level)


# --- import with the tree's rules ------------------------------------------------------------


def import_equipment_file(
    records: Register[Any, Any, Any, Any],
    *,
    session: Session,
    content: bytes,
    filename: str,
    actor: str | None,
) -> ImportReport:
    """Import an .xlsx/.csv into the tree or a record register, all rows or none, with the tree's rules.

    The framework's import checks each row on its own; this adds what needs the tree: a node's
    parent must be live or be in the same file (a whole ledger, site to
    component, imports in one go), and a record's equipment must be live and of the right kind
    (calibrations only for safety valves …). Every problem is reported by row and column.
    Afterwards the imported records' due dates are carried to their equipment.

    Raises:
        ImportFailed: any problem; nothing written.
    """
    try:
        header, row_iter = read_table(content, filename)
    except ValueError as err:
        raise ImportFailed(ImportReport(records.name, 0, 0, (RowError(1, "", None, str(err)),))) from err
    rows = builtins.list(row_iter)
    mapping, _ = header_map(records, header)
    field = "code" if records is register else getattr(records, "code_field", "equipment_code")
    index = next((i for i, name in mapping.items() if name == field), None)
    errors: builtins.list[RowError] = []
    codes: builtins.list[str] = []
    if index is not None:
        column = header[index]
        values = [
            (number, str(cells[index]).strip())
            for number, cells in rows
            if index < len(cells) and cells[index] not in (None, "")
        ]
        if records is register:
            errors = _tree_row_errors(session, values, column)
        elif isinstance(records, EquipmentRecordRegister):
            errors = _record_row_errors(session, records, values, column)
        codes = [code for _, code in values]
    if errors:
        # Run the framework's checks too (in a savepoint that is always undone), so the
        # user gets every problem of the file in one report.
        total = len(rows)
        savepoint = session.begin_nested()
        try:
            total = import_rows(records, session=session, header=header, rows=rows, actor=actor).rows
        except ImportFailed as err:
            total = err.report.rows
            errors.extend(err.report.errors)
        finally:
            savepoint.rollback()
        # One problem per cell: the tree's own message first. (Import creates tree rows through
        # ``create``, which refuses the same orphan again in its own words.)
        unique: dict[tuple[int, str], RowError] = {}
        for e in errors:
            unique.setdefault((e.row, e.column), e)
        ordered = tuple(sorted(unique.values(), key=lambda e: (e.row, e.column)))
        raise ImportFailed(ImportReport(records.name, total, 0, ordered))
    report = import_rows(records, session=session, header=header, rows=rows, actor=actor)
    if isinstance(records, EquipmentRecordRegister) and records.due_field is not None:
        refresh_all_due_dates(session=session, codes=codes, actor=actor)
    return report


def _tree_row_errors(session: Session, values: Iterable[tuple[int, str]], column: str) -> builtins.list[RowError]:
    rows = builtins.list(values)
    in_file = {code for _, code in rows}
    parents = {p for _, code in rows if (p := _parent_or_none(code)) is not None}
    live = set(
        session.scalars(
            select(EquipmentNode.code).where(
                EquipmentNode.code.in_(builtins.list(parents - in_file)), EquipmentNode.deleted_at.is_(None)
            )
        )
    )
    errors = []
    for number, code in rows:
        parent = _parent_or_none(code)
        if parent is not None and parent not in in_file and parent not in live:
            errors.append(RowError(number, column, "code", f"上级节点「{parent}」不存在 / parent node missing"))
    return errors


def _record_row_errors(
    session: Session,
    records: EquipmentRecordRegister[Any, Any, Any, Any],
    values: Iterable[tuple[int, str]],
    column: str,
) -> builtins.list[RowError]:
    rows = builtins.list(values)
    nodes = {
        n.code: n
        for n in session.scalars(
            select(EquipmentNode).where(
                EquipmentNode.code.in_({code for _, code in rows}), EquipmentNode.deleted_at.is_(None)
            )
        )
    }
    errors = []
    for number, code in rows:
        node = nodes.get(code)
        if node is None:
            problem: str | None = f"设备「{code}」不存在 / unknown equipment code"
        else:
            problem = records.requirement(node) if records.requirement else None
        if problem:
            errors.append(RowError(number, column, records.code_field, problem))
    return errors


def _parent_or_none(code: str) -> str | None:
    try:
        return parse_code(code).parent
    except CodeError:
        return None  # the schema reports the bad code itself
