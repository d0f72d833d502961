"""The major hazard source register (重大危险源) and its 包保 duties, on the register framework.

* :data:`register`: hazard sources; S, R, grade and α are derived from the stored chemicals on
  every create, update and import (GB 18218-2018 via :mod:`models.hazard_identification`).
* :data:`duties`: duty records of the three responsible persons (包保履职记录).
* :func:`assess_duties` / :func:`overdue_duties`: on-line assessment against the configurable
  schedule (:mod:`registers.hazard_sources.scheduled`).
* :func:`assessment_report` / :func:`report_xlsx`: the periodic assessment report, per source:
  grade, R, duties done and overdue per role; exportable to Excel.

Example:
    >>> chlorine = {"name": "氯", "cas": "7782-50-5", "quantity_t": 60}
    >>> derive_identification({"chemicals": [chlorine], "alpha": 1.5})["r_value"]
    72.0
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.hazard_identification import (
    ChemicalInventory,
    HazardGrade,
    Identification,
    IdentificationError,
    alpha_for_population,
    check_alpha,
    identify,
    lookup_table_1,
    normalise_cas,
    normalise_name,
)
from registers.framework.service import DueDate, InvalidInput, Register
from registers.hazard_sources.models import HazardSource, HazardSourceDuty
from registers.hazard_sources.scheduled import (
    DEFAULT_DUTY_RULES,
    DutyCheck,
    DutyDone,
    DutyRule,
    DutyState,
    SourceRef,
    assess,
)
from registers.hazard_sources.schemas import (
    DutyCreate,
    DutyRead,
    DutyRole,
    DutyUpdate,
    HazardSourceCreate,
    HazardSourceRead,
    HazardSourceUpdate,
)
from registers.process.models import Chemical as MsdsChemical

__all__ = [
    "ASSESSMENT_LEAD_DAYS",
    "DUTY_LABELS",
    "LABELS",
    "AssessmentReport",
    "ReportRow",
    "assess_duties",
    "assessment_report",
    "DutyRegister",
    "get_by_code",
    "derive_identification",
    "identify_values",
    "MsdsLink",
    "msds_links",
    "duties",
    "overdue_duties",
    "register",
    "report_xlsx",
]

LABELS: Mapping[str, str] = {
    "code": "编号",
    "name": "名称",
    "area": "所在区域",
    "unit_kind": "单元类型",
    "process": "危险工艺",
    "chemicals": "危险化学品",
    "exposed_population": "暴露人数",
    "alpha": "α",
    "s_value": "S值",
    "r_value": "R值",
    "grade": "级别",
    "is_major": "构成重大危险源",
    "principal_person": "主要负责人",
    "technical_person": "技术负责人",
    "operational_person": "操作负责人",
    "record_number": "备案编号",
    "next_assessment_due": "下次安全评估日期",
}

DUTY_LABELS: Mapping[str, str] = {
    "hazard_source_code": "重大危险源编号",
    "role": "包保角色",
    "person": "履职人",
    "performed_on": "履职日期",
    "content": "履职内容",
    "findings": "发现问题",
    "hazards_found": "发现隐患数",
}

# Safety assessment of a major hazard source at least every 3 years (40号令): remind a
# quarter ahead (hiring an assessor takes time), a month and a week ahead, and on the day.
ASSESSMENT_LEAD_DAYS: tuple[int, ...] = (90, 30, 7, 0)


def _inventory(values: Mapping[str, Any]) -> list[ChemicalInventory]:
    return [
        ChemicalInventory(
            name=c["name"],
            cas=c.get("cas") or "",
            quantity_t=c["quantity_t"],
            categories=tuple(c.get("categories") or ()),
            critical_t=c.get("critical_t"),
            beta=c.get("beta"),
            override_reason=c.get("override_reason") or "",
            override_reviewer=c.get("override_reviewer") or "",
        )
        for c in values.get("chemicals") or []
    ]


def identify_values(values: Mapping[str, Any]) -> Identification:
    """The register's identification of a source's field values: THE one S/R path.

    α comes from the exposed population when that is known, else from the stored α (a Table 5
    value). The twin and every route use this (or :func:`identify` on the same inputs), so a
    source never has two different R values.

    Raises:
        InvalidInput: naming the field (``chemicals`` or ``alpha``) the tables cannot use.
    """
    population = values.get("exposed_population")
    alpha = alpha_for_population(population) if population is not None else values.get("alpha")
    if alpha is None:
        msg = "请给出 α 或 暴露人数 / give alpha or exposed_population"
        raise InvalidInput("alpha", msg)  # noqa: EM101 - the field name, not a message
    try:
        alpha = check_alpha(alpha)
    except IdentificationError as err:
        raise InvalidInput("alpha", str(err)) from None  # noqa: EM101 - the field name
    if not values.get("chemicals"):
        msg = "至少需要一种危险化学品 / at least one chemical"
        raise InvalidInput("chemicals", msg)  # noqa: EM101 - the field name, not a message
    try:
        return identify(_inventory(values), alpha=alpha)
    except IdentificationError as err:
        raise InvalidInput("chemicals", str(err)) from None  # noqa: EM101 - the field name


def derive_identification(values: Mapping[str, Any]) -> dict[str, Any]:
    """α (from the exposed population when known), S, R, grade and is_major from the chemicals.

    The chemicals come back with the Q and β actually used, so the stored row shows its sums.
    A unit with S < 1 whose β the tables cannot give stores R = 0 (it is not graded).
    """
    result = identify_values(values)
    chemicals = [dict(c) for c in values.get("chemicals") or []]
    for chemical, term in zip(chemicals, result.terms, strict=True):
        chemical["critical_t"], chemical["beta"] = term.critical_t, term.beta
        chemical.setdefault("cas", "")
        chemical.setdefault("categories", [])
        for key in ("override_reason", "override_reviewer"):  # kept only where an override was made
            if not chemical.get(key):
                chemical.pop(key, None)
    return {
        "chemicals": chemicals,
        "alpha": result.alpha,
        "s_value": result.s,
        "r_value": result.r if result.r is not None else 0.0,
        "grade": int(result.grade) if result.grade is not None else None,
        "is_major": result.is_major,
    }


def _check_identification(values: Mapping[str, Any]) -> None:
    """Whole-record rule on create, import and the merged record of an update: the tables can place it."""
    identify_values(values)


class HazardSourceRegister(Register[HazardSource, HazardSourceCreate, HazardSourceUpdate, HazardSourceRead]):
    """The hazard source register: a PATCH of α alone is refused where a population decides α."""

    def update(
        self,
        *,
        session: Session,
        record_id: int,
        data: HazardSourceUpdate,
        actor: str | None,
        expected_version: int | None = None,
    ) -> HazardSource:
        """As the framework's; an α that the stored exposed population contradicts is a 422, not ignored."""
        values = data.model_dump(exclude_unset=True)
        if values.get("alpha") is not None and "exposed_population" not in values:
            # locked: judged on the population the update builds on, not one a concurrent PATCH replaced
            record = self.get_for_change(session=session, record_id=record_id)
            if record.exposed_population is not None:
                expected = alpha_for_population(record.exposed_population)
                if values["alpha"] != expected:
                    msg = (
                        f"已填暴露人数 {record.exposed_population} 人，α 按表5为 {expected}；"
                        f"要改变 α，请修改暴露人数（或将其清空后再填 α）"
                        f" / alpha is set by the exposed population ({expected}); change the population instead"
                    )
                    raise InvalidInput("alpha", msg)  # noqa: EM101 - the field name
        return super().update(
            session=session, record_id=record_id, data=data, actor=actor, expected_version=expected_version
        )


def _describe(record: HazardSource) -> str:
    grade = f" {HazardGrade(record.grade).label}" if record.grade else ""
    return f"{record.code} {record.name}{grade}"


register = HazardSourceRegister(
    name="hazard_source",
    title="重大危险源",
    model=HazardSource,
    create_schema=HazardSourceCreate,
    update_schema=HazardSourceUpdate,
    read_schema=HazardSourceRead,
    labels=LABELS,
    searchable=("code", "name", "area", "process", "principal_person", "technical_person", "operational_person"),
    sortable=("id", "code", "name", "r_value", "s_value", "grade", "next_assessment_due", "updated_at"),
    filterable=("code", "area", "unit_kind", "grade", "is_major", "r_value", "next_assessment_due"),
    unique=("code",),
    due_dates=(DueDate("next_assessment_due", ASSESSMENT_LEAD_DAYS, label="安全评估"),),
    derive=derive_identification,
    check=_check_identification,
    describe=_describe,
    default_sort="code",
)


def get_by_code(*, session: Session, code: str) -> HazardSource | None:
    """The live hazard source with this code (MHS-01 …), if any."""
    stmt = select(HazardSource).where(HazardSource.code == code, HazardSource.deleted_at.is_(None))
    return session.scalars(stmt.limit(1)).first()


class DutyRegister(Register[HazardSourceDuty, DutyCreate, DutyUpdate, DutyRead]):
    """The duty register: a duty (created or imported) must name a live hazard source."""

    def validate_rows(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, InvalidInput]]:
        """As the framework's, plus: ``hazard_source_code`` names a live hazard source.

        One query for the whole file, so an imported duty roll is checked like a typed one.
        """
        problems = super().validate_rows(session, rows)
        codes = {row.get("hazard_source_code") for row in rows} - {None}
        live = set(
            session.scalars(
                select(HazardSource.code).where(HazardSource.code.in_(codes), HazardSource.deleted_at.is_(None))
            )
        )
        for index, row in enumerate(rows):
            code = row.get("hazard_source_code")
            if code is not None and code not in live:
                msg = f"重大危险源「{code}」不存在 / unknown hazard source"
                problems.append((index, InvalidInput("hazard_source_code", msg)))
        return problems


def _describe_duty(record: HazardSourceDuty) -> str:
    return f"{DutyRole(record.role).label} {record.person} {record.performed_on.isoformat()}"


duties = DutyRegister(
    name="hazard_source_duty",
    title="包保履职记录",
    model=HazardSourceDuty,
    create_schema=DutyCreate,
    update_schema=DutyUpdate,
    read_schema=DutyRead,
    labels=DUTY_LABELS,
    searchable=("person", "content", "findings"),
    sortable=("id", "performed_on", "role", "person", "hazard_source_code", "updated_at"),
    filterable=("hazard_source_code", "role", "person", "performed_on"),
    describe=_describe_duty,
    default_sort="-performed_on",
)


# --- assessment ------------------------------------------------------------------------------


def _source_refs(session: Session) -> list[SourceRef]:
    rows = session.scalars(select(HazardSource).where(HazardSource.deleted_at.is_(None)).order_by(HazardSource.code))
    return [
        SourceRef(
            id=s.id,
            code=s.code,
            name=s.name,
            since=s.created_at.date(),
            persons=(
                (DutyRole.PRINCIPAL, s.principal_person),
                (DutyRole.TECHNICAL, s.technical_person),
                (DutyRole.OPERATIONAL, s.operational_person),
            ),
        )
        for s in rows
    ]


def _duties_done(session: Session, first: date, last: date) -> list[DutyDone]:
    stmt = select(HazardSourceDuty.hazard_source_code, HazardSourceDuty.role, HazardSourceDuty.performed_on).where(
        HazardSourceDuty.deleted_at.is_(None),
        HazardSourceDuty.performed_on >= first - _MAX_PERIOD,
        HazardSourceDuty.performed_on <= last,
    )
    return [DutyDone(code, DutyRole(role), day) for code, role, day in session.execute(stmt)]


_MAX_PERIOD = date(2000, 4, 1) - date(2000, 1, 1)  # a quarter: the longest period a rule can have


def assess_duties(
    *,
    session: Session,
    first: date,
    as_of: date,
    rules: Sequence[DutyRule] = DEFAULT_DUTY_RULES,
    count_from_registration: bool = True,
) -> list[DutyCheck]:
    """On-line assessment of every live source's duties from ``first`` to ``as_of`` (在线考核).

    Args:
        session: the request's session.
        first: first day assessed.
        as_of: the assessment date; later records are ignored.
        rules: the duty schedule (default: the national minimums).
        count_from_registration: start each source's count no earlier than the day it was
            entered in the register (a source registered today is not overdue for last year).
    """
    refs = _source_refs(session)
    if not count_from_registration:
        refs = [SourceRef(r.id, r.code, r.name, first, r.persons) for r in refs]
    return assess(refs, _duties_done(session, first, as_of), first=first, as_of=as_of, rules=rules)


def overdue_duties(
    *, session: Session, first: date, as_of: date, rules: Sequence[DutyRule] = DEFAULT_DUTY_RULES
) -> list[DutyCheck]:
    """Only the overdue checks (逾期未履职清单), oldest period first."""
    checks = assess_duties(session=session, first=first, as_of=as_of, rules=rules)
    overdue = [c for c in checks if c.state is DutyState.OVERDUE]
    return sorted(overdue, key=lambda c: (c.start, c.source.code, c.rule.role))


@dataclass(frozen=True, slots=True)
class RoleSummary:
    """Duty completion of one role at one source over the report period."""

    role: DutyRole
    person: str | None
    required: int  # periods that ended inside the report period
    done: int  # of those, periods with enough records
    overdue: int
    records: int  # duty records in the report period

    @property
    def rate(self) -> float:
        """Completion rate 0..1 (1 when nothing was required yet)."""
        return self.done / self.required if self.required else 1.0


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One hazard source in the periodic assessment report."""

    code: str
    name: str
    grade: int | None
    r_value: float
    s_value: float
    roles: tuple[RoleSummary, ...]

    @property
    def grade_label(self) -> str:
        """一级 … 四级, or 未构成."""
        return HazardGrade(self.grade).label if self.grade else "未构成"


@dataclass(frozen=True, slots=True)
class AssessmentReport:
    """The periodic assessment report (包保责任制落实情况考核): one row per live source."""

    first: date
    last: date
    rows: tuple[ReportRow, ...]
    overdue: tuple[DutyCheck, ...]

    @property
    def done(self) -> int:
        """Periods done, all sources and roles."""
        return sum(r.done for row in self.rows for r in row.roles)

    @property
    def required(self) -> int:
        """Periods required, all sources and roles."""
        return sum(r.required for row in self.rows for r in row.roles)


def assessment_report(
    *, session: Session, first: date, last: date, rules: Sequence[DutyRule] = DEFAULT_DUTY_RULES
) -> AssessmentReport:
    """Report for the period ``[first, last]``: per source grade and R, per role done / overdue.

    Only periods that have ended by the end of ``last`` are required; a running one is not
    counted for or against anyone. Sources count from the first day of the report, so the
    report for a past quarter is the same whenever it is run.
    """
    if last < first:
        msg = "报告截止日期不能早于开始日期 / last must not be before first"
        raise InvalidInput("last", msg)  # noqa: EM101 - the field name, not a message
    # A period that ends on ``last`` is complete at the end of that day: assess as of the day after,
    # counting only records up to ``last``.
    after = last + timedelta(days=1)
    refs = [SourceRef(r.id, r.code, r.name, first, r.persons) for r in _source_refs(session)]
    done = [d for d in _duties_done(session, first, last) if d.performed_on <= last]
    checks = [c for c in assess(refs, done, first=first, as_of=after, rules=rules) if c.end <= after]
    sources = {
        s.id: s
        for s in session.scalars(
            select(HazardSource).where(HazardSource.deleted_at.is_(None)).order_by(HazardSource.code)
        )
    }
    records: dict[tuple[str, DutyRole], int] = {}
    for duty in _duties_done(session, first, last):
        if duty.performed_on >= first:
            key = (duty.hazard_source_code, duty.role)
            records[key] = records.get(key, 0) + 1
    rows = []
    for source_id, source in sources.items():
        mine = [c for c in checks if c.source.id == source_id]
        summaries = []
        for rule in rules:
            ended = [c for c in mine if c.rule == rule]
            summaries.append(
                RoleSummary(
                    role=rule.role,
                    person=mine[0].source.person(rule.role) if mine else None,
                    required=len(ended),
                    done=sum(1 for c in ended if c.state is DutyState.DONE),
                    overdue=sum(1 for c in ended if c.state is DutyState.OVERDUE),
                    records=records.get((source.code, rule.role), 0),
                )
            )
        rows.append(ReportRow(source.code, source.name, source.grade, source.r_value, source.s_value, tuple(summaries)))
    overdue = tuple(sorted((c for c in checks if c.state is DutyState.OVERDUE), key=lambda c: (c.start, c.source.code)))
    return AssessmentReport(first=first, last=last, rows=tuple(rows), overdue=overdue)


def report_xlsx(report: AssessmentReport) -> bytes:
    """The report as an Excel workbook: a summary sheet and the list of overdue duties."""
    from openpyxl import Workbook  # on first use: openpyxl is slow to import
    from openpyxl.styles import Font

    workbook = Workbook()
    bold = Font(bold=True)
    summary = workbook.active
    assert summary is not None  # a new workbook always has one sheet
    summary.title = "考核汇总"
    summary.append([f"重大危险源包保责任制考核报告 {report.first.isoformat()} 至 {report.last.isoformat()}"])
    summary["A1"].font = bold
    header = ["编号", "名称", "级别", "R值", "S值"]
    for role in DutyRole:
        header += [f"{role.label}", f"{role.label}应履职", f"{role.label}已履职", f"{role.label}逾期", "履职记录数"]
    summary.append(header)
    for cell in summary[2]:
        cell.font = bold
    for row in report.rows:
        values: list[Any] = [row.code, row.name, row.grade_label, round(row.r_value, 2), round(row.s_value, 2)]
        for summary_ in row.roles:
            values += [summary_.person or "", summary_.required, summary_.done, summary_.overdue, summary_.records]
        summary.append(values)
    summary.append([])
    summary.append(["合计", "", "", "", "", "应履职", report.required, "已履职", report.done])
    summary.freeze_panes = "A3"

    overdue = workbook.create_sheet("逾期未履职")
    overdue.append(
        ["编号", "名称", "包保角色", "责任人", "考核周期", "周期开始", "周期结束", "已记录次数", "应记录次数"]
    )
    for cell in overdue[1]:
        cell.font = bold
    for check in report.overdue:
        overdue.append(
            [
                check.source.code,
                check.source.name,
                check.rule.role.label,
                check.source.person(check.rule.role) or "",
                check.rule.period.label,
                check.start,
                check.last_day,
                check.done,
                check.rule.minimum,
            ]
        )
    overdue.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- link to the chemicals (MSDS) register -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class MsdsLink:
    """One chemical of a source's inventory and the chemicals-register (MSDS) row it is, if any."""

    name: str
    cas: str
    quantity_t: float
    table_1_seq: int | None
    chemical_id: int | None
    chemical_name: str | None
    gb18218_categories: str | None

    @property
    def has_msds(self) -> bool:
        """Whether the chemicals register holds this chemical (a 40号令 inventory needs its MSDS)."""
        return self.chemical_id is not None


def _row_of(name: str, cas: str) -> int | None:
    try:
        row = lookup_table_1(name=name, cas=cas)
    except IdentificationError:
        return None
    return row.seq if row is not None else None


def msds_links(*, session: Session, record: HazardSource) -> list[MsdsLink]:
    """Each inventory chemical with its MSDS row (chemicals register).

    Matched by CAS, else by being the same Table 1 row (液氯 in the inventory and 氯 / 7782-50-5
    in the chemicals register), else by name.
    """
    live = list(session.scalars(select(MsdsChemical).where(MsdsChemical.deleted_at.is_(None))))
    by_cas = {normalise_cas(c.cas): c for c in live}
    by_row: dict[int, MsdsChemical] = {}
    by_name = {normalise_name(c.name): c for c in live}
    for c in live:
        seq = _row_of(c.name, c.cas)
        if seq is not None:
            by_row.setdefault(seq, c)
    links = []
    for item in record.chemicals or []:
        name, cas = str(item.get("name", "")), normalise_cas(item.get("cas"))
        seq = _row_of(name, cas)
        found = (
            (by_cas.get(cas) if cas else None)
            or (by_row.get(seq) if seq is not None else None)
            or by_name.get(normalise_name(name))
        )
        links.append(
            MsdsLink(
                name=name,
                cas=cas or (found.cas if found else ""),
                quantity_t=float(item.get("quantity_t", 0)),
                table_1_seq=seq,
                chemical_id=found.id if found else None,
                chemical_name=found.name if found else None,
                gb18218_categories=found.gb18218_categories if found else None,
            )
        )
    return links
