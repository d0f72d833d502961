"""The demo data set: every register filled for the demo plant (``twin/plants/demo.yaml``).

``safetwin demo`` calls :func:`load_demo`. Each register contributes one loader function in
:data:`LOADERS`; a loader adds what is missing, keyed on the register's natural key (a hazard
source's code, a chemical's CAS number, ...), so loading twice adds nothing. Loaders only
``flush()``; the caller commits once, so a failing loader leaves nothing half-loaded.

Everything a loader writes must agree with the plant model: hazard sources carry the plant's
ids and chemicals, the chlorination process takes its key parameter limits from the plant's
tags. Other registers add their loader to :data:`LOADERS`.

Example:
    ``load_demo(session=session, plant=load_plant(DEMO_PLANT))`` →
    ``{"hazard_source": 4, "chemical": 3, "hazardous_process": 1, ...}``
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registers.certificates.demo import load_certificates_demo
from registers.contractors.demo import load_contractors_demo
from registers.db import utcnow
from registers.dual_prevention.demo import load_dual_prevention_demo
from registers.equipment.demo import load_equipment_demo
from registers.hazard_sources import reports as duty_reports
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.models import HazardSourceDuty, HazardSourceReport
from registers.hazard_sources.schemas import ChemicalAmount, DutyCreate, DutyRole, HazardSourceCreate, UnitKind
from registers.people.demo import load_people_demo
from registers.permits.demo import load_permits_demo
from registers.process import service as process
from registers.process.models import Chemical, HazardousProcess, StartupShutdown
from registers.process.schemas import ChemicalCreate, HazardousProcessCreate, ShutdownKind, StartupShutdownCreate
from registers.training.demo import load_training_demo
from twin.plant import Plant

__all__ = ["DEMO_ACTOR", "LOADERS", "DemoContext", "load_demo"]

DEMO_ACTOR = "demo"


@dataclass(frozen=True)
class DemoContext:
    """What every loader gets: the session, the plant and the demo's 'today' (for dated rows)."""

    session: Session
    plant: Plant
    today: date


Loader = Callable[[DemoContext], int]


# --- 重大危险源 ------------------------------------------------------------------------------

# The three 包保 persons: the general manager and chief engineer for every source, the head
# of the area's workshop as operational person.
_PRINCIPAL = "王建国"
_TECHNICAL = "李志华"
_OPERATIONAL = {"tank_farm": "赵强", "reaction_unit": "孙明"}
_RECORD_NUMBERS = {
    "MHS-01": "示范应急危备〔2025〕001",
    "MHS-02": "示范应急危备〔2025〕002",
    "MHS-03": "示范应急危备〔2025〕003",
    "MHS-04": "示范应急危备〔2025〕004",
}


def load_hazard_sources(ctx: DemoContext) -> int:
    """The plant's major hazard sources, with the plant file's chemicals, Q, β and α."""
    added = 0
    for source in ctx.plant.hazard_sources:
        if hazard_sources.get_by_code(session=ctx.session, code=source.id) is not None:
            continue
        data = HazardSourceCreate(
            code=source.id,
            name=source.name,
            area=source.area,
            unit_kind=UnitKind(source.unit_kind),
            process=source.process,
            chemicals=[
                ChemicalAmount(name=c.name, cas=c.cas, quantity_t=c.quantity_t, critical_t=c.critical_t, beta=c.beta)
                for c in source.chemicals
            ],
            alpha=source.alpha,
            principal_person=_PRINCIPAL,
            technical_person=_TECHNICAL,
            operational_person=_OPERATIONAL.get(source.area, "赵强"),
            record_number=_RECORD_NUMBERS.get(source.id),
            next_assessment_due=date(2027, 6, 30),
        )
        hazard_sources.register.create(session=ctx.session, data=data, actor=DEMO_ACTOR)
        added += 1
    return added


# Duty contents per role, as the responsible persons write them.
_DUTY_CONTENT = {
    DutyRole.PRINCIPAL: "组织重大危险源安全风险研判，检查包保责任制落实、安全投入和应急准备情况",
    DutyRole.TECHNICAL: "检查工艺参数报警联锁投用、SIS运行、可燃有毒气体检测报警及安全附件校验情况",
    DutyRole.OPERATIONAL: "检查现场设备运行、液位压力温度监控、巡检记录和岗位人员操作规程执行情况",
}


def _duty_days(today: date) -> dict[DutyRole, list[date]]:
    """Principal quarterly for two quarters, technical monthly for four months, operational weekly for 14 weeks.

    Far enough back that the two ended months of the demo's stored monthly reports are
    covered, so those reports show the one missed duty rather than months without records.
    """
    return {
        DutyRole.PRINCIPAL: [today - timedelta(days=2 + 91 * i) for i in range(2)],
        DutyRole.TECHNICAL: [today - timedelta(days=3 + 30 * i) for i in range(4)],
        DutyRole.OPERATIONAL: [today - timedelta(days=1 + 7 * i) for i in range(14)],
    }


def load_duties(ctx: DemoContext) -> int:
    """包保履职 records for every source; MHS-02's operational person missed one week (an overdue item)."""
    added = 0
    for source in ctx.plant.hazard_sources:
        existing = ctx.session.scalar(select(func.count()).where(HazardSourceDuty.hazard_source_code == source.id))
        if existing:
            continue
        record = hazard_sources.get_by_code(session=ctx.session, code=source.id)
        if record is None:
            continue
        persons = {
            DutyRole.PRINCIPAL: record.principal_person,
            DutyRole.TECHNICAL: record.technical_person,
            DutyRole.OPERATIONAL: record.operational_person,
        }
        for role, days in _duty_days(ctx.today).items():
            for index, day in enumerate(days):
                if source.id == "MHS-02" and role is DutyRole.OPERATIONAL and index == 2:
                    continue  # the demo's overdue duty
                data = DutyCreate(
                    hazard_source_code=source.id,
                    role=role,
                    person=persons[role] or role.label,
                    performed_on=day,
                    content=_DUTY_CONTENT[role],
                    findings="未发现问题" if index % 3 else "发现1处仪表防护罩缺失，已整改",
                    hazards_found=0 if index % 3 else 1,
                )
                hazard_sources.duties.create(session=ctx.session, data=data, actor=DEMO_ACTOR)
                added += 1
    return added


# The demo's duty records reach three months back: the plant has been keeping them that long,
# so the monthly 包保 reports of the ended months in that span exist as the schedule issued them.
_REPORT_MONTHS = 2


def load_duty_reports(ctx: DemoContext) -> int:
    """The stored monthly 包保 assessment reports of the last two ended months (as the worker issues them).

    The worker issues a month only once a source was registered before it ended (a fresh
    install gets no backlog); the demo's sources stand for a plant with months of duty records,
    so the demo issues those months itself, through the same function.
    """
    stored = {(r.first, r.last) for r in ctx.session.execute(select(HazardSourceReport.first, HazardSourceReport.last))}
    if not ctx.session.scalar(select(func.count()).select_from(HazardSourceDuty)):
        return 0
    now = utcnow()
    added = 0
    for first, last in duty_reports.due_months(ctx.today, months=_REPORT_MONTHS):
        if (first, last) in stored:
            continue
        ctx.session.add(duty_reports.issue_report(session=ctx.session, first=first, last=last, now=now))
        added += 1
    ctx.session.flush()
    return added


# --- 生产过程基础信息 -----------------------------------------------------------------------

_CHEMICALS = (
    ChemicalCreate(
        name="液化石油气",
        cas="68476-85-7",
        un_number="UN1075",
        hazard_classes="易燃气体,类别1; 加压气体",
        gb18218_categories="W2",
        pc_twa_mg_m3=1000,
        pc_stel_mg_m3=1500,
        flash_point_c=-74,
        lel_pct=1.5,
        uel_pct=9.5,
        physical_state="液化气体",
        emergency_measures="切断气源，喷雾状水稀释，消除所有点火源，禁止使用产生火花的工具",
    ),
    ChemicalCreate(
        name="甲醇",
        cas="67-56-1",
        un_number="UN1230",
        hazard_classes=(
            "易燃液体,类别2; 急性毒性-经口,类别3; 急性毒性-经皮,类别3; 急性毒性-吸入,类别3;"
            " 特异性靶器官毒性-一次接触,类别1"
        ),
        gb18218_categories="W5.3",
        pc_twa_mg_m3=25,
        pc_stel_mg_m3=50,
        flash_point_c=11,
        lel_pct=6.0,
        uel_pct=36.5,
        physical_state="液体",
        emergency_measures="消除点火源，围堤收容，用抗溶性泡沫覆盖，防止流入下水道",
    ),
    ChemicalCreate(
        name="氯",
        cas="7782-50-5",
        un_number="UN1017",
        hazard_classes="加压气体; 氧化性气体,类别1; 急性毒性-吸入,类别2; 皮肤腐蚀/刺激,类别2; 严重眼损伤/眼刺激,类别2",
        gb18218_categories="J3,W4",
        mac_mg_m3=1,
        physical_state="液化气体",
        is_highly_toxic=True,
        emergency_measures="迅速撤离泄漏污染区人员至上风处，启动事故氯气吸收中和系统，佩戴正压自给式呼吸器堵漏",
    ),
)


def load_chemicals(ctx: DemoContext) -> int:
    """MSDS data of the plant's chemicals (LPG, methanol, chlorine), one row per CAS number."""
    have = set(ctx.session.scalars(select(Chemical.cas).where(Chemical.deleted_at.is_(None))))
    plant_cas = {c.cas for source in ctx.plant.hazard_sources for c in source.chemicals}
    added = 0
    for data in _CHEMICALS:
        if data.cas in have or data.cas not in plant_cas:
            continue
        process.chemicals.create(session=ctx.session, data=data, actor=DEMO_ACTOR)
        added += 1
    return added


_CHLORINATION_CONTROLS = (
    "反应釜温度和压力的报警和联锁；反应物料的比例控制和联锁系统；紧急冷却系统；搅拌的稳定控制和联锁系统；"
    "进料缓冲器；紧急进料切断系统；紧急终止反应系统；安全泄放系统；事故状态下氯气吸收中和系统；"
    "可燃和有毒气体检测报警装置"
)


def load_processes(ctx: DemoContext) -> int:
    """The chlorination process (氯化工艺) of R-401, key parameters from the plant tags TT/PT/FT-401."""
    exists = ctx.session.scalar(
        select(func.count()).where(
            HazardousProcess.name == "氯化工艺",
            HazardousProcess.equipment == "R-401",
            HazardousProcess.deleted_at.is_(None),
        )
    )
    if exists:
        return 0
    source = next((s for s in ctx.plant.hazard_sources if s.process == "氯化工艺"), None)
    data = HazardousProcessCreate(
        name="氯化工艺",
        reaction_type="放热反应（取代氯化）",
        hazard_source_code=source.id if source else None,
        equipment="R-401",
        key_parameters=process.parameters_from_plant(ctx.plant, ["TT-401", "PT-401", "FT-401"]),
        safety_controls=_CHLORINATION_CONTROLS,
        control_mode="反应釜温度、压力与搅拌、氯气进料流量、夹套冷却水进水阀联锁，设紧急停车系统(SIS)",
    )
    process.processes.create(session=ctx.session, data=data, actor=DEMO_ACTOR)
    return 1


_STARTUPS = (
    StartupShutdownCreate(
        unit="氯化反应装置",
        process="氯化工艺",
        equipment="R-401",
        kind=ShutdownKind.SHUTDOWN,
        started_at=datetime(2026, 10, 8, 0, 30, tzinfo=UTC),
        finished_at=datetime(2026, 10, 8, 6, 0, tzinfo=UTC),
        reason="年度检修：反应釜R-401内件检查、安全阀校验",
        checklist_confirmed=True,
        approved_by=_TECHNICAL,
        operator="孙明",
        notes="停车后氮气置换合格，氯含量<1mg/m³",
    ),
    StartupShutdownCreate(
        unit="氯化反应装置",
        process="氯化工艺",
        equipment="R-401",
        kind=ShutdownKind.STARTUP,
        started_at=datetime(2026, 10, 20, 0, 0, tzinfo=UTC),
        finished_at=datetime(2026, 10, 20, 9, 30, tzinfo=UTC),
        reason="检修结束，开车条件确认完成",
        checklist_confirmed=True,
        approved_by=_PRINCIPAL,
        operator="孙明",
        notes="联锁投用确认：TT-401、PT-401、FT-401 高高联锁已投用",
    ),
)


def load_startups(ctx: DemoContext) -> int:
    """The last overhaul's shut-down and start-up of the chlorination unit."""
    added = 0
    for data in _STARTUPS:
        exists = ctx.session.scalar(
            select(func.count()).where(
                StartupShutdown.unit == data.unit,
                StartupShutdown.kind == data.kind.value,
                StartupShutdown.started_at == data.started_at,
            )
        )
        if exists:
            continue
        process.startups.create(session=ctx.session, data=data, actor=DEMO_ACTOR)
        added += 1
    return added


# Register name -> loader, in dependency order (duties need their sources).
LOADERS: list[tuple[str, Loader]] = [
    ("hazard_source", load_hazard_sources),
    ("hazard_source_duty", load_duties),
    ("hazard_source_report", load_duty_reports),
    ("chemical", load_chemicals),
    ("hazardous_process", load_processes),
    ("startup_shutdown", load_startups),
    ("certificate", lambda ctx: load_certificates_demo(session=ctx.session, today=ctx.today)),
    ("equipment", lambda ctx: load_equipment_demo(session=ctx.session, plant=ctx.plant, today=ctx.today)),
    ("contractor", lambda ctx: load_contractors_demo(session=ctx.session, today=ctx.today)),
    ("person", lambda ctx: load_people_demo(session=ctx.session, today=ctx.today)),  # after sources, contractors
    ("training", lambda ctx: load_training_demo(session=ctx.session, today=ctx.today)),  # after people
    ("permit", lambda ctx: load_permits_demo(session=ctx.session, today=ctx.today)),  # after people, chemicals
    ("dual_prevention", lambda ctx: load_dual_prevention_demo(session=ctx.session, plant=ctx.plant, today=ctx.today)),
]


def load_demo(*, session: Session, plant: Plant, today: date | None = None) -> dict[str, int]:
    """Fill every register for the demo plant; returns how many rows each register gained.

    Idempotent: a second call returns zeros. The caller commits.

    Args:
        session: a session on a migrated registers database.
        plant: the plant model (``load_plant(DEMO_PLANT)``).
        today: the demo's date for dated rows such as duty records (default: today, UTC).
    """
    ctx = DemoContext(session=session, plant=plant, today=today or utcnow().date())
    counts: dict[str, int] = {}
    for name, loader in LOADERS:
        counts[name] = counts.get(name, 0) + loader(ctx)
    session.flush()
    return counts
