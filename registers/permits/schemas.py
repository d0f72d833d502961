"""Request and response shapes of the permits register (bounded, so bad input is a 422, never a 500)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.permit_rules import GasKind, WorkType
from registers.framework.schemas import LongText, RegisterRead, Str32, Str64, Str200

__all__ = [
    "PERMIT_LABELS",
    "AcceptIn",
    "BriefIn",
    "GasAnalysisIn",
    "GasAnalysisRead",
    "JobPlanIn",
    "JobRead",
    "MeasureRead",
    "PermitCreate",
    "PermitFileRead",
    "PermitRead",
    "PermitUpdate",
    "ReadingIn",
    "ReasonIn",
    "SignIn",
    "StatisticsRead",
    "StepRead",
    "TicketIn",
]

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Coordinate = Annotated[float, Field(ge=-1_000_000, le=1_000_000, allow_inf_nan=False)]


class TicketIn(BaseModel):
    """One ticket of a planned job: its type and what that type's ticket asks (GB 30871 附录 A)."""

    model_config = ConfigDict(extra="forbid")

    work_type: WorkType
    grade: Str32 | None = Field(default=None, description="动火级别 特级/一级/二级; 高处、吊装按高度、质量计算")
    height_m: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)] | None = Field(
        default=None, description="作业高度 m"
    )
    mass_t: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)] | None = Field(
        default=None, description="吊物质量 t"
    )
    hot_work_method: Str64 | None = Field(default=None, description="动火方式")
    pipeline: Str64 | None = Field(default=None, description="管道名称/编号 (盲板抽堵)")
    plate_no: Str32 | None = Field(default=None, description="盲板编号 (一票一板)")
    blind_action: Literal["抽", "堵"] | None = Field(default=None, description="抽 / 堵 (一票一个动作)")
    medium: Str64 | None = Field(default=None, description="管道介质")
    medium_phase: Literal["气", "液"] | None = Field(default=None, description="介质相态")
    medium_flammable: bool = Field(default=False, description="介质易燃易爆")
    temperature_c: Annotated[float, Field(ge=-273, le=2000, allow_inf_nan=False)] | None = None
    pressure_mpa: Annotated[float, Field(ge=-0.1, le=1000, allow_inf_nan=False)] | None = None
    plate_spec: Str64 | None = Field(default=None, description="盲板材质/规格")
    power_source: Str200 | None = Field(default=None, description="电源接入点及许可用电功率")
    power_kw: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] | None = None
    voltage_v: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None
    road_reason: Str200 | None = Field(default=None, description="断路原因")
    excavation_scope: Str200 | None = Field(default=None, description="动土范围、方式")
    worker_ids: list[Id] | None = Field(default=None, max_length=50, description="本票作业人员 (缺省用任务的)")
    guardian_id: Id | None = Field(default=None, description="本票监护人 (缺省用任务的)")


class JobPlanIn(BaseModel):
    """A job planned once; each ticket in ``tickets`` becomes a linked permit (关联作业)."""

    model_config = ConfigDict(extra="forbid")

    title: Str200 = Field(min_length=1)
    content: LongText = Field(min_length=1, description="作业内容")
    area: Str64 | None = Field(default=None, description="作业区域 (装置/罐区)")
    location: Str200 | None = None
    x: Coordinate | None = None
    y: Coordinate | None = None
    planned_start: AwareDatetime
    planned_end: AwareDatetime
    applicant_unit: Str200 | None = None
    contractor_id: Id | None = None
    chemicals: list[Str64] = Field(default_factory=list, max_length=20, description="作业部位涉及的化学品名称")
    hazardous_area: bool = Field(default=False, description="火灾爆炸危险场所")
    oxygen_enriched: bool = Field(default=False, description="富氧环境")
    wind_level: Annotated[int, Field(ge=0, le=17)] | None = Field(default=None, description="风力等级")
    leader_id: Id | None = Field(default=None, description="作业负责人")
    guardian_id: Id = Field(description="监护人")
    worker_ids: list[Id] = Field(min_length=1, max_length=50, description="作业人员")
    tickets: list[TicketIn] = Field(min_length=1, max_length=8)


class PermitCreate(BaseModel):
    """The fields of a ticket as the register (list, export, filters) sees them."""

    number: Str32
    job_id: Id
    work_type: WorkType
    grade: Str32 = ""
    managed_grade: Str32 = ""
    status: Str32 = ""
    title: Str200
    area: Str64 | None = None
    location: Str200 | None = None
    planned_start: datetime
    planned_end: datetime
    valid_until: datetime
    contractor_name: Str200 | None = None
    guardian_id: Id
    pipeline: Str64 | None = None


class PermitUpdate(BaseModel):
    """Nothing of a ticket is edited in place (a change of content or scope means re-issuing)."""

    model_config = ConfigDict(extra="forbid")


class PermitRead(RegisterRead):
    """A ticket as the API returns it."""

    number: str
    job_id: int
    work_type: str
    grade: str
    managed_grade: str
    grade_reasons: list[str]
    rules_version: str
    status: str
    title: str
    content: str
    area: str | None
    location: str | None
    x: float | None
    y: float | None
    planned_start: datetime
    planned_end: datetime
    valid_until: datetime
    hazardous_area: bool
    oxygen_enriched: bool
    gas_required: bool
    contractor_id: int | None
    contractor_name: str | None
    leader_id: int | None
    guardian_id: int
    worker_ids: list[int]
    details: dict[str, Any]
    pipeline: str | None
    risks: list[str]
    linked_numbers: list[str]
    approval_step: int
    briefed_by: str | None
    briefed_at: datetime | None
    started_at: datetime | None
    suspended_at: datetime | None
    suspend_reason: str | None
    completed_at: datetime | None
    accepted_by: str | None
    accepted_at: datetime | None
    content_hash: str | None


class MeasureRead(BaseModel):
    """A safety measure and its confirmation."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int
    content: str
    involved: bool
    confirmed_by: str | None
    confirmed_at: datetime | None


class ReadingIn(BaseModel):
    """One indicator of a gas analysis."""

    model_config = ConfigDict(extra="forbid")

    kind: GasKind
    substance: Str64 = Field(min_length=1, description="代表性气体名称, e.g. 甲烷 / 氧气 / 硫化氢")
    value: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
    unit: Literal["%VOL", "%LEL", "mg/m3"]


class GasAnalysisIn(BaseModel):
    """A gas analysis as the analyst records it."""

    model_config = ConfigDict(extra="forbid")

    analyst: Str64 = Field(min_length=1)
    analyser: Str64 | None = Field(default=None, description="分析仪器编号")
    sampled_at: AwareDatetime
    point: Str200 = Field(min_length=1, description="采样分析部位")
    readings: list[ReadingIn] = Field(min_length=1, max_length=20)


class GasAnalysisRead(BaseModel):
    """A recorded analysis with its verdict."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    permit_id: int
    analyst: str
    analyser: str | None
    sampled_at: datetime
    point: str
    readings: list[dict[str, Any]]
    passed: bool
    reasons: list[str]
    source: str
    reminded_at: datetime | None


class StepRead(BaseModel):
    """One recorded step: who, when, where, and the signature of an approval."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    from_status: str
    to_status: str
    actor: str | None
    person_id: int | None
    at: datetime
    x: float | None
    y: float | None
    opinion: str | None
    signature: str | None


class SignIn(BaseModel):
    """An approver's signature on the current approval level."""

    model_config = ConfigDict(extra="forbid")

    approver_id: Id = Field(description="审批人 (人员ID)")
    opinion: LongText | None = None
    x: Coordinate | None = Field(default=None, description="签字时所在位置 x (人员定位)")
    y: Coordinate | None = None


class ReasonIn(BaseModel):
    """A reason (驳回, 中断, 作废)."""

    model_config = ConfigDict(extra="forbid")

    reason: LongText = Field(min_length=1)


class BriefIn(BaseModel):
    """Safety briefing (安全交底) and, optionally, which measures the briefer confirms now."""

    model_config = ConfigDict(extra="forbid")

    measure_ids: list[Id] | None = Field(default=None, max_length=100, description="确认的措施 (缺省: 全部)")


class AcceptIn(BaseModel):
    """Completion acceptance (完工验收)."""

    model_config = ConfigDict(extra="forbid")

    acceptor_id: Id = Field(description="验收人 (人员ID)")
    opinion: LongText | None = None


class PermitFileRead(BaseModel):
    """A ticket with everything recorded on it, and what may happen next."""

    permit: PermitRead
    measures: list[MeasureRead]
    analyses: list[GasAnalysisRead]
    steps: list[StepRead]
    allowed_events: list[str]
    approval_levels: list[str]
    next_approval: str | None
    gas_fresh_until: datetime | None


class JobRead(BaseModel):
    """A planned job and its linked tickets."""

    id: int
    title: str
    content: str
    area: str | None
    permits: list[PermitRead]


class StatisticsRead(BaseModel):
    """Counts of tickets by one dimension (type, grade, area, contractor, status)."""

    by: str
    counts: dict[str, int]
    total: int


PERMIT_LABELS: dict[str, str] = {
    "number": "作业证编号",
    "job_id": "作业任务",
    "work_type": "作业类型",
    "grade": "申请级别",
    "managed_grade": "管理级别",
    "status": "状态",
    "title": "作业名称",
    "area": "作业区域",
    "location": "作业位置",
    "planned_start": "计划开始时间",
    "planned_end": "计划结束时间",
    "valid_until": "有效期至",
    "contractor_name": "作业单位",
    "guardian_id": "监护人",
    "pipeline": "管道",
}
