"""Tables of the major hazard source register (重大危险源) and its duty records (包保履职记录).

The chemicals of a source are kept as a JSON list on the source row rather than a child
table: S, R and the grade are functions of that list, and keeping it in the same row means
every change of a quantity is one versioned change whose history shows old and new list,
and the derived values can never be computed from a half-updated set of rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base
from registers.framework.models import RegisterMixin


class HazardSource(RegisterMixin, Base):
    """A unit identified per GB 18218-2018 (重大危险源), with its three 包保 responsible persons.

    ``code`` is the id used by the plant model and the live pipelines (``MHS-01``…), so a
    register row and the twin's hazard source are the same thing. ``s_value``, ``r_value``,
    ``grade`` and ``is_major`` are derived from ``chemicals`` and ``alpha`` on every change.
    """

    __tablename__ = "hazard_sources"

    code: Mapped[str] = mapped_column(String(32), index=True, comment="编号, e.g. MHS-01 (plant model id)")
    name: Mapped[str] = mapped_column(String(200), comment="名称")
    area: Mapped[str] = mapped_column(String(64), default="", comment="所在区域 (plant area id)")
    unit_kind: Mapped[str] = mapped_column(String(16), comment="单元类型: storage 储存单元 / production 生产单元")
    process: Mapped[str | None] = mapped_column(String(64), default=None, comment="涉及的危险工艺")
    chemicals: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, comment="[{name, cas, quantity_t, critical_t, beta, categories}]"
    )
    exposed_population: Mapped[int | None] = mapped_column(
        Integer, default=None, comment="厂区边界外500m范围内常住人口; decides alpha when given"
    )
    alpha: Mapped[float] = mapped_column(Float, comment="暴露人员校正系数 α")
    s_value: Mapped[float] = mapped_column(Float, default=0.0, comment="S = Σ q/Q (derived)")
    r_value: Mapped[float] = mapped_column(Float, default=0.0, comment="R = α·Σ β·q/Q (derived)")
    grade: Mapped[int | None] = mapped_column(Integer, default=None, comment="级别 1–4 (derived); NULL if S < 1")
    is_major: Mapped[bool] = mapped_column(Boolean, default=False, comment="构成重大危险源 S ≥ 1 (derived)")
    principal_person: Mapped[str | None] = mapped_column(String(64), default=None, comment="主要负责人")
    technical_person: Mapped[str | None] = mapped_column(String(64), default=None, comment="技术负责人")
    operational_person: Mapped[str | None] = mapped_column(String(64), default=None, comment="操作负责人")
    record_number: Mapped[str | None] = mapped_column(String(64), default=None, comment="备案编号")
    next_assessment_due: Mapped[date | None] = mapped_column(
        Date, default=None, comment="下次安全评估日期 (at least every 3 years)"
    )


class HazardSourceDuty(RegisterMixin, Base):
    """One duty performed by a 包保 responsible person (包保履职记录): who, which source, when, what.

    The source is named by its code (as on the enterprise's paper ledger and in Excel
    imports) rather than a row id; :func:`registers.hazard_sources.service.create_duty`
    refuses a code that no live source has.
    """

    __tablename__ = "hazard_source_duties"

    hazard_source_code: Mapped[str] = mapped_column(String(32), index=True, comment="重大危险源编号, e.g. MHS-01")
    role: Mapped[str] = mapped_column(String(16), comment="principal 主要 / technical 技术 / operational 操作负责人")
    person: Mapped[str] = mapped_column(String(64), comment="履职人")
    performed_on: Mapped[date] = mapped_column(Date, index=True, comment="履职日期")
    content: Mapped[str] = mapped_column(Text, comment="履职内容")
    findings: Mapped[str] = mapped_column(Text, default="", comment="发现问题")
    hazards_found: Mapped[int] = mapped_column(Integer, default=0, comment="发现隐患数")
