"""Schemas of the equipment register: ``XCreate / XUpdate / XRead`` per table, plus the tree and file views.

Ledger enums (status, special equipment kind, results, lifecycle events) take the Chinese words
people write in their Excel ledgers, so an exported sheet imports back unchanged; workflow
states are English identifiers with Chinese labels, because they are never typed by hand.

Codes are checked here by :mod:`models.equipment_rules`, so a bad code is a 422 naming the
field and the broken rule before anything touches the database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, computed_field, model_validator

from models.equipment_rules import CODE_MAX_LENGTH, bypass_overrun, check_plant_id, parse_code
from registers.equipment.workflow import BypassAction, BypassState, WorkOrderAction, WorkOrderState
from registers.framework.schemas import AttachmentRead, LongText, RegisterRead, Str64, Str200

__all__ = [
    "BypassCreate",
    "BypassRead",
    "BypassTransition",
    "BypassUpdate",
    "CalibrationCreate",
    "CalibrationRead",
    "CalibrationResult",
    "CalibrationUpdate",
    "EquipmentCategory",
    "EquipmentCreate",
    "EquipmentFile",
    "EquipmentRead",
    "EquipmentStatus",
    "EquipmentUpdate",
    "InspectionCreate",
    "InspectionKind",
    "InspectionRead",
    "InspectionResult",
    "InspectionUpdate",
    "InterlockCreate",
    "InterlockRead",
    "InterlockUpdate",
    "LifecycleCreate",
    "LifecycleEvent",
    "LifecycleRead",
    "LifecycleUpdate",
    "Priority",
    "ReplacementCreate",
    "ReplacementRead",
    "ReplacementUpdate",
    "SparePartCreate",
    "SparePartRead",
    "SparePartUpdate",
    "SpecialKind",
    "TreeNode",
    "WorkOrderCreate",
    "WorkOrderRead",
    "WorkOrderSource",
    "WorkOrderTransition",
    "WorkOrderUpdate",
]


# --- enums -----------------------------------------------------------------------------------


class EquipmentStatus(StrEnum):
    """使用状态."""

    IN_SERVICE = "在用"
    STANDBY = "备用"
    OUT_OF_SERVICE = "停用"
    SCRAPPED = "报废"


class EquipmentCategory(StrEnum):
    """设备类别; safety valves and rupture discs are components with their own records."""

    SITE = "厂区"
    UNIT = "装置"
    SPHERE = "球罐"
    TANK = "储罐"
    VESSEL = "容器"
    REACTOR = "反应器"
    PUMP = "泵"
    COMPRESSOR = "压缩机"
    EXCHANGER = "换热器"
    PIPING = "管道"
    BUILDING = "建筑物"
    LIFTING = "起重设备"
    SAFETY_VALVE = "安全阀"
    RUPTURE_DISC = "爆破片"
    INSTRUMENT = "仪表"
    MOTOR = "电机"
    OTHER = "其他"


class SpecialKind(StrEnum):
    """特种设备种类 (特种设备目录) relevant to a chemical plant; inspected periodically by an agency."""

    BOILER = "锅炉"
    PRESSURE_VESSEL = "压力容器"
    PRESSURE_PIPING = "压力管道"
    LIFTING = "起重机械"
    ELEVATOR = "电梯"
    VEHICLE = "场(厂)内专用机动车辆"


class InspectionKind(StrEnum):
    """检验类别."""

    FIRST = "首次检验"
    PERIODIC = "定期检验"
    ANNUAL = "年度检查"


class InspectionResult(StrEnum):
    """检验结论 (TSG 21: 符合要求 / 基本符合要求 / 不符合要求)."""

    PASS = "符合要求"
    CONDITIONAL = "基本符合要求"
    FAIL = "不符合要求"


class CalibrationResult(StrEnum):
    """校验结论."""

    PASS = "合格"
    FAIL = "不合格"


class LifecycleEvent(StrEnum):
    """全生命周期事件."""

    PURCHASE = "购置"
    INSTALL = "安装"
    COMMISSION = "投用"
    REPAIR = "维修"
    MODIFY = "改造"
    DECOMMISSION = "停用"
    SCRAP = "报废"


class Priority(StrEnum):
    """Work-order priority."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def label(self) -> str:
        """紧急 / 高 / 一般 / 低."""
        return {"urgent": "紧急", "high": "高", "normal": "一般", "low": "低"}[self.value]


class WorkOrderSource(StrEnum):
    """Who raised a work order."""

    MANUAL = "manual"
    PDM = "pdm"


# --- field types -----------------------------------------------------------------------------


def _valid_code(value: str) -> str:
    parse_code(value)
    return value


EquipmentCode = Annotated[
    str,
    Field(min_length=1, max_length=CODE_MAX_LENGTH, description="设备编码, e.g. DEMO.TANK_FARM.V-101"),
    AfterValidator(_valid_code),
]
PlainCode = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
PlantId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Name = Annotated[Str200, Field(min_length=1)]
Pressure = Annotated[float, Field(ge=0, le=1000, description="MPa")]
IntervalDays = Annotated[int, Field(ge=1, le=3650, description="周期 (天)")]


# --- equipment tree --------------------------------------------------------------------------


class EquipmentCreate(BaseModel):
    """A node of the equipment tree as entered or imported (columns in ledger order)."""

    code: EquipmentCode
    name: Name = Field(description="名称")
    plant_id: PlantId | None = Field(default=None, description="数字孪生编号 (须与编码末段一致)")
    category: EquipmentCategory | None = Field(default=None, description="设备类别")
    special_kind: SpecialKind | None = Field(default=None, description="特种设备种类")
    registration_no: Str64 | None = Field(default=None, description="使用登记证编号")
    status: EquipmentStatus = Field(default=EquipmentStatus.IN_SERVICE, description="状态")
    hazard_source_code: Str64 | None = Field(default=None, description="所属重大危险源")
    manufacturer: Str200 | None = Field(default=None, description="制造单位")
    model_no: Str64 | None = Field(default=None, description="规格型号")
    serial_no: Str64 | None = Field(default=None, description="出厂编号")
    commissioned_on: date | None = Field(default=None, description="投用日期")
    responsible_person: Str64 | None = Field(default=None, description="责任人")
    medium: Str64 | None = Field(default=None, description="介质")
    design_pressure_mpa: Pressure | None = Field(default=None, description="设计/整定/爆破压力 MPa")
    interval_days: IntervalDays | None = Field(default=None, description="校验/更换周期 (天)")
    next_inspection_due: date | None = Field(default=None, description="下次检验日期")
    next_calibration_due: date | None = Field(default=None, description="下次校验日期")
    next_replacement_due: date | None = Field(default=None, description="下次更换日期")
    remarks: LongText | None = Field(default=None, description="备注")

    @model_validator(mode="after")
    def _plant_id_matches_code(self) -> Self:
        check_plant_id(self.code, self.plant_id)
        return self


class EquipmentUpdate(BaseModel):
    """Fields to change. The code cannot change: records, children and reminders are keyed on it."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    plant_id: PlantId | None = None
    category: EquipmentCategory | None = None
    special_kind: SpecialKind | None = None
    registration_no: Str64 | None = None
    status: EquipmentStatus | None = None
    hazard_source_code: Str64 | None = None
    manufacturer: Str200 | None = None
    model_no: Str64 | None = None
    serial_no: Str64 | None = None
    commissioned_on: date | None = None
    responsible_person: Str64 | None = None
    medium: Str64 | None = None
    design_pressure_mpa: Pressure | None = None
    interval_days: IntervalDays | None = None
    next_inspection_due: date | None = None
    next_calibration_due: date | None = None
    next_replacement_due: date | None = None
    remarks: LongText | None = None


class EquipmentRead(RegisterRead):
    """A node as the API shows it."""

    code: str
    name: str
    level: str
    parent_code: str | None
    plant_id: str | None
    category: str | None
    special_kind: str | None
    registration_no: str | None
    status: str
    hazard_source_code: str | None
    manufacturer: str | None
    model_no: str | None
    serial_no: str | None
    commissioned_on: date | None
    responsible_person: str | None
    medium: str | None
    design_pressure_mpa: float | None
    interval_days: int | None
    next_inspection_due: date | None
    next_calibration_due: date | None
    next_replacement_due: date | None
    remarks: str | None


class TreeNode(BaseModel):
    """One node of the tree view with its children (设备树)."""

    code: str
    name: str
    level: str
    status: str
    category: str | None = None
    special_kind: str | None = None
    plant_id: str | None = None
    children: list[TreeNode] = Field(default_factory=list)


# --- special-equipment inspections -----------------------------------------------------------


def _after(first: date | None, then: date | None, message: str) -> None:
    if first is not None and then is not None and then <= first:
        raise ValueError(message)


class InspectionCreate(BaseModel):
    """A periodic inspection report of special equipment."""

    equipment_code: EquipmentCode
    kind: InspectionKind = Field(default=InspectionKind.PERIODIC, description="检验类别")
    inspected_on: date = Field(description="检验日期")
    next_due: date = Field(description="下次检验日期")
    result: InspectionResult = Field(description="检验结论")
    safety_grade: int | None = Field(default=None, ge=1, le=5, description="安全状况等级")
    agency: Name = Field(description="检验机构")
    report_no: Str64 | None = Field(default=None, description="报告编号")
    remarks: LongText | None = Field(default=None, description="备注")

    @model_validator(mode="after")
    def _due_after_inspection(self) -> Self:
        _after(self.inspected_on, self.next_due, "下次检验日期须晚于检验日期 / next_due must be after inspected_on")
        return self


class InspectionUpdate(BaseModel):
    """Fields to change (the equipment cannot change: file a new record instead)."""

    model_config = ConfigDict(extra="forbid")

    kind: InspectionKind | None = None
    inspected_on: date | None = None
    next_due: date | None = None
    result: InspectionResult | None = None
    safety_grade: int | None = Field(default=None, ge=1, le=5)
    agency: Name | None = None
    report_no: Str64 | None = None
    remarks: LongText | None = None

    @model_validator(mode="after")
    def _due_after_inspection(self) -> Self:
        _after(self.inspected_on, self.next_due, "下次检验日期须晚于检验日期 / next_due must be after inspected_on")
        return self


class InspectionRead(RegisterRead):
    """An inspection record."""

    equipment_code: str
    kind: str
    inspected_on: date
    next_due: date
    result: str
    safety_grade: int | None
    agency: str
    report_no: str | None
    remarks: str | None


# --- safety valves and rupture discs ---------------------------------------------------------


class CalibrationCreate(BaseModel):
    """A safety-valve calibration; ``next_due`` defaults to the valve's interval (365 days)."""

    equipment_code: EquipmentCode
    calibrated_on: date = Field(description="校验日期")
    next_due: date | None = Field(default=None, description="下次校验日期 (缺省按周期计算)")
    set_pressure_mpa: Pressure | None = Field(default=None, description="整定压力 MPa")
    result: CalibrationResult = Field(default=CalibrationResult.PASS, description="校验结论")
    agency: Str200 | None = Field(default=None, description="校验机构")
    report_no: Str64 | None = Field(default=None, description="报告编号")
    remarks: LongText | None = Field(default=None, description="备注")

    @model_validator(mode="after")
    def _due_after(self) -> Self:
        _after(self.calibrated_on, self.next_due, "下次校验日期须晚于校验日期 / next_due must be after calibrated_on")
        return self


class CalibrationUpdate(BaseModel):
    """Fields to change."""

    model_config = ConfigDict(extra="forbid")

    calibrated_on: date | None = None
    next_due: date | None = None
    set_pressure_mpa: Pressure | None = None
    result: CalibrationResult | None = None
    agency: Str200 | None = None
    report_no: Str64 | None = None
    remarks: LongText | None = None


class CalibrationRead(RegisterRead):
    """A calibration record."""

    equipment_code: str
    calibrated_on: date
    next_due: date
    set_pressure_mpa: float | None
    result: str
    agency: str | None
    report_no: str | None
    remarks: str | None


class ReplacementCreate(BaseModel):
    """A rupture-disc replacement; ``next_due`` defaults to the disc's interval (365 days)."""

    equipment_code: EquipmentCode
    replaced_on: date = Field(description="更换日期")
    next_due: date | None = Field(default=None, description="下次更换日期 (缺省按周期计算)")
    burst_pressure_mpa: Pressure | None = Field(default=None, description="标定爆破压力 MPa")
    batch_no: Str64 | None = Field(default=None, description="批号")
    reason: Str200 | None = Field(default=None, description="更换原因")
    performed_by: Str64 | None = Field(default=None, description="更换人")

    @model_validator(mode="after")
    def _due_after(self) -> Self:
        _after(self.replaced_on, self.next_due, "下次更换日期须晚于更换日期 / next_due must be after replaced_on")
        return self


class ReplacementUpdate(BaseModel):
    """Fields to change."""

    model_config = ConfigDict(extra="forbid")

    replaced_on: date | None = None
    next_due: date | None = None
    burst_pressure_mpa: Pressure | None = None
    batch_no: Str64 | None = None
    reason: Str200 | None = None
    performed_by: Str64 | None = None


class ReplacementRead(RegisterRead):
    """A replacement record."""

    equipment_code: str
    replaced_on: date
    next_due: date
    burst_pressure_mpa: float | None
    batch_no: str | None
    reason: str | None
    performed_by: str | None


# --- lifecycle and spare parts ---------------------------------------------------------------


class LifecycleCreate(BaseModel):
    """A lifecycle event; 投用/停用/报废 also set the equipment's status."""

    equipment_code: EquipmentCode
    event: LifecycleEvent = Field(description="事件")
    occurred_on: date = Field(description="日期")
    description: LongText | None = Field(default=None, description="说明")
    cost_yuan: float | None = Field(default=None, ge=0, le=1e10, description="费用 (元)")
    performed_by: Str200 | None = Field(default=None, description="执行单位/人")


class LifecycleUpdate(BaseModel):
    """Fields to change (the event kind is fixed: record a new event instead)."""

    model_config = ConfigDict(extra="forbid")

    occurred_on: date | None = None
    description: LongText | None = None
    cost_yuan: float | None = Field(default=None, ge=0, le=1e10)
    performed_by: Str200 | None = None


class LifecycleRead(RegisterRead):
    """A lifecycle record."""

    equipment_code: str
    event: str
    occurred_on: date
    description: str | None
    cost_yuan: float | None
    performed_by: str | None


class SparePartCreate(BaseModel):
    """A spare part in store."""

    part_no: Annotated[PlainCode, Field(description="备件编号")]
    name: Name = Field(description="名称")
    spec: Str200 | None = Field(default=None, description="规格型号")
    equipment_code: EquipmentCode | None = Field(default=None, description="适用设备编码")
    unit: Annotated[str, Field(min_length=1, max_length=16)] = Field(default="个", description="单位")
    stock: float = Field(default=0, ge=0, le=1e9, description="库存")
    min_stock: float | None = Field(default=None, ge=0, le=1e9, description="最低库存")
    location: Str64 | None = Field(default=None, description="存放位置")


class SparePartUpdate(BaseModel):
    """Fields to change (stock moves in and out here)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    spec: Str200 | None = None
    equipment_code: EquipmentCode | None = None
    unit: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    stock: float | None = Field(default=None, ge=0, le=1e9)
    min_stock: float | None = Field(default=None, ge=0, le=1e9)
    location: Str64 | None = None


class SparePartRead(RegisterRead):
    """A spare part with its low-stock flag."""

    part_no: str
    name: str
    spec: str | None
    equipment_code: str | None
    unit: str
    stock: float
    min_stock: float | None
    location: str | None
    below_min: bool


# --- SIS interlocks and bypasses -------------------------------------------------------------


class InterlockCreate(BaseModel):
    """A safety interlock (SIS联锁)."""

    code: Annotated[PlainCode, Field(description="联锁编号, e.g. SIS-401-01")]
    name: Name = Field(description="联锁名称")
    equipment_code: EquipmentCode
    tag: PlantId | None = Field(default=None, description="联锁位号")
    trip_condition: Name = Field(description="触发条件, e.g. TT-401 ≥ 95 °C")
    action: Name = Field(description="联锁动作, e.g. 切断氯气进料阀")
    sil: int | None = Field(default=None, ge=1, le=4, description="SIL等级")
    in_service: bool = Field(default=True, description="是否投用")


class InterlockUpdate(BaseModel):
    """Fields to change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    tag: PlantId | None = None
    trip_condition: Name | None = None
    action: Name | None = None
    sil: int | None = Field(default=None, ge=1, le=4)
    in_service: bool | None = None


class InterlockRead(RegisterRead):
    """An interlock."""

    code: str
    name: str
    equipment_code: str
    tag: str | None
    trip_condition: str
    action: str
    sil: int | None
    in_service: bool


class BypassCreate(BaseModel):
    """A bypass request: the interlock, why, the safety measures, and the window asked for."""

    interlock_code: PlainCode = Field(description="联锁编号")
    reason: Annotated[LongText, Field(min_length=1)] = Field(description="旁路原因")
    measures: LongText | None = Field(default=None, description="旁路期间安全措施")
    planned_start: AwareDatetime = Field(description="计划开始")
    planned_end: AwareDatetime = Field(description="计划结束 (批准的时间窗)")

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.planned_end <= self.planned_start:
            msg = "计划结束须晚于计划开始 / planned_end must be after planned_start"
            raise ValueError(msg)
        return self


class BypassUpdate(BaseModel):
    """What may change after the request: the reason and the measures; never the approved window."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[LongText, Field(min_length=1)] | None = None
    measures: LongText | None = None


class BypassRead(RegisterRead):
    """A bypass with its state and whether it ran past its approved window."""

    interlock_code: str
    reason: str
    measures: str | None
    planned_start: datetime
    planned_end: datetime
    state: BypassState
    requested_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    closed_by: str | None
    note: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def overrun(self) -> bool:
        """超期旁路: ran, or still runs, past the approved window (as of this response)."""
        return bypass_overrun(
            planned_end=self.planned_end, started_at=self.started_at, ended_at=self.ended_at, now=datetime.now(UTC)
        )


class BypassTransition(BaseModel):
    """A move of a bypass: the action and an optional comment (审批/恢复意见)."""

    model_config = ConfigDict(extra="forbid")

    action: BypassAction
    note: LongText | None = None


# --- work orders -----------------------------------------------------------------------------


class WorkOrderCreate(BaseModel):
    """A work order raised by hand; the number is generated when not given."""

    equipment_code: EquipmentCode
    title: Name = Field(description="标题")
    description: LongText | None = Field(default=None, description="故障/工作内容")
    priority: Priority = Field(default=Priority.NORMAL, description="优先级")
    due_on: date | None = Field(default=None, description="要求完成日期")
    number: Annotated[PlainCode, Field(description="工单号 (缺省自动生成)")] | None = None


class WorkOrderUpdate(BaseModel):
    """Fields to change; state, assignee and verifier only move through transitions."""

    model_config = ConfigDict(extra="forbid")

    title: Name | None = None
    description: LongText | None = None
    priority: Priority | None = None
    due_on: date | None = None
    result: LongText | None = None


class WorkOrderRead(RegisterRead):
    """A work order."""

    number: str
    equipment_code: str
    title: str
    description: str | None
    priority: Priority
    source: WorkOrderSource
    state: WorkOrderState
    assignee: str | None
    due_on: date | None
    result: str | None
    verified_by: str | None
    closed_at: datetime | None
    pdm_asset_id: str | None
    pdm_ts: int | None
    pdm_health: float | None
    pdm_rul_days: float | None
    pdm_failure_mode: str | None = None


class WorkOrderTransition(BaseModel):
    """A move of a work order; ``assign`` needs an assignee, ``complete`` may carry the result."""

    model_config = ConfigDict(extra="forbid")

    action: WorkOrderAction
    assignee: Str64 | None = Field(default=None, description="维修人 (派工时必填)")
    note: LongText | None = Field(default=None, description="处理结果/意见")

    @model_validator(mode="after")
    def _assignee_for_assign(self) -> Self:
        if self.action is WorkOrderAction.ASSIGN and not self.assignee:
            msg = "派工须指定维修人 / assign needs an assignee"
            raise ValueError(msg)
        return self


# --- one file per equipment ------------------------------------------------------------------


class EquipmentFile(BaseModel):
    """一台一档: an equipment with everything recorded about it and its components."""

    equipment: EquipmentRead
    path: list[EquipmentRead] = Field(description="上级节点 (厂区 → 装置 …)")
    components: list[EquipmentRead]
    inspections: list[InspectionRead]
    calibrations: list[CalibrationRead]
    replacements: list[ReplacementRead]
    lifecycle: list[LifecycleRead]
    work_orders: list[WorkOrderRead]
    spare_parts: list[SparePartRead]
    interlocks: list[InterlockRead]
    bypasses: list[BypassRead]
    attachments: list[AttachmentRead]
