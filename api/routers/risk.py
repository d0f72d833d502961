"""Real-time risk of the major hazard sources (重大危险源实时风险): colours, reasons, history, rules.

Every score is explained: ``contributions`` lists the rules that raised it (rule id, Chinese
label, points), so a plant manager can see why a source is the colour it is. Scores come from
the risk dataflow (``pipelines.risk``) through the time-series store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from api.auth import SessionDep, SignedInUser, require
from api.deps import PlantDep, RuntimeDep
from api.runtime import Runtime, hazard_context, hazard_contexts, risk_table
from models.contracts import RiskLevel, RiskScore
from models.risk import HazardContext, input_decoder
from models.risk_rules import LEVEL_LABELS, RiskRuleTable
from registers.risk_warnings import service as risk_warnings
from registers.risk_warnings.models import RiskWarning
from registers.risk_warnings.workflow import (
    ACTION_PERMISSION,
    TRANSITIONS,
    Feedback,
    InvalidTransition,
    WarningAction,
    WarningState,
    allowed_actions,
)

router = APIRouter(prefix="/api/v1/risk", tags=["risk 风险"])

_READ = [Depends(require("read", "risk"))]
_PATH = re.compile(r"\$\.?([\w.\[\]]*)")
_MISSING = re.compile(r"missing required field `(\w+)`")


def _table(runtime: Runtime) -> RiskRuleTable:
    return runtime.risk_plan.table if runtime.risk_plan is not None else risk_table(runtime.settings)


def _view(score: RiskScore, ctx: HazardContext | None, table: RiskRuleTable) -> dict[str, Any]:
    return {
        "hazard_source_id": score.hazard_source_id,
        "name": ctx.name if ctx else score.hazard_source_id,
        "area": ctx.area if ctx else None,
        "ts": score.ts,
        "level": str(score.level),
        "level_label": LEVEL_LABELS[score.level],
        "score": score.score,
        "rules_version": table.version,
        "contributions": [
            {"rule": c.factor, "label": table.label(c.factor), "points": c.value} for c in score.contributions
        ],
    }


@router.get("/scores", dependencies=_READ)
def latest_scores(runtime: RuntimeDep, plant: PlantDep) -> list[dict[str, Any]]:
    """The current colour, score and reasons of every major hazard source (most severe first).

    A source the flow has not scored yet (no input since start) is listed with its inherent
    level only as ``level: null``.
    """
    contexts = hazard_contexts(plant)
    table = _table(runtime)
    store: Any = runtime.store  # DuckDB or ClickHouse: both keep risk_scores (not in the sensor protocol)
    latest = store.latest_risk() if store is not None else {}
    out = []
    for ctx in contexts:
        score = latest.get(ctx.id)
        if score is None:
            out.append({"hazard_source_id": ctx.id, "name": ctx.name, "area": ctx.area, "level": None, "score": None})
        else:
            out.append(_view(score, ctx, table))
    return sorted(out, key=lambda v: -(v["score"] if v["score"] is not None else -1))


@router.get("/scores/{hazard_source_id}/history", dependencies=_READ)
def score_history(
    hazard_source_id: str,
    runtime: RuntimeDep,
    plant: PlantDep,
    start: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    end: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict[str, Any]]:
    """Stored scores of one source (each change of colour, score or reasons), newest first."""
    ctx = hazard_context(plant, hazard_source_id)
    if ctx is None:
        raise HTTPException(status_code=404, detail=f"未知重大危险源 / unknown hazard source {hazard_source_id!r}")
    store: Any = runtime.store
    if store is None:
        return []
    table = _table(runtime)
    return [_view(s, ctx, table) for s in store.risk_history(hazard_source_id, start, end, limit)]


@router.get("/rules", dependencies=_READ)
def rules(runtime: RuntimeDep) -> dict[str, Any]:
    """The rule table in force (version, each rule's label, steps, floor), DOMAIN.md §3.3."""
    out: dict[str, Any] = msgspec.to_builtins(_table(runtime))
    return out


# Posting inputs by hand is a drill on the plant (演练), granted like the simulator's controls;
# in production the registers publish these events themselves.
@router.post("/inputs", status_code=202, dependencies=[Depends(require("execute", "simulator"))])
def post_input(
    runtime: RuntimeDep,
    body: Annotated[
        dict[str, Any],
        Body(
            description="一个风险输入事件 / one risk input: ``{type: special_work|sis_bypass|people_count|"
            "management|operating_mode|recompute, ...}`` (models.risk)",
            examples=[
                {
                    "type": "sis_bypass",
                    "interlock_id": "SIS-1",
                    "hazard_source_id": "MHS-01",
                    "bypassed": True,
                    "ts": 1780000000000,
                }
            ],
        ),
    ],
) -> dict[str, Any]:
    """Feed a register event to the risk flow (drills, integrations without Kafka).

    Validated like every stream message; the flow recomputes the sources it concerns within a
    second. 409 when no risk flow runs in this process (distributed mode: publish to Kafka).
    """
    try:
        item = input_decoder.decode(msgspec.json.encode(body))
    except msgspec.ValidationError as err:
        text = str(err)
        missing = _MISSING.search(text)
        m = _PATH.search(text)
        field = missing.group(1) if missing else m.group(1) if m and m.group(1) else "type"
        raise RequestValidationError([{"loc": ("body", field), "msg": text, "type": "value_error"}]) from err
    if runtime.risk_plan is None or runtime.distributed:
        raise HTTPException(status_code=409, detail="风险数据流未在本进程运行 / the risk flow does not run here")
    runtime.publish_risk_input(item)
    return {"accepted": msgspec.to_builtins(item)}


# --- risk warnings (风险预警): the closed loop of an episode of elevated risk ------------------

WarningPk = Annotated[int, Path(ge=1, le=2**31 - 1, description="风险预警ID")]


Dispatcher = Annotated[SignedInUser, Depends(require(*ACTION_PERMISSION[WarningAction.DISPATCH]))]
Reporter = Annotated[SignedInUser, Depends(require(*ACTION_PERMISSION[WarningAction.REPORT]))]
Approver = Annotated[SignedInUser, Depends(require(*ACTION_PERMISSION[WarningAction.CLOSE]))]


@contextmanager
def _warning_errors() -> Iterator[None]:
    """The risk-warning register's errors as HTTP answers, in one place."""
    try:
        yield
    except risk_warnings.WarningNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err
    except InvalidTransition as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    except risk_warnings.IncompleteReport as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err)) from err


def _load_warning(warning_id: WarningPk, session: SessionDep) -> RiskWarning:
    with _warning_errors():
        return risk_warnings.get(session=session, warning_id=warning_id)


WarningDep = Annotated[RiskWarning, Depends(_load_warning)]


def _warning_view(
    w: RiskWarning, table: RiskRuleTable, names: dict[str, str], *, steps: bool = False
) -> dict[str, Any]:
    reasons = msgspec.json.decode(w.reasons.encode()) if w.reasons else []
    state = WarningState(w.state)
    out: dict[str, Any] = {
        "id": w.id,
        "hazard_source_id": w.hazard_source_id,
        "name": names.get(w.hazard_source_id, w.hazard_source_id),
        "ts": w.ts,
        "from_level": w.from_level,
        "to_level": w.to_level,
        "to_level_label": LEVEL_LABELS[RiskLevel(w.to_level)],
        "level": w.level,
        "ongoing": w.cleared_ts is None,
        "cleared_ts": w.cleared_ts,
        "score": w.score,
        "rules_version": w.rules_version,
        "contributions": [
            {"rule": r.get("factor"), "label": table.label(str(r.get("factor"))), "points": r.get("value")}
            for r in reasons
        ],
        "state": state.value,
        "state_label": state.label,
        "allowed_actions": [a.value for a in allowed_actions(TRANSITIONS, state)],
        "dispatched_to": w.dispatched_to,
        "disposal_report": w.disposal_report,
        "cause": w.cause,
        "measures": w.measures,
        "feedback": w.feedback,
        "closed_at": w.closed_at.isoformat() if w.closed_at else None,
        "closed_by": w.closed_by,
    }
    if steps:
        out["steps"] = [
            {
                "action": st.action,
                "from_state": st.from_state,
                "to_state": st.to_state,
                "actor": st.actor,
                "at": st.at.isoformat(),
                "note": st.note,
            }
            for st in w.steps
        ]
    return out


def _names(plant: PlantDep) -> dict[str, str]:
    return {hs.id: hs.name for hs in plant.hazard_sources}


@router.get("/warnings", dependencies=_READ)
def list_warnings(
    session: SessionDep,
    runtime: RuntimeDep,
    plant: PlantDep,
    hazard_source_id: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[WarningState | None, Query(description="raised / dispatched / reported / closed")] = None,
    level: Annotated[RiskLevel | None, Query(description="peak level of the episode")] = None,
    open_only: Annotated[bool, Query(description="only warnings not closed yet")] = False,
    ongoing: Annotated[bool, Query(description="only episodes whose risk has not fallen back yet")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Risk warnings, newest first: one per episode of orange/red risk, with its reasons and closed-loop state."""
    rows, total = risk_warnings.list_warnings(
        session=session,
        hazard_source_id=hazard_source_id,
        state=state,
        level=level,
        open_only=open_only,
        ongoing_only=ongoing,
        limit=limit,
        offset=offset,
    )
    table, names = _table(runtime), _names(plant)
    return {"items": [_warning_view(w, table, names) for w in rows], "total": total}


@router.get("/warnings/{warning_id}", dependencies=_READ)
def get_warning(warning: WarningDep, runtime: RuntimeDep, plant: PlantDep) -> dict[str, Any]:
    """One warning with its journal: who acknowledged, reported, closed it, and when the risk fell back."""
    return _warning_view(warning, _table(runtime), _names(plant), steps=True)


class DispatchBody(BaseModel):
    """Acknowledge and dispatch (接警派发): to whom, if not the people the level calls for."""

    to: str | None = Field(default=None, min_length=1, max_length=500, description="推送对象; default by level")


class ReportBody(BaseModel):
    """The disposal report (处置反馈) a warning needs before it may close."""

    disposal: str = Field(min_length=1, max_length=4000, description="处置情况")
    cause: str = Field(min_length=1, max_length=4000, description="原因分析")
    measures: str = Field(min_length=1, max_length=4000, description="整改/管控措施")
    feedback: Feedback = Field(description="已处置 handled / 误报 false_alarm / 设备故障 equipment_fault")


class RejectBody(BaseModel):
    """Why the report goes back."""

    reason: str = Field(min_length=1, max_length=2000, description="退回原因")


@router.post("/warnings/{warning_id}/acknowledge")
def acknowledge_warning(
    user: Dispatcher,
    warning: WarningDep,
    session: SessionDep,
    runtime: RuntimeDep,
    plant: PlantDep,
    body: DispatchBody | None = None,
) -> dict[str, Any]:
    """Acknowledge the warning and dispatch it (to the people its level calls for, or ``to``)."""
    with _warning_errors():
        risk_warnings.dispatch(session=session, warning=warning, actor=user.username, to=body.to if body else None)
    return _warning_view(warning, _table(runtime), _names(plant))


@router.post("/warnings/{warning_id}/report")
def report_warning(
    user: Reporter, warning: WarningDep, session: SessionDep, runtime: RuntimeDep, plant: PlantDep, body: ReportBody
) -> dict[str, Any]:
    """Report the disposal: what was done, the cause, the measures, the verdict."""
    with _warning_errors():
        risk_warnings.report(
            session=session,
            warning=warning,
            actor=user.username,
            disposal=body.disposal,
            cause=body.cause,
            measures=body.measures,
            feedback=body.feedback,
        )
    return _warning_view(warning, _table(runtime), _names(plant))


@router.post("/warnings/{warning_id}/reject")
def reject_warning(
    user: Approver, warning: WarningDep, session: SessionDep, runtime: RuntimeDep, plant: PlantDep, body: RejectBody
) -> dict[str, Any]:
    """Send the disposal report back for more work."""
    with _warning_errors():
        risk_warnings.reject(session=session, warning=warning, actor=user.username, reason=body.reason)
    return _warning_view(warning, _table(runtime), _names(plant))


@router.post("/warnings/{warning_id}/close")
def close_warning(
    user: Approver, warning: WarningDep, session: SessionDep, runtime: RuntimeDep, plant: PlantDep
) -> dict[str, Any]:
    """Sign the warning off (闭环): only after its disposal was reported."""
    with _warning_errors():
        risk_warnings.close(session=session, warning=warning, actor=user.username)
    return _warning_view(warning, _table(runtime), _names(plant))
