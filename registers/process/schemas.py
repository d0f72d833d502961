"""Pydantic schemas of the production process register (生产过程基础信息): ``XCreate / XUpdate / XRead``."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from registers.framework.schemas import LongText, RegisterRead, Str32, Str64, Str200

Name = Annotated[Str64, Field(min_length=1)]
CasStr = Annotated[str, Field(min_length=5, max_length=32, pattern=r"^\d{2,7}-\d{2}-\d$")]
Limit = Annotated[float | None, Field(default=None, ge=-1e9, le=1e9)]


class ShutdownKind(StrEnum):
    """Kind of a start-up / shut-down record."""

    STARTUP = "startup"  # 开车
    SHUTDOWN = "shutdown"  # 停车
    EMERGENCY_SHUTDOWN = "emergency_shutdown"  # 紧急停车

    @property
    def label(self) -> str:
        """开车 / 停车 / 紧急停车."""
        return {"startup": "开车", "shutdown": "停车", "emergency_shutdown": "紧急停车"}[self.value]


class KeyParameter(BaseModel):
    """A key monitored parameter (重点监控工艺参数) of a hazardous process, tied to a plant tag."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    tag: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        description="位号, e.g. TT-401"
    )
    name: Name = Field(description="参数名称")
    unit: Str32 = Field(default="", description="单位")
    ll: Limit = None
    l: Limit = None  # noqa: E741 - the instrument engineers' name for the low limit
    h: Limit = None
    hh: Limit = None

    @model_validator(mode="after")
    def _ordered(self) -> KeyParameter:
        present = [(n, v) for n, v in (("ll", self.ll), ("l", self.l), ("h", self.h), ("hh", self.hh)) if v is not None]
        for (n1, v1), (n2, v2) in zip(present, present[1:], strict=False):
            if v1 >= v2:
                msg = (
                    f"报警限值须满足 ll < l < h < hh / limits must satisfy ll < l < h < hh, but {n1}={v1} >= {n2}={v2}"
                )
                raise ValueError(msg)
        return self


def _parse_json_list(value: Any) -> Any:
    """Accept a JSON list as text too (an Excel cell holds text)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            msg = "应为JSON列表 / must be a JSON list"
            raise ValueError(msg) from err
    return value


KeyParameters = Annotated[list[KeyParameter], BeforeValidator(_parse_json_list), Field(max_length=50)]


class HazardousProcessCreate(BaseModel):
    """A hazardous process with its key parameters and safety controls."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Name = Field(description="工艺名称")
    reaction_type: Name = Field(description="反应类型")
    hazard_source_code: Str32 | None = Field(default=None, description="所属重大危险源编号")
    equipment: Str64 = Field(default="", description="关键设备")
    key_parameters: KeyParameters = Field(default_factory=list, description="重点监控工艺参数")
    safety_controls: LongText = Field(default="", description="安全控制措施")
    control_mode: Annotated[Str200, Field(max_length=128)] = Field(default="", description="控制方式")


class HazardousProcessUpdate(BaseModel):
    """Fields of a hazardous process to change."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Name | None = None
    reaction_type: Name | None = None
    hazard_source_code: Str32 | None = None
    equipment: Str64 | None = None
    key_parameters: KeyParameters | None = None
    safety_controls: LongText | None = None
    control_mode: Annotated[Str200, Field(max_length=128)] | None = None


class HazardousProcessRead(RegisterRead):
    """A hazardous process as the API shows it."""

    name: str
    reaction_type: str
    hazard_source_code: str | None
    equipment: str
    key_parameters: list[KeyParameter]
    safety_controls: str
    control_mode: str


Concentration = Annotated[float | None, Field(default=None, ge=0, le=1e6)]
Percent = Annotated[float | None, Field(default=None, ge=0, le=100)]
Temperature = Annotated[float | None, Field(default=None, ge=-273.15, le=5000)]


class ChemicalCreate(BaseModel):
    """A chemical with its MSDS data (化学品安全技术说明书)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Annotated[Str200, Field(min_length=1)] = Field(description="化学品名称")
    cas: CasStr = Field(description="CAS号")
    un_number: Annotated[str, Field(pattern=r"^(UN)?\d{4}$")] | None = Field(default=None, description="UN号")
    hazard_classes: LongText = Field(default="", description="危险性类别")
    gb18218_categories: Str64 = Field(default="", description="GB 18218 类别")
    mac_mg_m3: Concentration = None
    pc_twa_mg_m3: Concentration = None
    pc_stel_mg_m3: Concentration = None
    flash_point_c: Temperature = None
    lel_pct: Percent = None
    uel_pct: Percent = None
    physical_state: Str32 = Field(default="", description="物态")
    is_highly_toxic: bool = Field(default=False, description="剧毒化学品")
    emergency_measures: LongText = Field(default="", description="应急处置措施")

    @model_validator(mode="after")
    def _explosion_limits(self) -> ChemicalCreate:
        if self.lel_pct is not None and self.uel_pct is not None and self.lel_pct >= self.uel_pct:
            msg = f"爆炸下限须小于爆炸上限 / LEL {self.lel_pct} must be below UEL {self.uel_pct}"
            raise ValueError(msg)
        return self


class ChemicalUpdate(BaseModel):
    """Fields of a chemical to change."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Annotated[Str200, Field(min_length=1)] | None = None
    cas: CasStr | None = None
    un_number: Annotated[str, Field(pattern=r"^(UN)?\d{4}$")] | None = None
    hazard_classes: LongText | None = None
    gb18218_categories: Str64 | None = None
    mac_mg_m3: Concentration = None
    pc_twa_mg_m3: Concentration = None
    pc_stel_mg_m3: Concentration = None
    flash_point_c: Temperature = None
    lel_pct: Percent = None
    uel_pct: Percent = None
    physical_state: Str32 | None = None
    is_highly_toxic: bool | None = None
    emergency_measures: LongText | None = None


class ChemicalRead(RegisterRead):
    """A chemical as the API shows it."""

    name: str
    cas: str
    un_number: str | None
    hazard_classes: str
    gb18218_categories: str
    mac_mg_m3: float | None
    pc_twa_mg_m3: float | None
    pc_stel_mg_m3: float | None
    flash_point_c: float | None
    lel_pct: float | None
    uel_pct: float | None
    physical_state: str
    is_highly_toxic: bool
    emergency_measures: str


class StartupShutdownCreate(BaseModel):
    """A start-up or shut-down of a unit (开停车记录)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    unit: Name = Field(description="装置/单元")
    process: Str64 | None = Field(default=None, description="涉及的危险工艺")
    equipment: Str64 = Field(default="", description="主要设备")
    kind: ShutdownKind = Field(description="类型")
    started_at: datetime = Field(description="开始时间 (带时区)")
    finished_at: datetime | None = Field(default=None, description="完成时间 (带时区)")
    reason: LongText = Field(default="", description="原因")
    checklist_confirmed: bool = Field(default=False, description="开停车条件确认")
    approved_by: Str64 | None = Field(default=None, description="批准人")
    operator: Str64 | None = Field(default=None, description="操作人")
    notes: LongText = Field(default="", description="备注")

    @model_validator(mode="after")
    def _times(self) -> StartupShutdownCreate:
        for name in ("started_at", "finished_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                msg = f"{name} 须带时区 / {name} must carry a time zone, e.g. 2026-11-28T08:00:00+08:00"
                raise ValueError(msg)
        if self.finished_at is not None and self.finished_at < self.started_at:
            msg = "完成时间不能早于开始时间 / finished_at must not be before started_at"
            raise ValueError(msg)
        return self


class StartupShutdownUpdate(BaseModel):
    """Fields of a start-up / shut-down record to change."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    unit: Name | None = None
    process: Str64 | None = None
    equipment: Str64 | None = None
    kind: ShutdownKind | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reason: LongText | None = None
    checklist_confirmed: bool | None = None
    approved_by: Str64 | None = None
    operator: Str64 | None = None
    notes: LongText | None = None

    @model_validator(mode="after")
    def _aware(self) -> StartupShutdownUpdate:
        for name in ("started_at", "finished_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                msg = f"{name} 须带时区 / {name} must carry a time zone"
                raise ValueError(msg)
        return self


class StartupShutdownRead(RegisterRead):
    """A start-up / shut-down record as the API shows it."""

    unit: str
    process: str | None
    equipment: str
    kind: ShutdownKind
    started_at: datetime
    finished_at: datetime | None
    reason: str
    checklist_confirmed: bool
    approved_by: str | None
    operator: str | None
    notes: str
