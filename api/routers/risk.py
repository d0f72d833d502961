"""Real-time risk of the major hazard sources (重大危险源实时风险): colours, reasons, history, rules.

Every score is explained: ``contributions`` lists the rules that raised it (rule id, Chinese
label, points), so a plant manager can see why a source is the colour it is. Scores come from
the risk dataflow (``pipelines.risk``) through the time-series store.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError

from api.auth import require
from api.deps import PlantDep, RuntimeDep
from api.runtime import Runtime, hazard_contexts, risk_table
from models.contracts import RiskScore
from models.risk import HazardContext, input_decoder
from models.risk_rules import LEVEL_LABELS, RiskRuleTable

router = APIRouter(prefix="/api/v1/risk", tags=["risk 风险"])

_READ = [Depends(require("read", "risk"))]
_PATH = re.compile(r"\$\.?([\w.\[\]]*)")
_MISSING = re.compile(r"missing required field `(\w+)`")


def _table(runtime: Runtime) -> RiskRuleTable:
    return runtime.risk_plan.table if runtime.risk_plan is not None else risk_table(runtime.settings)


def _contexts(plant: PlantDep) -> dict[str, HazardContext]:
    return {c.id: c for c in hazard_contexts(plant)}


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
    contexts = _contexts(plant)
    table = _table(runtime)
    store: Any = runtime.store  # DuckDB or ClickHouse: both keep risk_scores (not in the sensor protocol)
    latest = store.latest_risk() if store is not None else {}
    out = []
    for sid, ctx in contexts.items():
        score = latest.get(sid)
        if score is None:
            out.append({"hazard_source_id": sid, "name": ctx.name, "area": ctx.area, "level": None, "score": None})
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
    contexts = _contexts(plant)
    ctx = contexts.get(hazard_source_id)
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
