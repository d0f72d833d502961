"""Tables of intelligent inspection: points with QR/NFC codes, check items with ranges, routes, plans, rounds.

A plan (巡检计划) puts a route on a schedule for a role and shift; each slot becomes a round
(巡检任务) for one inspector. A round's check-ins prove presence by the point's code; its
readings are checked against the item's range, and an out-of-range reading raises one hidden
hazard linked back to the point, the round and the reading.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime
from registers.framework.models import RegisterMixin


class InspectionPoint(RegisterMixin, Base):
    """巡检点位: equipment or location with the code scanned on arrival (QR or NFC)."""

    __tablename__ = "inspection_points"

    code: Mapped[str] = mapped_column(String(64), index=True, comment="点位编号")
    name: Mapped[str] = mapped_column(String(200), comment="点位名称")
    area: Mapped[str | None] = mapped_column(String(64), index=True, comment="区域")
    equipment_code: Mapped[str | None] = mapped_column(String(64), comment="设备编码")
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True, comment="风险分析单元ID")
    tag_code: Mapped[str] = mapped_column(String(128), index=True, comment="二维码/NFC标签")


class CheckItem(RegisterMixin, Base):
    """检查项: what is read or looked at at a point, with its expected range."""

    __tablename__ = "inspection_items"

    point_id: Mapped[int] = mapped_column(Integer, ForeignKey("inspection_points.id"), index=True, comment="点位ID")
    name: Mapped[str] = mapped_column(String(200), comment="检查项")
    unit: Mapped[str | None] = mapped_column(String(16), comment="单位")
    low: Mapped[float | None] = mapped_column(Float, comment="下限")
    high: Mapped[float | None] = mapped_column(Float, comment="上限")
    hazard_level: Mapped[str] = mapped_column(String(8), comment="超限隐患等级")


class InspectionRoute(RegisterMixin, Base):
    """巡检路线: points in the order they are walked."""

    __tablename__ = "inspection_routes"

    name: Mapped[str] = mapped_column(String(200), comment="路线名称")
    point_ids: Mapped[list[int]] = mapped_column(JSON, comment="点位顺序")
    minutes_per_point: Mapped[int] = mapped_column(Integer, comment="每点时限（分钟）")


class InspectionPlan(RegisterMixin, Base):
    """巡检计划: a route on a schedule for a role and shift, assigned to one inspector."""

    __tablename__ = "inspection_plans"

    route_id: Mapped[int] = mapped_column(Integer, ForeignKey("inspection_routes.id"), index=True, comment="路线ID")
    name: Mapped[str] = mapped_column(String(200), comment="计划名称")
    role: Mapped[str] = mapped_column(String(32), comment="岗位角色")
    shift: Mapped[str | None] = mapped_column(String(16), comment="班次")
    assignee: Mapped[str] = mapped_column(String(64), index=True, comment="巡检人")
    cycle: Mapped[int] = mapped_column(Integer, comment="周期")
    cycle_unit: Mapped[str] = mapped_column(String(8), comment="周期单位")
    anchor: Mapped[datetime] = mapped_column(UtcDateTime(), comment="开始时间")
    work_start: Mapped[time] = mapped_column(Time, comment="班次开始")
    work_end: Mapped[time] = mapped_column(Time, comment="班次结束")
    active: Mapped[bool] = mapped_column(Boolean, default=True, comment="启用")


class InspectionTask(Base):
    """巡检任务: one round of a plan, pushed to the inspector's phone."""

    __tablename__ = "inspection_tasks"
    __table_args__ = (UniqueConstraint("plan_id", "slot_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(Integer, ForeignKey("inspection_plans.id"), index=True, comment="计划ID")
    route_id: Mapped[int] = mapped_column(Integer, index=True, comment="路线ID")
    assignee: Mapped[str] = mapped_column(String(64), index=True, comment="巡检人")
    slot_start: Mapped[datetime] = mapped_column(UtcDateTime(), index=True, comment="计划开始")
    slot_end: Mapped[datetime] = mapped_column(UtcDateTime(), index=True, comment="计划结束")
    state: Mapped[str] = mapped_column(String(8), index=True, comment="状态")
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="开始时间")
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="完成时间")
    missed_point_ids: Mapped[list[int]] = mapped_column(JSON, default=list, comment="漏检点位")
    late_point_ids: Mapped[list[int]] = mapped_column(JSON, default=list, comment="迟到点位")
    steps: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, comment="处理记录")


class CheckIn(Base):
    """到位打卡: presence at a point proven by its code (QR/NFC), once per round and point."""

    __tablename__ = "inspection_checkins"
    __table_args__ = (UniqueConstraint("task_id", "point_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(Integer, ForeignKey("inspection_tasks.id"), index=True)
    point_id: Mapped[int] = mapped_column(Integer, index=True)
    method: Mapped[str] = mapped_column(String(8), comment="打卡方式")
    at: Mapped[datetime] = mapped_column(UtcDateTime(), comment="打卡时间")
    by: Mapped[str] = mapped_column(String(64), comment="打卡人")
    late: Mapped[bool] = mapped_column(Boolean, default=False, comment="迟到")


class Reading(Base):
    """巡检记录: one item's value at one point in one round; out of range links its hazard."""

    __tablename__ = "inspection_readings"
    __table_args__ = (UniqueConstraint("task_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(Integer, ForeignKey("inspection_tasks.id"), index=True)
    point_id: Mapped[int] = mapped_column(Integer, index=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)
    value: Mapped[float] = mapped_column(Float, comment="读数")
    in_range: Mapped[bool] = mapped_column(Boolean, comment="是否正常")
    note: Mapped[str | None] = mapped_column(Text, comment="说明")
    at: Mapped[datetime] = mapped_column(UtcDateTime(), comment="记录时间")
    by: Mapped[str] = mapped_column(String(64), comment="记录人")
    hazard_id: Mapped[int | None] = mapped_column(Integer, default=None, comment="隐患ID")
