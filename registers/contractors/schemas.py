"""Schemas of the contractor registers and their workflow actions."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from registers.contractors.models import DocumentKind, Severity, ViolationKind
from registers.contractors.workflow import ContractorStatus
from registers.framework.schemas import LongText, RegisterRead, Str32, Str64, Str200
from registers.people.schemas import PersonRead


def normalise_credit_code(value: Any) -> Any:
    """统一社会信用代码 as compared: no spaces, upper case (so 91440300ma… and 91440300MA… are one code)."""
    if isinstance(value, str):
        return re.sub(r"\s+", "", value).upper()
    return value


CreditCode = Annotated[Str32, BeforeValidator(normalise_credit_code)]

_INT32 = 2**31 - 1
ContractorId = Field(ge=1, le=_INT32, description="承包商ID")

CONTRACTOR_LABELS: dict[str, str] = {
    "credit_code": "统一社会信用代码",
    "name": "单位名称",
    "legal_representative": "法定代表人",
    "contact_person": "联系人",
    "phone": "联系电话",
    "scope": "承包范围",
    "qualification_level": "资质等级",
    "admission_valid_until": "准入有效期至",
    "remarks": "备注",
    "status": "状态",
    "blacklist_reason": "黑名单原因",
    "blacklisted_at": "列入黑名单时间",
    "last_score": "最近评价得分",
    "last_grade": "最近评价等级",
}
DOCUMENT_LABELS = {
    "contractor_id": "承包商ID",
    "kind": "文件类型",
    "number": "编号",
    "title": "名称",
    "issuer": "发证机关/签订方",
    "signed_on": "签订日期",
    "expiry_date": "有效期至",
    "remarks": "备注",
}
TOOL_LABELS = {
    "contractor_id": "承包商ID",
    "name": "名称",
    "model": "型号",
    "number": "编号",
    "inspection_due": "下次检验日期",
    "remarks": "备注",
}
VIOLATION_LABELS = {
    "contractor_id": "承包商ID",
    "kind": "类型",
    "occurred_on": "发生日期",
    "person_name": "当事人",
    "severity": "严重程度",
    "description": "经过",
    "penalty_points": "扣分",
}


class ContractorCreate(BaseModel):
    """A contractor applying for admission (status starts at 申请中)."""

    credit_code: CreditCode = Field(min_length=1, description="统一社会信用代码")
    name: Str200 = Field(min_length=1, description="单位名称")
    legal_representative: Str64 | None = Field(default=None, description="法定代表人")
    contact_person: Str64 | None = Field(default=None, description="联系人")
    phone: Str32 | None = Field(default=None, description="联系电话")
    scope: LongText | None = Field(default=None, description="承包范围")
    qualification_level: Str64 | None = Field(default=None, description="资质等级")
    admission_valid_until: date | None = Field(default=None, description="准入有效期至")
    remarks: LongText | None = Field(default=None, description="备注")


class ContractorUpdate(BaseModel):
    """Fields to change; the status changes only through the workflow actions."""

    credit_code: CreditCode | None = Field(default=None, min_length=1)
    name: Str200 | None = Field(default=None, min_length=1)
    legal_representative: Str64 | None = None
    contact_person: Str64 | None = None
    phone: Str32 | None = None
    scope: LongText | None = None
    qualification_level: Str64 | None = None
    admission_valid_until: date | None = None
    remarks: LongText | None = None


class ContractorRead(RegisterRead):
    """A contractor as the API shows it."""

    credit_code: str
    name: str
    legal_representative: str | None
    contact_person: str | None
    phone: str | None
    scope: str | None
    qualification_level: str | None
    admission_valid_until: date | None
    remarks: str | None
    status: ContractorStatus
    blacklist_reason: str | None
    blacklisted_at: datetime | None
    last_score: float | None
    last_grade: str | None


class DocumentCreate(BaseModel):
    """A document of a contractor's file."""

    contractor_id: int = ContractorId
    kind: DocumentKind = Field(description="文件类型")
    number: Str64 | None = None
    title: Str200 | None = None
    issuer: Str200 | None = None
    signed_on: date | None = None
    expiry_date: date | None = None
    remarks: LongText | None = None


class DocumentUpdate(BaseModel):
    """Fields to change on a document."""

    contractor_id: int | None = Field(default=None, ge=1, le=_INT32)
    kind: DocumentKind | None = None
    number: Str64 | None = None
    title: Str200 | None = None
    issuer: Str200 | None = None
    signed_on: date | None = None
    expiry_date: date | None = None
    remarks: LongText | None = None


class DocumentRead(RegisterRead):
    """A document as the API shows it."""

    contractor_id: int
    kind: DocumentKind
    number: str | None
    title: str | None
    issuer: str | None
    signed_on: date | None
    expiry_date: date | None
    remarks: str | None


class ToolCreate(BaseModel):
    """A tool or machine brought on site."""

    contractor_id: int = ContractorId
    name: Str200 = Field(min_length=1)
    model: Str64 | None = None
    number: Str64 | None = None
    inspection_due: date | None = None
    remarks: LongText | None = None


class ToolUpdate(BaseModel):
    """Fields to change on a tool."""

    contractor_id: int | None = Field(default=None, ge=1, le=_INT32)
    name: Str200 | None = Field(default=None, min_length=1)
    model: Str64 | None = None
    number: Str64 | None = None
    inspection_due: date | None = None
    remarks: LongText | None = None


class ToolRead(RegisterRead):
    """A tool as the API shows it."""

    contractor_id: int
    name: str
    model: str | None
    number: str | None
    inspection_due: date | None
    remarks: str | None


class ViolationCreate(BaseModel):
    """A violation or incident."""

    contractor_id: int = ContractorId
    kind: ViolationKind = Field(default=ViolationKind.VIOLATION)
    occurred_on: date
    person_name: Str64 | None = None
    severity: Severity = Field(default=Severity.MINOR)
    description: LongText = Field(min_length=1)
    penalty_points: int = Field(default=0, ge=0, le=100)


class ViolationUpdate(BaseModel):
    """Fields to change on a violation."""

    contractor_id: int | None = Field(default=None, ge=1, le=_INT32)
    kind: ViolationKind | None = None
    occurred_on: date | None = None
    person_name: Str64 | None = None
    severity: Severity | None = None
    description: LongText | None = Field(default=None, min_length=1)
    penalty_points: int | None = Field(default=None, ge=0, le=100)


class ViolationRead(RegisterRead):
    """A violation as the API shows it."""

    contractor_id: int
    kind: ViolationKind
    occurred_on: date
    person_name: str | None
    severity: Severity
    description: str
    penalty_points: int


class ReasonIn(BaseModel):
    """A reason for a workflow action (blacklist, reject, exit)."""

    reason: LongText = Field(min_length=1, description="原因")


class RenewIn(BaseModel):
    """Renewal (续期): the new admission validity."""

    valid_until: date = Field(description="准入有效期至")


class EvaluationIn(BaseModel):
    """Scores 0–100 per criterion (keys of ``registers.contractors.evaluation.CRITERIA``)."""

    period: Str32 = Field(min_length=1, description="评价周期, e.g. 2026Q4")
    scores: dict[Str32, float] = Field(description="评价项得分 0–100")


class EvaluationRead(BaseModel):
    """A stored evaluation."""

    model_config = {"from_attributes": True}

    id: int
    contractor_id: int
    period: str
    evaluated_on: date
    scores: dict[str, Any]
    total: float
    grade: str
    vetoed: str | None
    evaluator: str | None


class PermitCheckRead(BaseModel):
    """Whether a work permit may be issued to the contractor, and why not."""

    contractor_id: int
    allowed: bool
    reason: str


class ContractorFileRead(BaseModel):
    """一企一档: the contractor and everything filed under it."""

    contractor: ContractorRead
    allowed_events: list[str]
    documents: list[DocumentRead]
    tools: list[ToolRead]
    violations: list[ViolationRead]
    evaluations: list[EvaluationRead]
    people: list[PersonRead]
