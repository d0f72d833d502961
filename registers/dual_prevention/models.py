"""Tables of dual prevention: risk analysis objects → units → events → control measures → check schedules → tasks.

The hierarchy is the exchange specification's (DOMAIN.md §4.1): 风险分析对象 (hazardCode) →
安全风险分析单元 → 安全风险事件 → 安全风险管控措施 → 隐患排查任务 (the schedule) →
the generated task instances and their check records (隐患排查记录). A unit's level is its
worst event's level, recomputed whenever an event is graded, so the four-colour map never
shows a stale colour.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime
from registers.framework.models import RegisterMixin


class RiskObject(RegisterMixin, Base):
    """风险分析对象: a major hazard source or another unit/facility/site, keyed by ``hazardCode``."""

    __tablename__ = "dp_risk_objects"

    code: Mapped[str] = mapped_column(String(64), index=True, comment="风险分析对象编码 (hazardCode)")
    name: Mapped[str] = mapped_column(String(200), comment="名称")
    kind: Mapped[str] = mapped_column(String(16), comment="类型")
    area: Mapped[str | None] = mapped_column(String(64), index=True, comment="区域")
    department: Mapped[str | None] = mapped_column(String(200), comment="责任部门")
    liable_person: Mapped[str | None] = mapped_column(String(64), comment="责任人")


class RiskUnit(RegisterMixin, Base):
    """安全风险分析单元 (t_aqfxfxdy): graded by its worst event; responsible department and person."""

    __tablename__ = "dp_risk_units"

    object_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dp_risk_objects.id"), index=True, comment="风险分析对象ID"
    )
    name: Mapped[str] = mapped_column(String(200), comment="单元名称")
    area: Mapped[str | None] = mapped_column(String(64), index=True, comment="区域")
    department: Mapped[str | None] = mapped_column(String(200), comment="责任部门 (hazardDep)")
    liable_person: Mapped[str | None] = mapped_column(String(64), comment="责任人 (hazardLiablePerson)")
    risk_level: Mapped[str | None] = mapped_column(String(16), default=None, index=True, comment="风险等级")
    colour: Mapped[str | None] = mapped_column(String(8), default=None, comment="四色")


class RiskEvent(RegisterMixin, Base):
    """安全风险事件 (t_aqfxsj) graded by LEC or LS; score, level and colour are derived."""

    __tablename__ = "dp_risk_events"

    unit_id: Mapped[int] = mapped_column(Integer, ForeignKey("dp_risk_units.id"), index=True, comment="风险分析单元ID")
    name: Mapped[str] = mapped_column(String(500), comment="风险事件名称")
    method: Mapped[str] = mapped_column(String(8), comment="评价方法")
    likelihood: Mapped[float] = mapped_column(Float, comment="L 可能性")
    exposure: Mapped[float | None] = mapped_column(Float, comment="E 暴露频繁程度")
    consequence: Mapped[float | None] = mapped_column(Float, comment="C 后果")
    severity: Mapped[float | None] = mapped_column(Float, comment="S 严重性")
    score: Mapped[float | None] = mapped_column(Float, default=None, comment="风险值")
    risk_level: Mapped[str | None] = mapped_column(String(16), default=None, index=True, comment="风险等级")
    colour: Mapped[str | None] = mapped_column(String(8), default=None, comment="四色")
    management_level: Mapped[str | None] = mapped_column(String(32), default=None, comment="管控层级")
    table_version: Mapped[str | None] = mapped_column(String(32), default=None, comment="分级表版本")


class ControlMeasure(RegisterMixin, Base):
    """安全风险管控措施 (t_aqfxgkcs): engineering, maintenance, operation or emergency measure."""

    __tablename__ = "dp_control_measures"

    event_id: Mapped[int] = mapped_column(Integer, ForeignKey("dp_risk_events.id"), index=True, comment="风险事件ID")
    classify1: Mapped[str] = mapped_column(String(16), comment="管控措施分类1")
    classify2: Mapped[str | None] = mapped_column(String(32), comment="管控措施分类2")
    classify3: Mapped[str | None] = mapped_column(String(200), comment="管控措施分类3")
    description: Mapped[str] = mapped_column(Text, comment="管控措施描述")
    data_src: Mapped[str] = mapped_column(String(16), comment="管控方式")
    troubleshoot_content: Mapped[str | None] = mapped_column(Text, comment="隐患排查内容")


class CheckSchedule(RegisterMixin, Base):
    """隐患排查任务 (t_yhpcrwxx) as a schedule: what to check, how often, by which post and person."""

    __tablename__ = "dp_check_schedules"

    measure_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dp_control_measures.id"), index=True, comment="管控措施ID"
    )
    content: Mapped[str] = mapped_column(Text, comment="排查内容")
    cycle: Mapped[int] = mapped_column(Integer, comment="排查周期")
    cycle_unit: Mapped[str] = mapped_column(String(8), comment="周期单位")
    anchor: Mapped[datetime] = mapped_column(UtcDateTime(), comment="开始时间")
    work_start: Mapped[time] = mapped_column(Time, comment="每日开始时间")
    work_end: Mapped[time] = mapped_column(Time, comment="每日结束时间")
    day_type: Mapped[str] = mapped_column(String(8), comment="工作日类型")
    post: Mapped[str | None] = mapped_column(String(64), comment="岗位")
    assignee: Mapped[str] = mapped_column(String(64), index=True, comment="排查人")
    is_defend: Mapped[bool] = mapped_column(Boolean, default=False, comment="包保责任人任务")
    check_means: Mapped[str] = mapped_column(String(8), comment="排查手段")
    active: Mapped[bool] = mapped_column(Boolean, default=True, comment="启用")


class CheckTask(Base):
    """One generated investigation task (one slot of a schedule) and its check record (隐患排查记录).

    Unique on (schedule, slot start), so generation is idempotent; ``state`` moves only through
    :mod:`registers.dual_prevention.workflow`, and only the assignee may complete it.
    """

    __tablename__ = "dp_check_tasks"
    __table_args__ = (UniqueConstraint("schedule_id", "slot_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("dp_check_schedules.id"), index=True, comment="排查任务ID"
    )
    slot_start: Mapped[datetime] = mapped_column(UtcDateTime(), index=True, comment="应开始时间")
    slot_end: Mapped[datetime] = mapped_column(UtcDateTime(), index=True, comment="应完成时间")
    assignee: Mapped[str] = mapped_column(String(64), index=True, comment="排查人")
    area: Mapped[str | None] = mapped_column(String(64), index=True, comment="区域")
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True, comment="风险分析单元ID")
    state: Mapped[str] = mapped_column(String(16), index=True, comment="状态")
    check_status: Mapped[int | None] = mapped_column(Integer, default=None, comment="排查结果 (checkStatus)")
    result: Mapped[str | None] = mapped_column(Text, default=None, comment="排查情况")
    device: Mapped[str | None] = mapped_column(String(64), default=None, comment="排查设备 (mobileMe)")
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="排查时间")
    checked_by: Mapped[str | None] = mapped_column(String(64), default=None, comment="排查人")
    late: Mapped[bool] = mapped_column(Boolean, default=False, comment="逾期完成")
    steps: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, comment="处理记录 (谁、何时、做了什么)")


class OutboxMessage(Base):
    """One record waiting for (or done with) delivery to the regulator / park platform (交换发件箱).

    Written in the same transaction as the change it reports, so a change is never lost and
    never sent without being committed; ``idempotency_key`` is unique and travels as the
    ``Idempotency-Key`` header, so a receiver that saw a retry already can drop it.
    """

    __tablename__ = "exchange_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True, comment="数据类型")
    record_id: Mapped[str] = mapped_column(String(64), comment="记录ID")
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True, comment="幂等键")
    payload: Mapped[dict[str, object]] = mapped_column(JSON, comment="报文")
    state: Mapped[str] = mapped_column(String(16), index=True, comment="状态")
    attempts: Mapped[int] = mapped_column(Integer, default=0, comment="尝试次数")
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True, comment="下次尝试")
    last_error: Mapped[str | None] = mapped_column(Text, default=None, comment="最近错误")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), comment="创建时间")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="送达时间")


class DeliveryAttempt(Base):
    """Delivery log (交换日志): one row per HTTP attempt, with the status or the error."""

    __tablename__ = "exchange_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(Integer, ForeignKey("exchange_outbox.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    elapsed_ms: Mapped[float | None] = mapped_column(Float, default=None)
