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

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import msgspec
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from connectors.bus.memory import Bus
from models.permit_rules import WorkType
from models.risk import RISK_INPUT, SisBypass, SpecialWork
from models.risk import WorkType as RiskWorkType
from registers.equipment.models import BypassRecord, EquipmentNode, SisInterlock
from registers.equipment.workflow import BypassState
from registers.permits.models import Permit, PermitStatus

log = logging.getLogger(__name__)

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


class RegisterInputBridge:
    """Polls the registers and publishes what changed to the risk flow's ``risk.input`` bus stream."""

    def __init__(
        self,
        bus: Bus,
        session_factory: sessionmaker[Session],
        *,
        interval_s: float = 2.0,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.bus = bus
        self.session_factory = session_factory
        self.interval_s = interval_s
        self.clock = clock
        self.published = 0
        self.errors = 0
        self._told: dict[Key, InForce] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> list[Any]:
        """One read of the registers; publishes and returns the changes."""
        now_ms = self.clock()
        with self.session_factory() as session:
            current = in_force(session, now_ms)
        news = changes(self._told, current, now_ms)
        if news:
            self.bus.publish(RISK_INPUT, news)
            self.published += len(news)
        self._told = current
        return news

    def start(self) -> RegisterInputBridge:
        """Poll in a daemon thread, once the risk flow listens (earlier messages would be lost)."""
        self._thread = threading.Thread(target=self._run, name="risk-register-inputs", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.bus.has_subscribers(RISK_INPUT) and not self._stop.wait(0.05):
            if self.bus.closed:
                return
        while not self._stop.is_set() and not self.bus.closed:
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the bridge must outlive one failed read
                self.errors += 1
                log.exception("reading special work and bypasses for the risk flow failed")
            self._stop.wait(self.interval_s)


def key_of(item: InForce) -> Key:
    """The key :func:`in_force` files ``item`` under."""
    return ("work", item.work_id) if isinstance(item, SpecialWork) else ("sis", item.interlock_id)


class _RegisterPartition(StatefulSourcePartition[InForce, bytes]):
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        interval_s: float,
        clock: Callable[[], int],
        tail: bool,
        resume_state: bytes | None,
    ) -> None:
        self._session_factory = session_factory
        self._interval = timedelta(seconds=interval_s)
        self._clock = clock
        self._tail = tail
        self._told: dict[Key, InForce] = {key_of(i): i for i in _told_decoder.decode(resume_state or b"[]")}
        self._awake: datetime | None = None
        self._polled = False
        self.errors = 0

    def next_batch(self) -> list[InForce]:
        # One short read transaction every interval_s (two indexed selects), paced by
        # next_awake: the worker is free in between.
        if self._polled and not self._tail:
            raise StopIteration
        self._polled = True
        self._awake = datetime.now(UTC) + self._interval
        now_ms = self._clock()
        try:
            with self._session_factory() as session:
                current = in_force(session, now_ms)
        except Exception:  # noqa: BLE001 - the flow must outlive a database restart; next poll retries
            self.errors += 1
            log.exception("reading special work and bypasses for the risk flow failed")
            return []
        news = changes(self._told, current, now_ms)
        self._told = current
        return news

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> bytes:
        return msgspec.json.encode(list(self._told.values()))


class RegisterInputSource(FixedPartitionedSource[InForce, bytes]):
    """The registers' special work at work and bypassed interlocks, as changes (distributed risk flow).

    ONE partition (whichever worker owns it polls): the same changes as
    :class:`RegisterInputBridge`, its recovery state what it last told the flow. ``tail=False``
    polls once and ends (a bounded run, as the Kafka sources' ``tail=False``).
    """

    PART: Final = "registers"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        interval_s: float = 2.0,
        tail: bool = True,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.session_factory = session_factory
        self.interval_s = interval_s
        self.tail = tail
        self.clock = clock

    def list_parts(self) -> list[str]:
        """The one partition."""
        return [self.PART]

    def build_part(self, step_id: str, for_part: str, resume_state: bytes | None) -> _RegisterPartition:
        """The poller, resuming from what it had told the flow before a restart."""
        return _RegisterPartition(self.session_factory, self.interval_s, self.clock, self.tail, resume_state)
