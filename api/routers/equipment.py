"""Equipment and facilities (设备设施): the register APIs plus tree, one-file view and workflows.

Nine registers through the framework's router factory (list, export, create, get, update,
delete/restore, history, attachments), and routes of their own, declared before the
factory's ``/{record_id}`` so their names are not read as record ids:

* ``GET /api/v1/equipment/tree``: the equipment tree (site → unit → equipment → component);
* ``GET /api/v1/equipment/files/{code}``: 一台一档, all records of an equipment and its parts;
* ``GET /api/v1/equipment/reminders``: due inspections, calibrations, replacements (preview);
* ``POST /api/v1/equipment/import`` (and each record register's ``/import``): the framework's
  import plus the tree's rules (a parent must exist, records need the right kind of equipment);
* ``POST /api/v1/sis-bypasses/{id}/{approve|reject|start|close|cancel}``,
  ``GET /api/v1/sis-bypasses/overrun``: the bypass workflow and the overrunning bypasses;
* ``POST /api/v1/work-orders/{id}/{assign|start|complete|rework|verify|close|cancel}``.

Each workflow action is its own route with its own permission (``approve`` to sign off,
``update`` to do the work), so the role × action table is visible in OpenAPI. Workflow
registers (bypasses, work orders) have no import: a state must never arrive from a spreadsheet.

Mount (the lead does this in ``api/app.py``)::

    from api.routers import equipment
    for leaf in equipment.routers:  # flat: see ``routers`` below
        app.include_router(leaf, dependencies=protected)

This module has no ``from __future__ import annotations``: FastAPI reads the annotations.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from api.auth import SessionDep, SignedInUser, require
from api.register_router import RecordId, register_router, translate_errors
from registers.db import utcnow
from registers.equipment import service
from registers.equipment.schemas import BypassRead, EquipmentFile, TreeNode, WorkOrderRead
from registers.equipment.workflow import (
    BYPASS_ACTION_PERMISSION,
    WORK_ORDER_ACTION_PERMISSION,
    BypassAction,
    InvalidTransition,
    WorkOrderAction,
)
from registers.framework.reminders import pending_reminders
from registers.framework.service import Register

__all__ = ["router", "routers"]

EQUIPMENT, WORK_ORDER, SIS_BYPASS = "equipment", "work_order", "sis_bypass"

CodePath = Annotated[str, Path(min_length=1, max_length=64, description="设备编码, e.g. DEMO.TANK_FARM.V-101")]


@contextmanager
def translate() -> Iterator[None]:
    """The framework's error mapping plus this domain's: illegal move 409, separation of duties 403."""
    with translate_errors():
        try:
            yield
        except InvalidTransition as err:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
        except service.SeparationOfDuties as err:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(err)) from err


class ReminderRead(BaseModel):
    """A due date that needs attention."""

    register_name: str = Field(description="台账")
    record_id: int
    field: str
    lead_days: int
    due_date: date
    days_left: int
    record: str
    message: str


class TransitionBody(BaseModel):
    """Optional comment of a workflow action (审批意见 / 处理结果)."""

    note: str | None = Field(default=None, max_length=4000, description="意见/处理结果")


class AssignBody(TransitionBody):
    """Assignment of a work order to a maintainer."""

    assignee: str = Field(min_length=1, max_length=64, description="维修人")


# --- equipment tree: own routes first, then the factory's ------------------------------------

equipment_routes = APIRouter(prefix="/api/v1/equipment", tags=["equipment 设备设施"])
EquipmentReader = Annotated[SignedInUser, Depends(require("read", EQUIPMENT))]


@equipment_routes.get("/tree", response_model=list[TreeNode], summary="设备树")
def equipment_tree(
    session: SessionDep,
    user: EquipmentReader,
    root: Annotated[str | None, Query(max_length=64, description="只看此编码下的子树")] = None,
) -> Any:
    """The live tree, or the subtree under ``root``."""
    with translate():
        return service.tree(session=session, root=root)


@equipment_routes.get("/files/{code}", response_model=EquipmentFile, summary="一台一档")
def equipment_file(session: SessionDep, user: EquipmentReader, code: CodePath) -> Any:
    """Everything recorded about one equipment and its components."""
    with translate():
        return service.equipment_file(session=session, code=code)


@equipment_routes.get("/reminders", response_model=list[ReminderRead], summary="到期提醒 (预览)")
def equipment_reminders(
    session: SessionDep,
    user: EquipmentReader,
    at: Annotated[AwareDatetime | None, Query(description="按此时间计算 (缺省为现在)")] = None,
) -> Any:
    """Inspections, calibrations and replacements due now (not marked as sent)."""
    reminders = pending_reminders(service.REMINDER_REGISTERS, session=session, now=at or utcnow())
    return [
        ReminderRead(register_name=r.register, **{k: v for k, v in asdict(r).items() if k != "register"})
        for r in reminders
    ]


def _factory(
    records: Register[Any, Any, Any, Any],
    prefix: str,
    tag: str,
    resource: str,
    *,
    importable: bool = True,
    own: APIRouter | None = None,
) -> tuple[APIRouter, ...]:
    """The register's routes: its own first, then the factory's, importing with the tree's rules."""
    importer = service.import_equipment_file if importable else None
    generated = register_router(records, prefix=prefix, tags=[tag], resource=resource, importer=importer)
    return (own, generated) if own is not None else (generated,)


# --- SIS bypasses ----------------------------------------------------------------------------

bypass_routes = APIRouter(prefix="/api/v1/sis-bypasses", tags=["sis-bypasses 联锁旁路"])


@bypass_routes.get("/overrun", response_model=list[BypassRead], summary="超期旁路")
def overrun_bypasses(session: SessionDep, user: Annotated[SignedInUser, Depends(require("read", SIS_BYPASS))]) -> Any:
    """Bypasses still active past their approved window: the interlock is out longer than allowed."""
    return service.overrun_bypasses(session=session)


def _bypass_action(action: BypassAction) -> Callable[..., Any]:
    def move(
        session: SessionDep,
        user: Annotated[SignedInUser, Depends(require(BYPASS_ACTION_PERMISSION[action], SIS_BYPASS))],
        record_id: RecordId,
        body: TransitionBody | None = None,
    ) -> Any:
        with translate():
            return service.transition_bypass(
                session=session,
                record_id=record_id,
                action=action,
                actor=user.username,
                note=body.note if body else None,
            )

    return move


for _action in BypassAction:
    bypass_routes.add_api_route(
        f"/{{record_id}}/{_action.value}",
        _bypass_action(_action),
        methods=["POST"],
        response_model=BypassRead,
        summary=f"旁路{_action.label}",
        responses={403: {"description": "无权限或申请人自批"}, 409: {"description": "当前状态不允许此操作"}},
    )


# --- work orders -----------------------------------------------------------------------------

work_order_routes = APIRouter(prefix="/api/v1/work-orders", tags=["work-orders 设备工单"])


def _work_order_action(action: WorkOrderAction) -> Callable[..., Any]:
    if action is WorkOrderAction.ASSIGN:

        def assign(
            session: SessionDep,
            user: Annotated[SignedInUser, Depends(require(WORK_ORDER_ACTION_PERMISSION[action], WORK_ORDER))],
            record_id: RecordId,
            body: AssignBody,
        ) -> Any:
            with translate():
                return service.transition_work_order(
                    session=session,
                    record_id=record_id,
                    action=action,
                    actor=user.username,
                    assignee=body.assignee,
                    note=body.note,
                )

        return assign

    def move(
        session: SessionDep,
        user: Annotated[SignedInUser, Depends(require(WORK_ORDER_ACTION_PERMISSION[action], WORK_ORDER))],
        record_id: RecordId,
        body: TransitionBody | None = None,
    ) -> Any:
        with translate():
            return service.transition_work_order(
                session=session,
                record_id=record_id,
                action=action,
                actor=user.username,
                note=body.note if body else None,
            )

    return move


for _wo_action in WorkOrderAction:
    work_order_routes.add_api_route(
        f"/{{record_id}}/{_wo_action.value}",
        _work_order_action(_wo_action),
        methods=["POST"],
        response_model=WorkOrderRead,
        summary=f"工单{_wo_action.label}",
        responses={403: {"description": "无权限或维修人自验收"}, 409: {"description": "当前状态不允许此操作"}},
    )


# --- assembly --------------------------------------------------------------------------------

# ``routers`` are the leaf routers, in matching order; ``api/app.py`` includes them one by one.
# FastAPI analyses every route again at each level of nested ``include_router``; flat keeps
# start-up fast. ``router`` (all of them, one level deep) is for tests and other apps.
routers: tuple[APIRouter, ...] = (
    *_factory(service.register, "/api/v1/equipment", "equipment 设备设施", EQUIPMENT, own=equipment_routes),
    *(
        leaf
        for _records, _prefix, _tag in (
            (service.inspections, "/api/v1/equipment-inspections", "equipment 特种设备检验"),
            (service.calibrations, "/api/v1/safety-valve-calibrations", "equipment 安全阀校验"),
            (service.replacements, "/api/v1/rupture-disc-replacements", "equipment 爆破片更换"),
            (service.lifecycle, "/api/v1/equipment-lifecycle", "equipment 全生命周期"),
            (service.spare_parts, "/api/v1/spare-parts", "equipment 备品备件"),
            (service.interlocks, "/api/v1/sis-interlocks", "equipment SIS联锁"),
        )
        for leaf in _factory(_records, _prefix, _tag, EQUIPMENT)
    ),
    *_factory(
        service.bypasses,
        "/api/v1/sis-bypasses",
        "sis-bypasses 联锁旁路",
        SIS_BYPASS,
        importable=False,
        own=bypass_routes,
    ),
    *_factory(
        service.work_orders,
        "/api/v1/work-orders",
        "work-orders 设备工单",
        WORK_ORDER,
        importable=False,
        own=work_order_routes,
    ),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
