"""Plant overview (总览): the big-screen summary in one answer, read from the registers and the store.

``GET /api/v1/overview`` gathers what the control-room dashboard shows, so the page polls one
route instead of seven: risk colour per major hazard source, active alarms by priority (the
alarm register's annunciated set, the same one ``/api/v1/alarms/active`` lists), people on
site and per zone, open permits, overdue inspection rounds and check tasks, open hidden hazards.

The route needs ``read`` on ``twin`` (the control-room picture). Each section is filled only
when the user may also read its own resource (``alarm``, ``risk``, ``position``, ``permit``,
``inspection``, ``dual_prevention``, ``hazard``); otherwise it is ``null``, so the overview never
shows more than the user's own routes would.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.auth import SessionDep, SignedInUser, require
from api.deps import PlantDep, RuntimeDep
from api.routers import positioning, risk
from registers.alarms import service as alarms
from registers.db import utcnow
from registers.dual_prevention import service as dual_prevention
from registers.dual_prevention.workflow import TaskState
from registers.hidden_hazards import service as hidden_hazards
from registers.hidden_hazards.schemas import HazardLevel
from registers.inspections import service as inspections
from registers.permissions import can
from registers.permits import service as permits

router = APIRouter(prefix="/api/v1/overview", tags=["overview 总览"])

Viewer = Annotated[SignedInUser, Depends(require("read", "twin"))]

PRIORITIES = ("critical", "high", "medium", "low")
LIST_CAP = 20  # rows of each list on the big screen; the counts are complete


class RiskSource(BaseModel):
    """One major hazard source's current colour (``level`` null before its first score)."""

    hazard_source_id: str
    name: str
    area: str | None = None
    level: str | None = None
    level_label: str | None = None
    score: float | None = None


class AlarmSummary(BaseModel):
    """Annunciated alarms (active, acknowledged or not, and returned-unacknowledged)."""

    total: int
    unacknowledged: int
    by_priority: dict[str, int] = Field(description="critical / high / medium / low")


class ZoneCount(BaseModel):
    """People in one zone now."""

    zone_id: str
    name: str
    kind: str
    count: int
    max_people: int | None = None


class PeopleSummary(BaseModel):
    """People seen in the last five minutes, on site and per zone."""

    site: int
    zones: list[ZoneCount]


class OpenPermit(BaseModel):
    """A ticket issued or being worked."""

    id: int
    number: str
    work_type: str
    status: str
    area: str | None = None
    title: str


class PermitSummary(BaseModel):
    """Open permits (已批准 / 作业中)."""

    total: int
    by_type: dict[str, int]
    items: list[OpenPermit]


class OverdueRound(BaseModel):
    """An inspection round not completed by the end of its slot (last 24 h)."""

    id: int
    assignee: str
    slot_end: datetime
    state: str
    areas: list[str]
    missed_points: int


class InspectionSummary(BaseModel):
    """Overdue inspection rounds (last 24 h) and overdue 隐患排查 check tasks."""

    overdue_rounds: int
    overdue_check_tasks: int | None = Field(default=None, description="null without dual_prevention read")
    items: list[OverdueRound]


class HazardSummary(BaseModel):
    """Open hidden hazards (not yet accepted)."""

    open: int
    major: int
    overdue: int
    by_state: dict[str, int]


class Overview(BaseModel):
    """The big-screen summary; a section is null when the user may not read its resource."""

    generated_at: datetime
    risk: list[RiskSource] | None = None
    alarms: AlarmSummary | None = None
    people: PeopleSummary | None = None
    permits: PermitSummary | None = None
    inspections: InspectionSummary | None = None
    hazards: HazardSummary | None = None


def _alarms(session: SessionDep) -> AlarmSummary:
    rows = alarms.annunciated(session=session)
    counts = Counter(a.priority for a in rows)
    return AlarmSummary(
        total=len(rows),
        unacknowledged=sum(1 for a in rows if a.state.startswith("unack")),
        by_priority={p: counts.get(p, 0) for p in PRIORITIES},
    )


def _permits(session: SessionDep) -> PermitSummary:
    rows = permits.open_permits(session=session)
    return PermitSummary(
        total=len(rows),
        by_type=dict(Counter(p.work_type for p in rows)),
        items=[
            OpenPermit(id=p.id, number=p.number, work_type=p.work_type, status=p.status, area=p.area, title=p.title)
            for p in rows[:LIST_CAP]
        ],
    )


def _inspections(session: SessionDep, now: datetime, check_tasks: bool) -> InspectionSummary:
    rounds = inspections.overdue_tasks(session=session, now=now)
    overdue_checks = None
    if check_tasks:
        _, overdue_checks = dual_prevention.list_tasks(session=session, state=TaskState.OVERDUE.value, limit=1)
    return InspectionSummary(
        overdue_rounds=len(rounds),
        overdue_check_tasks=overdue_checks,
        items=[
            OverdueRound(
                id=r.id,
                assignee=r.assignee,
                slot_end=r.slot_end,
                state=r.state,
                areas=list(r.areas),
                missed_points=r.missed_points,
            )
            for r in rounds[:LIST_CAP]
        ],
    )


def _hazards(session: SessionDep, now: datetime) -> HazardSummary:
    rows = hidden_hazards.open_hazards(session=session, now=now)
    return HazardSummary(
        open=len(rows),
        major=sum(1 for h in rows if h.level == HazardLevel.MAJOR),
        overdue=sum(1 for h in rows if h.overdue),
        by_state=dict(Counter(str(h.state) for h in rows)),
    )


def _people(runtime: RuntimeDep, plant: PlantDep) -> PeopleSummary:
    counts: dict[str, Any] = positioning.headcount(runtime, plant, within_s=300)
    return PeopleSummary.model_validate(counts)


@router.get("", response_model=Overview, summary="总览大屏数据")
def overview(session: SessionDep, user: Viewer, runtime: RuntimeDep, plant: PlantDep) -> Overview:
    """Risk colours, active alarms, people, open permits, overdue rounds and open hazards, in one answer."""
    roles = user.role_names

    def may(resource: str) -> bool:
        return can(roles, "read", resource)

    now = utcnow()
    return Overview(
        generated_at=now,
        risk=[RiskSource.model_validate(s) for s in risk.latest_scores(runtime, plant)] if may("risk") else None,
        alarms=_alarms(session) if may("alarm") else None,
        people=_people(runtime, plant) if may("position") else None,
        permits=_permits(session) if may("permit") else None,
        inspections=_inspections(session, now, may("dual_prevention")) if may("inspection") else None,
        hazards=_hazards(session, now) if may("hazard") else None,
    )
