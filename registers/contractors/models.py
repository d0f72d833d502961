"""Tables of the contractor register: the contractor, its documents, tools, violations and evaluations."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime
from registers.framework.models import RegisterMixin


class DocumentKind(StrEnum):
    """Documents in a contractor's file; the values are what the ledger says."""

    QUALIFICATION = "资质证书"
    SAFETY_LICENCE = "安全生产许可证"
    CONTRACT = "承包合同"
    SAFETY_AGREEMENT = "安全管理协议"
    INSURANCE = "保险"


class ViolationKind(StrEnum):
    """A rule broken on site (违章) or an incident (事故)."""

    VIOLATION = "违章"
    INCIDENT = "事故"


class Severity(StrEnum):
    """How bad: a fatal incident is a veto in the evaluation."""

    MINOR = "一般"
    SERIOUS = "较大"
    MAJOR = "重大"
    FATAL = "死亡"


class Contractor(RegisterMixin, Base):
    """A contractor (承包商) and where it stands: status, admission validity, blacklist, last score.

    ``status`` moves only through :mod:`registers.contractors.workflow`; it is not in the
    Create / Update schemas, so no PATCH or import can skip admission or lift a blacklist.
    """

    __tablename__ = "contractors"

    credit_code: Mapped[str] = mapped_column(String(32), index=True, comment="统一社会信用代码")
    name: Mapped[str] = mapped_column(String(200), comment="单位名称")
    legal_representative: Mapped[str | None] = mapped_column(String(64), comment="法定代表人")
    contact_person: Mapped[str | None] = mapped_column(String(64), comment="联系人")
    phone: Mapped[str | None] = mapped_column(String(32), comment="联系电话")
    scope: Mapped[str | None] = mapped_column(Text, comment="承包范围")
    qualification_level: Mapped[str | None] = mapped_column(String(64), comment="资质等级")
    admission_valid_until: Mapped[date | None] = mapped_column(Date, index=True, comment="准入有效期至")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")
    status: Mapped[str] = mapped_column(String(16), default="申请中", index=True, comment="状态 (workflow)")
    blacklist_reason: Mapped[str | None] = mapped_column(Text, default=None, comment="列入黑名单原因")
    blacklisted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="列入黑名单时间")
    last_score: Mapped[float | None] = mapped_column(Float, default=None, comment="最近评价得分")
    last_grade: Mapped[str | None] = mapped_column(String(16), default=None, comment="最近评价等级")


class ContractorDocument(RegisterMixin, Base):
    """A qualification, licence, contract, safety agreement or insurance in the contractor's file."""

    __tablename__ = "contractor_documents"

    contractor_id: Mapped[int] = mapped_column(Integer, ForeignKey("contractors.id"), index=True, comment="承包商ID")
    kind: Mapped[str] = mapped_column(String(16), index=True, comment="文件类型")
    number: Mapped[str | None] = mapped_column(String(64), comment="编号")
    title: Mapped[str | None] = mapped_column(String(200), comment="名称")
    issuer: Mapped[str | None] = mapped_column(String(200), comment="发证机关 / 签订方")
    signed_on: Mapped[date | None] = mapped_column(Date, comment="发证 / 签订日期")
    expiry_date: Mapped[date | None] = mapped_column(Date, index=True, comment="有效期至")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")


class ContractorTool(RegisterMixin, Base):
    """A tool or machine the contractor brings on site (机具), with its inspection date."""

    __tablename__ = "contractor_tools"

    contractor_id: Mapped[int] = mapped_column(Integer, ForeignKey("contractors.id"), index=True, comment="承包商ID")
    name: Mapped[str] = mapped_column(String(200), comment="名称")
    model: Mapped[str | None] = mapped_column(String(64), comment="型号")
    number: Mapped[str | None] = mapped_column(String(64), comment="编号")
    inspection_due: Mapped[date | None] = mapped_column(Date, index=True, comment="下次检验日期")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")


class ContractorViolation(RegisterMixin, Base):
    """A violation (违章) or incident (事故) of the contractor or one of its people."""

    __tablename__ = "contractor_violations"

    contractor_id: Mapped[int] = mapped_column(Integer, ForeignKey("contractors.id"), index=True, comment="承包商ID")
    kind: Mapped[str] = mapped_column(String(8), comment="类型: 违章 / 事故")
    occurred_on: Mapped[date] = mapped_column(Date, index=True, comment="发生日期")
    person_name: Mapped[str | None] = mapped_column(String(64), comment="当事人")
    severity: Mapped[str] = mapped_column(String(8), default=Severity.MINOR, comment="严重程度")
    description: Mapped[str] = mapped_column(Text, comment="经过")
    penalty_points: Mapped[int] = mapped_column(Integer, default=0, comment="扣分")


class ContractorEvaluation(RegisterMixin, Base):
    """One evaluation (评价) of a contractor: criterion scores, the weighted total and the grade."""

    __tablename__ = "contractor_evaluations"

    contractor_id: Mapped[int] = mapped_column(Integer, ForeignKey("contractors.id"), index=True, comment="承包商ID")
    period: Mapped[str] = mapped_column(String(32), comment="评价周期, e.g. 2026Q4")
    evaluated_on: Mapped[date] = mapped_column(Date, comment="评价日期")
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, comment="{criterion: 0–100}")
    total: Mapped[float] = mapped_column(Float, comment="加权总分")
    grade: Mapped[str] = mapped_column(String(16), comment="等级")
    vetoed: Mapped[str | None] = mapped_column(Text, default=None, comment="一票否决原因")
    evaluator: Mapped[str | None] = mapped_column(String(64), comment="评价人")
