"""The hidden-hazard table (隐患信息, t_yhzlxx) and its links to where it was found.

``state`` moves only through :mod:`registers.hidden_hazards.workflow` (not in the Create or
Update schemas), so no PATCH or import can close a hazard; acceptance writes who accepted it,
when and with what comment, which is what 销号 means.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime
from registers.framework.models import RegisterMixin


class HiddenHazard(RegisterMixin, Base):
    """One hidden hazard (隐患) through its closed loop 登记 → 整改 → 验收 → 销号."""

    __tablename__ = "hidden_hazards"

    name: Mapped[str] = mapped_column(String(300), comment="隐患名称")
    level: Mapped[str] = mapped_column(String(8), index=True, comment="隐患等级")
    origin: Mapped[str] = mapped_column(String(16), index=True, comment="发现途径")
    danger_src: Mapped[str] = mapped_column(String(32), comment="隐患来源")
    hazard_type: Mapped[str] = mapped_column(String(8), comment="隐患类型")
    management_class: Mapped[str | None] = mapped_column(String(16), comment="管理分类")
    manage_type: Mapped[str] = mapped_column(String(8), comment="治理类型")
    area: Mapped[str | None] = mapped_column(String(64), index=True, comment="区域")
    hazard_code: Mapped[str | None] = mapped_column(String(64), comment="风险分析对象编码")
    measure_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("dp_control_measures.id"), index=True, comment="管控措施ID"
    )
    check_task_id: Mapped[int | None] = mapped_column(Integer, index=True, comment="排查任务ID")
    inspection_task_id: Mapped[int | None] = mapped_column(Integer, index=True, comment="巡检任务ID")
    inspection_point_id: Mapped[int | None] = mapped_column(Integer, index=True, comment="巡检点ID")
    inspection_reading_id: Mapped[int | None] = mapped_column(Integer, index=True, comment="巡检记录ID")
    alarm_id: Mapped[str | None] = mapped_column(String(128), comment="报警ID")
    permit_no: Mapped[str | None] = mapped_column(String(64), comment="作业票编号")
    description: Mapped[str | None] = mapped_column(Text, comment="隐患描述")
    reason: Mapped[str | None] = mapped_column(Text, comment="产生原因")
    control_measures: Mapped[str | None] = mapped_column(Text, comment="治理措施")
    cost: Mapped[float | None] = mapped_column(Float, comment="治理资金（万元）")
    liable_person: Mapped[str] = mapped_column(String(64), index=True, comment="整改责任人")
    deadline: Mapped[date] = mapped_column(Date, index=True, comment="治理期限")
    registrant: Mapped[str | None] = mapped_column(String(64), comment="登记人")
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="登记时间")
    state: Mapped[str] = mapped_column(String(8), default="整改中", index=True, comment="状态")
    rectified_by: Mapped[str | None] = mapped_column(String(64), default=None, comment="整改完成人")
    rectified_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="整改完成时间")
    rectify_note: Mapped[str | None] = mapped_column(Text, default=None, comment="整改情况")
    accepted_by: Mapped[str | None] = mapped_column(String(64), default=None, comment="验收人")
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="验收时间")
    accept_comment: Mapped[str | None] = mapped_column(Text, default=None, comment="验收意见")
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, comment="逾期督办时间")
    steps: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list, comment="处理记录")
