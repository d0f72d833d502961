"""Schemas of the people register: ``Person*`` and ``PersonCertificate*`` families, compliance results."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from models.compliance import CertificateKind, Education, EngineerGrade
from registers.framework.schemas import LocalTime, LongText, RegisterRead, Str32, Str64, Str200
from registers.people.models import PersonCategory, PersonStatus

PERSON_LABELS: dict[str, str] = {
    "code": "人员编号",
    "name": "姓名",
    "category": "人员类别",
    "employer": "所属单位",
    "contractor_id": "承包商ID",
    "department": "部门",
    "position": "岗位",
    "phone": "电话",
    "full_time_safety": "专职安全管理人员",
    "principal": "主要负责人",
    "key_manager": "分管负责人",
    "education": "学历",
    "related_major": "化学/化工/安全相关专业",
    "chem_title": "化工类中级及以上职称",
    "chem_technician": "化工安全工种技师及以上",
    "special_operation": "特种作业类别",
    "hired_on": "入职日期",
    "visit_until": "准入截止",
    "status": "状态",
    "remarks": "备注",
}

CERTIFICATE_LABELS: dict[str, str] = {
    "person_id": "人员ID",
    "kind": "证书类型",
    "category": "类别",
    "grade": "级别",
    "number": "证书编号",
    "issuer": "发证机关",
    "issue_date": "发证日期",
    "expiry_date": "有效期至",
    "review_due": "复审日期",
    "remarks": "备注",
}

_INT32 = 2**31 - 1


class PersonCreate(BaseModel):
    """A new person as entered or imported (ledger column order)."""

    code: Str32 = Field(min_length=1, description="人员编号 / 工号")
    name: Str64 = Field(min_length=1, description="姓名")
    category: PersonCategory = Field(default=PersonCategory.EMPLOYEE, description="人员类别")
    employer: Str200 | None = Field(default=None, description="所属单位")
    contractor_id: int | None = Field(default=None, ge=1, le=_INT32, description="承包商ID")
    department: Str64 | None = Field(default=None, description="部门 / 车间")
    position: Str64 | None = Field(default=None, description="岗位")
    phone: Str32 | None = Field(default=None, description="电话")
    full_time_safety: bool = Field(default=False, description="专职安全生产管理人员")
    principal: bool = Field(default=False, description="主要负责人")
    key_manager: bool = Field(default=False, description="分管负责人 (主管生产、设备、技术、安全)")
    education: Education | None = Field(default=None, description="学历")
    related_major: bool = Field(default=False, description="化学/化工/安全相关专业")
    chem_title: bool = Field(default=False, description="化工类中级及以上职称")
    chem_technician: bool = Field(default=False, description="化工安全工种技师及以上")
    special_operation: Str64 | None = Field(default=None, description="特种作业类别")
    hired_on: date | None = Field(default=None, description="入职 / 入场日期")
    visit_until: date | None = Field(default=None, description="准入截止")
    status: PersonStatus = Field(default=PersonStatus.ACTIVE, description="状态")
    remarks: LongText | None = Field(default=None, description="备注")


class PersonUpdate(BaseModel):
    """Fields to change; unset fields stay, ``null`` clears an optional one."""

    code: Str32 | None = Field(default=None, min_length=1)
    name: Str64 | None = Field(default=None, min_length=1)
    category: PersonCategory | None = None
    employer: Str200 | None = None
    contractor_id: int | None = Field(default=None, ge=1, le=_INT32)
    department: Str64 | None = None
    position: Str64 | None = None
    phone: Str32 | None = None
    full_time_safety: bool | None = None
    principal: bool | None = None
    key_manager: bool | None = None
    education: Education | None = None
    related_major: bool | None = None
    chem_title: bool | None = None
    chem_technician: bool | None = None
    special_operation: Str64 | None = None
    hired_on: date | None = None
    visit_until: date | None = None
    status: PersonStatus | None = None
    remarks: LongText | None = None


class PersonRead(RegisterRead):
    """A person as the API shows them."""

    code: str
    name: str
    category: PersonCategory
    employer: str | None
    contractor_id: int | None
    department: str | None
    position: str | None
    phone: str | None
    full_time_safety: bool
    principal: bool
    key_manager: bool
    education: Education | None
    related_major: bool
    chem_title: bool
    chem_technician: bool
    special_operation: str | None
    hired_on: date | None
    visit_until: date | None
    status: PersonStatus
    remarks: str | None


def _after_issue(value: date | None, info: ValidationInfo) -> date | None:
    issued = info.data.get("issue_date")
    if value is not None and issued is not None and value < issued:
        msg = "不能早于发证日期 / must not be before issue_date"
        raise ValueError(msg)
    return value


class PersonCertificateCreate(BaseModel):
    """A new personal certificate."""

    person_id: int = Field(ge=1, le=_INT32, description="人员ID")
    kind: CertificateKind = Field(description="证书类型")
    category: Str64 | None = Field(default=None, description="类别 (如 电工作业 / 化工安全)")
    grade: EngineerGrade | None = Field(default=None, description="级别 (注册安全工程师: 初级/中级/高级)")
    number: Str64 | None = Field(default=None, description="证书编号")
    issuer: Str200 | None = Field(default=None, description="发证机关")
    issue_date: date | None = Field(default=None, description="发证日期")
    expiry_date: date | None = Field(default=None, description="有效期至")
    review_due: date | None = Field(default=None, description="复审日期")
    remarks: LongText | None = Field(default=None, description="备注")

    _check_expiry = field_validator("expiry_date", "review_due")(_after_issue)


class PersonCertificateUpdate(BaseModel):
    """Fields to change on a certificate."""

    person_id: int | None = Field(default=None, ge=1, le=_INT32)
    kind: CertificateKind | None = None
    category: Str64 | None = None
    grade: EngineerGrade | None = None
    number: Str64 | None = None
    issuer: Str200 | None = None
    issue_date: date | None = None
    expiry_date: date | None = None
    review_due: date | None = None
    remarks: LongText | None = None

    _check_expiry = field_validator("expiry_date", "review_due")(_after_issue)


class PersonCertificateRead(RegisterRead):
    """A certificate as the API shows it."""

    person_id: int
    kind: CertificateKind
    category: str | None
    grade: EngineerGrade | None
    number: str | None
    issuer: str | None
    issue_date: date | None
    expiry_date: date | None
    review_due: date | None
    remarks: str | None


class RuleResultRead(BaseModel):
    """One compliance rule's verdict."""

    code: str
    title: str
    passed: bool
    actual: int
    required: int
    reason: str
    basis: str
    ruleset: str
    people: list[str]


class ComplianceRead(BaseModel):
    """The self-diagnosis: head count used, the day judged, and every rule's verdict."""

    employees: int
    on: date
    ruleset: str
    passed: bool
    rules: list[RuleResultRead]


class RosterLineRead(BaseModel):
    """A line of the alarm duty roster (值班表, kept by the notifications register)."""

    model_config = {"from_attributes": True}

    id: int
    person: str
    role: str
    area: str | None
    shift_start: LocalTime
    shift_end: LocalTime
    on_date: date | None
