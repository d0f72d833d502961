"""Tables of the production process register (生产过程基础信息).

Key monitored parameters of a hazardous process are a JSON list on the process row, for the
same reason as a hazard source's chemicals: limits and tags are edited together and read
together, and one versioned row keeps their history in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime
from registers.framework.models import RegisterMixin


class HazardousProcess(RegisterMixin, Base):
    """A hazardous process under key supervision (重点监管危险化工工艺), e.g. 氯化工艺 at R-401."""

    __tablename__ = "hazardous_processes"

    name: Mapped[str] = mapped_column(String(64), comment="工艺名称, e.g. 氯化工艺")
    reaction_type: Mapped[str] = mapped_column(String(64), comment="反应类型, e.g. 放热反应 / 取代氯化")
    hazard_source_code: Mapped[str | None] = mapped_column(String(32), default=None, comment="所属重大危险源")
    equipment: Mapped[str] = mapped_column(String(64), default="", comment="关键设备位号, e.g. R-401")
    key_parameters: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, comment="重点监控工艺参数 [{tag, name, unit, ll, l, h, hh}]"
    )
    safety_controls: Mapped[str] = mapped_column(Text, default="", comment="安全控制的基本要求 / 现有安全措施")
    control_mode: Mapped[str] = mapped_column(String(128), default="", comment="宜采用的控制方式, e.g. DCS+SIS联锁")


class Chemical(RegisterMixin, Base):
    """A hazardous chemical with its MSDS (化学品安全技术说明书) data; one row per CAS number."""

    __tablename__ = "process_chemicals"

    name: Mapped[str] = mapped_column(String(200), comment="化学品名称")
    cas: Mapped[str] = mapped_column(String(32), index=True, comment="CAS号")
    un_number: Mapped[str | None] = mapped_column(String(16), default=None, comment="UN号")
    hazard_classes: Mapped[str] = mapped_column(Text, default="", comment="危险性类别 (GHS)")
    gb18218_categories: Mapped[str] = mapped_column(String(64), default="", comment="GB 18218 表2类别, e.g. W2")
    mac_mg_m3: Mapped[float | None] = mapped_column(Float, default=None, comment="MAC mg/m³")
    pc_twa_mg_m3: Mapped[float | None] = mapped_column(Float, default=None, comment="PC-TWA mg/m³")
    pc_stel_mg_m3: Mapped[float | None] = mapped_column(Float, default=None, comment="PC-STEL mg/m³")
    flash_point_c: Mapped[float | None] = mapped_column(Float, default=None, comment="闪点 °C")
    lel_pct: Mapped[float | None] = mapped_column(Float, default=None, comment="爆炸下限 %(v/v)")
    uel_pct: Mapped[float | None] = mapped_column(Float, default=None, comment="爆炸上限 %(v/v)")
    physical_state: Mapped[str] = mapped_column(String(32), default="", comment="物态")
    is_highly_toxic: Mapped[bool] = mapped_column(Boolean, default=False, comment="剧毒化学品")
    emergency_measures: Mapped[str] = mapped_column(Text, default="", comment="应急处置措施")


class StartupShutdown(RegisterMixin, Base):
    """A start-up or shut-down of a unit (开停车记录), planned or emergency."""

    __tablename__ = "startup_shutdown_records"

    unit: Mapped[str] = mapped_column(String(64), comment="装置/单元, e.g. 氯化反应装置")
    process: Mapped[str | None] = mapped_column(String(64), default=None, comment="涉及的危险工艺, e.g. 氯化工艺")
    equipment: Mapped[str] = mapped_column(String(64), default="", comment="主要设备位号, e.g. R-401")
    kind: Mapped[str] = mapped_column(String(16), comment="startup 开车 / shutdown 停车 / emergency_shutdown 紧急停车")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), comment="开始时间")
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="完成时间")
    reason: Mapped[str] = mapped_column(Text, default="", comment="原因")
    checklist_confirmed: Mapped[bool] = mapped_column(Boolean, default=False, comment="开停车条件确认")
    approved_by: Mapped[str | None] = mapped_column(String(64), default=None, comment="批准人")
    operator: Mapped[str | None] = mapped_column(String(64), default=None, comment="操作人")
    notes: Mapped[str] = mapped_column(Text, default="", comment="备注")
