"""SQLAlchemy models of the risk warnings (风险预警) and their closed-loop journal.

One :class:`RiskWarning` per episode of elevated risk of a hazard source (the colour rising to
orange or red until it falls back below orange), unique on (source, event time of the rise) so
the risk flow's at-least-once delivery raises it once. ``cleared_ts`` is NULL while the
episode lasts; ``level`` / ``last_ts`` follow the source's newest score in it. Every move of its closed loop lands
in :class:`RiskWarningStep` with who and when (等保 and the Jilin mechanism both ask for it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registers.db import Base, UtcDateTime
from registers.mixins import TimestampMixin


class RiskWarning(TimestampMixin, Base):
    """A warning raised by a change of a major hazard source's real-time risk level."""

    __tablename__ = "risk_warnings"
    __table_args__ = (UniqueConstraint("hazard_source_id", "ts", name="uq_risk_warnings_source_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_source_id: Mapped[str] = mapped_column(String(64), index=True, comment="重大危险源编码")
    ts: Mapped[int] = mapped_column(BigInteger, comment="event time of the level change, epoch ms")
    from_level: Mapped[str] = mapped_column(String(16))
    to_level: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[str] = mapped_column(Text, default="[]", comment="contributions as JSON (rule, points)")
    rules_version: Mapped[str] = mapped_column(String(32), default="")
    state: Mapped[str] = mapped_column(String(16), index=True, comment="workflow.WarningState")
    dispatched_to: Mapped[str] = mapped_column(String(512), default="", comment="推送对象 (roles / persons)")
    disposal_report: Mapped[str] = mapped_column(Text, default="", comment="处置情况")
    cause: Mapped[str] = mapped_column(Text, default="", comment="原因分析")
    measures: Mapped[str] = mapped_column(Text, default="", comment="整改/管控措施")
    feedback: Mapped[str | None] = mapped_column(String(32), default=None, comment="workflow.Feedback")
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    closed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    level: Mapped[str | None] = mapped_column(String(16), default=None, comment="the source's current level")
    last_ts: Mapped[int | None] = mapped_column(BigInteger, default=None, comment="newest score applied, epoch ms")
    cleared_ts: Mapped[int | None] = mapped_column(
        BigInteger, default=None, index=True, comment="risk fell back below orange, epoch ms; NULL: ongoing"
    )

    steps: Mapped[list[RiskWarningStep]] = relationship(
        back_populates="warning", cascade="all, delete-orphan", order_by="RiskWarningStep.id"
    )


class RiskWarningStep(Base):
    """One move of a warning's closed loop: who did what, when, from which state to which."""

    __tablename__ = "risk_warning_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("risk_warnings.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(64), default=None, comment="None: the system")
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(Text, default="")

    warning: Mapped[RiskWarning] = relationship(back_populates="steps")
