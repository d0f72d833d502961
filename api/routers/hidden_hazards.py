"""Hidden-hazard API (隐患): the register, the closed loop and the supervision list.

Framework routes at ``/api/v1/hidden-hazards`` register (登记, with photos as attachments),
list, edit and export hazards; the state is not editable there. Added:

* ``POST /{record_id}/submit`` — 整改完成, by the responsible person only (403 otherwise);
* ``POST /{record_id}/accept`` — 验收通过 = 销号, by someone other than the rectifier;
* ``POST /{record_id}/reject`` — 验收不通过, back to 整改中;
* ``GET  /supervision`` — open major hazards (重大隐患挂牌督办).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status

from api.auth import SessionDep, SignedInUser, require
from api.register_router import RecordId, register_router, translate_errors
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.schemas import AcceptIn, HazardRead, SubmitIn
from registers.hidden_hazards.workflow import InvalidTransition

RESOURCE = "hazard"
PREFIX = "/api/v1/hidden-hazards"
TAGS: list[str | Enum] = ["hidden-hazards 隐患"]
Reader = Annotated[SignedInUser, Depends(require("read", RESOURCE))]
Editor = Annotated[SignedInUser, Depends(require("update", RESOURCE))]
Approver = Annotated[SignedInUser, Depends(require("approve", RESOURCE))]


@contextmanager
def _errors() -> Iterator[None]:
    """The framework's mapping, plus 403 for the wrong person and 409 for a move the loop refuses."""
    with translate_errors():
        try:
            yield
        except hh.NotResponsible as err:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(err)) from err
        except InvalidTransition as err:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err


def _read(record: HiddenHazard) -> HazardRead:
    return hh.hazards.to_read(record)


extra = APIRouter(prefix=PREFIX, tags=TAGS)


@extra.get("/supervision", response_model=list[HazardRead], summary="重大隐患挂牌督办清单")
def supervision(session: SessionDep, user: Reader) -> list[HazardRead]:
    """Open major hazards, by deadline."""
    return [_read(r) for r in hh.supervision_list(session=session)]


@extra.post("/{record_id}/submit", response_model=HazardRead, summary="整改完成，提交验收")
def submit(session: SessionDep, user: Editor, record_id: RecordId, body: SubmitIn) -> HazardRead:
    """Only the responsible person (整改责任人) submits."""
    with _errors():
        return _read(hh.submit(session=session, hazard_id=record_id, note=body.note, actor=user.username))


@extra.post("/{record_id}/accept", response_model=HazardRead, summary="验收通过（销号）")
def accept(session: SessionDep, user: Approver, record_id: RecordId, body: AcceptIn) -> HazardRead:
    """Close the hazard after verification; not by the one who rectified it."""
    with _errors():
        return _read(hh.accept(session=session, hazard_id=record_id, comment=body.comment, actor=user.username))


@extra.post("/{record_id}/reject", response_model=HazardRead, summary="验收不通过")
def reject(session: SessionDep, user: Approver, record_id: RecordId, body: AcceptIn) -> HazardRead:
    """Send the hazard back to rectification, with the reason."""
    with _errors():
        return _read(hh.reject(session=session, hazard_id=record_id, comment=body.comment, actor=user.username))


routers: tuple[APIRouter, ...] = (
    extra,
    register_router(hh.hazards, prefix=PREFIX, tags=TAGS, resource=RESOURCE),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
