"""The permits service: plan, confirm, analyse, approve, work, suspend, resume, accept (特殊作业).

Every rule comes from :data:`models.permit_rules.RULES`; every move asks the transition table
(:mod:`registers.permits.workflow`) first, then its guards, and records a :class:`PermitStep`
(who, when, where, signature) plus a register history entry. A move whose guard fails raises
:class:`PermitRefused` with one Chinese line per reason and changes nothing.

Other modules use::

    from registers.permits import service as permits
    permits.open_permits(session=session, area="罐区")
    permits.suspend_for_guardian_absent(session=session, permit_id=7, actor="positioning", reason="监护人离开")
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn, Protocol, cast

from sqlalchemy import BindParameter, ColumnElement, Insert, Select, Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import UpdateBase

from models.permit_rules import (
    NO_GRADE,
    PLANT_TZ,
    RULES,
    GasReading,
    PersonRole,
    SimopsJob,
    WorkType,
    approver_roles,
    check_gas,
    height_grade,
    lifting_grade,
    managed_grade,
    oel_limit_mg_m3,
    simops_conflicts,
    simops_scope,
)
from registers.contractors import service as contractors
from registers.contractors.models import Contractor
from registers.db import execute_together, fetch_rows, utcnow
from registers.framework.service import InvalidInput, RecordNotFound, Register, RegisterError, jsonable
from registers.people.models import Person, PersonCertificate, PersonStatus
from registers.permits.models import GasAnalysis, Permit, PermitJob, PermitMeasure, PermitStatus, PermitStep
from registers.permits.schemas import (
    PERMIT_LABELS,
    GasAnalysisIn,
    JobPlanIn,
    PermitCreate,
    PermitRead,
    PermitUpdate,
    TicketIn,
)
from registers.permits.workflow import LIVE, TERMINAL, InvalidTransition, PermitEvent, allowed_events, transition
from registers.process.models import Chemical

__all__ = [
    "GasReminder",
    "InvalidTransition",
    "PermitFile",
    "PermitRefused",
    "accept",
    "brief",
    "cancel",
    "check_running",
    "complete",
    "expire_overdue",
    "gas_fresh_until",
    "gas_reminders",
    "open_permits",
    "permit_file",
    "permits",
    "plan_job",
    "record_gas_analysis",
    "reject",
    "resume",
    "revise",
    "sign",
    "start",
    "statistics",
    "submit",
    "suspend",
    "suspend_for_alarm",
    "suspend_for_guardian_absent",
]

S, E = PermitStatus, PermitEvent
_LIVE_VALUES = sorted(s.value for s in LIVE)
NUMBER_PREFIX: dict[WorkType, str] = {
    WorkType.HOT: "DH",
    WorkType.CONFINED: "SX",
    WorkType.BLIND: "MB",
    WorkType.HEIGHT: "GC",
    WorkType.LIFTING: "DZ",
    WorkType.TEMP_POWER: "LSYD",
    WorkType.EXCAVATION: "DT",
    WorkType.ROAD: "DL",
}
STATISTICS_DIMENSIONS: dict[str, str] = {
    "work_type": "作业类型",
    "managed_grade": "管理级别",
    "area": "作业区域",
    "contractor_name": "作业单位",
    "status": "状态",
}


class PermitRefused(RegisterError):
    """A move refused by a safety rule (stale gas test, missing certificate, wrong approver...): 409."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        super().__init__("；".join(self.reasons))


permits: Register[Permit, PermitCreate, PermitUpdate, PermitRead] = Register(
    name="permit",
    title="特殊作业票",
    model=Permit,
    create_schema=PermitCreate,
    update_schema=PermitUpdate,
    read_schema=PermitRead,
    labels=PERMIT_LABELS,
    searchable=("number", "title", "content", "area", "location", "contractor_name", "pipeline"),
    sortable=("id", "number", "work_type", "managed_grade", "status", "planned_start", "valid_until", "updated_at"),
    filterable=(
        "work_type",
        "managed_grade",
        "status",
        "area",
        "contractor_id",
        "contractor_name",
        "job_id",
        "planned_start",
        "valid_until",
        "pipeline",
    ),
    describe=lambda r: f"{r.number} {r.title}",
    default_sort="-id",
)


PERMIT_JOB = "permit_job"


def _invalid(field: str, message: str) -> NoReturn:
    """Raise a 422 naming the field (the message stays next to its check)."""
    raise InvalidInput(field, message)


def _aware(moment: datetime) -> datetime:
    """Values read back from SQLite are aware already (UtcDateTime); guard plain inputs too."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=PLANT_TZ)


# --- planning ------------------------------------------------------------------------------------


def _grade_of(ticket: TicketIn, index: int) -> str:
    field = f"tickets.{index}"
    grades = RULES.grades(ticket.work_type)
    if ticket.work_type == WorkType.HEIGHT:
        if ticket.height_m is None:
            _invalid(f"{field}.height_m", "高处作业须填写作业高度")
        try:
            return height_grade(ticket.height_m)
        except ValueError as err:
            _invalid(f"{field}.height_m", str(err))
    if ticket.work_type == WorkType.LIFTING:
        if ticket.mass_t is None:
            _invalid(f"{field}.mass_t", "吊装作业须填写吊物质量")
        return lifting_grade(ticket.mass_t)
    if grades == (NO_GRADE,):
        if ticket.grade:
            _invalid(f"{field}.grade", f"{ticket.work_type.value}不分级")
        return NO_GRADE
    if ticket.grade not in grades:
        _invalid(f"{field}.grade", f"{ticket.work_type.value}级别须为 {'/'.join(grades)}")
    return ticket.grade


def _details(ticket: TicketIn) -> dict[str, Any]:
    skip = {"work_type", "grade", "worker_ids", "guardian_id"}
    return {k: v for k, v in ticket.model_dump().items() if k not in skip and v not in (None, False)}


class ChemicalLimits(Protocol):
    """What the permit rules read of a chemical of the process register (a row of its columns)."""

    @property
    def name(self) -> str: ...
    @property
    def lel_pct(self) -> float | None: ...
    @property
    def is_highly_toxic(self) -> bool: ...
    @property
    def mac_mg_m3(self) -> float | None: ...
    @property
    def pc_twa_mg_m3(self) -> float | None: ...
    @property
    def pc_stel_mg_m3(self) -> float | None: ...


_CHEMICAL_LIMITS = select(
    Chemical.name,
    Chemical.lel_pct,
    Chemical.is_highly_toxic,
    Chemical.mac_mg_m3,
    Chemical.pc_twa_mg_m3,
    Chemical.pc_stel_mg_m3,
).where(Chemical.name.in_(bindparam("names", expanding=True)), Chemical.deleted_at.is_(None))


def _chemicals(session: Session, names: Iterable[str]) -> dict[str, ChemicalLimits]:
    """The live chemicals of these names, only the columns the rules read (no ORM objects)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    return {row.name: row for row in fetch_rows(session, _CHEMICAL_LIMITS, {"names": wanted})}


def propose_risks(
    *, work_type: WorkType, grade: str, chemicals: Sequence[str], known: Mapping[str, ChemicalLimits]
) -> tuple[list[str], list[str]]:
    """Risks (风险辨识) and extra measures proposed from type, grade and the chemicals at the point."""
    risks = {
        WorkType.HOT: ["火灾", "爆炸", "灼烫"],
        WorkType.CONFINED: ["缺氧窒息", "中毒", "火灾爆炸", "淹溺/掩埋"],
        WorkType.BLIND: ["介质泄漏", "中毒", "灼烫", "高处坠落"],
        WorkType.HEIGHT: ["高处坠落", "物体打击"],
        WorkType.LIFTING: ["起重伤害", "物体打击"],
        WorkType.TEMP_POWER: ["触电", "电气火灾"],
        WorkType.EXCAVATION: ["坍塌", "触电 (地下电缆)", "管线破损泄漏"],
        WorkType.ROAD: ["车辆伤害", "应急通道受阻"],
    }[work_type][:]
    measures: list[str] = []
    if work_type == WorkType.HOT and grade == "特级":
        measures.append("特级动火全过程防爆摄像机视频录像，连续监测可燃气体")
    for name in chemicals:
        chem = known.get(name)
        lel = chem.lel_pct if chem else None
        toxic = chem is not None and (
            chem.is_highly_toxic or chem.mac_mg_m3 is not None or chem.pc_twa_mg_m3 is not None
        )
        if lel is not None:
            risks.append(f"{name}泄漏引发火灾爆炸 (爆炸下限 {lel:g}%)")
            if work_type in (WorkType.HOT, WorkType.CONFINED, WorkType.TEMP_POWER):
                measures.append(f"检测{name}浓度，判定值按爆炸下限 {lel:g}% 取 {0.5 if lel >= 4 else 0.2}%(v/v)")
        if toxic:
            risks.append(f"{name}中毒")
            measures.append(f"配备适用于{name}的防护用品和检测报警仪")
        if chem is None:
            risks.append(f"{name} (未在化学品台账中登记，须补充 MSDS)")
    return risks, measures


_LIVE_PEOPLE = select(Person.id).where(Person.id.in_(bindparam("ids", expanding=True)), Person.deleted_at.is_(None))


def plan_job(*, session: Session, data: JobPlanIn, actor: str | None, now: datetime | None = None) -> list[Permit]:
    """Plan a job once and issue one linked draft ticket per special-work type in it (关联作业).

    The grade of hot work is raised one level on holidays, at night or in wind ≥ 5 (升级管理);
    validity comes from the managed grade; risks and measures are proposed from type, grade and
    the chemicals at the work point.

    Raises:
        InvalidInput: a field the rules refuse (grade, window longer than the validity, ...).
        RecordNotFound-like InvalidInput: a person or contractor id naming nobody.
    """
    now = now or utcnow()
    start, end = data.planned_start, data.planned_end
    if end <= start:
        _invalid("planned_end", "计划结束时间须晚于开始时间")
    people_ids = {data.guardian_id, *data.worker_ids, *(t.guardian_id for t in data.tickets if t.guardian_id)}
    people_ids |= {w for t in data.tickets for w in (t.worker_ids or [])}
    if data.leader_id:
        people_ids.add(data.leader_id)
    found = {row.id for row in fetch_rows(session, _LIVE_PEOPLE, {"ids": sorted(people_ids)})}
    if missing := sorted(people_ids - found):
        _invalid("worker_ids", f"人员 {missing} 不存在")
    contractor_name = None
    if data.contractor_id is not None:
        contractor = session.get(Contractor, data.contractor_id)
        if contractor is None or contractor.deleted_at is not None:
            _invalid("contractor_id", f"承包商 #{data.contractor_id} 不存在")
        contractor_name = contractor.name
    non_blind = [t.work_type for t in data.tickets if t.work_type != WorkType.BLIND]
    if len(non_blind) != len(set(non_blind)):
        _invalid("tickets", "同一作业类型只开一张票 (盲板抽堵除外：一块盲板一张票)")
    known = _chemicals(session, data.chemicals)
    job = PermitJob(
        title=data.title,
        content=data.content,
        area=data.area,
        location=data.location,
        x=data.x,
        y=data.y,
        planned_start=start,
        planned_end=end,
        applicant_unit=data.applicant_unit,
        contractor_id=data.contractor_id,
        chemicals=list(data.chemicals),
        version=1,
        created_by=actor,
        updated_by=actor,
    )
    session.add(job)
    session.flush()
    created: list[Permit] = []
    for index, ticket in enumerate(data.tickets):
        field = f"tickets.{index}"
        grade = _grade_of(ticket, index)
        reasons: list[str] = []
        managed = grade
        if ticket.work_type == WorkType.HOT:
            managed, reasons = managed_grade(RULES, grade=grade, start=start, end=end, wind_level=data.wind_level)
        validity = timedelta(hours=RULES.validity_h(ticket.work_type, managed))
        if end - start > validity:
            _invalid(
                "planned_end",
                f"{ticket.work_type.value}{managed or ''}有效期不超过 {RULES.validity_h(ticket.work_type, managed)} h，"
                "请缩短计划时间或分段办理",
            )
        if ticket.work_type == WorkType.BLIND:
            for name, label in (("pipeline", "管道"), ("plate_no", "盲板编号"), ("blind_action", "抽/堵")):
                if not getattr(ticket, name):
                    _invalid(f"{field}.{name}", f"盲板抽堵作业票须填写{label} (一票一板一个动作)")
        risks, extra_measures = propose_risks(
            work_type=ticket.work_type, grade=managed, chemicals=data.chemicals, known=known
        )
        permit = Permit(
            number="",
            job_id=job.id,
            work_type=ticket.work_type.value,
            grade=grade,
            managed_grade=managed,
            grade_reasons=reasons,
            rules_version=RULES.version,
            status=S.DRAFT.value,
            title=data.title,
            content=data.content,
            area=data.area,
            location=data.location,
            x=data.x,
            y=data.y,
            planned_start=start,
            planned_end=end,
            valid_until=start + validity,
            hazardous_area=data.hazardous_area,
            oxygen_enriched=data.oxygen_enriched,
            gas_required=RULES.needs_gas(ticket.work_type, hazardous_area=data.hazardous_area),
            contractor_id=data.contractor_id,
            contractor_name=contractor_name or data.applicant_unit,
            leader_id=data.leader_id,
            guardian_id=ticket.guardian_id or data.guardian_id,
            worker_ids=list(ticket.worker_ids or data.worker_ids),
            details=_details(ticket),
            pipeline=ticket.pipeline,
            risks=risks,
            linked_numbers=[],
            approval_step=0,
            version=1,
            created_by=actor,
            updated_by=actor,
        )
        session.add(permit)
        session.flush()
        permit.number = f"{NUMBER_PREFIX[ticket.work_type]}-{start.astimezone(PLANT_TZ):%Y%m%d}-{permit.id:05d}"
        measures = [*RULES.standard_measures.get(ticket.work_type, ()), *extra_measures]
        session.add_all(
            PermitMeasure(permit_id=permit.id, seq=seq, content=text, involved=True)
            for seq, text in enumerate(measures, start=1)
        )
        created.append(permit)
    for permit in created:
        permit.linked_numbers = [p.number for p in created if p.id != permit.id]
        session.add(
            PermitStep(permit_id=permit.id, action="申请", from_status="", to_status=S.DRAFT, actor=actor, at=now)
        )
    session.flush()  # numbers, measures and steps in one flush
    for permit in created:
        changes = {k: [None, jsonable(v)] for k, v in permits.snapshot(permit).items() if v not in (None, [], {})}
        permits.record_history(session, permit, "create", actor, changes)
    return created


# --- the checks ----------------------------------------------------------------------------------


class _HeldCertificate(Protocol):
    """The columns of a certificate the qualification check judges."""

    @property
    def kind(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def expiry_date(self) -> date | None: ...
    @property
    def review_due(self) -> date | None: ...


class _NamedPerson(Protocol):
    """The columns of a named worker or guardian the qualification check judges."""

    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def deleted_at(self) -> datetime | None: ...
    @property
    def contractor_id(self) -> int | None: ...


_QUALIFICATION_QUERY = (
    select(
        Person.id,
        Person.name,
        Person.status,
        Person.deleted_at,
        Person.contractor_id,
        PersonCertificate.kind,
        PersonCertificate.category,
        PersonCertificate.expiry_date,
        PersonCertificate.review_due,
    )
    .outerjoin(
        PersonCertificate,
        and_(PersonCertificate.person_id == Person.id, PersonCertificate.deleted_at.is_(None)),
    )
    .where(Person.id.in_(bindparam("ids", expanding=True)))
)


def _effective_expiry(cert: _HeldCertificate) -> date | None:
    dates = [d for d in (cert.expiry_date, cert.review_due) if d is not None]
    return min(dates) if dates else None


def qualification_problems(*, session: Session, permit: Permit) -> list[str]:
    """Why the named people or the contractor may not do this work; empty when all hold.

    Each worker and the guardian must be a live, active person holding a certificate the rules
    ask for this type, valid through the ticket's validity (expiry and 复审 both count). A
    blacklisted or not-admitted contractor (the ticket's or a worker's) blocks the ticket.
    """
    problems: list[str] = []
    last_day = _aware(permit.valid_until).astimezone(PLANT_TZ).date()
    first_day = _aware(permit.planned_start).astimezone(PLANT_TZ).date()
    work_type = WorkType(permit.work_type)
    named = [(pid, PersonRole.WORKER) for pid in permit.worker_ids] + [(permit.guardian_id, PersonRole.GUARDIAN)]
    ids = {pid for pid, _ in named}
    # One round trip: the people with their live certificates (outer join), only the columns judged.
    people: dict[int, _NamedPerson] = {}
    certs: dict[int, list[_HeldCertificate]] = {}
    for row in fetch_rows(session, _QUALIFICATION_QUERY, {"ids": sorted(ids)}):
        people.setdefault(row.id, row)
        if row.kind is not None:
            certs.setdefault(row.id, []).append(row)
    contractor_ids = {permit.contractor_id} if permit.contractor_id else set()
    for pid, role in named:
        person = people.get(pid)
        if person is None or person.deleted_at is not None:
            problems.append(f"{role.value} #{pid} 不存在")
            continue
        if person.status != PersonStatus.ACTIVE:
            problems.append(f"{role.value}「{person.name}」状态为{person.status}")
        if person.contractor_id:
            contractor_ids.add(person.contractor_id)
        needed = RULES.required_certificates(work_type, role)
        if not needed:
            continue
        held = certs.get(pid, [])

        def matches(cert: _HeldCertificate, kind: str, category: str | None) -> bool:
            return cert.kind == kind and (category is None or category in (cert.category or ""))

        fitting = [c for c in held if any(matches(c, r.kind, r.category) for r in needed)]
        if not fitting:
            labels = " 或 ".join(r.label() for r in needed)
            problems.append(f"{role.value}「{person.name}」无{labels}")
            continue
        if not any((exp := _effective_expiry(c)) is None or exp >= last_day for c in fitting):
            latest = max(e for c in fitting if (e := _effective_expiry(c)) is not None)
            problems.append(
                f"{role.value}「{person.name}」的证书 {latest.isoformat()} 到期 (或须复审)，不能覆盖作业有效期"
            )
    for cid in sorted(contractor_ids):
        allowed, reason = contractors.may_issue_permit(session=session, contractor_id=cid, on=first_day)
        if not allowed:
            problems.append(reason)
    return problems


# Built once (values bound per call), as the other per-move queries: building a statement and its
# cache key cost about as much CPU as running it (docs/performance.md).
_LATEST_ANALYSIS = (
    select(GasAnalysis)
    .where(GasAnalysis.permit_id == bindparam("permit_id"))
    .order_by(GasAnalysis.sampled_at.desc(), GasAnalysis.id.desc())
    .limit(1)
)


def _latest_analysis(session: Session, permit_id: int) -> GasAnalysis | None:
    """The latest analysis as an ORM object, for the reminder that marks it (``reminded_at``)."""
    return session.scalar(_LATEST_ANALYSIS, {"permit_id": permit_id})


class _Verdict(Protocol):
    """What the start and resume guards read of the latest analysis."""

    @property
    def sampled_at(self) -> datetime: ...
    @property
    def passed(self) -> bool: ...
    @property
    def reasons(self) -> list[str]: ...


# The same analysis as _LATEST_ANALYSIS, only the columns the guards read.
_LATEST_VERDICT = _LATEST_ANALYSIS.with_only_columns(GasAnalysis.sampled_at, GasAnalysis.passed, GasAnalysis.reasons)


def _latest_verdict(session: Session, permit_id: int) -> _Verdict | None:
    """The latest analysis's time and verdict, only those columns (no ORM object): every start reads it."""
    rows = fetch_rows(session, _LATEST_VERDICT, {"permit_id": permit_id})
    return rows[0] if rows else None


def gas_fresh_until(*, session: Session, permit: Permit) -> datetime | None:
    """Until when the latest passing analysis lets the ticket start or go on (None: none that passes)."""
    latest = _latest_verdict(session, permit.id)
    if latest is None or not latest.passed:
        return None
    started = permit.status in (S.WORKING, S.SUSPENDED) or permit.started_at is not None
    until = RULES.analysis_fresh_until(
        work_type=WorkType(permit.work_type),
        grade=permit.managed_grade,
        sampled_at=_aware(latest.sampled_at),
        started=started and permit.status == S.WORKING,
    )
    return until or _aware(permit.valid_until)


def gas_problems(*, session: Session, permit: Permit, now: datetime, resuming: bool = False) -> list[str]:
    """Why the gas analysis does not let the ticket start (or resume) now; empty when it does.

    Start: the latest analysis passes and was sampled within 30 min before now. Resume: after
    an interruption longer than the rules allow, the same as a start, with a sample taken after
    the interruption began; after a short one, the latest analysis passes and is still fresh.
    """
    if not permit.gas_required:
        return []
    latest = _latest_verdict(session, permit.id)
    if latest is None:
        return ["未做气体分析"]
    sampled = _aware(latest.sampled_at)
    if not latest.passed:
        return ["最近一次气体分析不合格：" + "；".join(latest.reasons)]
    if sampled > now:
        return ["采样时间晚于当前时间"]
    window = timedelta(minutes=RULES.sample_max_age_before_start_min)
    if resuming and permit.suspended_at is not None:
        suspended = _aware(permit.suspended_at)
        limit = RULES.max_interruption_min(WorkType(permit.work_type), permit.managed_grade)
        if now - suspended > timedelta(minutes=limit):
            if sampled < suspended or now - sampled > window:
                return [f"中断超过 {limit} min，须重新进行气体分析 (恢复前 {window.seconds // 60} min 内采样)"]
            return []
        running_until = RULES.analysis_fresh_until(
            work_type=WorkType(permit.work_type), grade=permit.managed_grade, sampled_at=sampled, started=True
        )
        if running_until is not None and now >= running_until:
            return ["气体分析已超过监测间隔，须重新分析"]
        return []
    if now - sampled > window:
        return [f"气体分析已超过 {window.seconds // 60} min 未开始作业，须重新分析"]
    return []


class _SimopsFields(Protocol):
    """What a SIMOPS job is built from: a :class:`Permit`, or a row of its SIMOPS columns."""

    @property
    def id(self) -> int: ...
    @property
    def work_type(self) -> str: ...
    @property
    def area(self) -> str | None: ...
    @property
    def planned_start(self) -> datetime: ...
    @property
    def valid_until(self) -> datetime: ...
    @property
    def pipeline(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def details(self) -> dict[str, Any]: ...
    @property
    def x(self) -> float | None: ...
    @property
    def y(self) -> float | None: ...


_SIMOPS_COLUMNS = (
    Permit.id,
    Permit.work_type,
    Permit.area,
    Permit.planned_start,
    Permit.valid_until,
    Permit.pipeline,
    Permit.status,
    Permit.details,
    Permit.x,
    Permit.y,
)


def _simops_job(permit: _SimopsFields) -> SimopsJob:
    details = permit.details or {}
    return SimopsJob(
        permit_id=permit.id,
        work_type=WorkType(permit.work_type),
        area=permit.area,
        start=_aware(permit.planned_start),
        end=_aware(permit.valid_until),
        pipeline=permit.pipeline,
        line_open=permit.status in (S.WORKING, S.SUSPENDED),
        medium_phase=details.get("medium_phase"),
        medium_flammable=bool(details.get("medium_flammable")),
        x=permit.x,
        y=permit.y,
    )


@functools.cache
def _simops_statement(by_area: bool, by_types: bool, by_pipeline: bool) -> Select[Any]:
    """The SIMOPS query for one shape of scope, built once (its values are bound per call).

    Why: built anew per check, its ten clauses and their cache key cost more CPU than running it,
    on every submit and start (docs/performance.md).
    """
    near: list[ColumnElement[bool]] = []
    if by_area:
        near.append(Permit.area == bindparam("area"))
    if by_types:
        near.append(Permit.work_type.in_(bindparam("work_types", expanding=True)))
    if by_pipeline:
        near.append(and_(Permit.work_type == WorkType.BLIND.value, Permit.pipeline == bindparam("pipeline")))
    return select(*_SIMOPS_COLUMNS).where(
        Permit.id != bindparam("permit_id"),
        # tickets of the same job are one coordinated job, not a crossing one
        Permit.job_id != bindparam("job_id"),
        Permit.status.in_(_LIVE_VALUES),
        Permit.deleted_at.is_(None),
        Permit.valid_until > bindparam("start"),
        Permit.planned_start < bindparam("end"),
        or_(*near),
    )


def simops_findings(*, session: Session, permit: Permit) -> tuple[list[str], list[str]]:
    """SIMOPS (交叉作业) findings against every other live ticket: (refusals, warnings).

    Every live ticket of another job is judged that :func:`models.permit_rules.simops_scope`
    says could conflict at all (overlapping window and same area, the hot-work/blind-plate pair
    or the same line); the query reads only those, and only the columns the rules look at, so
    a check costs the same with 5 or 500 tickets live in the plant.
    """
    job = _simops_job(permit)
    scope = simops_scope(job)
    by_area, by_types, by_pipeline = scope.area is not None, bool(scope.work_types), scope.pipeline is not None
    if not (by_area or by_types or by_pipeline):
        return [], []
    params: dict[str, Any] = {"permit_id": permit.id, "job_id": permit.job_id, "start": scope.start, "end": scope.end}
    if by_area:
        params["area"] = scope.area
    if by_types:
        params["work_types"] = sorted(t.value for t in scope.work_types)
    if by_pipeline:
        params["pipeline"] = scope.pipeline
    others = fetch_rows(session, _simops_statement(by_area, by_types, by_pipeline), params)
    refusals: list[str] = []
    warnings: list[str] = []
    for conflict in simops_conflicts(RULES, job, [_simops_job(row) for row in others]):
        (refusals if conflict.refuse else warnings).append(f"{conflict.message} (作业票 #{conflict.other_permit_id})")
    return refusals, warnings


# --- moves ---------------------------------------------------------------------------------------


def _get(session: Session, permit_id: int) -> Permit:
    """The ticket a move changes, locked until the move's transaction ends (read as last committed).

    Why: two moves of one ticket that overlapped both read version *n*; the second's history
    row collided with the first's (a 500), and without that constraint an alarm's suspension
    would have been overwritten by a completion sent at the same moment. Locked, the second
    move waits and is judged on the state the first left (tests/registers/permits/test_concurrency.py).
    """
    return permits.get_for_change(session=session, record_id=permit_id)


def _move(
    session: Session,
    permit: Permit,
    event: PermitEvent,
    actor: str | None,
    now: datetime,
    *,
    extra: dict[str, Any] | None = None,
    person_id: int | None = None,
    opinion: str | None = None,
    x: float | None = None,
    y: float | None = None,
    signature: str | None = None,
) -> Permit:
    """Apply ``event``: new status (or InvalidTransition), extra fields, version, step, history."""
    before = PermitStatus(permit.status)
    after = transition(before, event)
    changes: dict[str, Any] = {"status": [before.value, after.value]} if after != before else {}
    for name, value in (extra or {}).items():
        old = getattr(permit, name)
        if jsonable(old) != jsonable(value):
            changes[name] = [jsonable(old), jsonable(value)]
    step = {
        "permit_id": permit.id,
        "action": event.value,
        "from_status": before.value,
        "to_status": after.value,
        "actor": actor,
        "person_id": person_id,
        "at": now,
        "x": x,
        "y": y,
        "opinion": opinion,
        "signature": signature,
    }
    _save(session, permit, actor, now, {**(extra or {}), "status": after.value}, step, event.value, changes)
    return permit


_PERMITS = cast(Table, Permit.__table__)
_PERMIT_ID: BindParameter[int] = bindparam("permit_id_")
_PERMIT_UPDATE = update(_PERMITS).where(_PERMITS.c.id == _PERMIT_ID)


def _save(
    session: Session,
    permit: Permit,
    actor: str | None,
    now: datetime,
    values: dict[str, Any],
    step: dict[str, Any] | None,
    action: str,
    changes: dict[str, Any],
    *,
    also: Sequence[tuple[UpdateBase, Mapping[str, Any]]] = (),
) -> None:
    """Write a change of the locked ticket: its columns (and version, who, when), its step, its history.

    Why this way: the ticket is read under the lock and changed by exactly one move, so the
    unit of work (change tracking, dependency sort, the flush) had nothing to find out, and
    cost about 0.3 ms of CPU per move; the step is written and never read back in the request.
    The three go as prebuilt Core statements in one round trip on PostgreSQL
    (:func:`registers.db.execute_together`; docs/performance.md). The loaded ticket takes
    the values as its committed state, so the move's guards, the response and later moves of
    the same request see them. ``also``: writes of other tables that go with them (the
    briefing's confirmation of the measures).
    """
    values = {**values, "version": permit.version + 1, "updated_by": actor, "updated_at": now}
    writes: list[tuple[UpdateBase, Mapping[str, Any]]] = [*also, (_PERMIT_UPDATE, {**values, "permit_id_": permit.id})]
    if step is not None:
        writes.append((_STEP_INSERT, step))
    writes.append(permits.history_entry(permit.id, values["version"], action, actor, changes))
    execute_together(session, writes)
    for name, value in values.items():
        set_committed_value(permit, name, value)


# Built once and sent as a plain INSERT: a step is written and never read back in the request
# that writes it, so the unit of work (identity map, RETURNING id) was CPU spent for nothing.
_STEP_INSERT: Insert = insert(cast(Table, PermitStep.__table__))


def _expire_if_due(session: Session, permit: Permit, now: datetime, actor: str | None) -> None:
    if now >= _aware(permit.valid_until) and (PermitStatus(permit.status), E.EXPIRE) in _expirable():
        _move(session, permit, E.EXPIRE, actor, now, opinion="超过作业票有效期，须重新办理")
        session.flush()
        raise PermitRefused([f"作业票已于 {_aware(permit.valid_until).astimezone(PLANT_TZ):%Y-%m-%d %H:%M} 超期"])


def _expirable() -> set[tuple[PermitStatus, PermitEvent]]:
    return {(s, E.EXPIRE) for s in (S.APPROVED, S.WORKING, S.SUSPENDED)}


_MEASURE_IDS = select(PermitMeasure.id).where(PermitMeasure.permit_id == bindparam("permit_id"))
# The confirmation of a ticket's measures: all of them (what the briefing does unless told
# otherwise) or those listed. Built once; parameter names that are no column of the table, or
# the UPDATE would also set a column of that name.
_MEASURES = cast(Table, PermitMeasure.__table__)
_CONFIRM = (
    update(_MEASURES)
    .where(_MEASURES.c.confirmed_at.is_(None))
    .values(confirmed_by=bindparam("confirmer"), confirmed_at=bindparam("confirmed_when"))
)
_CONFIRM_ALL = _CONFIRM.where(_MEASURES.c.permit_id == bindparam("measures_of"))
_CONFIRM_LISTED = _CONFIRM.where(_MEASURES.c.id.in_(bindparam("measure_ids", expanding=True)))


def brief(
    *,
    session: Session,
    permit_id: int,
    actor: str | None,
    measure_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> Permit:
    """安全交底 and confirmation of the measures (all, or those listed), with who and when.

    Raises:
        PermitRefused: the ticket is already working or finished; a listed measure is not this ticket's.
    """
    now = now or utcnow()
    permit = _get(session, permit_id)
    if PermitStatus(permit.status) not in (S.DRAFT, S.APPROVING, S.APPROVED, S.REJECTED):
        raise PermitRefused([f"作业票状态「{permit.status}」不能再确认措施"])
    ids = {row.id for row in fetch_rows(session, _MEASURE_IDS, {"permit_id": permit.id})}
    wanted = set(measure_ids) if measure_ids is not None else ids
    if unknown := sorted(wanted - ids):
        raise PermitRefused([f"措施 {unknown} 不属于本作业票"])
    confirm: list[tuple[UpdateBase, Mapping[str, Any]]] = []
    if wanted:  # one UPDATE for all of them, sent with the ticket's writes
        who = {"confirmer": actor, "confirmed_when": now}
        if measure_ids is None:
            confirm.append((_CONFIRM_ALL, {**who, "measures_of": permit.id}))
        else:
            confirm.append((_CONFIRM_LISTED, {**who, "measure_ids": sorted(wanted)}))
        for measure_id in wanted:  # measures this session loaded take the values, as the rows do
            measure = session.identity_map.get(identity_key(PermitMeasure, (measure_id,)))
            if isinstance(measure, PermitMeasure) and measure.confirmed_at is None:
                set_committed_value(measure, "confirmed_by", actor)
                set_committed_value(measure, "confirmed_at", now)
    step = {
        "permit_id": permit.id,
        "action": "安全交底",
        "from_status": permit.status,
        "to_status": permit.status,
        "actor": actor,
        "at": now,
        "opinion": f"确认安全措施 {len(wanted)} 项",
    }
    values = {"briefed_by": actor, "briefed_at": now}
    _save(session, permit, actor, now, values, step, "安全交底", {"briefed_by": [None, actor]}, also=confirm)
    return permit


# A measure that applies and was not confirmed yet: one is enough to refuse the submission.
_OPEN_MEASURE = (
    select(PermitMeasure.id)
    .where(
        PermitMeasure.permit_id == bindparam("permit_id"),
        PermitMeasure.involved,
        PermitMeasure.confirmed_at.is_(None),
    )
    .limit(1)
)


def submit(*, session: Session, permit_id: int, actor: str | None, now: datetime | None = None) -> Permit:
    """提交审批: all measures confirmed, people qualified, contractor admitted, no refused SIMOPS.

    Raises:
        InvalidTransition: not a draft.
        PermitRefused: a guard fails.
    """
    now = now or utcnow()
    permit = _get(session, permit_id)
    transition(PermitStatus(permit.status), E.SUBMIT)
    reasons: list[str] = []
    if fetch_rows(session, _OPEN_MEASURE, {"permit_id": permit.id}):
        reasons.append("安全措施未全部确认")
    if now >= _aware(permit.valid_until):
        reasons.append("计划时间已超过作业票有效期")
    reasons += qualification_problems(session=session, permit=permit)
    refusals, _warnings = simops_findings(session=session, permit=permit)
    reasons += refusals
    if reasons:
        raise PermitRefused(reasons)
    return _move(session, permit, E.SUBMIT, actor, now, extra={"approval_step": 0})


_SIGNED_MEASURES = (
    select(PermitMeasure.seq, PermitMeasure.content, PermitMeasure.involved)
    .where(PermitMeasure.permit_id == bindparam("permit_id"))
    .order_by(PermitMeasure.seq)
)


def content_hash(*, session: Session, permit: Permit) -> str:
    """SHA-256 of the ticket's content as signed: what, where, when, who, measures (canonical JSON)."""
    measures = fetch_rows(session, _SIGNED_MEASURES, {"permit_id": permit.id})
    body = {
        "number": permit.number,
        "work_type": permit.work_type,
        "grade": permit.managed_grade,
        "title": permit.title,
        "content": permit.content,
        "area": permit.area,
        "location": permit.location,
        "planned_start": _aware(permit.planned_start).isoformat(),
        "valid_until": _aware(permit.valid_until).isoformat(),
        "guardian_id": permit.guardian_id,
        "worker_ids": sorted(permit.worker_ids),
        "details": permit.details,
        "measures": [[m.seq, m.content, m.involved] for m in measures],
        "rules_version": permit.rules_version,
    }
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class _Signer(Protocol):
    """What an approval or acceptance reads of the person who signs."""

    @property
    def name(self) -> str: ...
    @property
    def principal(self) -> bool: ...
    @property
    def full_time_safety(self) -> bool: ...
    @property
    def position(self) -> str | None: ...


_SIGNER = select(Person.name, Person.principal, Person.full_time_safety, Person.position).where(
    Person.id == bindparam("person_id"), Person.deleted_at.is_(None)
)


def _signer(session: Session, person_id: int) -> _Signer | None:
    """The live person of the register who signs (approver, acceptor), or None: only the columns judged."""
    rows = fetch_rows(session, _SIGNER, {"person_id": person_id})
    return rows[0] if rows else None


def signature_of(*, key: bytes, digest: str, person_id: int, at: datetime, level: str) -> str:
    """The electronic signature of one approval: HMAC-SHA256 over content hash, signer, time, level."""
    message = f"{digest}|{person_id}|{at.isoformat()}|{level}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(
    *,
    session: Session,
    permit_id: int,
    approver_id: int,
    actor: str | None,
    signing_key: bytes,
    opinion: str | None = None,
    x: float | None = None,
    y: float | None = None,
    now: datetime | None = None,
) -> Permit:
    """One approval level signs; the last one issues the ticket (签发).

    The approver must hold a role the template allows at this level (主要负责人, 安全管理部门,
    所在单位负责人 from the people register), may sign one level only, and, when positions are
    known, must stand within the signing fence of the work point.

    Raises:
        InvalidTransition: not being approved.
        PermitRefused: wrong role, second signature of one person, outside the fence, expired.
    """
    now = now or utcnow()
    permit = _get(session, permit_id)
    transition(PermitStatus(permit.status), E.SIGN)
    template = RULES.approval_template(WorkType(permit.work_type), permit.managed_grade)
    level = template[permit.approval_step]
    approver = _signer(session, approver_id)
    if approver is None:
        raise PermitRefused([f"审批人 #{approver_id} 不存在"])
    reasons = []
    held = approver_roles(
        principal=approver.principal, full_time_safety=approver.full_time_safety, position=approver.position
    )
    if not held & set(level.roles):
        allowed = "/".join(r.value for r in level.roles)
        reasons.append(f"「{level.title}」须由{allowed}审批，「{approver.name}」无此审批权限")
    if fetch_rows(session, _SIGNED_SINCE_SUBMIT, {"permit_id": permit.id, "person_id": approver_id}):
        reasons.append(f"「{approver.name}」已审批过本票的一级，不能重复签字")
    if None not in (x, y, permit.x, permit.y):
        distance = ((x - permit.x) ** 2 + (y - permit.y) ** 2) ** 0.5  # type: ignore[operator]
        if distance > RULES.sign_fence_m:
            reasons.append(f"审批人距作业点 {distance:.1f} m，须到现场 {RULES.sign_fence_m:g} m 内签字")
    if now >= _aware(permit.valid_until):
        reasons.append("作业票已超过有效期")
    if reasons:
        raise PermitRefused(reasons)
    digest = content_hash(session=session, permit=permit)
    signature = signature_of(key=signing_key, digest=digest, person_id=approver_id, at=now, level=level.title)
    last = permit.approval_step + 1 == len(template)
    event = E.ISSUE if last else E.SIGN
    extra: dict[str, Any] = {"approval_step": permit.approval_step + 1}
    if last:
        extra["content_hash"] = digest
    return _move(
        session,
        permit,
        event,
        actor,
        now,
        extra=extra,
        person_id=approver_id,
        opinion=f"{level.title}：{opinion or '同意'}",
        x=x,
        y=y,
        signature=signature,
    )


# Whether this person signed a level of this ticket since its last submission (a rejection and
# a new submission start the signatures afresh); one round trip, the submission as a subquery.
_LAST_SUBMIT = (
    select(PermitStep.at)
    .where(PermitStep.permit_id == bindparam("permit_id"), PermitStep.action == E.SUBMIT.value)
    .order_by(PermitStep.id.desc())
    .limit(1)
    .scalar_subquery()
)
_SIGNED_SINCE_SUBMIT = (
    select(PermitStep.id)
    .where(
        PermitStep.permit_id == bindparam("permit_id"),
        PermitStep.person_id == bindparam("person_id"),
        PermitStep.action.in_([E.SIGN.value, E.ISSUE.value]),
        or_(_LAST_SUBMIT.is_(None), PermitStep.at >= _LAST_SUBMIT),
    )
    .limit(1)
)


def reject(*, session: Session, permit_id: int, reason: str, actor: str | None, now: datetime | None = None) -> Permit:
    """驳回: back to the applicant; signatures so far no longer count."""
    now = now or utcnow()
    permit = _get(session, permit_id)
    return _move(session, permit, E.REJECT, actor, now, extra={"approval_step": 0}, opinion=reason)


def revise(*, session: Session, permit_id: int, actor: str | None, now: datetime | None = None) -> Permit:
    """修改重报: a rejected ticket becomes a draft again."""
    now = now or utcnow()
    return _move(session, _get(session, permit_id), E.REVISE, actor, now)


def record_gas_analysis(
    *,
    session: Session,
    permit_id: int,
    data: GasAnalysisIn,
    actor: str | None,
    now: datetime | None = None,
    source: str = "人工",
) -> GasAnalysis:
    """Record an analysis, judge it by the rules, and stop running work on a failing one.

    Raises:
        InvalidInput: sampled in the future.
        PermitRefused: the ticket is finished.
    """
    now = now or utcnow()
    permit = _get(session, permit_id)
    status = PermitStatus(permit.status)
    if status in TERMINAL or status == S.COMPLETED:
        raise PermitRefused([f"作业票状态「{status.value}」不再记录气体分析"])
    if data.sampled_at > now + timedelta(minutes=5):
        _invalid("sampled_at", "采样时间不能晚于当前时间")
    readings = [GasReading(r.kind, r.substance, r.value, r.unit) for r in data.readings]
    known = _chemicals(session, [r.substance for r in readings])
    lel = {n: c.lel_pct for n, c in known.items() if c.lel_pct is not None}
    oel = {
        n: limit
        for n, c in known.items()
        if (limit := oel_limit_mg_m3(c.mac_mg_m3, c.pc_twa_mg_m3, c.pc_stel_mg_m3)) is not None
    }
    verdict = check_gas(
        RULES,
        work_type=WorkType(permit.work_type),
        readings=readings,
        lel_vol_pct=lel,
        oel_mg_m3=oel,
        oxygen_enriched=permit.oxygen_enriched,
    )
    row = GasAnalysis(
        permit_id=permit.id,
        analyst=data.analyst,
        analyser=data.analyser,
        sampled_at=data.sampled_at,
        point=data.point,
        readings=[r.model_dump(mode="json") for r in data.readings],
        passed=verdict.passed,
        reasons=list(verdict.reasons),
        source=source,
        recorded_by=actor,
        recorded_at=now,
    )
    session.add(row)
    session.flush()  # the analysis's id, for the history
    analysis = {"id": row.id, "passed": row.passed}
    _save(session, permit, actor, now, {}, None, "气体分析", {"gas_analysis": [None, analysis]})
    if not verdict.passed and status == S.WORKING:
        _move(session, permit, E.SUSPEND, actor, now, extra={"suspended_at": now, "suspend_reason": "气体分析不合格"})
    return row


def start(*, session: Session, permit_id: int, actor: str | None, now: datetime | None = None) -> Permit:
    """开始作业: only on an issued ticket, briefed, in its window, with a fresh passing gas test.

    Raises:
        InvalidTransition: not issued.
        PermitRefused: a guard fails (the ticket expires if its validity is over).
    """
    now = now or utcnow()
    permit = _get(session, permit_id)
    transition(PermitStatus(permit.status), E.START)
    _expire_if_due(session, permit, now, actor)
    reasons = []
    if permit.briefed_at is None:
        reasons.append("未进行安全交底")
    if now < _aware(permit.planned_start) - timedelta(minutes=RULES.sample_max_age_before_start_min):
        reasons.append("未到计划开始时间")
    reasons += gas_problems(session=session, permit=permit, now=now)
    reasons += qualification_problems(session=session, permit=permit)
    refusals, _ = simops_findings(session=session, permit=permit)
    reasons += refusals
    if reasons:
        raise PermitRefused(reasons)
    return _move(session, permit, E.START, actor, now, extra={"started_at": permit.started_at or now})


def suspend(*, session: Session, permit_id: int, reason: str, actor: str | None, now: datetime | None = None) -> Permit:
    """中断作业 (guardian left, alarm, gas change, abnormal production)."""
    return _suspend(session, _get(session, permit_id), reason, actor, now or utcnow())


def _suspend(session: Session, permit: Permit, reason: str, actor: str | None, now: datetime) -> Permit:
    return _move(
        session, permit, E.SUSPEND, actor, now, extra={"suspended_at": now, "suspend_reason": reason}, opinion=reason
    )


def resume(*, session: Session, permit_id: int, actor: str | None, now: datetime | None = None) -> Permit:
    """恢复作业: re-analysis where the interruption was longer than the rules allow.

    Raises:
        InvalidTransition: not suspended.
        PermitRefused: gas analysis missing, failing or stale; qualification lapsed; expired.
    """
    now = now or utcnow()
    permit = _get(session, permit_id)
    transition(PermitStatus(permit.status), E.RESUME)
    _expire_if_due(session, permit, now, actor)
    reasons = gas_problems(session=session, permit=permit, now=now, resuming=True)
    reasons += qualification_problems(session=session, permit=permit)
    if reasons:
        raise PermitRefused(reasons)
    return _move(session, permit, E.RESUME, actor, now, extra={"suspended_at": None, "suspend_reason": None})


def complete(*, session: Session, permit_id: int, actor: str | None, now: datetime | None = None) -> Permit:
    """完工: the work is done; the ticket waits for acceptance."""
    now = now or utcnow()
    return _move(session, _get(session, permit_id), E.COMPLETE, actor, now, extra={"completed_at": now})


def accept(
    *,
    session: Session,
    permit_id: int,
    acceptor_id: int,
    actor: str | None,
    opinion: str | None = None,
    now: datetime | None = None,
) -> Permit:
    """完工验收 and closure: the acceptor (a person of the register) signs, with the time.

    Raises:
        InvalidTransition: not completed (no ticket closes without acceptance).
        PermitRefused: unknown acceptor.
    """
    now = now or utcnow()
    permit = _get(session, permit_id)
    transition(PermitStatus(permit.status), E.ACCEPT)
    acceptor = _signer(session, acceptor_id)
    if acceptor is None:
        raise PermitRefused([f"验收人 #{acceptor_id} 不存在"])
    return _move(
        session,
        permit,
        E.ACCEPT,
        actor,
        now,
        extra={"accepted_by": acceptor.name, "accepted_at": now},
        person_id=acceptor_id,
        opinion=opinion or "验收合格",
    )


def cancel(*, session: Session, permit_id: int, reason: str, actor: str | None, now: datetime | None = None) -> Permit:
    """作废 a ticket that has not started (or a suspended one that will not resume)."""
    now = now or utcnow()
    return _move(session, _get(session, permit_id), E.CANCEL, actor, now, opinion=reason)


# --- what other modules and the scheduler call ----------------------------------------------------


def open_permits(*, session: Session, area: str | None = None) -> list[Permit]:
    """Tickets issued or being worked (已批准/作业中), optionally in one area: type, grade, point, guardian."""
    stmt = select(Permit).where(Permit.status.in_([S.APPROVED.value, S.WORKING.value]), Permit.deleted_at.is_(None))
    if area is not None:
        stmt = stmt.where(Permit.area == area)
    return list(session.scalars(stmt.order_by(Permit.id)))


def suspend_for_guardian_absent(*, session: Session, permit_id: int, actor: str | None, reason: str) -> Permit:
    """The positioning stream's hook: the guardian left the fence, so the work stops (idempotent).

    A ticket that is not being worked is returned unchanged (the guardian may leave before the
    start or after completion).
    """
    permit = _get(session, permit_id)
    if permit.status != S.WORKING:
        return permit
    return _suspend(session, permit, f"监护人离开：{reason}", actor, utcnow())


def suspend_for_alarm(
    *, session: Session, area: str, alarm: str, actor: str | None = "alarm", now: datetime | None = None
) -> list[Permit]:
    """An alarm in ``area`` stops every ticket being worked there; returns the suspended ones."""
    now = now or utcnow()
    working = session.scalars(
        select(Permit.id).where(Permit.area == area, Permit.status == S.WORKING.value, Permit.deleted_at.is_(None))
    )
    reason = f"区域报警：{alarm}"
    return [
        permit for permit_id in list(working) if (permit := _suspend_if_working(session, permit_id, reason, actor, now))
    ]


def _suspend_if_working(
    session: Session, permit_id: int, reason: str, actor: str | None, now: datetime
) -> Permit | None:
    """Suspend a ticket found working, unless a move that finished meanwhile took it out of work."""
    permit = _get(session, permit_id)
    return _suspend(session, permit, reason, actor, now) if permit.status == S.WORKING else None


def expire_overdue(*, session: Session, now: datetime | None = None, actor: str | None = None) -> list[Permit]:
    """超期: tickets past their validity that are not finished (the scheduler calls this)."""
    now = now or utcnow()
    expirable = sorted(status.value for status, _ in _expirable())
    stmt = select(Permit.id).where(Permit.status.in_(expirable), Permit.valid_until <= now, Permit.deleted_at.is_(None))
    expired = []
    for permit_id in list(session.scalars(stmt)):
        permit = _get(session, permit_id)  # locked, then judged again: a move may have finished it meanwhile
        if permit.status in expirable:
            expired.append(_move(session, permit, E.EXPIRE, actor, now, opinion="超过作业票有效期"))
    return expired


def check_running(*, session: Session, now: datetime | None = None, actor: str | None = None) -> list[Permit]:
    """Suspend running tickets whose gas analysis went stale (confined space every 2 h, hot work daily)."""
    now = now or utcnow()
    stopped = []
    for permit in list(session.scalars(select(Permit).where(Permit.status == S.WORKING.value, Permit.gas_required))):
        until = gas_fresh_until(session=session, permit=permit)
        if (until is None or now >= until) and (
            suspended := _suspend_if_working(session, permit.id, "气体分析已过期", actor, now)
        ):
            stopped.append(suspended)
    return stopped


@dataclass(frozen=True)
class GasReminder:
    """A reminder that a ticket's gas analysis goes stale soon (fired once per analysis)."""

    permit_id: int
    number: str
    analysis_id: int
    stale_at: datetime
    message: str


def gas_reminders(*, session: Session, now: datetime | None = None) -> list[GasReminder]:
    """Fire the reminders of analyses that go stale within the lead time; each fires once.

    Before the start the sample is good for 30 min; during confined-space work for 2 h; hot work
    for the plant-calendar day. The reminder is recorded on the analysis (``reminded_at``).
    """
    now = now or utcnow()
    lead = timedelta(minutes=RULES.reminder_lead_min)
    fired = []
    stmt = select(Permit).where(
        Permit.status.in_([S.APPROVED.value, S.WORKING.value]), Permit.gas_required, Permit.deleted_at.is_(None)
    )
    for permit in session.scalars(stmt):
        latest = _latest_analysis(session, permit.id)
        if latest is None or not latest.passed or latest.reminded_at is not None:
            continue
        until = gas_fresh_until(session=session, permit=permit)
        if until is None or not (until - lead <= now < until):
            continue
        latest.reminded_at = now
        local = until.astimezone(PLANT_TZ)
        fired.append(
            GasReminder(
                permit.id,
                permit.number,
                latest.id,
                until,
                f"作业票 {permit.number} 的气体分析将于 {local:%H:%M} 过期，请及时复测",
            )
        )
    session.flush()
    return fired


@dataclass(frozen=True)
class PermitFile:
    """A ticket with its measures, analyses and steps, for the screen and the PDF."""

    permit: Permit
    measures: list[PermitMeasure]
    analyses: list[GasAnalysis]
    steps: list[PermitStep]
    allowed: list[PermitEvent]
    levels: list[str]
    next_level: str | None
    fresh_until: datetime | None


def permit_file(*, session: Session, permit_id: int) -> PermitFile:
    """Everything recorded on one ticket.

    Raises:
        RecordNotFound: no such ticket.
    """
    permit = permits.get(session=session, record_id=permit_id)  # a read: no lock
    template = RULES.approval_template(WorkType(permit.work_type), permit.managed_grade)
    next_level = template[permit.approval_step].title if permit.status == S.APPROVING else None
    return PermitFile(
        permit=permit,
        measures=list(
            session.scalars(
                select(PermitMeasure).where(PermitMeasure.permit_id == permit.id).order_by(PermitMeasure.seq)
            )
        ),
        analyses=list(
            session.scalars(
                select(GasAnalysis).where(GasAnalysis.permit_id == permit.id).order_by(GasAnalysis.sampled_at)
            )
        ),
        steps=list(
            session.scalars(select(PermitStep).where(PermitStep.permit_id == permit.id).order_by(PermitStep.id))
        ),
        allowed=allowed_events(PermitStatus(permit.status)),
        levels=[step.title for step in template],
        next_level=next_level,
        fresh_until=gas_fresh_until(session=session, permit=permit) if permit.gas_required else None,
    )


def job_permits(*, session: Session, job_id: int) -> tuple[PermitJob, list[Permit]]:
    """A job and its linked tickets.

    Raises:
        RecordNotFound: no such job.
    """
    job = session.get(PermitJob, job_id)
    if job is None or job.deleted_at is not None:
        raise RecordNotFound(PERMIT_JOB, job_id)
    rows = session.scalars(
        select(Permit).where(Permit.job_id == job_id, Permit.deleted_at.is_(None)).order_by(Permit.id)
    )
    return job, list(rows)


def statistics(*, session: Session, by: str) -> Counter[str]:
    """Ticket counts by type, grade, area, contractor or status (the field database's summary).

    Raises:
        InvalidQuery-like InvalidInput: an unknown dimension.
    """
    if by not in STATISTICS_DIMENSIONS:
        _invalid("by", f"可选: {', '.join(STATISTICS_DIMENSIONS)}")
    column = getattr(Permit, by)
    rows = session.execute(select(column).where(Permit.deleted_at.is_(None)))
    return Counter((value or "未填写") for (value,) in rows)
