"""The certificates table (证照与报告台账)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, Date, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime
from registers.framework.models import RegisterMixin


class CertificateKind(StrEnum):
    """Kinds of certificate or report; the values are the names people write in the ledger."""

    SAFETY_LICENCE = "安全生产许可证"
    HAZCHEM_REGISTRATION = "危险化学品登记证"
    STANDARDISATION = "安全生产标准化证书"
    SAFETY_EVALUATION = "安全评价报告"
    THREE_SIMULTANEITIES = "三同时资料"


class CertificateStatus(StrEnum):
    """Administrative state of the document (expiry is a date, not a status, so it never goes stale)."""

    VALID = "有效"
    RENEWING = "换证中"
    SUSPENDED = "暂扣"
    CANCELLED = "注销"


class Certificate(RegisterMixin, Base):
    """A certificate, licence or report held by the enterprise (证照与报告).

    ``missing_fields`` / ``is_complete`` are derived on every change by the completeness
    check (see ``registers.certificates.service.missing_key_fields``) so incomplete records
    can be listed with a plain filter.
    """

    __tablename__ = "certificates"

    kind: Mapped[str] = mapped_column(String(32), index=True, comment="证照类型 (CertificateKind)")
    number: Mapped[str | None] = mapped_column(String(64), index=True, comment="证照编号")
    name: Mapped[str | None] = mapped_column(String(200), comment="证照/报告名称")
    holder: Mapped[str | None] = mapped_column(String(200), comment="持证单位")
    issuer: Mapped[str | None] = mapped_column(String(200), comment="发证机关 / 编制机构")
    issue_date: Mapped[date | None] = mapped_column(Date, comment="发证/出具日期")
    expiry_date: Mapped[date | None] = mapped_column(Date, index=True, comment="有效期至")
    scope: Mapped[str | None] = mapped_column(Text, comment="许可范围 / 登记品种 / 评价范围")
    grade: Mapped[str | None] = mapped_column(String(32), comment="等级 (标准化)")
    project: Mapped[str | None] = mapped_column(String(200), comment="建设项目 (三同时/评价)")
    stage: Mapped[str | None] = mapped_column(String(32), comment="阶段: 预评价/设计专篇/竣工验收")
    status: Mapped[str] = mapped_column(String(16), default=CertificateStatus.VALID, comment="状态")
    responsible_person: Mapped[str | None] = mapped_column(String(64), comment="负责人")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")
    missing_fields: Mapped[list[str]] = mapped_column(JSON, default=list, comment="缺失的关键字段")
    is_complete: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    approved_by: Mapped[str | None] = mapped_column(String(64), default=None, comment="审核人")
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="审核时间")
