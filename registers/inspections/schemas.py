"""Schemas of the inspection registers, the round actions and coverage statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.investigation_schedule import CycleUnit
from registers.framework.schemas import LocalTime, LongText, RegisterRead, Str32, Str64, Str200
from registers.hidden_hazards.schemas import HazardLevel

_INT32 = 2**31 - 1
RefId = Annotated[int, Field(ge=1, le=_INT32)]
Limit = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]
Code = Annotated[Str200, Field(min_length=1, max_length=128)]

POINT_LABELS = {
    "code": "点位编号",
    "name": "点位名称",
    "area": "区域",
    "equipment_code": "设备编码",
    "unit_id": "风险分析单元ID",
    "tag_code": "二维码/NFC标签",
}
ITEM_LABELS = {
    "point_id": "点位ID",
    "name": "检查项",
    "unit": "单位",
    "low": "下限",
    "high": "上限",
    "hazard_level": "超限隐患等级",
}
ROUTE_LABELS = {"name": "路线名称", "point_ids": "点位顺序", "minutes_per_point": "每点时限（分钟）"}
PLAN_LABELS = {
    "route_id": "路线ID",
    "name": "计划名称",
    "role": "岗位角色",
    "shift": "班次",
    "assignee": "巡检人",
    "cycle": "周期",
    "cycle_unit": "周期单位",
    "anchor": "开始时间",
    "work_start": "班次开始",
    "work_end": "班次结束",
    "active": "启用",
}


class PointCreate(BaseModel):
    """巡检点位."""

    code: Str64 = Field(min_length=1)
    name: Str200 = Field(min_length=1)
    area: Str64 | None = None
    equipment_code: Str64 | None = None
    unit_id: RefId | None = None
    tag_code: Code


class PointUpdate(BaseModel):
    """Fields to change."""

    code: Str64 | None = Field(default=None, min_length=1)
    name: Str200 | None = Field(default=None, min_length=1)
    area: Str64 | None = None
    equipment_code: Str64 | None = None
    unit_id: RefId | None = None
    tag_code: Code | None = None


class PointRead(RegisterRead, PointCreate):
    """A point."""


def _range_ok(low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        msg = "下限不能大于上限 / low must not exceed high"
        raise ValueError(msg)


class ItemCreate(BaseModel):
    """检查项 with its expected range (either bound may be open)."""

    point_id: RefId
    name: Str200 = Field(min_length=1)
    unit: Str32 | None = None
    low: Limit | None = None
    high: Limit | None = None
    hazard_level: HazardLevel = HazardLevel.GENERAL

    @model_validator(mode="after")
    def _range(self) -> ItemCreate:
        _range_ok(self.low, self.high)
        return self


class ItemUpdate(BaseModel):
    """Fields to change."""

    name: Str200 | None = Field(default=None, min_length=1)
    unit: Str32 | None = None
    low: Limit | None = None
    high: Limit | None = None
    hazard_level: HazardLevel | None = None


class ItemRead(RegisterRead):
    """A check item."""

    point_id: int
    name: str
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    hazard_level: HazardLevel


class RouteCreate(BaseModel):
    """巡检路线: the points in walking order."""

    name: Str200 = Field(min_length=1)
    point_ids: list[RefId] = Field(min_length=1, max_length=200)
    minutes_per_point: int = Field(default=10, ge=1, le=240)


class RouteUpdate(BaseModel):
    """Fields to change."""

    name: Str200 | None = Field(default=None, min_length=1)
    point_ids: list[RefId] | None = Field(default=None, min_length=1, max_length=200)
    minutes_per_point: int | None = Field(default=None, ge=1, le=240)


class RouteRead(RegisterRead, RouteCreate):
    """A route."""


class PlanCreate(BaseModel):
    """巡检计划: a route on a schedule for a role and shift."""

    route_id: RefId
    name: Str200 = Field(min_length=1)
    role: Str32 = Field(default="inspector", min_length=1)
    shift: Str32 | None = None
    assignee: Str64 = Field(min_length=1)
    cycle: int = Field(ge=1, le=999)
    cycle_unit: CycleUnit
    anchor: AwareDatetime
    work_start: LocalTime
    work_end: LocalTime
    active: bool = True


class PlanUpdate(BaseModel):
    """Fields to change."""

    name: Str200 | None = Field(default=None, min_length=1)
    role: Str32 | None = Field(default=None, min_length=1)
    shift: Str32 | None = None
    assignee: Str64 | None = Field(default=None, min_length=1)
    cycle: int | None = Field(default=None, ge=1, le=999)
    cycle_unit: CycleUnit | None = None
    anchor: AwareDatetime | None = None
    work_start: LocalTime | None = None
    work_end: LocalTime | None = None
    active: bool | None = None


class PlanRead(RegisterRead, PlanCreate):
    """A plan."""

    anchor: datetime


class RoundRead(BaseModel):
    """A round (巡检任务) as the phone shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: int
    route_id: int
    assignee: str
    slot_start: datetime
    slot_end: datetime
    state: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    missed_point_ids: list[int]
    late_point_ids: list[int]
    steps: list[dict[str, Any]]


class RoundPage(BaseModel):
    """One page of rounds."""

    items: list[RoundRead]
    total: int


class CheckInIn(BaseModel):
    """到位打卡: the code read from the point's QR code or NFC tag."""

    code: Code
    method: Str32 = Field(default="QR", pattern="^(QR|NFC)$")


class CheckInRead(BaseModel):
    """A check-in."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    point_id: int
    method: str
    at: datetime
    by: str
    late: bool


class ReadingIn(BaseModel):
    """One item's value at the point checked in."""

    item_id: RefId
    value: Limit
    note: LongText | None = None


class ReadingRead(BaseModel):
    """A reading, with the hazard it raised when out of range."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    point_id: int
    item_id: int
    value: float
    in_range: bool
    note: str | None = None
    at: datetime
    by: str
    hazard_id: int | None = None


class GenerateRoundsIn(BaseModel):
    """Generate rounds whose slot starts before ``until`` (default: now)."""

    until: AwareDatetime | None = None


class CoverageRead(BaseModel):
    """Coverage statistics (巡检覆盖率): points due, reached, missed, late, and readings out of range."""

    since: datetime
    until: datetime
    rounds: int
    rounds_missed: int
    points_due: int
    points_checked: int
    points_missed: int
    points_late: int
    coverage: float | None
    readings: int
    readings_out_of_range: int
