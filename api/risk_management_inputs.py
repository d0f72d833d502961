"""Management status into the risk flow: overdue inspections and hidden hazards per hazard source.

DOMAIN.md §3.3 raises a source's level for management failures: an overdue hidden hazard
(隐患超期) +1 level (``HID.OVERDUE``), any open 重大隐患 straight to red (``HID.MAJOR``), an
overdue inspection or calibration a management warning, at least yellow (``MGT.OVERDUE``).
Those facts live in the registers and change with the clock as much as with writes (a
deadline passes at midnight with nobody touching the row), so this publisher counts them
every ``interval_s`` in one short read transaction and tells the flow a
:class:`~models.risk.ManagementStatus` for each source whose counts changed (the message
carries the counts, not a delta, so a repeat is harmless).

What counts for a source (the plant's major hazard sources: the risk flow's own list):

* **open hidden hazards** (not yet 已验收): those filed on the source (``hazard_code``, the
  risk analysis object's code, which for a major hazard source is its id), else on a control
  measure of the source's risk analysis object, else on the source's area (every source of
  it); major ones count in ``open_major_hidden_hazards``, those past their deadline in
  ``overdue_hidden_hazards``;
* **overdue inspections** over the last ``window`` (24 h, the §3.3 sliding window): the
  source's investigation tasks (隐患排查任务) not done by the end of their slot, the
  inspection rounds (巡检) through its area left incomplete, and, with no window because they
  stay overdue until done, its equipment past a periodic-inspection, safety-valve
  calibration or rupture-disc replacement due date (the node's own ``hazard_source_code``,
  else the nearest ancestor's).

A source the flow has never heard about has all counts zero, so the first poll tells only
the sources with something overdue or open; after that, only changes. The embedded runtime
runs :class:`ManagementStatusPublisher` on the bus; the distributed risk flow reads the same
counts through :class:`ManagementStatusSource`, whose recovery state is what it last told.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.register_poller import RegisterPollSource, RegisterPublisher, RegisterReader, wall_ms
from connectors.bus.memory import Bus
from models.investigation_schedule import LOCAL_TZ
from models.risk import ManagementStatus
from registers.dual_prevention.models import CheckTask, ControlMeasure, RiskEvent, RiskObject, RiskUnit
from registers.dual_prevention.workflow import TaskState
from registers.equipment.models import EquipmentNode
from registers.equipment.schemas import EquipmentStatus
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.schemas import HazardLevel
from registers.hidden_hazards.workflow import HazardState
from registers.inspections import service as inspections

WINDOW: Final = timedelta(hours=24)
"""How far back a missed investigation task or inspection round keeps counting (§3.3's window)."""

Counts = tuple[int, int, int]
"""(overdue inspections, overdue hidden hazards, open major hidden hazards) of one source."""
ZERO: Final[Counts] = (0, 0, 0)
_told_decoder: Final = msgspec.json.Decoder(list[ManagementStatus])


def _by_area(sources: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sid, area in sources.items():
        out.setdefault(area, []).append(sid)
    return out


def _attribute(
    sources: Mapping[str, str], areas: Mapping[str, list[str]], code: str | None, area: str | None
) -> list[str]:
    """The sources a register row concerns: the one it names, else every source of its area."""
    if code and code in sources:
        return [code]
    return list(areas.get(area or "", ()))


def _codes_of_measures(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Control measure id -> code of its risk analysis object (a source id for a major hazard source)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    stmt = (
        select(ControlMeasure.id, RiskObject.code)
        .join(RiskEvent, ControlMeasure.event_id == RiskEvent.id)
        .join(RiskUnit, RiskEvent.unit_id == RiskUnit.id)
        .join(RiskObject, RiskUnit.object_id == RiskObject.id)
        .where(ControlMeasure.id.in_(wanted), RiskObject.deleted_at.is_(None))
    )
    return {int(i): str(code) for i, code in session.execute(stmt)}


def _codes_of_units(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Risk analysis unit id -> code of its risk analysis object."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    stmt = (
        select(RiskUnit.id, RiskObject.code)
        .join(RiskObject, RiskUnit.object_id == RiskObject.id)
        .where(RiskUnit.id.in_(wanted), RiskObject.deleted_at.is_(None))
    )
    return {int(i): str(code) for i, code in session.execute(stmt)}


def management_counts(
    session: Session, *, sources: Mapping[str, str], now: datetime, window: timedelta = WINDOW
) -> dict[str, Counts]:
    """Counts of every source in ``sources`` (id -> plant area) at ``now``; ``ZERO`` where nothing is due."""
    areas = _by_area(sources)
    inspections_due: Counter[str] = Counter()
    overdue_hazards: Counter[str] = Counter()
    major_hazards: Counter[str] = Counter()

    # Open hidden hazards: filed on a source, on a control measure of one, or on an area.
    today = now.astimezone(LOCAL_TZ).date()
    hazards = session.execute(
        select(
            HiddenHazard.level,
            HiddenHazard.deadline,
            HiddenHazard.hazard_code,
            HiddenHazard.measure_id,
            HiddenHazard.area,
        ).where(HiddenHazard.deleted_at.is_(None), HiddenHazard.state != HazardState.ACCEPTED.value)
    ).all()
    measure_codes = _codes_of_measures(session, (m for *_, m, _ in hazards if m is not None))
    for level, deadline, code, measure_id, area in hazards:
        named = code if code in sources else measure_codes.get(measure_id) if measure_id is not None else None
        for sid in _attribute(sources, areas, named, area):
            if level == HazardLevel.MAJOR:
                major_hazards[sid] += 1
            if today > deadline:  # the deadline day still counts (hidden_hazards.service.is_overdue)
                overdue_hazards[sid] += 1

    # Investigation tasks of the source's risk analysis units not done by the end of their slot.
    tasks = session.execute(
        select(CheckTask.unit_id, CheckTask.area).where(
            CheckTask.state.in_([TaskState.PENDING.value, TaskState.OVERDUE.value]),
            CheckTask.slot_end <= now,
            CheckTask.slot_end > now - window,
        )
    ).all()
    unit_codes = _codes_of_units(session, (u for u, _ in tasks if u is not None))
    for unit_id, area in tasks:
        for sid in _attribute(sources, areas, unit_codes.get(unit_id) if unit_id is not None else None, area):
            inspections_due[sid] += 1

    # Inspection rounds through the source's area left incomplete.
    for round_ in inspections.overdue_tasks(session=session, now=now, window=window):
        for sid in {sid for area in round_.areas for sid in areas.get(area, ())}:
            inspections_due[sid] += 1

    # Equipment past a due date, counted once per due date missed.
    nodes = session.execute(
        select(
            EquipmentNode.code,
            EquipmentNode.parent_code,
            EquipmentNode.hazard_source_code,
            EquipmentNode.status,
            EquipmentNode.next_inspection_due,
            EquipmentNode.next_calibration_due,
            EquipmentNode.next_replacement_due,
        ).where(EquipmentNode.deleted_at.is_(None))
    ).all()
    parent = {n.code: n.parent_code for n in nodes}
    own = {n.code: n.hazard_source_code for n in nodes}
    retired = (EquipmentStatus.OUT_OF_SERVICE.value, EquipmentStatus.SCRAPPED.value)
    for n in nodes:
        missed = sum(1 for due in n[4:] if due is not None and due < today)
        if not missed or n.status in retired:
            continue
        node: str | None = n.code
        while node is not None and not own.get(node):
            node = parent.get(node)
        owner = own.get(node) if node is not None else None
        if owner is not None and owner in sources:
            inspections_due[owner] += missed

    return {sid: (inspections_due[sid], overdue_hazards[sid], major_hazards[sid]) for sid in sources}


def status_of(sid: str, counts: Counts, ts: int) -> ManagementStatus:
    """The flow's input for one source's counts."""
    return ManagementStatus(
        hazard_source_id=sid,
        overdue_inspections=counts[0],
        overdue_hidden_hazards=counts[1],
        open_major_hidden_hazards=counts[2],
        ts=ts,
    )


def counts_of(status: ManagementStatus) -> Counts:
    """The counts a status carries."""
    return (status.overdue_inspections, status.overdue_hidden_hazards, status.open_major_hidden_hazards)


def changes(told: Mapping[str, Counts], now: Mapping[str, Counts], ts: int) -> list[ManagementStatus]:
    """A status for every source whose counts differ from what the flow was told (untold: zero)."""
    return [status_of(sid, c, ts) for sid, c in now.items() if told.get(sid, ZERO) != c]


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class ManagementReader(RegisterReader[dict[str, Counts], ManagementStatus]):
    """The management counts of the plant's major hazard sources, told per source when they change."""

    what = "overdue inspections and hidden hazards"

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = dict(sources)

    def read(self, session: Session, ts: int) -> dict[str, Counts]:
        """Every source's counts at ``ts``."""
        return management_counts(session, sources=self.sources, now=_utc(ts))

    def changes(self, told: dict[str, Counts], now: dict[str, Counts], ts: int) -> list[ManagementStatus]:
        """A status for every source whose counts differ from what the flow was told."""
        return changes(told, now, ts)

    def untold(self) -> dict[str, Counts]:
        """All counts zero."""
        return {}

    def encode(self, told: dict[str, Counts]) -> bytes:
        """The non-zero statuses told, as a JSON list."""
        return msgspec.json.encode([status_of(sid, c, 1) for sid, c in told.items() if c != ZERO])

    def decode(self, state: bytes) -> dict[str, Counts]:
        """The counts of :meth:`encode`, per source."""
        return {s.hazard_source_id: counts_of(s) for s in _told_decoder.decode(state)}


class ManagementStatusPublisher(RegisterPublisher[dict[str, Counts], ManagementStatus]):
    """Counts the registers every ``interval_s`` and publishes changed statuses on ``risk.input`` (embedded)."""

    def __init__(
        self,
        bus: Bus,
        session_factory: sessionmaker[Session],
        sources: Mapping[str, str],
        *,
        interval_s: float = 15.0,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        super().__init__(bus, session_factory, ManagementReader(sources), interval_s=interval_s, clock=clock)


class ManagementStatusSource(RegisterPollSource[dict[str, Counts], ManagementStatus]):
    """The registers' management counts per source, as changes (distributed risk flow).

    ONE partition, its recovery state what it last told the flow (a restarted flow resumes
    its scores from the same snapshot, so the two agree). ``tail=False`` polls once and ends.
    """

    PART = "management"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        sources: Mapping[str, str],
        *,
        interval_s: float = 15.0,
        tail: bool = True,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        super().__init__(session_factory, ManagementReader(sources), interval_s=interval_s, tail=tail, clock=clock)


__all__ = [
    "WINDOW",
    "ManagementStatusPublisher",
    "ManagementStatusSource",
    "changes",
    "management_counts",
]
