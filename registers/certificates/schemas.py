"""Schemas of certificates and reports: ``CertificateCreate / CertificateUpdate / CertificateRead``.

Only ``kind`` is required: a ledger is often entered before every field is known, and the
completeness check says what is still missing instead of refusing the record.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationInfo, computed_field, field_validator

from registers.certificates.models import CertificateKind, CertificateStatus
from registers.framework.schemas import LongText, RegisterRead, Str32, Str64, Str200

LABELS: dict[str, str] = {
    "kind": "证照类型",
    "number": "证照编号",
    "name": "证照名称",
    "holder": "持证单位",
    "issuer": "发证机关",
    "issue_date": "发证日期",
    "expiry_date": "有效期至",
    "scope": "许可范围",
    "grade": "等级",
    "project": "建设项目",
    "stage": "阶段",
    "status": "状态",
    "responsible_person": "负责人",
    "remarks": "备注",
    "missing_fields": "缺失字段",
    "is_complete": "资料完整",
    "approved_by": "审核人",
    "approved_at": "审核时间",
    "days_to_expiry": "剩余天数",
    "expiry_label": "到期状态",
}

# A document is flagged 即将到期 from the first expiry reminder on (service.EXPIRY_LEAD_DAYS[0]):
# a licence renewal takes months, so the ledger must show it as soon as the reminder fires.
EXPIRING_WITHIN_DAYS = 90
_PLANT_TZ = ZoneInfo("Asia/Shanghai")  # a Chinese licence lapses on a Chinese date


def _check_dates(issue: date | None, expiry: date | None) -> None:
    if issue is not None and expiry is not None and expiry < issue:
        msg = "有效期至不能早于发证日期 / expiry_date is before issue_date"
        raise ValueError(msg)


class CertificateCreate(BaseModel):
    """A new certificate or report as entered or imported (fields in ledger column order)."""

    kind: CertificateKind = Field(description="证照类型")
    number: Str64 | None = Field(default=None, description="证照编号")
    name: Str200 | None = Field(default=None, description="证照/报告名称")
    holder: Str200 | None = Field(default=None, description="持证单位")
    issuer: Str200 | None = Field(default=None, description="发证机关 / 编制机构")
    issue_date: date | None = Field(default=None, description="发证日期")
    expiry_date: date | None = Field(default=None, description="有效期至")
    scope: LongText | None = Field(default=None, description="许可范围 / 登记品种 / 评价范围")
    grade: Str32 | None = Field(default=None, description="等级 (标准化: 一级/二级/三级)")
    project: Str200 | None = Field(default=None, description="建设项目")
    stage: Str32 | None = Field(default=None, description="阶段 (三同时: 预评价/设计专篇/竣工验收)")
    status: CertificateStatus = Field(default=CertificateStatus.VALID, description="状态")
    responsible_person: Str64 | None = Field(default=None, description="负责人")
    remarks: LongText | None = Field(default=None, description="备注")

    @field_validator("expiry_date")
    @classmethod
    def _expiry_after_issue(cls, value: date | None, info: ValidationInfo) -> date | None:
        # a field validator (not a model validator) so an import error names the 有效期至 column
        _check_dates(info.data.get("issue_date"), value)
        return value


class CertificateUpdate(BaseModel):
    """Fields to change; unset fields stay as they are, ``null`` clears an optional field."""

    kind: CertificateKind | None = None
    number: Str64 | None = None
    name: Str200 | None = None
    holder: Str200 | None = None
    issuer: Str200 | None = None
    issue_date: date | None = None
    expiry_date: date | None = None
    scope: LongText | None = None
    grade: Str32 | None = None
    project: Str200 | None = None
    stage: Str32 | None = None
    status: CertificateStatus | None = None
    responsible_person: Str64 | None = None
    remarks: LongText | None = None

    @field_validator("expiry_date")
    @classmethod
    def _expiry_after_issue(cls, value: date | None, info: ValidationInfo) -> date | None:
        # a field validator (not a model validator) so an import error names the 有效期至 column
        _check_dates(info.data.get("issue_date"), value)
        return value


class CertificateRead(RegisterRead):
    """A certificate as the API shows it, with the completeness check's verdict."""

    kind: CertificateKind
    number: str | None
    name: str | None
    holder: str | None
    issuer: str | None
    issue_date: date | None
    expiry_date: date | None
    scope: str | None
    grade: str | None
    project: str | None
    stage: str | None
    status: CertificateStatus
    responsible_person: str | None
    remarks: str | None
    missing_fields: list[str]
    is_complete: bool
    approved_by: str | None
    approved_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def days_to_expiry(self) -> int | None:
        """Days from today (Asia/Shanghai) to 有效期至; negative once lapsed, None without a date."""
        if self.expiry_date is None:
            return None
        return (self.expiry_date - datetime.now(_PLANT_TZ).date()).days  # 0.35 µs; via UTC 0.86

    @computed_field  # type: ignore[prop-decorator]
    @property
    def expiry_label(self) -> str | None:
        """已过期 / 即将到期 (within 90 days) / 有效; None for a cancelled document or one without expiry."""
        days = self.days_to_expiry
        if days is None or self.status is CertificateStatus.CANCELLED:
            return None
        if days < 0:
            return "已过期"
        return "即将到期" if days <= EXPIRING_WITHIN_DAYS else "有效"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def missing_labels(self) -> list[str]:
        """The missing key fields in Chinese, for the ledger screen (e.g. ["有效期至"])."""
        return [LABELS.get(f, f) for f in self.missing_fields]
