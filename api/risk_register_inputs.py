"""Register events into the risk flow: special work at work and interlocks bypassed (embedded mode).

The risk model raises a source's level while special work runs in its area (GB 30871 permits
in state 作业中) and while one of its interlocks is bypassed (SIS bypass records in state
``active``). Those facts live in the registers; this bridge reads them every ``interval_s``
(one short read transaction), compares with what it last told the flow and publishes only the
changes as :mod:`models.risk` inputs on the bus: a permit that starts work is a
``SpecialWork(active=True)``, one that stops (suspended, completed, expired ...) the same with
``active=False``; likewise ``SisBypass`` for a bypass put in or restored. The first read after
start-up tells the flow everything in force, so a restart loses nothing.

A permit's area is a plant area id (every source of the area is concerned); a bypass reaches
the source of its interlock's equipment (the node's own ``hazard_source_code``, else the
nearest ancestor's in the equipment tree).

The distributed risk flow (``api.flows:risk``) reads the registers the same way through
:class:`RegisterInputSource`, one Bytewax partition whose recovery state is what it last told
the flow: a flow restarted after a permit ended while it was down still hears the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.register_poller import RegisterPollSource, RegisterPublisher, RegisterReader, wall_ms
from connectors.bus.memory import Bus
from models.permit_rules import WorkType
from models.risk import SisBypass, SpecialWork
from models.risk import WorkType as RiskWorkType
from registers.equipment.models import BypassRecord, EquipmentNode, SisInterlock
from registers.equipment.workflow import BypassState
from registers.permits.models import Permit, PermitStatus

WORK_TYPES: Final[Mapping[str, RiskWorkType]] = {
    WorkType.HOT: "hot_work",
    WorkType.CONFINED: "confined_space",
    WorkType.BLIND: "blind_plate",
    WorkType.HEIGHT: "at_height",
    WorkType.LIFTING: "lifting",
    WorkType.TEMP_POWER: "temp_power",
    WorkType.EXCAVATION: "excavation",
    WorkType.ROAD: "road_break",
}
"""Permit work types (ticket names) -> the risk model's work types."""
HOT_GRADES: Final[Mapping[str, Literal["special", "1", "2"]]] = {"特级": "special", "一级": "1", "二级": "2"}

Key = tuple[str, str]
InForce = SpecialWork | SisBypass
_told_decoder: Final = msgspec.json.Decoder(list[SpecialWork | SisBypass])


def in_force(session: Session, now_ms: int) -> dict[Key, InForce]:
    """Special work at work and interlocks bypassed right now, keyed by permit / interlock."""
    out: dict[Key, InForce] = {}
    permits = select(Permit).where(
        Permit.status == PermitStatus.WORKING.value, Permit.deleted_at.is_(None), Permit.area.is_not(None)
    )
    for p in session.scalars(permits):
        work_type = WORK_TYPES.get(p.work_type)
        if work_type is None or not p.area:
            continue
        grade = HOT_GRADES.get(p.managed_grade or p.grade) if work_type == "hot_work" else None
        out[("work", p.number)] = SpecialWork(
            work_id=p.number[:100], work_type=work_type, grade=grade, area=p.area[:100], active=True, ts=now_ms
        )
    bypasses = select(BypassRecord).where(
        BypassRecord.state == BypassState.ACTIVE.value, BypassRecord.deleted_at.is_(None)
    )
    for b in session.scalars(bypasses):
        source = _source_of_interlock(session, b.interlock_code)
        if source is not None:
            out[("sis", b.interlock_code)] = SisBypass(
                interlock_id=b.interlock_code, hazard_source_id=source, bypassed=True, ts=now_ms
            )
    return out


def _source_of_interlock(session: Session, interlock_code: str) -> str | None:
    equipment_code = session.scalar(
        select(SisInterlock.equipment_code).where(
            SisInterlock.code == interlock_code, SisInterlock.deleted_at.is_(None)
        )
    )
    code = equipment_code
    while code:
        source = session.scalar(
            select(EquipmentNode.hazard_source_code).where(
                EquipmentNode.code == code, EquipmentNode.deleted_at.is_(None)
            )
        )
        if source:
            return source
        code = code.rpartition(".")[0]
    return None


def changes(before: Mapping[Key, InForce], now: Mapping[Key, InForce], now_ms: int) -> list[InForce]:
    """What the flow must hear: what started, and the end of what stopped (stamped ``now_ms``)."""
    out: list[InForce] = [item for key, item in now.items() if key not in before]
    for key, item in before.items():
        if key not in now:
            ended = (
                msgspec.structs.replace(item, active=False, ts=now_ms)
                if isinstance(item, SpecialWork)
                else msgspec.structs.replace(item, bypassed=False, ts=now_ms)
            )
            out.append(ended)
    return out


class InForceReader(RegisterReader[dict[Key, InForce], InForce]):
    """Special work at work and bypassed interlocks, told as starts and ends."""

    what = "special work and bypasses"

    def read(self, session: Session, ts: int) -> dict[Key, InForce]:
        """What is in force at ``ts``."""
        return in_force(session, ts)

    def changes(self, told: dict[Key, InForce], now: dict[Key, InForce], ts: int) -> list[InForce]:
        """What started, and the end of what stopped."""
        return changes(told, now, ts)

    def untold(self) -> dict[Key, InForce]:
        """Nothing in force."""
        return {}

    def encode(self, told: dict[Key, InForce]) -> bytes:
        """The items told, as a JSON list."""
        return msgspec.json.encode(list(told.values()))

    def decode(self, state: bytes) -> dict[Key, InForce]:
        """The items of :meth:`encode`, keyed again."""
        return {key_of(i): i for i in _told_decoder.decode(state)}


class RegisterInputBridge(RegisterPublisher[dict[Key, InForce], InForce]):
    """Polls the registers and publishes what changed to the risk flow's ``risk.input`` bus stream."""

    def __init__(
        self,
        bus: Bus,
        session_factory: sessionmaker[Session],
        *,
        interval_s: float = 2.0,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        super().__init__(bus, session_factory, InForceReader(), interval_s=interval_s, clock=clock)


def key_of(item: InForce) -> Key:
    """The key :func:`in_force` files ``item`` under."""
    return ("work", item.work_id) if isinstance(item, SpecialWork) else ("sis", item.interlock_id)


class RegisterInputSource(RegisterPollSource[dict[Key, InForce], InForce]):
    """The registers' special work at work and bypassed interlocks, as changes (distributed risk flow).

    The same changes as :class:`RegisterInputBridge`, from one partition whose recovery state
    is what it last told the flow.
    """

    PART = "registers"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        interval_s: float = 2.0,
        tail: bool = True,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        super().__init__(session_factory, InForceReader(), interval_s=interval_s, tail=tail, clock=clock)
