"""Services of the risk warnings: raise on a level change, then dispatch, report, reject, close.

Keyword-only, session first; each service ``flush()``es and the caller commits once. Every
move goes through the transition table and writes a :class:`RiskWarningStep` with who and
when. :func:`on_score` is what the integrator calls for each ``risk.score`` it consumes (in
order per source): a rise to orange or red opens ONE warning for the episode and notifies, a
further rise (orange -> red) updates it and notifies again, a fall below orange marks the
episode cleared. Clearing does not close the loop: DOMAIN.md §3.3 requires the feedback
(已处置 / 误报 / 设备故障) before a warning closes, so the people it was pushed to still report.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import msgspec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.contracts import AlarmEvent, AlarmPriority, AlarmState, RiskLevel, RiskScore
from models.risk_rules import BAND, LEVEL_LABELS, LEVEL_ORDER
from registers.db import utcnow
from registers.notifications import service as notifications
from registers.notifications.models import NotificationDelivery
from registers.risk_warnings.models import RiskWarning, RiskWarningStep
from registers.risk_warnings.workflow import Feedback, WarningAction, WarningState, warning_next

PUSH_TO: Mapping[RiskLevel, str] = {
    RiskLevel.RED: "企业主要负责人、县级/园区监管部门",
    RiskLevel.ORANGE: "包保技术负责人、包保操作负责人、安全管理部门",
    RiskLevel.YELLOW: "当班班长、所在车间",
    RiskLevel.BLUE: "当班班长、所在车间",
}
"""Who a warning of each level is pushed to (DOMAIN.md §3.3)."""


class IncompleteReport(ValueError):
    """A disposal report without its cause, measures or verdict (API: 422)."""


class WarningNotFound(LookupError):
    """No risk warning with that id (API: 404)."""


RANK: Final[Mapping[RiskLevel, int]] = {RiskLevel.BLUE: 0, RiskLevel.YELLOW: 1, RiskLevel.ORANGE: 2, RiskLevel.RED: 3}
WARN_FROM: Final = RiskLevel.ORANGE
"""The level from which a score opens a warning (较大风险 and 重大风险)."""
INHERENT_PREFIX: Final = "INH."
"""Rule ids of the inherent (static) risk; every other rule is a dynamic factor."""
PRIORITY: Final[Mapping[RiskLevel, AlarmPriority]] = {
    RiskLevel.RED: AlarmPriority.CRITICAL,
    RiskLevel.ORANGE: AlarmPriority.HIGH,
}
"""Priority a warning's notification is routed with (the notification rules' ``min_priority``)."""


class Change(StrEnum):
    """What a score did to the source's warning (journal actions of the system)."""

    RAISED = "raise"
    ESCALATED = "escalate"
    CLEARED = "clear"

    @property
    def label(self) -> str:
        """Chinese name in the journal."""
        return {"raise": "预警", "escalate": "升级", "clear": "风险回落"}[self.value]


@dataclass(frozen=True, slots=True)
class ScoreOutcome:
    """The warning a score touched and how; the caller notifies when ``notify`` is set."""

    warning: RiskWarning
    change: Change

    @property
    def notify(self) -> bool:
        """A rise (new or further) is pushed to people; a fall is only journaled."""
        return self.change is not Change.CLEARED


def ongoing(*, session: Session, hazard_source_id: str) -> RiskWarning | None:
    """The source's warning whose episode of elevated risk has not cleared yet, if any."""
    stmt = (
        select(RiskWarning)
        .where(RiskWarning.hazard_source_id == hazard_source_id, RiskWarning.cleared_ts.is_(None))
        .order_by(RiskWarning.ts.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def _system_step(warning: RiskWarning, change: Change, note: str) -> None:
    state = warning.state
    warning.steps.append(
        RiskWarningStep(action=change.value, from_state=state, to_state=state, actor=None, at=utcnow(), note=note)
    )


def _reasons(score: RiskScore) -> str:
    return msgspec.json.encode(score.contributions).decode()


def on_score(*, session: Session, score: RiskScore, rules_version: str = "") -> ScoreOutcome | None:
    """Apply one ``risk.score`` of a source to its warnings (scores of one source in order).

    A score is *elevated* when it is orange or red AND a dynamic factor (a rule other than the
    inherent ``INH.*`` ones) contributes: a grade-2 source that is orange by its registered data
    alone is not a warning, a grade-1 source with a gas alarm is.

    * elevated with no ongoing warning: open one (from the source's inherent level);
    * higher than the ongoing warning's peak: raise the peak, new reasons, notify again;
    * orange or red at or below the peak: keep the current level and time, no new record;
    * not elevated with an ongoing warning: mark it cleared (it stays open for feedback).

    A score at or before the newest one applied (a replay) changes nothing and returns ``None``.
    """
    level = RiskLevel(score.level)
    current = ongoing(session=session, hazard_source_id=score.hazard_source_id)
    if current is not None and current.last_ts is not None and score.ts <= current.last_ts:
        return None
    elevated = is_elevated(score)
    if current is None:
        if not elevated:
            return None
        replay = session.scalar(
            select(RiskWarning.id)
            .where(RiskWarning.hazard_source_id == score.hazard_source_id, RiskWarning.ts <= score.ts)
            .where(RiskWarning.last_ts >= score.ts)
            .limit(1)
        )
        if replay is not None:  # this score belongs to an episode already cleared
            return None
        before = inherent_level(score)
        warning = RiskWarning(
            hazard_source_id=score.hazard_source_id,
            ts=score.ts,
            from_level=str(before),
            to_level=str(level),
            level=str(level),
            last_ts=score.ts,
            score=score.score,
            reasons=_reasons(score),
            rules_version=rules_version,
            state=WarningState.RAISED.value,
        )
        session.add(warning)
        _system_step(warning, Change.RAISED, f"{LEVEL_LABELS[before]} → {LEVEL_LABELS[level]}")
        session.flush()
        return ScoreOutcome(warning, Change.RAISED)
    previous = RiskLevel(current.level or current.to_level)
    current.level, current.last_ts = str(level), score.ts
    if not elevated:
        current.cleared_ts = score.ts
        _system_step(current, Change.CLEARED, f"{LEVEL_LABELS[previous]} → {LEVEL_LABELS[level]}")
        session.flush()
        return ScoreOutcome(current, Change.CLEARED)
    if RANK[level] > RANK[RiskLevel(current.to_level)]:
        current.to_level, current.score, current.reasons = str(level), score.score, _reasons(score)
        current.rules_version = rules_version or current.rules_version
        _system_step(current, Change.ESCALATED, f"{LEVEL_LABELS[previous]} → {LEVEL_LABELS[level]}")
        session.flush()
        return ScoreOutcome(current, Change.ESCALATED)
    session.flush()
    return None


def inherent_level(score: RiskScore) -> RiskLevel:
    """The level the source's registered data alone gives (its ``INH.*`` points, 25 per level)."""
    points = sum(c.value for c in score.contributions if c.factor.startswith(INHERENT_PREFIX))
    return LEVEL_ORDER[max(0, min(len(LEVEL_ORDER) - 1, int(points // BAND)))]


def is_elevated(score: RiskScore) -> bool:
    """Orange or red, with at least one dynamic factor among the reasons.

    Example:
        >>> from models.contracts import Contribution
        >>> inh = Contribution(factor="INH.GRADE", value=50.0)
        >>> is_elevated(RiskScore(hazard_source_id="S", ts=1, level=RiskLevel.ORANGE, score=50, contributions=[inh]))
        False
        >>> gas = Contribution(factor="GAS.L1", value=25.0)
        >>> is_elevated(RiskScore(hazard_source_id="S", ts=1, level=RiskLevel.RED, score=75, contributions=[inh, gas]))
        True
    """
    dynamic = any(not c.factor.startswith(INHERENT_PREFIX) for c in score.contributions)
    return dynamic and RANK[RiskLevel(score.level)] >= RANK[WARN_FROM]


def alarm_event(warning: RiskWarning, *, name: str | None = None) -> AlarmEvent:
    """The warning as the alarm event the notification rules route (source kind ``hazard_source``).

    Its id is ``risk:<source>`` and its time the rise's event time, so the notification register
    tracks each rise once: a replay of the same score notifies nobody twice.
    """
    level = RiskLevel(warning.to_level)
    reasons = msgspec.json.decode(warning.reasons.encode()) if warning.reasons else []
    because = "、".join(f"{r.get('factor')} +{r.get('value', 0):g}" for r in reasons if r.get("value"))
    label = name or warning.hazard_source_id
    message = f"重大危险源「{label}」实时风险升至{LEVEL_LABELS[level]}（{warning.score:g} 分）" + (
        f"：{because}" if because else ""
    )
    event_ts = warning.last_ts if warning.last_ts is not None else warning.ts
    return AlarmEvent(
        alarm_id=f"risk:{warning.hazard_source_id}",
        source_kind="hazard_source",
        source_id=warning.hazard_source_id,
        kind=f"RISK_{level.value.upper()}",
        priority=PRIORITY.get(level, AlarmPriority.MEDIUM),
        state=AlarmState.ACTIVE,
        ts=event_ts,
        value=warning.score,
        message=message,
    )


def notify(
    *,
    session: Session,
    notifier: notifications.Notifier,
    warning: RiskWarning,
    area: str | None,
    name: str | None = None,
) -> builtins.list[NotificationDelivery]:
    """Push the warning to whoever the notification rules and the duty roster name for its area and level."""
    return notifications.dispatch(session=session, notifier=notifier, event=alarm_event(warning, name=name), area=area)


def get(*, session: Session, warning_id: int) -> RiskWarning:
    """The warning with this id; raises :class:`WarningNotFound`."""
    warning = session.get(RiskWarning, warning_id)
    if warning is None:
        msg = f"风险预警不存在 / no risk warning {warning_id}"
        raise WarningNotFound(msg)
    return warning


def list_warnings(
    *,
    session: Session,
    hazard_source_id: str | None = None,
    state: WarningState | None = None,
    level: RiskLevel | None = None,
    open_only: bool = False,
    ongoing_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> tuple[builtins.list[RiskWarning], int]:
    """One page of warnings (newest first) and the total matching the filters."""
    conditions = [
        c
        for c in (
            RiskWarning.hazard_source_id == hazard_source_id if hazard_source_id else None,
            RiskWarning.state == state.value if state else None,
            RiskWarning.to_level == level.value if level else None,
            RiskWarning.state != WarningState.CLOSED.value if open_only else None,
            RiskWarning.cleared_ts.is_(None) if ongoing_only else None,
        )
        if c is not None
    ]
    stmt = select(RiskWarning).where(*conditions)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(RiskWarning.ts.desc(), RiskWarning.id.desc()).limit(limit).offset(offset))
    return builtins.list(rows), total


def raise_for_change(
    *, session: Session, previous: RiskLevel | None, score: RiskScore, rules_version: str = ""
) -> RiskWarning | None:
    """Open a warning if ``score`` changes the level (once per source and event time)."""
    if previous is None or previous == score.level:
        return None
    existing = session.scalar(
        select(RiskWarning).where(RiskWarning.hazard_source_id == score.hazard_source_id, RiskWarning.ts == score.ts)
    )
    if existing is not None:
        return existing
    warning = RiskWarning(
        hazard_source_id=score.hazard_source_id,
        ts=score.ts,
        from_level=str(previous),
        to_level=str(score.level),
        score=score.score,
        reasons=msgspec.json.encode(score.contributions).decode(),
        rules_version=rules_version,
        state=WarningState.RAISED.value,
    )
    session.add(warning)
    session.flush()
    return warning


def _move(
    *, session: Session, warning: RiskWarning, action: WarningAction, actor: str | None, note: str = ""
) -> RiskWarning:
    before = WarningState(warning.state)
    after = warning_next(before, action)
    warning.state = after.value
    warning.steps.append(
        RiskWarningStep(
            action=action.value, from_state=before.value, to_state=after.value, actor=actor, at=utcnow(), note=note
        )
    )
    session.flush()
    return warning


def dispatch(*, session: Session, warning: RiskWarning, actor: str | None, to: str | None = None) -> RiskWarning:
    """Push the warning to the people its level calls for (or to ``to``)."""
    warning.dispatched_to = to or PUSH_TO[RiskLevel(warning.to_level)]
    return _move(
        session=session, warning=warning, action=WarningAction.DISPATCH, actor=actor, note=warning.dispatched_to
    )


def report(
    *,
    session: Session,
    warning: RiskWarning,
    actor: str,
    disposal: str,
    cause: str,
    measures: str,
    feedback: Feedback,
) -> RiskWarning:
    """Record the disposal: what was done, why it happened, what prevents a repeat, the verdict."""
    missing = [name for name, text in (("处置情况", disposal), ("原因", cause), ("措施", measures)) if not text.strip()]
    if missing:
        msg = f"处置反馈缺少：{'、'.join(missing)} / disposal report is missing {len(missing)} field(s)"
        raise IncompleteReport(msg)
    warning_next(WarningState(warning.state), WarningAction.REPORT)  # refuse before changing anything
    warning.disposal_report, warning.cause, warning.measures = disposal, cause, measures
    warning.feedback = Feedback(feedback).value
    return _move(session=session, warning=warning, action=WarningAction.REPORT, actor=actor, note=feedback.label)


def reject(*, session: Session, warning: RiskWarning, actor: str, reason: str) -> RiskWarning:
    """Send the report back for more work."""
    return _move(session=session, warning=warning, action=WarningAction.REJECT, actor=actor, note=reason)


def close(*, session: Session, warning: RiskWarning, actor: str) -> RiskWarning:
    """Sign the warning off: the loop is closed."""
    moved = _move(session=session, warning=warning, action=WarningAction.CLOSE, actor=actor)
    moved.closed_at, moved.closed_by = utcnow(), actor
    session.flush()
    return moved


def open_warnings(*, session: Session) -> list[RiskWarning]:
    """Warnings not closed yet, newest first."""
    rows = session.scalars(
        select(RiskWarning).where(RiskWarning.state != WarningState.CLOSED.value).order_by(RiskWarning.ts.desc())
    )
    return list(rows)
