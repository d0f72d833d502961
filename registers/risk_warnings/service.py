"""Services of the risk warnings: raise on a level change, then dispatch, report, reject, close.

Keyword-only, session first; each service ``flush()``es and the caller commits once. Every
move goes through the transition table and writes a :class:`RiskWarningStep` with who and
when. ``raise_for_change`` is what the integrator calls for each ``risk.score`` it consumes.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.contracts import RiskLevel, RiskScore
from registers.db import utcnow
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
