"""Schemas of the dual-prevention registers, the task actions and the read-outs (map, health)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.investigation_schedule import CycleUnit, WorkDayType
from models.risk_grading import GradingMethod
from registers.framework.schemas import LocalTime, LongText, RegisterRead, Str32, Str64, Str200
from registers.hidden_hazards.schemas import HazardLevel

_INT32 = 2**31 - 1
RefId = Annotated[int, Field(ge=1, le=_INT32)]
Factor = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class ObjectKind(StrEnum):
    """风险分析对象类型."""

    MAJOR_HAZARD = "重大危险源"
    OTHER = "其他风险分析对象"


class Classify1(StrEnum):
    """``classify1`` of a control measure (DOMAIN.md §4.1)."""

    ENGINEERING = "工程技术"
    MAINTENANCE = "维护保养"
    OPERATION = "操作行为"
    EMERGENCY = "应急措施"


class DataSrc(StrEnum):
    """``dataSrc`` 管控方式: 1 自动化监控, 2 隐患排查."""

    MONITORING = "自动化监控"
    INVESTIGATION = "隐患排查"

    @property
    def code(self) -> int:
        """Exchange code."""
        return 1 if self is DataSrc.MONITORING else 2


class CheckMeans(StrEnum):
    """``checkMeans``: 0 现场确认, 1 拍照."""

    ON_SITE = "现场确认"
    PHOTO = "拍照"


class CheckStatus(StrEnum):
    """``checkStatus`` of a check record: 0 正常, 1 存在隐患, 2 未排查, 3 其他."""

    NORMAL = "正常"
    HAZARD = "存在隐患"
    NOT_CHECKED = "未排查"
    OTHER = "其他"

    @property
    def code(self) -> int:
        """Exchange code 0–3."""
        return list(CheckStatus).index(self)


OBJECT_LABELS = {
    "code": "风险分析对象编码",
    "name": "名称",
    "kind": "类型",
    "area": "区域",
    "department": "责任部门",
    "liable_person": "责任人",
}
UNIT_LABELS = {
    "object_id": "风险分析对象ID",
    "name": "单元名称",
    "area": "区域",
    "department": "责任部门",
    "liable_person": "责任人",
    "risk_level": "风险等级",
    "colour": "四色",
}
EVENT_LABELS = {
    "unit_id": "风险分析单元ID",
    "name": "风险事件名称",
    "method": "评价方法",
    "likelihood": "L 可能性",
    "exposure": "E 暴露频繁程度",
    "consequence": "C 后果",
    "severity": "S 严重性",
    "score": "风险值",
    "risk_level": "风险等级",
    "colour": "四色",
    "management_level": "管控层级",
    "table_version": "分级表版本",
}
MEASURE_LABELS = {
    "event_id": "风险事件ID",
    "classify1": "管控措施分类1",
    "classify2": "管控措施分类2",
    "classify3": "管控措施分类3",
    "description": "管控措施描述",
    "data_src": "管控方式",
    "troubleshoot_content": "隐患排查内容",
}
SCHEDULE_LABELS = {
    "measure_id": "管控措施ID",
    "content": "排查内容",
    "cycle": "排查周期",
    "cycle_unit": "周期单位",
    "anchor": "开始时间",
    "work_start": "每日开始时间",
    "work_end": "每日结束时间",
    "day_type": "工作日类型",
    "post": "岗位",
    "assignee": "排查人",
    "is_defend": "包保责任人任务",
    "check_means": "排查手段",
    "active": "启用",
}


class RiskObjectCreate(BaseModel):
    """风险分析对象."""

    code: Str64 = Field(min_length=1)
    name: Str200 = Field(min_length=1)
    kind: ObjectKind = ObjectKind.OTHER
    area: Str64 | None = None
    department: Str200 | None = None
    liable_person: Str64 | None = None


class RiskObjectUpdate(BaseModel):
    """Fields to change."""

    code: Str64 | None = Field(default=None, min_length=1)
    name: Str200 | None = Field(default=None, min_length=1)
    kind: ObjectKind | None = None
    area: Str64 | None = None
    department: Str200 | None = None
    liable_person: Str64 | None = None


class RiskObjectRead(RegisterRead, RiskObjectCreate):
    """A risk analysis object."""


class RiskUnitCreate(BaseModel):
    """安全风险分析单元; its level comes from its events."""

    object_id: RefId
    name: Str200 = Field(min_length=1)
    area: Str64 | None = None
    department: Str200 | None = None
    liable_person: Str64 | None = None


class RiskUnitUpdate(BaseModel):
    """Fields to change."""

    object_id: RefId | None = None
    name: Str200 | None = Field(default=None, min_length=1)
    area: Str64 | None = None
    department: Str200 | None = None
    liable_person: Str64 | None = None


class RiskUnitRead(RegisterRead, RiskUnitCreate):
    """A unit with the level of its worst event."""

    risk_level: str | None = None
    colour: str | None = None


class RiskEventCreate(BaseModel):
    """安全风险事件 with its grading factors (LEC: L, E, C; LS: L, S)."""

    unit_id: RefId
    name: Str200 = Field(min_length=1)
    method: GradingMethod = GradingMethod.LEC
    likelihood: Factor
    exposure: Factor | None = None
    consequence: Factor | None = None
    severity: Factor | None = None


class RiskEventUpdate(BaseModel):
    """Fields to change; the grade is recomputed."""

    unit_id: RefId | None = None
    name: Str200 | None = Field(default=None, min_length=1)
    method: GradingMethod | None = None
    likelihood: Factor | None = None
    exposure: Factor | None = None
    consequence: Factor | None = None
    severity: Factor | None = None


class RiskEventRead(RegisterRead, RiskEventCreate):
    """An event with its grade."""

    score: float | None = None
    risk_level: str | None = None
    colour: str | None = None
    management_level: str | None = None
    table_version: str | None = None


class MeasureCreate(BaseModel):
    """安全风险管控措施."""

    event_id: RefId
    classify1: Classify1
    classify2: Str32 | None = None
    classify3: Str200 | None = None
    description: LongText = Field(min_length=1)
    data_src: DataSrc = DataSrc.INVESTIGATION
    troubleshoot_content: LongText | None = None


class MeasureUpdate(BaseModel):
    """Fields to change."""

    event_id: RefId | None = None
    classify1: Classify1 | None = None
    classify2: Str32 | None = None
    classify3: Str200 | None = None
    description: LongText | None = Field(default=None, min_length=1)
    data_src: DataSrc | None = None
    troubleshoot_content: LongText | None = None


class MeasureRead(RegisterRead, MeasureCreate):
    """A control measure."""


class ScheduleCreate(BaseModel):
    """隐患排查任务: what to check, how often, by whom."""

    measure_id: RefId
    content: LongText = Field(min_length=1)
    cycle: int = Field(ge=1, le=999)
    cycle_unit: CycleUnit
    anchor: AwareDatetime
    work_start: LocalTime
    work_end: LocalTime
    day_type: WorkDayType = WorkDayType.EVERY_DAY
    post: Str64 | None = None
    assignee: Str64 = Field(min_length=1)
    is_defend: bool = False
    check_means: CheckMeans = CheckMeans.ON_SITE
    active: bool = True


class ScheduleUpdate(BaseModel):
    """Fields to change (tasks already generated stay as they were)."""

    content: LongText | None = Field(default=None, min_length=1)
    cycle: int | None = Field(default=None, ge=1, le=999)
    cycle_unit: CycleUnit | None = None
    anchor: AwareDatetime | None = None
    work_start: LocalTime | None = None
    work_end: LocalTime | None = None
    day_type: WorkDayType | None = None
    post: Str64 | None = None
    assignee: Str64 | None = Field(default=None, min_length=1)
    is_defend: bool | None = None
    check_means: CheckMeans | None = None
    active: bool | None = None


class ScheduleRead(RegisterRead, ScheduleCreate):
    """A check schedule."""

    anchor: datetime


class CheckTaskRead(BaseModel):
    """A generated investigation task with its check record."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    schedule_id: int
    slot_start: datetime
    slot_end: datetime
    assignee: str
    area: str | None = None
    unit_id: int | None = None
    state: str
    check_status: int | None = None
    result: str | None = None
    device: str | None = None
    checked_at: datetime | None = None
    checked_by: str | None = None
    late: bool
    steps: list[dict[str, str]]


class CheckTaskPage(BaseModel):
    """One page of tasks."""

    items: list[CheckTaskRead]
    total: int


class TaskHazardIn(BaseModel):
    """A hidden hazard found by the task, registered with the check record (linked to the measure)."""

    name: Str200 = Field(min_length=1)
    level: HazardLevel = HazardLevel.GENERAL
    description: LongText | None = None
    liable_person: Str64 = Field(min_length=1)
    deadline: date


class CompleteIn(BaseModel):
    """The check record (隐患排查记录) of a completed task, with the hazard found if any."""

    check_status: CheckStatus
    result: LongText | None = None
    device: Str64 | None = Field(default=None, description="排查设备 IMEI (mobileMe)")
    hazard: TaskHazardIn | None = None

    @model_validator(mode="after")
    def _hazard_needs_status(self) -> CompleteIn:
        if self.hazard is not None and self.check_status is not CheckStatus.HAZARD:
            msg = "登记隐患时排查结果须为「存在隐患」"
            raise ValueError(msg)
        return self


class GenerateIn(BaseModel):
    """Generate tasks whose slot starts before ``until`` (default: now)."""

    until: AwareDatetime | None = None


class GenerateRead(BaseModel):
    """How many tasks were added and how many went overdue."""

    created: int
    expired: int


class RiskMapEntry(BaseModel):
    """One unit on the four-colour map (风险四色图)."""

    unit_id: int
    unit_name: str
    area: str | None
    risk_level: str | None
    colour: str | None
    management_level: str | None
    liable_person: str | None


class UnitHealth(BaseModel):
    """Mechanism health of one unit: task completion, hazard closure, overdue."""

    unit_id: int | None
    unit_name: str
    tasks_due: int
    tasks_done: int
    completion_rate: float | None
    hazards: int
    hazards_closed: int
    closure_rate: float | None
    hazards_overdue: int


class HealthRead(BaseModel):
    """Mechanism health per unit and the warnings (机制运行预警)."""

    since: datetime
    until: datetime
    units: list[UnitHealth]
    warnings: list[str]
