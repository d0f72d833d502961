"""Tables of the permits register: jobs, permits (tickets), measures, gas analyses and steps.

A job (作业任务) is planned once; each special-work type it involves gets its own ticket
(关联作业), all pointing at the job, so hot work in a confined space is one description and two
tickets. Measures, gas analyses and steps are child rows of a ticket and are never edited:
a correction is a new row, so the file shows what was known when.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime, utcnow
from registers.framework.models import RegisterMixin


class PermitStatus(StrEnum):
    """Where a ticket stands (DOMAIN.md §1.8, folded: risk, measures and briefing are guards)."""

    DRAFT = "草稿"
    APPROVING = "审批中"
    APPROVED = "已批准"
    WORKING = "作业中"
    SUSPENDED = "已中断"
    COMPLETED = "已完工"
    CLOSED = "已验收关闭"
    REJECTED = "已驳回"
    CANCELLED = "已作废"
    EXPIRED = "已超期"


class PermitJob(RegisterMixin, Base):
    """One planned job (作业任务) and the description all its linked tickets share."""

    __tablename__ = "permit_jobs"

    title: Mapped[str] = mapped_column(String(200), comment="作业名称")
    content: Mapped[str] = mapped_column(Text, comment="作业内容")
    area: Mapped[str | None] = mapped_column(String(64), index=True, comment="作业区域")
    location: Mapped[str | None] = mapped_column(String(200), comment="作业位置")
    x: Mapped[float | None] = mapped_column(Float, comment="作业点 x (m)")
    y: Mapped[float | None] = mapped_column(Float, comment="作业点 y (m)")
    planned_start: Mapped[datetime] = mapped_column(UtcDateTime(), comment="计划开始时间")
    planned_end: Mapped[datetime] = mapped_column(UtcDateTime(), comment="计划结束时间")
    applicant_unit: Mapped[str | None] = mapped_column(String(200), comment="申请单位")
    contractor_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("contractors.id"), index=True, comment="作业单位 (承包商)"
    )
    chemicals: Mapped[list[str]] = mapped_column(JSON, default=list, comment="涉及介质")


class Permit(RegisterMixin, Base):
    """One ticket (安全作业票) of one special-work type, with its state and grade."""

    __tablename__ = "permits"

    number: Mapped[str] = mapped_column(String(32), index=True, comment="作业证编号")
    job_id: Mapped[int] = mapped_column(Integer, ForeignKey("permit_jobs.id"), index=True, comment="作业任务")
    work_type: Mapped[str] = mapped_column(String(16), index=True, comment="作业类型")
    grade: Mapped[str] = mapped_column(String(8), default="", comment="申请级别")
    managed_grade: Mapped[str] = mapped_column(String(8), default="", index=True, comment="管理级别")
    grade_reasons: Mapped[list[str]] = mapped_column(JSON, default=list, comment="升级管理原因")
    rules_version: Mapped[str] = mapped_column(String(32), comment="规则版本")
    status: Mapped[str] = mapped_column(String(8), index=True, default=PermitStatus.DRAFT, comment="状态")
    title: Mapped[str] = mapped_column(String(200), comment="作业名称")
    content: Mapped[str] = mapped_column(Text, comment="作业内容")
    area: Mapped[str | None] = mapped_column(String(64), index=True, comment="作业区域")
    location: Mapped[str | None] = mapped_column(String(200), comment="作业位置")
    x: Mapped[float | None] = mapped_column(Float, comment="作业点 x (m)")
    y: Mapped[float | None] = mapped_column(Float, comment="作业点 y (m)")
    planned_start: Mapped[datetime] = mapped_column(UtcDateTime(), comment="计划开始时间")
    planned_end: Mapped[datetime] = mapped_column(UtcDateTime(), comment="计划结束时间")
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime(), index=True, comment="有效期至")
    hazardous_area: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="火灾爆炸危险场所"
    )
    oxygen_enriched: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), comment="富氧环境")
    gas_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), comment="需气体分析")
    contractor_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("contractors.id"), index=True, comment="承包商"
    )
    contractor_name: Mapped[str | None] = mapped_column(String(200), index=True, comment="作业单位")
    leader_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("people.id"), comment="作业负责人")
    guardian_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"), index=True, comment="监护人")
    worker_ids: Mapped[list[int]] = mapped_column(JSON, default=list, comment="作业人员")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, comment="作业类型专有字段")
    pipeline: Mapped[str | None] = mapped_column(String(64), index=True, comment="管道 (盲板抽堵)")
    risks: Mapped[list[str]] = mapped_column(JSON, default=list, comment="风险辨识结果")
    linked_numbers: Mapped[list[str]] = mapped_column(JSON, default=list, comment="关联作业票编号")
    approval_step: Mapped[int] = mapped_column(Integer, default=0, comment="已完成审批级数")
    briefed_by: Mapped[str | None] = mapped_column(String(64), comment="安全交底人")
    briefed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="交底时间")
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="开始作业时间")
    suspended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="中断时间")
    suspend_reason: Mapped[str | None] = mapped_column(Text, comment="中断原因")
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="完工时间")
    accepted_by: Mapped[str | None] = mapped_column(String(64), comment="验收人")
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="验收时间")
    content_hash: Mapped[str | None] = mapped_column(String(64), comment="签发时的作业票内容摘要")


class PermitMeasure(Base):
    """A safety measure (安全措施) of a ticket and who confirmed it, when."""

    __tablename__ = "permit_measures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[int] = mapped_column(Integer, ForeignKey("permits.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer, comment="序号")
    content: Mapped[str] = mapped_column(Text, comment="安全措施")
    involved: Mapped[bool] = mapped_column(Boolean, default=True, comment="是否涉及")
    confirmed_by: Mapped[str | None] = mapped_column(String(64), comment="确认人")
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="确认时间")


class GasAnalysis(Base):
    """One gas analysis (气体分析) of a ticket: who, with what, when, where, the readings and verdict."""

    __tablename__ = "permit_gas_analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[int] = mapped_column(Integer, ForeignKey("permits.id"), index=True)
    analyst: Mapped[str] = mapped_column(String(64), comment="分析人")
    analyser: Mapped[str | None] = mapped_column(String(64), comment="分析仪器")
    sampled_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True, comment="采样时间")
    point: Mapped[str] = mapped_column(String(200), comment="采样分析部位")
    readings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, comment="分析数据")
    passed: Mapped[bool] = mapped_column(Boolean, comment="是否合格")
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list, comment="不合格原因")
    source: Mapped[str] = mapped_column(String(16), default="人工", comment="来源: 人工/在线监测")
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="过期提醒时间")
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PermitStep(Base):
    """One step of a ticket's life (审批流/作业过程): action, states, who, when, where, signature."""

    __tablename__ = "permit_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[int] = mapped_column(Integer, ForeignKey("permits.id"), index=True)
    action: Mapped[str] = mapped_column(String(16), comment="环节")
    from_status: Mapped[str] = mapped_column(String(8))
    to_status: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str | None] = mapped_column(String(64), comment="处理人 (账号)")
    person_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("people.id"), comment="签字人")
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True, comment="处理时间")
    x: Mapped[float | None] = mapped_column(Float, comment="签字位置 x")
    y: Mapped[float | None] = mapped_column(Float, comment="签字位置 y")
    opinion: Mapped[str | None] = mapped_column(Text, comment="处理意见")
    signature: Mapped[str | None] = mapped_column(String(64), comment="电子签名 (HMAC-SHA256)")
