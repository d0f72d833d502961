"""The permits service on SQLite and PostgreSQL: planning, guards, approval, work, closure, hooks."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.permit_rules import RULES, ApproverRole, WorkType, simops_conflicts
from registers.contractors import service as contractors
from registers.contractors.schemas import ContractorCreate
from registers.framework.service import InvalidInput
from registers.permits import service
from registers.permits.demo import Crew, hot_work_in_tank
from registers.permits.models import Permit, PermitMeasure, PermitStatus, PermitStep
from registers.permits.schemas import GasAnalysisIn, ReadingIn, TicketIn
from registers.permits.workflow import LIVE, InvalidTransition
from tests.registers.permits.conftest import START

S = PermitStatus
KEY = b"test-signing-key"
GOOD = [
    ReadingIn(kind="可燃气体", substance="甲烷", value=0.2, unit="%VOL"),
    ReadingIn(kind="氧气", substance="氧气", value=20.8, unit="%VOL"),
    ReadingIn(kind="有毒气体", substance="硫化氢", value=1.0, unit="mg/m3"),
]
BAD = [GOOD[0].model_copy(update={"value": 0.8}), GOOD[1], GOOD[2]]  # methane 0.8 % > 0.5 %


def analyse(session: Session, permit: Permit, minutes_before_start: float, readings: list[ReadingIn] = GOOD) -> bool:
    sampled = START - timedelta(minutes=minutes_before_start)
    data = GasAnalysisIn(analyst="化验员 陈", analyser="GA-07", sampled_at=sampled, point="罐内中部", readings=readings)
    return service.record_gas_analysis(session=session, permit_id=permit.id, data=data, actor="lab", now=sampled).passed


def plan(session: Session, crew: Crew, **changes: object) -> list[Permit]:
    data = hot_work_in_tank(crew, start=START).model_copy(update=changes)
    return service.plan_job(session=session, data=data, actor="planner", now=START - timedelta(hours=2))


def issue(session: Session, crew: Crew, permit: Permit) -> None:
    """Brief, submit and sign every level with the right people."""
    before = START - timedelta(hours=1)
    service.brief(session=session, permit_id=permit.id, actor="briefer", now=before)
    service.submit(session=session, permit_id=permit.id, actor="planner", now=before)
    signers = {ApproverRole.UNIT_HEAD: crew.unit_head, ApproverRole.SAFETY_DEPT: crew.safety}
    signers[ApproverRole.PRINCIPAL] = crew.principal
    while permit.status == S.APPROVING:
        level = RULES.approval_template(WorkType(permit.work_type), permit.managed_grade)[permit.approval_step]
        service.sign(
            session=session,
            permit_id=permit.id,
            approver_id=signers[level.roles[0]],
            actor="boss",
            signing_key=KEY,
            now=before,
        )


def test_one_job_gives_linked_tickets_with_risks_and_measures(session: Session, crew: Crew) -> None:
    hot, confined = plan(session, crew)
    assert (hot.work_type, confined.work_type) == (WorkType.HOT, WorkType.CONFINED)
    assert hot.job_id == confined.job_id and hot.content == confined.content  # one description
    assert hot.linked_numbers == [confined.number] and confined.linked_numbers == [hot.number]
    assert hot.number.startswith("DH-20261202-") and confined.number.startswith("SX-")
    assert hot.managed_grade == "二级" and hot.valid_until == START + timedelta(hours=72)
    assert confined.valid_until == START + timedelta(hours=24)
    assert hot.gas_required and confined.gas_required
    assert any("甲烷" in r and "5%" in r for r in hot.risks)  # from the chemical register's LEL
    assert "缺氧窒息" in confined.risks
    measures = session.scalars(select(PermitMeasure.content).where(PermitMeasure.permit_id == hot.id)).all()
    assert any("盲板" in m for m in measures) and any("甲烷" in m and "0.5%" in m for m in measures)


def test_night_hot_work_is_managed_one_grade_higher_and_gets_its_validity(session: Session, crew: Crew) -> None:
    night = START.replace(hour=21)
    [hot] = plan(
        session,
        crew,
        planned_start=night,
        planned_end=night + timedelta(hours=2),
        tickets=[TicketIn(work_type=WorkType.HOT, grade="二级")],
    )
    assert hot.grade == "二级" and hot.managed_grade == "一级" and "夜间作业" in hot.grade_reasons
    assert hot.valid_until == night + timedelta(hours=8)
    assert len(service.permit_file(session=session, permit_id=hot.id).levels) == 2  # 一级: unit + safety dept


def test_a_window_longer_than_the_validity_is_refused(session: Session, crew: Crew) -> None:
    with pytest.raises(InvalidInput) as err:
        plan(session, crew, planned_end=START + timedelta(hours=25))  # the confined-space ticket allows 24 h
    assert err.value.field == "planned_end"


def test_blind_plate_ticket_is_one_plate_one_action(session: Session, crew: Crew) -> None:
    with pytest.raises(InvalidInput) as err:
        plan(session, crew, tickets=[TicketIn(work_type=WorkType.BLIND, pipeline="P-101")])
    assert err.value.field == "tickets.0.plate_no"


def test_unqualified_people_and_blacklisted_contractors_block_the_ticket(session: Session, crew: Crew) -> None:
    lapsed, _ = plan(session, crew, worker_ids=[crew.lapsed_welder])
    service.brief(session=session, permit_id=lapsed.id, actor="b", now=START)
    with pytest.raises(service.PermitRefused, match="焊工 吴刚.*到期"):
        service.submit(session=session, permit_id=lapsed.id, actor="p", now=START - timedelta(hours=1))
    untrained, _ = plan(session, crew, worker_ids=[crew.untrained])
    service.brief(session=session, permit_id=untrained.id, actor="b", now=START)
    with pytest.raises(service.PermitRefused, match="普工 周平.*无特种作业操作证"):
        service.submit(session=session, permit_id=untrained.id, actor="p", now=START - timedelta(hours=1))
    company = contractors.contractors.create(
        session=session, data=ContractorCreate(credit_code="91440101MA5TEST01X", name="某防腐公司"), actor="sm"
    )
    contractors.blacklist(session=session, contractor_id=company.id, reason="违章动火", actor="sm")
    blocked, _ = plan(session, crew, contractor_id=company.id)
    service.brief(session=session, permit_id=blocked.id, actor="b", now=START)
    with pytest.raises(service.PermitRefused, match="黑名单"):
        service.submit(session=session, permit_id=blocked.id, actor="p", now=START - timedelta(hours=1))
    assert {lapsed.status, untrained.status, blocked.status} == {S.DRAFT}


def test_submit_needs_every_measure_confirmed(session: Session, crew: Crew) -> None:
    hot, _ = plan(session, crew)
    with pytest.raises(service.PermitRefused, match="安全措施未全部确认"):
        service.submit(session=session, permit_id=hot.id, actor="p", now=START - timedelta(hours=1))


def test_approval_needs_the_right_role_one_level_per_person_and_on_site_signing(session: Session, crew: Crew) -> None:
    _, confined = plan(session, crew)  # confined space: unit head, then safety department
    service.brief(session=session, permit_id=confined.id, actor="b", now=START - timedelta(hours=1))
    service.submit(session=session, permit_id=confined.id, actor="p", now=START - timedelta(hours=1))

    def sign(person: int, **kw: object) -> Permit:
        return service.sign(
            session=session,
            permit_id=confined.id,
            approver_id=person,
            actor="a",
            signing_key=KEY,
            now=START - timedelta(minutes=30),
            **kw,  # type: ignore[arg-type]
        )

    with pytest.raises(service.PermitRefused, match="无此审批权限"):
        sign(crew.welder)
    with pytest.raises(service.PermitRefused, match="须到现场 5 m 内签字"):
        sign(crew.unit_head, x=100.0, y=20.0)  # the work point is (10, 20)
    sign(crew.unit_head, x=12.0, y=21.0)
    with pytest.raises(service.PermitRefused, match="不能重复签字"):
        sign(crew.unit_head)
    issued = sign(crew.safety)
    assert issued.status == S.APPROVED and issued.content_hash
    steps = session.scalars(
        select(PermitStep).where(PermitStep.permit_id == confined.id, PermitStep.signature.is_not(None))
    ).all()
    assert [s.person_id for s in steps] == [crew.unit_head, crew.safety]
    assert all(len(s.signature or "") == 64 for s in steps) and steps[0].signature != steps[1].signature


def test_work_starts_only_on_a_passing_fresh_analysis(session: Session, crew: Crew) -> None:
    hot, _ = plan(session, crew)
    issue(session, crew, hot)
    with pytest.raises(service.PermitRefused, match="未做气体分析"):
        service.start(session=session, permit_id=hot.id, actor="w", now=START)
    assert analyse(session, hot, 40, BAD) is False
    with pytest.raises(service.PermitRefused, match="不合格"):
        service.start(session=session, permit_id=hot.id, actor="w", now=START)
    assert analyse(session, hot, 31) is True  # passes, but 31 min before the start
    with pytest.raises(service.PermitRefused, match="30 min"):
        service.start(session=session, permit_id=hot.id, actor="w", now=START)
    assert analyse(session, hot, 30)  # exactly 30 min: still allowed
    assert service.start(session=session, permit_id=hot.id, actor="w", now=START).status == S.WORKING


def test_interruptions_and_a_failing_analysis_during_work(session: Session, crew: Crew) -> None:
    _, confined = plan(session, crew)
    issue(session, crew, confined)
    analyse(session, confined, 5)
    service.start(session=session, permit_id=confined.id, actor="w", now=START)
    service.suspend(session=session, permit_id=confined.id, reason="午休", actor="g", now=START + timedelta(minutes=10))
    # 60 min interruption (confined space): resumes on the earlier analysis
    assert (
        service.resume(session=session, permit_id=confined.id, actor="g", now=START + timedelta(minutes=70)).status
        == S.WORKING
    )
    service.suspend(session=session, permit_id=confined.id, reason="停电", actor="g", now=START + timedelta(minutes=80))
    with pytest.raises(service.PermitRefused, match="中断超过 60 min"):
        service.resume(session=session, permit_id=confined.id, actor="g", now=START + timedelta(minutes=141))
    analyse(session, confined, -135)  # re-analysis 135 min after the start
    assert (
        service.resume(session=session, permit_id=confined.id, actor="g", now=START + timedelta(minutes=141)).status
        == S.WORKING
    )
    analyse(session, confined, -150, BAD)  # a failing reading stops the work at once
    assert confined.status == S.SUSPENDED and confined.suspend_reason == "气体分析不合格"


def test_no_ticket_closes_without_acceptance(session: Session, crew: Crew) -> None:
    hot, _ = plan(session, crew)
    issue(session, crew, hot)
    analyse(session, hot, 5)
    service.start(session=session, permit_id=hot.id, actor="w", now=START)
    with pytest.raises(InvalidTransition):
        service.accept(session=session, permit_id=hot.id, acceptor_id=crew.unit_head, actor="a", now=START)
    service.complete(session=session, permit_id=hot.id, actor="w", now=START + timedelta(hours=3))
    closed = service.accept(
        session=session, permit_id=hot.id, acceptor_id=crew.unit_head, actor="a", now=START + timedelta(hours=4)
    )
    assert closed.status == S.CLOSED and closed.accepted_by == "车间主任 赵军"
    actions = session.scalars(
        select(PermitStep.action).where(PermitStep.permit_id == hot.id).order_by(PermitStep.id)
    ).all()
    assert actions[-2:] == ["完工", "验收关闭"]
    history = service.permits.history(session=session, record_id=hot.id)
    assert [h.action for h in history][-1] == "验收关闭"


def test_alarm_and_guardian_hooks_and_open_permits(session: Session, crew: Crew) -> None:
    hot, confined = plan(session, crew)
    for permit in (hot, confined):
        issue(session, crew, permit)
        analyse(session, permit, 5)
    service.start(session=session, permit_id=hot.id, actor="w", now=START)
    assert [p.id for p in service.open_permits(session=session, area="tank_farm")] == [hot.id, confined.id]
    assert service.open_permits(session=session, area="reaction_unit") == []
    stopped = service.suspend_for_alarm(
        session=session, area="tank_farm", alarm="PT-101:HH", now=START + timedelta(minutes=5)
    )
    assert [p.id for p in stopped] == [hot.id] and "PT-101:HH" in (hot.suspend_reason or "")
    assert confined.status == S.APPROVED  # not started: nothing to stop
    service.start(session=session, permit_id=confined.id, actor="w", now=START + timedelta(minutes=6))
    service.suspend_for_guardian_absent(
        session=session, permit_id=confined.id, actor="positioning", reason="离开 15 m 围栏"
    )
    assert confined.status == S.SUSPENDED and "监护人离开" in (confined.suspend_reason or "")
    again = service.suspend_for_guardian_absent(session=session, permit_id=confined.id, actor="positioning", reason="x")
    assert again.status == S.SUSPENDED  # idempotent


def test_reminder_fires_once_before_the_analysis_goes_stale_and_stale_work_stops(session: Session, crew: Crew) -> None:
    _, confined = plan(session, crew)
    issue(session, crew, confined)
    analyse(session, confined, 5)
    service.start(session=session, permit_id=confined.id, actor="w", now=START)
    # sampled 08:55; during entry good for 2 h → stale 10:55; reminder 10 min ahead
    assert service.gas_reminders(session=session, now=START + timedelta(minutes=100)) == []
    [reminder] = service.gas_reminders(session=session, now=START + timedelta(minutes=106))
    assert reminder.stale_at == START + timedelta(minutes=115) and "10:55" in reminder.message
    assert service.gas_reminders(session=session, now=START + timedelta(minutes=108)) == []  # once
    assert service.check_running(session=session, now=START + timedelta(minutes=114)) == []
    assert [p.id for p in service.check_running(session=session, now=START + timedelta(minutes=115))] == [confined.id]


def test_overdue_tickets_expire(session: Session, crew: Crew) -> None:
    _, confined = plan(session, crew)
    issue(session, crew, confined)
    assert service.expire_overdue(session=session, now=START + timedelta(hours=23)) == []
    assert [p.id for p in service.expire_overdue(session=session, now=START + timedelta(hours=24))] == [confined.id]
    assert confined.status == S.EXPIRED


def test_two_blind_plate_jobs_on_one_pipeline_cannot_both_be_live(session: Session, crew: Crew) -> None:
    def blind(action: str, plate: str) -> Permit:
        [permit] = plan(
            session,
            crew,
            title=f"{action} {plate}",
            tickets=[TicketIn(work_type=WorkType.BLIND, pipeline="P-101", plate_no=plate, blind_action=action)],  # type: ignore[arg-type]
        )
        service.brief(session=session, permit_id=permit.id, actor="b", now=START - timedelta(hours=1))
        return permit

    first, second = blind("堵", "MB-01"), blind("堵", "MB-02")
    service.submit(session=session, permit_id=first.id, actor="p", now=START - timedelta(hours=1))
    with pytest.raises(service.PermitRefused, match="同一管道「P-101」"):
        service.submit(session=session, permit_id=second.id, actor="p", now=START - timedelta(hours=1))
    service.cancel(session=session, permit_id=first.id, reason="改期", actor="p", now=START - timedelta(minutes=50))
    assert (
        service.submit(session=session, permit_id=second.id, actor="p", now=START - timedelta(minutes=40)).status
        == S.APPROVING
    )


def test_statistics_by_type_and_grade(session: Session, crew: Crew) -> None:
    plan(session, crew)
    assert service.statistics(session=session, by="work_type") == {"动火作业": 1, "受限空间作业": 1}
    assert service.statistics(session=session, by="managed_grade") == {"二级": 1, "未填写": 1}
    with pytest.raises(InvalidInput):
        service.statistics(session=session, by="password")


def test_the_simops_query_finds_what_judging_every_live_ticket_finds(session: Session, crew: Crew) -> None:
    """The SIMOPS check reads only the tickets in scope; its findings equal those over all live tickets."""
    rng = random.Random(8)
    for n in range(40):
        work_type = rng.choice([WorkType.HOT, WorkType.BLIND, WorkType.BLIND, WorkType.CONFINED, WorkType.HEIGHT])
        ticket = {
            WorkType.HOT: TicketIn(work_type=WorkType.HOT, grade="二级"),
            WorkType.BLIND: TicketIn(
                work_type=WorkType.BLIND,
                pipeline=rng.choice(["P-101", "P-102"]),
                plate_no=f"MB-{n}",
                blind_action=rng.choice(["抽", "堵"]),
                medium_phase=rng.choice(["气", "液"]),
                medium_flammable=rng.random() < 0.7,
            ),
            WorkType.CONFINED: TicketIn(work_type=WorkType.CONFINED),
            WorkType.HEIGHT: TicketIn(work_type=WorkType.HEIGHT, height_m=3.0),
        }[work_type]
        start = START + timedelta(hours=rng.randint(0, 72))  # validity 8 h to 7 days: windows cross and touch
        placed = rng.random() < 0.7
        plan(
            session,
            crew,
            title=f"交叉作业 {n}",
            area=rng.choice([None, "tank_farm", "reactor"]),
            x=rng.uniform(0, 40) if placed else None,
            y=rng.uniform(0, 40) if placed else None,
            planned_start=start,
            planned_end=start + timedelta(hours=rng.randint(1, 6)),
            tickets=[ticket, TicketIn(work_type=WorkType.TEMP_POWER)] if rng.random() < 0.2 else [ticket],
        )
    tickets = list(session.scalars(select(Permit).order_by(Permit.id)))
    for permit in tickets:  # states set directly: this test is about the query, not the workflow
        permit.status = rng.choice([S.DRAFT, S.APPROVING, S.APPROVED, S.WORKING, S.SUSPENDED, S.CLOSED]).value
        if rng.random() < 0.1:
            permit.deleted_at = START
    session.flush()

    refused = warned = 0
    for permit in tickets:
        everyone = [
            service._simops_job(other)
            for other in tickets
            if other.id != permit.id
            and other.job_id != permit.job_id
            and other.deleted_at is None
            and PermitStatus(other.status) in LIVE
        ]
        expected = [
            (c.refuse, f"{c.message} (作业票 #{c.other_permit_id})")
            for c in simops_conflicts(RULES, service._simops_job(permit), everyone)
        ]
        refusals, warnings = service.simops_findings(session=session, permit=permit)
        assert sorted(refusals) == sorted(text for refuse, text in expected if refuse)
        assert sorted(warnings) == sorted(text for refuse, text in expected if not refuse)
        refused, warned = refused + len(refusals), warned + len(warnings)
    assert refused > 0 and warned > 0  # the data crossed often enough to test something


def test_a_briefing_confirms_the_listed_measures_only_and_submission_waits_for_the_rest(
    session: Session, crew: Crew
) -> None:
    permit = plan(session, crew)[0]
    before = START - timedelta(hours=1)
    loaded = list(
        session.scalars(select(PermitMeasure).where(PermitMeasure.permit_id == permit.id).order_by(PermitMeasure.seq))
    )
    assert len(loaded) >= 3
    first, rest = loaded[:2], loaded[2:]
    service.brief(session=session, permit_id=permit.id, actor="班长 李", measure_ids=[m.id for m in first], now=before)
    # the measures this session had loaded show the confirmation without a reload, as the rows do
    assert [(m.confirmed_by, m.confirmed_at) for m in first] == [("班长 李", before)] * 2
    assert all(m.confirmed_at is None for m in rest)
    rows = session.execute(
        select(PermitMeasure.id, PermitMeasure.confirmed_by).where(PermitMeasure.permit_id == permit.id)
    ).all()
    assert {row.id for row in rows if row.confirmed_by == "班长 李"} == {m.id for m in first}
    with pytest.raises(service.PermitRefused, match="安全措施未全部确认"):
        service.submit(session=session, permit_id=permit.id, actor="planner", now=before)
    with pytest.raises(service.PermitRefused, match="不属于本作业票"):
        service.brief(session=session, permit_id=permit.id, actor="b", measure_ids=[-1], now=before)
    later = before + timedelta(minutes=5)
    service.brief(session=session, permit_id=permit.id, actor="安全员 周", now=later)  # the rest, not the first again
    assert [(m.confirmed_by, m.confirmed_at) for m in first] == [("班长 李", before)] * 2
    assert {(m.confirmed_by, m.confirmed_at) for m in rest} == {("安全员 周", later)}
    assert service.submit(session=session, permit_id=permit.id, actor="planner", now=later).status == S.APPROVING
