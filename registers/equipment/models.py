"""Tables of the equipment and facilities register (设备设施台账).

One tree table (:class:`EquipmentNode`: site → unit → equipment → component) and record tables
that name their equipment by its hierarchical code (``equipment_code``), as the enterprise's
paper and Excel ledgers do. Naming by code rather than row id keeps imports readable and lets
the one-file view (一台一档) gather an equipment's records and its components' records with
one prefix match.

The current due dates (next inspection, calibration, replacement) live on the node, refreshed
from the newest record whenever a record is added, changed or removed; reminders then look at
one date per equipment, never at superseded records.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Float, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime
from registers.framework.models import RegisterMixin

__all__ = [
    "BypassRecord",
    "EquipmentNode",
    "InspectionRecord",
    "LifecycleRecord",
    "RuptureDiscReplacement",
    "SafetyValveCalibration",
    "SisInterlock",
    "SparePart",
    "WorkOrder",
]

_LIVE = text("deleted_at IS NULL")


class EquipmentNode(RegisterMixin, Base):
    """A node of the equipment tree (设备树): a site, a unit, an equipment or a component.

    ``level`` and ``parent_code`` are derived from ``code`` (see :mod:`models.equipment_rules`);
    a partial unique index keeps live codes unique even under concurrent writers, while a
    soft-deleted node frees its code.
    """

    __tablename__ = "equipment"
    __table_args__ = (Index("uq_equipment_code_live", "code", unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE),)

    code: Mapped[str] = mapped_column(String(64), index=True, comment="设备编码 (层级编码)")
    name: Mapped[str] = mapped_column(String(200), comment="名称")
    level: Mapped[str] = mapped_column(String(16), index=True, comment="层级: site/unit/equipment/component (derived)")
    parent_code: Mapped[str | None] = mapped_column(String(64), index=True, comment="上级编码 (derived)")
    plant_id: Mapped[str | None] = mapped_column(String(32), index=True, comment="数字孪生编号 (plant model id)")
    category: Mapped[str | None] = mapped_column(String(32), comment="设备类别 (EquipmentCategory)")
    special_kind: Mapped[str | None] = mapped_column(
        String(32), index=True, comment="特种设备种类; NULL if not special"
    )
    registration_no: Mapped[str | None] = mapped_column(String(64), comment="特种设备使用登记证编号")
    status: Mapped[str] = mapped_column(String(16), default="在用", comment="状态 (EquipmentStatus)")
    hazard_source_code: Mapped[str | None] = mapped_column(String(32), comment="所属重大危险源")
    manufacturer: Mapped[str | None] = mapped_column(String(200), comment="制造单位")
    model_no: Mapped[str | None] = mapped_column(String(64), comment="规格型号")
    serial_no: Mapped[str | None] = mapped_column(String(64), comment="出厂编号")
    commissioned_on: Mapped[date | None] = mapped_column(Date, comment="投用日期")
    responsible_person: Mapped[str | None] = mapped_column(String(64), comment="责任人")
    medium: Mapped[str | None] = mapped_column(String(64), comment="介质")
    design_pressure_mpa: Mapped[float | None] = mapped_column(Float, comment="设计压力/整定压力/爆破压力 MPa")
    interval_days: Mapped[int | None] = mapped_column(Integer, comment="校验/更换周期 (天); 安全阀缺省365")
    next_inspection_due: Mapped[date | None] = mapped_column(Date, index=True, comment="下次定期检验日期")
    next_calibration_due: Mapped[date | None] = mapped_column(Date, index=True, comment="下次校验日期 (安全阀)")
    next_replacement_due: Mapped[date | None] = mapped_column(Date, index=True, comment="下次更换日期 (爆破片)")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")


class InspectionRecord(RegisterMixin, Base):
    """A periodic inspection of special equipment (特种设备定期检验) by a licensed agency."""

    __tablename__ = "equipment_inspections"

    equipment_code: Mapped[str] = mapped_column(String(64), index=True, comment="设备编码")
    kind: Mapped[str] = mapped_column(String(16), default="定期检验", comment="检验类别 (InspectionKind)")
    inspected_on: Mapped[date] = mapped_column(Date, index=True, comment="检验日期")
    next_due: Mapped[date] = mapped_column(Date, comment="下次检验日期 (报告载明)")
    result: Mapped[str] = mapped_column(String(16), comment="检验结论 (InspectionResult)")
    safety_grade: Mapped[int | None] = mapped_column(Integer, comment="安全状况等级 1–5 (压力容器/管道)")
    agency: Mapped[str] = mapped_column(String(200), comment="检验机构")
    report_no: Mapped[str | None] = mapped_column(String(64), comment="检验报告编号")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")


class SafetyValveCalibration(RegisterMixin, Base):
    """A calibration of a safety valve (安全阀校验): set pressure checked on a test bench."""

    __tablename__ = "safety_valve_calibrations"

    equipment_code: Mapped[str] = mapped_column(String(64), index=True, comment="安全阀编码")
    calibrated_on: Mapped[date] = mapped_column(Date, index=True, comment="校验日期")
    next_due: Mapped[date] = mapped_column(Date, comment="下次校验日期")
    set_pressure_mpa: Mapped[float | None] = mapped_column(Float, comment="整定压力 MPa")
    result: Mapped[str] = mapped_column(String(16), comment="校验结论 (CalibrationResult)")
    agency: Mapped[str | None] = mapped_column(String(200), comment="校验机构")
    report_no: Mapped[str | None] = mapped_column(String(64), comment="校验报告编号")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")


class RuptureDiscReplacement(RegisterMixin, Base):
    """A replacement of a rupture disc (爆破片更换)."""

    __tablename__ = "rupture_disc_replacements"

    equipment_code: Mapped[str] = mapped_column(String(64), index=True, comment="爆破片编码")
    replaced_on: Mapped[date] = mapped_column(Date, index=True, comment="更换日期")
    next_due: Mapped[date] = mapped_column(Date, comment="下次更换日期")
    burst_pressure_mpa: Mapped[float | None] = mapped_column(Float, comment="标定爆破压力 MPa")
    batch_no: Mapped[str | None] = mapped_column(String(64), comment="批号")
    reason: Mapped[str | None] = mapped_column(String(200), comment="更换原因")
    performed_by: Mapped[str | None] = mapped_column(String(64), comment="更换人")


class LifecycleRecord(RegisterMixin, Base):
    """One event in an equipment's life (全生命周期): 购置, 安装, 投用, 维修, 改造, 停用, 报废."""

    __tablename__ = "equipment_lifecycle"

    equipment_code: Mapped[str] = mapped_column(String(64), index=True, comment="设备编码")
    event: Mapped[str] = mapped_column(String(16), comment="事件 (LifecycleEvent)")
    occurred_on: Mapped[date] = mapped_column(Date, index=True, comment="日期")
    description: Mapped[str | None] = mapped_column(Text, comment="说明")
    cost_yuan: Mapped[float | None] = mapped_column(Float, comment="费用 (元)")
    performed_by: Mapped[str | None] = mapped_column(String(200), comment="执行单位/人")


class SparePart(RegisterMixin, Base):
    """A spare part kept in store (备品备件); ``below_min`` is derived on every change."""

    __tablename__ = "spare_parts"

    part_no: Mapped[str] = mapped_column(String(64), index=True, comment="备件编号")
    name: Mapped[str] = mapped_column(String(200), comment="名称")
    spec: Mapped[str | None] = mapped_column(String(200), comment="规格型号")
    equipment_code: Mapped[str | None] = mapped_column(String(64), index=True, comment="适用设备编码")
    unit: Mapped[str] = mapped_column(String(16), default="个", comment="单位")
    stock: Mapped[float] = mapped_column(Float, default=0.0, comment="库存")
    min_stock: Mapped[float | None] = mapped_column(Float, comment="最低库存")
    location: Mapped[str | None] = mapped_column(String(64), comment="存放位置")
    below_min: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True, comment="低于最低库存 (derived)"
    )


class SisInterlock(RegisterMixin, Base):
    """A safety instrumented function / interlock (SIS联锁): what trips it and what it does."""

    __tablename__ = "sis_interlocks"

    code: Mapped[str] = mapped_column(String(32), index=True, comment="联锁编号")
    name: Mapped[str] = mapped_column(String(200), comment="联锁名称")
    equipment_code: Mapped[str] = mapped_column(String(64), index=True, comment="设备编码")
    tag: Mapped[str | None] = mapped_column(String(32), comment="联锁位号 (plant tag)")
    trip_condition: Mapped[str] = mapped_column(String(200), comment="触发条件")
    action: Mapped[str] = mapped_column(String(200), comment="联锁动作")
    sil: Mapped[int | None] = mapped_column(Integer, comment="SIL等级 1–4")
    in_service: Mapped[bool] = mapped_column(Boolean, default=True, comment="是否投用")


class BypassRecord(RegisterMixin, Base):
    """A bypass of an interlock (联锁旁路/摘除): who asked, who approved, the window, what happened.

    Moves only through :mod:`registers.equipment.workflow`; ``state`` is never taken from input.
    """

    __tablename__ = "sis_bypasses"

    interlock_code: Mapped[str] = mapped_column(String(32), index=True, comment="联锁编号")
    reason: Mapped[str] = mapped_column(Text, comment="旁路原因")
    measures: Mapped[str | None] = mapped_column(Text, comment="旁路期间安全措施")
    planned_start: Mapped[datetime] = mapped_column(UtcDateTime(), comment="计划开始")
    planned_end: Mapped[datetime] = mapped_column(UtcDateTime(), comment="批准的结束时间")
    state: Mapped[str] = mapped_column(String(16), default="requested", index=True, comment="状态 (BypassState)")
    requested_by: Mapped[str | None] = mapped_column(String(64), comment="申请人")
    approved_by: Mapped[str | None] = mapped_column(String(64), comment="批准人")
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="批准时间")
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="旁路投入时间")
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="联锁恢复时间")
    closed_by: Mapped[str | None] = mapped_column(String(64), comment="恢复/驳回/撤销人")
    note: Mapped[str | None] = mapped_column(Text, comment="审批/恢复意见")


class WorkOrder(RegisterMixin, Base):
    """A maintenance work order (工单), raised by hand or by a PdM prediction.

    ``(pdm_asset_id, pdm_ts)`` is unique, so the same prediction delivered twice (the bus is
    at-least-once) creates one work order; NULLs (manual orders) never collide.
    """

    __tablename__ = "work_orders"
    __table_args__ = (UniqueConstraint("pdm_asset_id", "pdm_ts", name="uq_work_orders_prediction"),)

    number: Mapped[str] = mapped_column(String(32), index=True, comment="工单号")
    equipment_code: Mapped[str] = mapped_column(String(64), index=True, comment="设备编码")
    title: Mapped[str] = mapped_column(String(200), comment="标题")
    description: Mapped[str | None] = mapped_column(Text, comment="故障/工作内容")
    priority: Mapped[str] = mapped_column(String(16), default="normal", comment="优先级 (Priority)")
    source: Mapped[str] = mapped_column(String(16), default="manual", comment="来源: manual 人工 / pdm 预测性维护")
    state: Mapped[str] = mapped_column(String(16), default="open", index=True, comment="状态 (WorkOrderState)")
    assignee: Mapped[str | None] = mapped_column(String(64), comment="维修人")
    due_on: Mapped[date | None] = mapped_column(Date, comment="要求完成日期")
    result: Mapped[str | None] = mapped_column(Text, comment="处理结果")
    verified_by: Mapped[str | None] = mapped_column(String(64), comment="验收人")
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), comment="关闭/取消时间")
    pdm_asset_id: Mapped[str | None] = mapped_column(String(64), comment="PdM资产")
    pdm_ts: Mapped[int | None] = mapped_column(BigInteger, comment="PdM预测时间戳 (ms)")
    pdm_health: Mapped[float | None] = mapped_column(Float, comment="健康度 0–1")
    pdm_rul_days: Mapped[float | None] = mapped_column(Float, comment="剩余寿命 (天)")
    pdm_failure_mode: Mapped[str | None] = mapped_column(
        String(32), comment="PdM故障模式 (models.pdm.failure_modes); one open order per asset and mode"
    )
