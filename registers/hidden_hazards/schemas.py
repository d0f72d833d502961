"""Schemas of the hidden-hazard register and its workflow actions (enums from DOMAIN.md §4.1)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from registers.framework.schemas import LongText, RegisterRead, Str64, Str200

_INT32 = 2**31 - 1
OptionalId = Annotated[int, Field(ge=1, le=_INT32)] | None


class HazardLevel(StrEnum):
    """``dangerLevel``: 0 一般隐患, 1 重大隐患."""

    GENERAL = "一般隐患"
    MAJOR = "重大隐患"

    @property
    def code(self) -> int:
        """Exchange code."""
        return 0 if self is HazardLevel.GENERAL else 1


class Origin(StrEnum):
    """Where the hazard was found (the issue's 'from a task, an inspection, an alarm, a permit or by hand')."""

    CHECK_TASK = "排查任务"
    INSPECTION = "巡检"
    ALARM = "报警处置"
    PERMIT = "作业票"
    MANUAL = "随手拍"


class DangerSrc(StrEnum):
    """``dangerSrc`` 1–10."""

    DAILY = "日常排查"
    COMPREHENSIVE = "综合性排查"
    PROFESSIONAL = "专业性排查"
    SEASONAL = "季节性排查"
    HOLIDAY = "重点时段及节假日前排查"
    ACCIDENT_ANALOGY = "事故类比排查"
    RESUMPTION = "复产复工前排查"
    EXPERT = "外聘专家诊断式排查"
    MEASURE_FAILURE = "管控措施失效"
    OTHER = "其他"

    @property
    def code(self) -> int:
        """Exchange code 1–10."""
        return list(DangerSrc).index(self) + 1


class HazardType(StrEnum):
    """``hazardDangerType`` 1–8."""

    SAFETY = "安全"
    PROCESS = "工艺"
    ELECTRICAL = "电气"
    INSTRUMENT = "仪表"
    FIRE = "消防"
    LAYOUT = "总图"
    EQUIPMENT = "设备"
    OTHER = "其他"

    @property
    def code(self) -> int:
        """Exchange code 1–8."""
        return list(HazardType).index(self) + 1


class ManagementClass(StrEnum):
    """``managementClassification`` 1–3."""

    PEOPLE = "人的不安全行为"
    THINGS = "物的不安全状态"
    MANAGEMENT = "管理上的缺陷"

    @property
    def code(self) -> int:
        """Exchange code 1–3."""
        return list(ManagementClass).index(self) + 1


class ManageType(StrEnum):
    """``dangerManageType``: 0 即查即改, 1 限期整改."""

    IMMEDIATE = "即查即改"
    DEADLINE = "限期整改"

    @property
    def code(self) -> int:
        """Exchange code."""
        return 0 if self is ManageType.IMMEDIATE else 1


HAZARD_LABELS: dict[str, str] = {
    "name": "隐患名称",
    "level": "隐患等级",
    "origin": "发现途径",
    "danger_src": "隐患来源",
    "hazard_type": "隐患类型",
    "management_class": "管理分类",
    "manage_type": "治理类型",
    "area": "区域",
    "hazard_code": "风险分析对象编码",
    "measure_id": "管控措施ID",
    "check_task_id": "排查任务ID",
    "inspection_task_id": "巡检任务ID",
    "inspection_point_id": "巡检点ID",
    "inspection_reading_id": "巡检记录ID",
    "alarm_id": "报警ID",
    "permit_no": "作业票编号",
    "description": "隐患描述",
    "reason": "产生原因",
    "control_measures": "治理措施",
    "cost": "治理资金（万元）",
    "liable_person": "整改责任人",
    "deadline": "治理期限",
    "state": "状态",
    "registrant": "登记人",
    "registered_at": "登记时间",
    "rectified_by": "整改完成人",
    "rectified_at": "整改完成时间",
    "rectify_note": "整改情况",
    "accepted_by": "验收人",
    "accepted_at": "验收时间",
    "accept_comment": "验收意见",
    "escalated_at": "逾期督办时间",
    "steps": "处理记录",
}


class HazardCreate(BaseModel):
    """Registration (登记) of a hidden hazard; the state starts at 整改中 and moves only by the workflow."""

    name: Str200 = Field(min_length=1)
    level: HazardLevel = HazardLevel.GENERAL
    origin: Origin = Origin.MANUAL
    danger_src: DangerSrc = DangerSrc.DAILY
    hazard_type: HazardType = HazardType.SAFETY
    management_class: ManagementClass | None = None
    manage_type: ManageType = ManageType.DEADLINE
    area: Str64 | None = None
    hazard_code: Str64 | None = None
    measure_id: OptionalId = None
    check_task_id: OptionalId = None
    inspection_task_id: OptionalId = None
    inspection_point_id: OptionalId = None
    inspection_reading_id: OptionalId = None
    alarm_id: Str64 | None = None
    permit_no: Str64 | None = None
    description: LongText | None = None
    reason: LongText | None = None
    control_measures: LongText | None = None
    cost: float | None = Field(default=None, ge=0, le=1_000_000, description="万元")
    liable_person: Str64 = Field(min_length=1)
    deadline: date


class HazardUpdate(BaseModel):
    """Fields that may change while the hazard is open; never the state or acceptance."""

    name: Str200 | None = Field(default=None, min_length=1)
    level: HazardLevel | None = None
    hazard_type: HazardType | None = None
    management_class: ManagementClass | None = None
    manage_type: ManageType | None = None
    area: Str64 | None = None
    description: LongText | None = None
    reason: LongText | None = None
    control_measures: LongText | None = None
    cost: float | None = Field(default=None, ge=0, le=1_000_000)
    liable_person: Str64 | None = Field(default=None, min_length=1)
    deadline: date | None = None


class HazardRead(RegisterRead, HazardCreate):
    """A hazard as the API shows it, with its state and acceptance."""

    state: str
    registrant: str | None = None
    registered_at: datetime | None = None
    rectified_by: str | None = None
    rectified_at: datetime | None = None
    rectify_note: str | None = None
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    accept_comment: str | None = None
    escalated_at: datetime | None = None
    steps: list[dict[str, str]] = []


class SubmitIn(BaseModel):
    """整改完成, submitted for acceptance."""

    note: LongText = Field(min_length=1, description="整改情况")


class AcceptIn(BaseModel):
    """验收意见."""

    comment: LongText = Field(min_length=1, description="验收意见")
