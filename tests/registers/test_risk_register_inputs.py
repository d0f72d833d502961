"""Special work at work and interlocks bypassed, read from the registers, become risk-flow inputs once.

On SQLite and PostgreSQL with the real permits register (the demo crew, a hot-work ticket in a
tank, briefed, signed, gas-tested and started through the permit workflow): the bridge tells
the risk flow ``SpecialWork(active=True)`` when the ticket starts work, nothing while nothing
changes, and ``active=False`` when the work stops (suspended here), each on the bus stream
``risk.input`` the embedded risk flow reads.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from api.risk_register_inputs import RegisterInputBridge, changes
from connectors.bus.memory import Bus
from models.risk import RISK_INPUT, SisBypass, SpecialWork
from registers.permits import service as permits
from registers.permits.demo import Crew
from tests.registers.permits.conftest import START, crew  # noqa: F401 - the fixture
from tests.registers.permits.test_service import analyse, issue, plan

T0 = 1_780_000_000_000


class _SameSession:
    """A session factory that hands out the test's session (its transaction is rolled back after)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __call__(self) -> _SameSession:
        return self

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_started_ticket_is_special_work_until_it_stops(session: Session, crew: Crew) -> None:  # noqa: F811
    hot, *_ = plan(session, crew)
    issue(session, crew, hot)
    analyse(session, hot, 10)
    bus = Bus()
    sub = bus.subscribe(RISK_INPUT)
    clock = iter(range(T0, T0 + 100))
    bridge = RegisterInputBridge(bus, _SameSession(session), clock=lambda: next(clock))  # type: ignore[arg-type]
    assert bridge.poll() == []  # approved, not at work yet
    permits.start(session=session, permit_id=hot.id, actor="w", now=START)
    (started,) = bridge.poll()
    assert isinstance(started, SpecialWork)
    assert (started.work_id, started.work_type, started.area, started.active) == (
        hot.number,
        "hot_work",
        "tank_farm",
        True,
    )
    assert started.grade in {"special", "1", "2"}
    assert bridge.poll() == []  # nothing changed: nothing said
    permits.suspend(session=session, permit_id=hot.id, reason="午休", actor="g", now=START + timedelta(minutes=10))
    (stopped,) = bridge.poll()
    assert isinstance(stopped, SpecialWork) and stopped.active is False and stopped.ts > started.ts
    assert [item for batch in sub.drain() for item in batch] == [started, stopped]


@pytest.mark.parametrize("kind", ["work", "sis"])
def test_changes_say_what_started_and_what_ended(kind: str) -> None:
    item: SpecialWork | SisBypass = (
        SpecialWork(work_id="DH-1", work_type="hot_work", grade="1", area="tank_farm", active=True, ts=T0)
        if kind == "work"
        else SisBypass(interlock_id="SIS-1", hazard_source_id="MHS-01", bypassed=True, ts=T0)
    )
    key = (kind, "1")
    assert changes({}, {key: item}, T0) == [item]
    assert changes({key: item}, {key: item}, T0 + 1) == []
    (ended,) = changes({key: item}, {}, T0 + 2)
    assert ended.ts == T0 + 2 and (ended.active if isinstance(ended, SpecialWork) else ended.bypassed) is False


def test_a_bypass_in_force_raises_its_hazard_source(session: Session) -> None:
    from registers.equipment import service as equipment
    from registers.equipment.workflow import BypassAction
    from tests.registers.test_equipment import T0 as BYPASS_T0
    from tests.registers.test_equipment import V101, bypass_request

    record_id = bypass_request(session)
    node = equipment.get_by_code(session=session, code=V101)
    assert node is not None
    node.hazard_source_code = "MHS-01"  # 1#球罐 belongs to the LPG spheres
    bridge = RegisterInputBridge(Bus(), _SameSession(session), clock=lambda: T0)  # type: ignore[arg-type]
    equipment.transition_bypass(
        session=session, record_id=record_id, action=BypassAction.APPROVE, actor="boss", now=BYPASS_T0
    )
    assert bridge.poll() == []  # approved is not yet bypassed
    equipment.transition_bypass(
        session=session, record_id=record_id, action=BypassAction.START, actor="op", now=BYPASS_T0
    )
    assert bridge.poll() == [SisBypass(interlock_id="SIS-101-01", hazard_source_id="MHS-01", bypassed=True, ts=T0)]
    equipment.transition_bypass(
        session=session, record_id=record_id, action=BypassAction.CLOSE, actor="op", now=BYPASS_T0 + timedelta(hours=1)
    )
    assert bridge.poll() == [SisBypass(interlock_id="SIS-101-01", hazard_source_id="MHS-01", bypassed=False, ts=T0)]
