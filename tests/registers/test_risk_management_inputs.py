"""Overdue inspections and open hidden hazards, counted from the real registers, move the risk colour.

On SQLite and PostgreSQL with the demo plant's dual-prevention register (a risk analysis
object per major hazard source, a daily investigation task each, inspection rounds per area):
nothing is due until the tasks are generated; a missed task makes its source at least yellow
(``MGT.OVERDUE``, the management warning of DOMAIN.md §3.3), an open 重大隐患 filed on a
source makes it red (``HID.MAJOR``), a hidden hazard past its deadline raises its area's
source one level (``HID.OVERDUE``), an overdue safety-valve calibration counts for the
source its vessel belongs to; accepting the major hazard (销号) brings the colour back. The
counts reach the real risk flow both ways the modes use: on the bus (embedded publisher) and
as a Bytewax source (distributed flow).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from bytewax.testing import TestingSink, TestingSource, run_main
from sqlalchemy.orm import Session

from api.risk_management_inputs import ManagementStatusPublisher, ManagementStatusSource, management_counts
from api.runtime import hazard_contexts
from connectors.bus.memory import Bus
from models.contracts import RiskLevel, RiskScore
from models.risk import RISK_INPUT, ManagementStatus, Recompute
from pipelines.risk.flow import build_flow
from pipelines.risk.steps import RiskPlan
from registers.dual_prevention import service as dp
from registers.dual_prevention.demo import load_dual_prevention_demo
from registers.equipment import service as equipment
from registers.equipment.schemas import CalibrationCreate
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.schemas import HazardCreate, HazardLevel
from tests.registers.test_equipment import PSV, V101, build_tree
from tests.registers.test_risk_register_inputs import _SameSession
from twin.plant import load_plant

NOW = datetime(2026, 12, 10, 2, 0, tzinfo=UTC)  # 10:00 in the plant: yesterday's 08-17 task is 17 h overdue
T0 = int(NOW.timestamp() * 1000)
PLANT = load_plant()
PLAN = RiskPlan.build(hazard_contexts(PLANT))
SOURCES = {h.id: h.area for h in PLANT.hazard_sources}


def scores_after(batches: Sequence[Sequence[object]]) -> dict[str, RiskScore]:
    """Last score of each source after the real risk flow has taken ``batches``."""
    out: list[object] = []
    source = TestingSource([[Recompute(ts=T0 - 1)], *(list(b) for b in batches)])
    run_main(build_flow(PLAN, [source], [TestingSink(out)]))  # type: ignore[no-untyped-call]
    return {m.hazard_source_id: m for m in out if isinstance(m, RiskScore)}


def contributions(score: RiskScore) -> dict[str, float]:
    return {c.factor: c.value for c in score.contributions}


def test_missed_tasks_and_hidden_hazards_raise_their_sources(session: Session) -> None:
    load_dual_prevention_demo(session=session, plant=PLANT, today=NOW.date())
    bus = Bus()
    sub = bus.subscribe(RISK_INPUT)
    clock = iter(range(T0, T0 + 100))
    publisher = ManagementStatusPublisher(bus, _SameSession(session), SOURCES, clock=lambda: next(clock))  # type: ignore[arg-type]
    # the demo's one open hazard is general and within its deadline; no task generated yet
    assert publisher.poll() == []
    base = scores_after([])
    assert {sid: s.level for sid, s in base.items()} == {
        "MHS-01": RiskLevel.ORANGE,
        "MHS-02": RiskLevel.BLUE,
        "MHS-03": RiskLevel.ORANGE,
        "MHS-04": RiskLevel.YELLOW,
    }

    # every source's daily investigation task of yesterday was never done
    dp.generate_tasks(session=session, until=NOW)
    dp.expire_tasks(session=session, now=NOW)
    missed = publisher.poll()
    assert {(m.hazard_source_id, m.overdue_inspections, m.open_major_hidden_hazards) for m in missed} == {
        (sid, 1, 0) for sid in SOURCES
    }
    assert publisher.poll() == []  # nothing changed: nothing said
    yellow = scores_after([missed])["MHS-02"]
    assert yellow.level == RiskLevel.YELLOW
    assert contributions(yellow) == {"INH.GRADE": 0.0, "MGT.OVERDUE": 25.0}
    # an inherent yellow source still lists the reason, with no points (the level was there)
    assert contributions(scores_after([missed])["MHS-04"])["MGT.OVERDUE"] == 0.0

    # a 重大隐患 filed on MHS-02 (its risk analysis object's code) -> red, MHS-02 only
    major = hh.report(
        session=session,
        data=HazardCreate(
            name="甲醇储罐呼吸阀阻火器缺失",
            level=HazardLevel.MAJOR,
            hazard_code="MHS-02",
            area="tank_farm",
            liable_person="赵强",
            deadline=NOW.date() + timedelta(days=30),
        ),
        actor="safety",
    )
    (flagged,) = publisher.poll()
    assert flagged == ManagementStatus(
        hazard_source_id="MHS-02", overdue_inspections=1, open_major_hidden_hazards=1, ts=flagged.ts
    )
    red = scores_after([missed, [flagged]])["MHS-02"]
    assert red.level == RiskLevel.RED
    # floors apply in table order: HID.MAJOR lifts blue to red (3 bands), the yellow floor adds nothing
    assert contributions(red) == {"INH.GRADE": 0.0, "HID.MAJOR": 75.0, "MGT.OVERDUE": 0.0}
    assert red.score == 75.0

    # a general hazard of the reaction area past its deadline: +1 level for MHS-04
    hh.report(
        session=session,
        data=HazardCreate(
            name="氯化釜搅拌器机封渗漏",
            area="reaction_unit",
            liable_person="钱工",
            deadline=NOW.date() - timedelta(days=2),
        ),
        actor="safety",
    )
    (late,) = publisher.poll()
    assert (late.hazard_source_id, late.overdue_hidden_hazards) == ("MHS-04", 1)
    orange = scores_after([missed, [late]])["MHS-04"]
    assert orange.level == RiskLevel.ORANGE
    assert contributions(orange)["HID.OVERDUE"] == 25.0

    # 销号: rectified, then accepted by someone else -> the flow hears the count go back to 0
    hh.submit(session=session, hazard_id=major.id, note="已加装阻火器", actor="赵强")
    hh.accept(session=session, hazard_id=major.id, comment="验收合格", actor="安全科")
    (closed,) = publisher.poll()
    assert (closed.hazard_source_id, closed.open_major_hidden_hazards) == ("MHS-02", 0)
    assert scores_after([missed, [flagged], [closed]])["MHS-02"].level == RiskLevel.YELLOW

    # everything the publisher returned went on the bus, in order
    assert [m for batch in sub.drain() for m in batch] == [*missed, flagged, late, closed]


def test_hazard_on_a_control_measure_counts_for_its_source_only(session: Session) -> None:
    load_dual_prevention_demo(session=session, plant=PLANT, today=NOW.date())
    # the demo's open hazard is filed on MHS-01's measure (area tank_farm, shared by three
    # sources): once past its deadline (7 days) it is overdue for MHS-01, not its neighbours
    later = NOW + timedelta(days=8)
    counts = management_counts(session, sources=SOURCES, now=later)
    assert {sid: c[1] for sid, c in counts.items()} == {"MHS-01": 1, "MHS-02": 0, "MHS-03": 0, "MHS-04": 0}


def test_overdue_calibration_counts_for_the_vessels_source(session: Session) -> None:
    build_tree(session)
    vessel = equipment.get_by_code(session=session, code=V101)
    assert vessel is not None
    vessel.hazard_source_code = "MHS-02"
    # the valve's interval is 180 days: calibrated 200 days ago, 20 days overdue
    equipment.calibrations.create(
        session=session,
        data=CalibrationCreate(equipment_code=PSV, calibrated_on=NOW.date() - timedelta(days=200)),
        actor="e",
    )
    session.flush()
    assert management_counts(session, sources=SOURCES, now=NOW)["MHS-02"] == (1, 0, 0)
    before = NOW.replace(year=2026, month=1, day=1)
    assert management_counts(session, sources=SOURCES, now=before)["MHS-02"] == (0, 0, 0)


def test_the_distributed_source_feeds_the_same_counts_to_the_flow(session: Session) -> None:
    load_dual_prevention_demo(session=session, plant=PLANT, today=NOW.date())
    dp.generate_tasks(session=session, until=NOW)
    source = ManagementStatusSource(_SameSession(session), SOURCES, tail=False, clock=lambda: T0)  # type: ignore[arg-type]
    out: list[object] = []
    run_main(build_flow(PLAN, [TestingSource([[Recompute(ts=T0 - 1)]]), source], [TestingSink(out)]))  # type: ignore[no-untyped-call]
    last = {m.hazard_source_id: m for m in out if isinstance(m, RiskScore)}
    # pending past the end of its slot counts as much as marked 已逾期
    assert last["MHS-02"].level == RiskLevel.YELLOW
    assert contributions(last["MHS-02"]) == {"INH.GRADE": 0.0, "MGT.OVERDUE": 25.0}
    # resuming from what it told: nothing new to say
    part = source.build_part("in_1", source.PART, None)
    assert len(part.next_batch()) == len(SOURCES)
    again = source.build_part("in_1", source.PART, part.snapshot())
    assert again.next_batch() == []


def test_first_poll_of_an_empty_register_says_nothing(session: Session) -> None:
    publisher = ManagementStatusPublisher(Bus(), _SameSession(session), SOURCES, clock=lambda: T0)  # type: ignore[arg-type]
    assert publisher.poll() == []
    assert management_counts(session, sources=SOURCES, now=NOW) == dict.fromkeys(SOURCES, (0, 0, 0))


def test_a_deadline_passes_at_midnight_in_the_plant_not_in_utc(session: Session) -> None:
    hh.report(
        session=session,
        data=HazardCreate(
            name="液氯库洗消池液位低", area="reaction_unit", liable_person="钱工", deadline=date(2026, 12, 9)
        ),
        actor="safety",
    )
    half_past_midnight = datetime(2026, 12, 9, 16, 30, tzinfo=UTC)  # 00:30 on the 10th in the plant (UTC+8)
    assert management_counts(session, sources=SOURCES, now=half_past_midnight)["MHS-04"] == (0, 1, 0)
    assert management_counts(session, sources=SOURCES, now=half_past_midnight - timedelta(hours=1))["MHS-04"] == (
        0,
        0,
        0,
    )
