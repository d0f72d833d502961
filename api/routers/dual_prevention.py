"""Dual-prevention API (双重预防): risk grading registers, the four-colour map, investigation tasks, health, exchange.

Framework routes serve risk analysis objects, units, events (graded by LEC / LS on every
change), control measures and check schedules under ``/api/v1/dual-prevention/...``. Added:

* ``GET  /risk-map`` — every unit with its level and colour (风险四色图 register of risk points);
* ``GET  /health`` — completion and closure rates per unit, and the warnings (机制运行预警);
* ``GET  /check-tasks``, ``GET /check-tasks/{task_id}`` — generated investigation tasks;
* ``POST /check-tasks/generate`` — the scheduled job on demand (generate, then mark overdue);
* ``POST /check-tasks/{task_id}/complete`` — the check record; only the assignee (403 otherwise);
* ``GET  /exchange/export`` — every record in the exchange JSON shapes (``docs/dual-prevention-exchange.schema.json``);
* ``GET  /exchange/outbox``, ``POST /exchange/enqueue`` — the delivery outbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict

from api.auth import SessionDep, SignedInUser, require
from api.register_router import register_router, translate_errors
from registers.db import utcnow
from registers.dual_prevention import exchange
from registers.dual_prevention import service as dp
from registers.dual_prevention.schemas import (
    CheckTaskPage,
    CheckTaskRead,
    CompleteIn,
    GenerateIn,
    GenerateRead,
    HealthRead,
    RiskMapEntry,
)
from registers.dual_prevention.workflow import InvalidTransition, TaskState

RESOURCE = "dual_prevention"
PREFIX = "/api/v1/dual-prevention"
TAGS: list[str | Enum] = ["dual-prevention 双重预防"]
DEFAULT_COMPANY_CODE = "000000000"  # placeholder until the settings carry the enterprise's 企业编码
Reader = Annotated[SignedInUser, Depends(require("read", RESOURCE))]
Editor = Annotated[SignedInUser, Depends(require("update", RESOURCE))]
Doer = Annotated[SignedInUser, Depends(require("execute", RESOURCE))]
ExchangeReader = Annotated[SignedInUser, Depends(require("read", "exchange"))]
ExchangeExporter = Annotated[SignedInUser, Depends(require("export", "exchange"))]
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="排查任务ID")]


class OutboxRead(BaseModel):
    """One outbox row: what is sent, how often it was tried, where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    record_id: str
    idempotency_key: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None


class EnqueueRead(BaseModel):
    """How many records were queued for delivery."""

    queued: int


@contextmanager
def _errors() -> Iterator[None]:
    """The framework's mapping, plus 403 for someone else's task and 409 for a task already done."""
    with translate_errors():
        try:
            yield
        except dp.NotAssignee as err:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(err)) from err
        except InvalidTransition as err:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err


def _company_code(request: Request) -> str:
    return str(getattr(request.app.state.settings, "company_code", None) or DEFAULT_COMPANY_CODE)


extra = APIRouter(prefix=PREFIX, tags=TAGS)


@extra.get("/risk-map", response_model=list[RiskMapEntry], summary="风险四色图（风险点清单）")
def risk_map(session: SessionDep, user: Reader) -> list[RiskMapEntry]:
    """Every live unit with its level, colour, management level and responsible person."""
    return dp.risk_map(session=session)


@extra.get("/health", response_model=HealthRead, summary="双重预防机制运行成效")
def health(
    session: SessionDep,
    user: Reader,
    days: Annotated[int, Query(ge=1, le=366, description="统计天数")] = 30,
    idle_days: Annotated[int, Query(ge=1, le=90, description="连续无排查预警天数")] = 3,
) -> HealthRead:
    """Completion rate of tasks, closure rate and overdue hazards per unit, and the warnings."""
    return dp.mechanism_health(session=session, now=utcnow(), days=days, idle_days=idle_days)


@extra.get("/check-tasks", response_model=CheckTaskPage, summary="隐患排查任务列表")
def list_check_tasks(
    session: SessionDep,
    user: Reader,
    assignee: Annotated[str | None, Query(max_length=64, description="排查人")] = None,
    state: Annotated[TaskState | None, Query(description="状态")] = None,
    area: Annotated[str | None, Query(max_length=64, description="区域")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CheckTaskPage:
    """Tasks, newest slot first."""
    rows, total = dp.list_tasks(session=session, assignee=assignee, state=state, area=area, offset=offset, limit=limit)
    return CheckTaskPage(items=[CheckTaskRead.model_validate(r) for r in rows], total=total)


@extra.post("/check-tasks/generate", response_model=GenerateRead, summary="生成排查任务")
def generate(session: SessionDep, user: Editor, body: GenerateIn) -> GenerateRead:
    """Generate the tasks due up to ``until`` (default now) and mark the overdue ones."""
    now = utcnow()
    until = min(body.until or now, now)  # never ahead of time: a future task cannot be overdue or done
    created = dp.generate_tasks(session=session, until=until)
    return GenerateRead(created=created, expired=dp.expire_tasks(session=session, now=now))


@extra.get("/check-tasks/{task_id}", response_model=CheckTaskRead, summary="排查任务详情")
def get_check_task(session: SessionDep, user: Reader, task_id: TaskId) -> CheckTaskRead:
    """One task with its check record and steps."""
    with _errors():
        return CheckTaskRead.model_validate(dp.get_task(session=session, task_id=task_id))


@extra.post("/check-tasks/{task_id}/complete", response_model=CheckTaskRead, summary="完成排查（仅限被指派人）")
def complete(session: SessionDep, user: Doer, task_id: TaskId, body: CompleteIn) -> CheckTaskRead:
    """Record the check; only the assignee may, once (late when past the slot)."""
    with _errors():
        task = dp.complete_task(
            session=session,
            task_id=task_id,
            actor=user.username,
            check_status=body.check_status,
            result=body.result,
            device=body.device,
            hazard=body.hazard,
        )
    return CheckTaskRead.model_validate(task)


@extra.get("/exchange/export", summary="双重预防数据导出（数据交换格式）")
def export(session: SessionDep, user: ExchangeExporter, request: Request) -> dict[str, Any]:
    """Every record in the exchange specification's JSON shapes."""
    return exchange.export_document(session=session, company_code=_company_code(request))


@extra.get("/exchange/outbox", response_model=list[OutboxRead], summary="数据交换发件箱")
def outbox(
    session: SessionDep,
    user: ExchangeReader,
    state: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$", description="状态")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OutboxRead]:
    """Outbox rows, newest first."""
    rows = exchange.outbox(session=session, state=state, offset=offset, limit=limit)
    return [OutboxRead.model_validate(r) for r in rows]


@extra.post("/exchange/enqueue", response_model=EnqueueRead, summary="将变更加入发件箱")
def enqueue(session: SessionDep, user: Editor, request: Request) -> EnqueueRead:
    """Queue every record changed since it was last queued (the delivery job sends them)."""
    return EnqueueRead(queued=exchange.enqueue_changes(session=session, company_code=_company_code(request)))


routers: tuple[APIRouter, ...] = (
    extra,
    *(
        register_router(register, prefix=f"{PREFIX}/{path}", tags=TAGS, resource=RESOURCE)
        for register, path in (
            (dp.objects, "objects"),
            (dp.units, "units"),
            (dp.events, "events"),
            (dp.measures, "measures"),
            (dp.schedules, "schedules"),
        )
    ),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
