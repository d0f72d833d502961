"""Special-work permit rules of GB 30871-2022 (特殊作业) as one versioned table, pure.

Everything a permit is checked against lives here and nowhere else: the eight work types and
their grades, validity periods, the "managed one grade higher" rule, gas-analysis timing and
acceptance thresholds, certificate requirements, approval templates and SIMOPS (交叉作业)
rules. The service in ``registers/permits`` only looks things up in :data:`RULES`, so a change
of the enterprise's rules is a new :class:`PermitRules` value with a new ``version``, and the
version used is stored on every permit.

Values marked "enterprise rule" are not fixed by the standard (DOMAIN.md §1 says so); they are
the defaults a site can change by publishing a new table.

Examples:
    >>> RULES.validity_h(WorkType.HOT, "二级")
    72
    >>> flammable_limit_vol_pct(2.1)  # propane: LEL < 4 % -> 0.2 % (v/v)
    0.2
    >>> height_grade(5.0), height_grade(5.1)
    ('Ⅰ', 'Ⅱ')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "LEL_VOL_PCT",
    "OEL_MG_M3",
    "RULES",
    "ApprovalStep",
    "ApproverRole",
    "CertRequirement",
    "Conflict",
    "GasCheck",
    "GasKind",
    "GasReading",
    "PermitRules",
    "PersonRole",
    "SimopsJob",
    "SimopsScope",
    "WorkType",
    "approver_roles",
    "check_gas",
    "flammable_limit_vol_pct",
    "height_grade",
    "lifting_grade",
    "managed_grade",
    "simops_conflicts",
    "simops_scope",
]

PLANT_TZ = ZoneInfo("Asia/Shanghai")


class WorkType(StrEnum):
    """The eight special-work types (八大特殊作业); the values are the ticket names."""

    HOT = "动火作业"
    CONFINED = "受限空间作业"
    BLIND = "盲板抽堵作业"
    HEIGHT = "高处作业"
    LIFTING = "吊装作业"
    TEMP_POWER = "临时用电作业"
    EXCAVATION = "动土作业"
    ROAD = "断路作业"


HOT_GRADES: tuple[str, ...] = ("特级", "一级", "二级")  # highest first
HEIGHT_GRADES: tuple[str, ...] = ("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ")
LIFTING_GRADES: tuple[str, ...] = ("一级", "二级", "三级")
NO_GRADE = ""

GRADES: Mapping[WorkType, tuple[str, ...]] = {
    WorkType.HOT: HOT_GRADES,
    WorkType.HEIGHT: HEIGHT_GRADES,
    WorkType.LIFTING: LIFTING_GRADES,
    **{t: (NO_GRADE,) for t in (WorkType.CONFINED, WorkType.BLIND, WorkType.TEMP_POWER, WorkType.EXCAVATION)},
    WorkType.ROAD: (NO_GRADE,),
}


class GasKind(StrEnum):
    """Indicator kinds of a gas analysis (gasType of the provincial schema)."""

    FLAMMABLE = "可燃气体"
    OXYGEN = "氧气"
    TOXIC = "有毒气体"


class PersonRole(StrEnum):
    """Named people on a ticket whose certificates are checked."""

    WORKER = "作业人员"
    GUARDIAN = "监护人"


class ApproverRole(StrEnum):
    """Who may sign an approval step (审批人); derived from the people register."""

    UNIT_HEAD = "所在单位负责人"  # 车间/分厂/装置负责人
    SAFETY_DEPT = "安全管理部门"  # 专职安全生产管理人员 / 安全管理负责人
    PRINCIPAL = "主要负责人"


@dataclass(frozen=True)
class CertRequirement:
    """A certificate a person must hold, valid over the whole work: kind, and a category word if any."""

    kind: str
    category: str | None = None

    def label(self) -> str:
        """How the requirement reads in a refusal (e.g. ``特种作业操作证(焊接与热切割作业)``)."""
        return f"{self.kind}({self.category})" if self.category else self.kind


@dataclass(frozen=True)
class ApprovalStep:
    """One level of a multi-level approval: its title and the roles that may sign it."""

    title: str
    roles: tuple[ApproverRole, ...]


# Common lower explosion limits, % (v/v) (DOMAIN.md §8); the process register's value wins.
LEL_VOL_PCT: Mapping[str, float] = {
    "氢气": 4.0,
    "甲烷": 5.0,
    "氨": 15.0,
    "一氧化碳": 12.5,
    "甲醇": 6.0,
    "硫化氢": 4.0,
    "乙炔": 2.5,
    "乙烯": 2.7,
    "丙烷": 2.1,
    "液化石油气": 1.5,
    "苯": 1.2,
    "乙醇": 3.3,
    "汽油": 1.4,
}

# Occupational exposure limits, mg/m³ (GBZ 2.1, DOMAIN.md §8): (MAC, PC-TWA, PC-STEL).
OEL_MG_M3: Mapping[str, tuple[float | None, float | None, float | None]] = {
    "硫化氢": (10.0, None, None),
    "一氧化碳": (None, 20.0, 30.0),
    "氨": (None, 20.0, 30.0),
    "氯气": (1.0, None, None),
    "氰化氢": (1.0, None, None),
    "光气": (0.5, None, None),
    "二氧化硫": (None, 5.0, 10.0),
    "二氧化氮": (None, 5.0, 10.0),
    "苯": (None, 6.0, 10.0),
    "甲醇": (None, 25.0, 50.0),
    "甲苯": (None, 50.0, 100.0),
}


def flammable_limit_vol_pct(lel_vol_pct: float) -> float:
    """Highest flammable concentration (% v/v) a hot-work analysis passes at: 0.5 if LEL ≥ 4 %, else 0.2."""
    return 0.5 if lel_vol_pct >= 4.0 else 0.2


def oel_limit_mg_m3(mac: float | None, twa: float | None, stel: float | None) -> float | None:
    """The limit a spot sample before entry is held to: MAC where set, else PC-TWA, else PC-STEL.

    A spot reading stands for the whole shift in the space, so the time-weighted limit (the
    stricter one) applies where there is no ceiling value.
    """
    for value in (mac, twa, stel):
        if value is not None:
            return value
    return None


def height_grade(height_m: float) -> str:
    """高处作业分级 by fall height (GB/T 3608): Ⅰ 2–5 m, Ⅱ 5–15, Ⅲ 15–30, Ⅳ > 30.

    Raises:
        ValueError: below 2 m it is not work at height.
    """
    if height_m < 2.0:
        msg = f"坠落高度 {height_m} m 低于 2 m，不属于高处作业"
        raise ValueError(msg)
    if height_m <= 5.0:
        return "Ⅰ"
    if height_m <= 15.0:
        return "Ⅱ"
    if height_m <= 30.0:
        return "Ⅲ"
    return "Ⅳ"


def lifting_grade(mass_t: float) -> str:
    """吊装作业分级 by load mass: 一级 > 100 t, 二级 40–100 t, 三级 < 40 t.

    Raises:
        ValueError: a non-positive mass.
    """
    if mass_t <= 0:
        msg = f"吊装质量 {mass_t} t 必须大于 0"
        raise ValueError(msg)
    if mass_t > 100.0:
        return "一级"
    if mass_t >= 40.0:
        return "二级"
    return "三级"


@dataclass(frozen=True)
class GasReading:
    """One indicator of an analysis: kind, substance and value in its unit."""

    kind: GasKind
    substance: str
    value: float
    unit: str  # %VOL, %LEL (flammable), %VOL (oxygen), mg/m3 (toxic)


@dataclass(frozen=True)
class GasCheck:
    """The verdict of one analysis: pass, and one Chinese line per failing or unusable indicator."""

    passed: bool
    reasons: tuple[str, ...]


def approver_roles(*, principal: bool, full_time_safety: bool, position: str | None) -> frozenset[ApproverRole]:
    """Approval roles a person holds, from the people register (主要负责人, 专职安全, position words)."""
    roles: set[ApproverRole] = set()
    if principal:
        roles.add(ApproverRole.PRINCIPAL)
    if full_time_safety:
        roles.add(ApproverRole.SAFETY_DEPT)
    if position and any(word in position for word in RULES.unit_head_positions):
        roles.add(ApproverRole.UNIT_HEAD)
    return frozenset(roles)


def _local(moment: datetime) -> datetime:
    return moment.astimezone(PLANT_TZ)


@dataclass(frozen=True)
class PermitRules:
    """One published version of the permit rules (all times in minutes or hours as named)."""

    version: str
    validity_hours: Mapping[tuple[WorkType, str], int]
    gas_required: frozenset[WorkType]  # always; TEMP_POWER only in a fire/explosion hazard area
    gas_required_if_hazardous_area: frozenset[WorkType]
    sample_max_age_before_start_min: int  # analyse within this many minutes before work starts
    interruption_reanalysis_min: Mapping[tuple[WorkType, str], int]
    monitoring_interval_min: Mapping[WorkType, int]  # a result older than this stops running work
    daily_retest: frozenset[WorkType]  # a new analysis every plant-calendar day
    continuous_monitoring: frozenset[tuple[WorkType, str]]
    required_indicators: Mapping[WorkType, frozenset[GasKind]]
    oxygen_window_vol_pct: tuple[float, float]
    oxygen_enriched_max_vol_pct: float
    reminder_lead_min: int  # the gas-analysis reminder fires this long before a result goes stale
    night: tuple[time, time]  # local night window (start, end) for 升级管理; enterprise rule
    fixed_holidays: frozenset[tuple[int, int]]  # (month, day) statutory holidays of every year
    certificates: Mapping[tuple[WorkType, PersonRole], tuple[CertRequirement, ...]]
    approval_templates: Mapping[tuple[WorkType, str], tuple[ApprovalStep, ...]]
    unit_head_positions: tuple[str, ...]
    hot_work_isolation_m: Mapping[str, float]  # medium phase of an opened line -> distance
    sign_fence_m: float  # approver's on-site signing fence, where positioning is known
    standard_measures: Mapping[WorkType, tuple[str, ...]] = field(default_factory=dict)

    def grades(self, work_type: WorkType) -> tuple[str, ...]:
        """The grades of a type (``("",)`` for a type without grades)."""
        return GRADES[work_type]

    def validity_h(self, work_type: WorkType, grade: str) -> int:
        """Longest validity of a ticket of this type and grade, in hours."""
        return self.validity_hours[(work_type, grade)]

    def needs_gas(self, work_type: WorkType, *, hazardous_area: bool) -> bool:
        """Whether the ticket needs a passing gas analysis before (and during) the work."""
        return work_type in self.gas_required or (hazardous_area and work_type in self.gas_required_if_hazardous_area)

    def is_holiday(self, day: date, extra_holidays: Iterable[date] = ()) -> bool:
        """Weekend, a fixed statutory holiday, or a configured holiday (lunar ones, 调休)."""
        return day.weekday() >= 5 or (day.month, day.day) in self.fixed_holidays or day in set(extra_holidays)

    def is_night(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) falls in the plant's night window."""
        start, end = self.night
        clock = _local(moment).time()
        return clock >= start or clock < end

    def max_interruption_min(self, work_type: WorkType, grade: str) -> int:
        """Longest interruption after which work may resume on the previous analysis."""
        return self.interruption_reanalysis_min.get((work_type, grade), 60)

    def approval_template(self, work_type: WorkType, grade: str) -> tuple[ApprovalStep, ...]:
        """The approval levels of a ticket, in signing order."""
        return self.approval_templates[(work_type, grade)]

    def required_certificates(self, work_type: WorkType, role: PersonRole) -> tuple[CertRequirement, ...]:
        """Certificates a worker or guardian of this type must hold (any one of them)."""
        return self.certificates.get((work_type, role), ())

    def analysis_fresh_until(
        self, *, work_type: WorkType, grade: str, sampled_at: datetime, started: bool
    ) -> datetime | None:
        """When a passing analysis stops being enough; None when nothing but a change ends it.

        Before the start: the sampling window (30 min). Once running: the monitoring interval
        of the type (confined space: 2 h), and for hot work the end of the plant-calendar day
        (a new analysis every day's work).
        """
        if not started:
            return sampled_at + timedelta(minutes=self.sample_max_age_before_start_min)
        limits: list[datetime] = []
        interval = self.monitoring_interval_min.get(work_type)
        if interval is not None:
            limits.append(sampled_at + timedelta(minutes=interval))
        if work_type in self.daily_retest:
            local = _local(sampled_at)
            midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PLANT_TZ)
            limits.append(midnight)
        return min(limits) if limits else None


def managed_grade(
    rules: PermitRules,
    *,
    grade: str,
    start: datetime,
    end: datetime,
    wind_level: int | None = None,
    extra_holidays: Iterable[date] = (),
) -> tuple[str, list[str]]:
    """Hot-work grade after 升级管理, and why: holiday, night, wind ≥ 5 each raise one grade.

    GB 30871 raises the management by one grade once, whatever the number of reasons; 特级
    stays 特级. The window counts if any part of it is on a holiday or at night (checked hourly
    and at both ends, local time).

    Raises:
        ValueError: an unknown hot-work grade.
    """
    if grade not in HOT_GRADES:
        msg = f"未知的动火级别「{grade}」"
        raise ValueError(msg)
    reasons: list[str] = []
    moments = [start]
    probe = start
    while probe < end and len(moments) < 24 * 31:
        probe += timedelta(hours=1)
        moments.append(min(probe, end))
    days = {_local(m).date() for m in moments}
    if any(rules.is_holiday(d, extra_holidays) for d in days):
        reasons.append("节假日/公休日作业")
    if any(rules.is_night(m) for m in moments):
        reasons.append("夜间作业")
    if wind_level is not None and wind_level >= 5:
        reasons.append(f"风力 {wind_level} 级 (≥5 级) 露天动火")
    if not reasons:
        return grade, []
    index = HOT_GRADES.index(grade)
    return HOT_GRADES[max(index - 1, 0)], reasons


def _lel_of(substance: str, lel: Mapping[str, float]) -> float | None:
    return lel.get(substance, LEL_VOL_PCT.get(substance))


def check_gas(
    rules: PermitRules,
    *,
    work_type: WorkType,
    readings: Sequence[GasReading],
    lel_vol_pct: Mapping[str, float] | None = None,
    oel_mg_m3: Mapping[str, float] | None = None,
    oxygen_enriched: bool = False,
) -> GasCheck:
    """Pass/fail of one analysis for one ticket (DOMAIN.md §1.3).

    Flammables: % (v/v) against 0.5 / 0.2 by the substance's LEL (a %LEL reading is converted
    with the LEL). Oxygen: 19.5–21 % (v/v), ≤ 23.5 % in an oxygen-enriched environment.
    Toxics: mg/m³ below the OEL. Every indicator the type requires must be present; an
    unknown substance or unit fails (a verdict that cannot be computed is not a pass).
    """
    lel = lel_vol_pct or {}
    oel = oel_mg_m3 or {}
    reasons: list[str] = []
    seen = {r.kind for r in readings}
    for kind in sorted(rules.required_indicators.get(work_type, frozenset()) - seen):
        reasons.append(f"缺少{kind.value}分析")
    for r in readings:
        unit = r.unit.replace(" ", "").upper().replace("³", "3")
        if r.value < 0:
            reasons.append(f"{r.substance} 读数 {r.value} 不能为负")
            continue
        if r.kind == GasKind.FLAMMABLE:
            limit_lel = _lel_of(r.substance, lel)
            if limit_lel is None:
                reasons.append(f"{r.substance} 无爆炸下限数据，无法判定")
                continue
            if unit == "%VOL":
                vol = r.value
            elif unit == "%LEL":
                vol = r.value * limit_lel / 100.0
            else:
                reasons.append(f"{r.substance} 单位 {r.unit} 不适用 (应为 %VOL 或 %LEL)")
                continue
            limit = flammable_limit_vol_pct(limit_lel)
            if vol > limit:
                reasons.append(f"{r.substance} {vol:.3g}%(v/v) 超过 {limit}%(v/v) (爆炸下限 {limit_lel}%)")
        elif r.kind == GasKind.OXYGEN:
            if unit != "%VOL":
                reasons.append(f"氧含量单位 {r.unit} 不适用 (应为 %VOL)")
                continue
            low, high = rules.oxygen_window_vol_pct
            high = rules.oxygen_enriched_max_vol_pct if oxygen_enriched else high
            if not low <= r.value <= high:
                reasons.append(f"氧含量 {r.value}% 不在 {low}%–{high}% 范围内")
        else:
            if unit not in ("MG/M3",):
                reasons.append(f"{r.substance} 单位 {r.unit} 不适用 (应为 mg/m3)")
                continue
            limit_oel = oel.get(r.substance)
            if limit_oel is None and r.substance in OEL_MG_M3:
                limit_oel = oel_limit_mg_m3(*OEL_MG_M3[r.substance])
            if limit_oel is None:
                reasons.append(f"{r.substance} 无职业接触限值数据，无法判定")
                continue
            if r.value >= limit_oel:
                reasons.append(f"{r.substance} {r.value} mg/m3 未低于职业接触限值 {limit_oel} mg/m3")
    return GasCheck(passed=not reasons, reasons=tuple(reasons))


@dataclass(frozen=True)
class SimopsJob:
    """What the SIMOPS rules need to know of a live job."""

    permit_id: int
    work_type: WorkType
    area: str | None
    start: datetime
    end: datetime
    pipeline: str | None = None  # 盲板抽堵: the line
    line_open: bool = False  # the line is broken open (盲板抽堵 in progress on a flammable line)
    medium_phase: str | None = None  # 气 / 液
    medium_flammable: bool = False
    x: float | None = None
    y: float | None = None


@dataclass(frozen=True)
class Conflict:
    """A SIMOPS finding: ``refuse`` blocks the permit, otherwise it is shown as a warning."""

    other_permit_id: int
    refuse: bool
    message: str


def _overlap(a: SimopsJob, b: SimopsJob) -> bool:
    return a.start < b.end and b.start < a.end


@dataclass(frozen=True)
class SimopsScope:
    """The other jobs that :func:`simops_conflicts` can find anything against, for one job.

    A finding needs overlapping windows and one of: the same area, the hot-work/blind-plate
    pair, or two blind-plate jobs on the same line. The service turns the scope into a
    database query, so checking a ticket reads only these jobs, not every live ticket of the
    plant. It must stay a superset of what :func:`simops_conflicts` reports: a rule added there
    that looks further (another pair, a distance across areas) must widen it here too (the
    property test in ``tests/models/test_permit_rules.py`` fails otherwise).
    """

    start: datetime
    end: datetime
    area: str | None  # any overlapping job in this area
    work_types: frozenset[WorkType]  # any overlapping job of these types, wherever
    pipeline: str | None  # any overlapping blind-plate job on this line

    def may_conflict(self, other: SimopsJob) -> bool:
        """Whether ``other`` is in the scope (what the service's query selects)."""
        if not (other.start < self.end and self.start < other.end):
            return False
        return (
            (self.area is not None and other.area == self.area)
            or other.work_type in self.work_types
            or (self.pipeline is not None and other.work_type == WorkType.BLIND and other.pipeline == self.pipeline)
        )


_SIMOPS_PAIRS: dict[WorkType, frozenset[WorkType]] = {
    WorkType.HOT: frozenset({WorkType.BLIND}),
    WorkType.BLIND: frozenset({WorkType.HOT}),
}


def simops_scope(job: SimopsJob) -> SimopsScope:
    """Which other jobs can conflict with ``job`` at all (see :class:`SimopsScope`).

    Examples:
        >>> from datetime import UTC
        >>> t = datetime(2026, 12, 2, 1, tzinfo=UTC)
        >>> scope = simops_scope(SimopsJob(1, WorkType.HOT, "罐区", t, t + timedelta(hours=8)))
        >>> scope.area, sorted(scope.work_types), scope.pipeline
        ('罐区', [<WorkType.BLIND: '盲板抽堵作业'>], None)
    """
    return SimopsScope(
        start=job.start,
        end=job.end,
        area=job.area or None,
        work_types=_SIMOPS_PAIRS.get(job.work_type, frozenset()),
        pipeline=job.pipeline if job.work_type == WorkType.BLIND and job.pipeline else None,
    )


def simops_conflicts(rules: PermitRules, job: SimopsJob, others: Iterable[SimopsJob]) -> list[Conflict]:
    """Conflicts of ``job`` with the other live jobs (交叉作业).

    * two blind-plate jobs on the same pipeline in overlapping windows: refused;
    * hot work within the isolation distance (15 m liquid, 30 m gas) of an open flammable
      line break: refused; the same in the same area without coordinates: flagged;
    * other overlapping special work in the same area: flagged (a coordinator must know).
    """
    found: list[Conflict] = []
    for other in others:
        if other.permit_id == job.permit_id or not _overlap(job, other):
            continue
        if (
            job.work_type == WorkType.BLIND
            and other.work_type == WorkType.BLIND
            and job.pipeline
            and job.pipeline == other.pipeline
        ):
            found.append(Conflict(other.permit_id, True, f"同一管道「{job.pipeline}」不得同时进行两处盲板抽堵作业"))
            continue
        pair = {job.work_type, other.work_type}
        if pair == {WorkType.HOT, WorkType.BLIND}:
            hot, line = (job, other) if job.work_type == WorkType.HOT else (other, job)
            if line.line_open and line.medium_flammable:
                limit = rules.hot_work_isolation_m.get(
                    line.medium_phase or "气", max(rules.hot_work_isolation_m.values())
                )
                if None not in (hot.x, hot.y, line.x, line.y):
                    distance = ((hot.x - line.x) ** 2 + (hot.y - line.y) ** 2) ** 0.5  # type: ignore[operator]
                    if distance < limit:
                        found.append(
                            Conflict(
                                other.permit_id,
                                True,
                                f"动火点距敞开的可燃介质管线 {distance:.1f} m，小于隔离距离 {limit:g} m",
                            )
                        )
                        continue
                elif hot.area and hot.area == line.area:
                    found.append(
                        Conflict(
                            other.permit_id, False, f"同一区域有敞开的可燃介质管线，须确认动火点在 {limit:g} m 以外"
                        )
                    )
                    continue
        if job.area and job.area == other.area:
            found.append(
                Conflict(
                    other.permit_id, False, f"同一区域「{job.area}」有交叉作业 ({other.work_type.value})，须统一协调"
                )
            )
    return found


_T = WorkType
_UNIT = ApprovalStep("作业所在单位审批", (ApproverRole.UNIT_HEAD,))
_SAFETY = ApprovalStep("安全管理部门审批", (ApproverRole.SAFETY_DEPT,))
_PRINCIPAL = ApprovalStep("主要负责人审批", (ApproverRole.PRINCIPAL,))
_GUARDIAN_CERT = (CertRequirement("其他", "监护人"), CertRequirement("安全资格证"))

RULES = PermitRules(
    version="GB30871-2022/v1",
    validity_hours={
        (_T.HOT, "特级"): 8,
        (_T.HOT, "一级"): 8,
        (_T.HOT, "二级"): 72,
        (_T.CONFINED, NO_GRADE): 24,  # from general knowledge (DOMAIN.md §1.4)
        **{(_T.HEIGHT, g): 7 * 24 for g in HEIGHT_GRADES},  # commonly ≤ 7 days
        **{(_T.LIFTING, g): 24 for g in LIFTING_GRADES},  # enterprise rule
        (_T.BLIND, NO_GRADE): 24,  # enterprise rule
        (_T.TEMP_POWER, NO_GRADE): 15 * 24,  # generally ≤ 15 d
        (_T.EXCAVATION, NO_GRADE): 72,  # enterprise rule
        (_T.ROAD, NO_GRADE): 72,  # enterprise rule
    },
    gas_required=frozenset({_T.HOT, _T.CONFINED}),
    gas_required_if_hazardous_area=frozenset({_T.TEMP_POWER}),
    sample_max_age_before_start_min=30,
    interruption_reanalysis_min={
        (_T.HOT, "特级"): 30,
        (_T.HOT, "一级"): 30,
        (_T.HOT, "二级"): 60,
        (_T.CONFINED, NO_GRADE): 60,  # 2022 text believed 60 min (DOMAIN.md §1.3, verify)
        (_T.TEMP_POWER, NO_GRADE): 60,
    },
    monitoring_interval_min={_T.CONFINED: 120},
    daily_retest=frozenset({_T.HOT, _T.TEMP_POWER}),
    continuous_monitoring=frozenset({(_T.HOT, "特级")}),
    required_indicators={
        _T.HOT: frozenset({GasKind.FLAMMABLE}),
        _T.CONFINED: frozenset({GasKind.OXYGEN, GasKind.FLAMMABLE}),
        _T.TEMP_POWER: frozenset({GasKind.FLAMMABLE}),
    },
    oxygen_window_vol_pct=(19.5, 21.0),
    oxygen_enriched_max_vol_pct=23.5,
    reminder_lead_min=10,
    night=(time(20, 0), time(6, 0)),
    fixed_holidays=frozenset({(1, 1), (5, 1), (5, 2), (5, 3), (10, 1), (10, 2), (10, 3), (10, 4), (10, 5)}),
    certificates={
        (_T.HOT, PersonRole.WORKER): (CertRequirement("特种作业操作证", "焊接与热切割"),),
        (_T.TEMP_POWER, PersonRole.WORKER): (CertRequirement("特种作业操作证", "电工"),),
        (_T.HEIGHT, PersonRole.WORKER): (CertRequirement("特种作业操作证", "高处作业"),),
        (_T.LIFTING, PersonRole.WORKER): (CertRequirement("其他", "起重"), CertRequirement("特种作业操作证", "起重")),
        **{(t, PersonRole.GUARDIAN): _GUARDIAN_CERT for t in WorkType},
    },
    approval_templates={
        (_T.HOT, "特级"): (_UNIT, _SAFETY, _PRINCIPAL),
        (_T.HOT, "一级"): (_UNIT, _SAFETY),
        (_T.HOT, "二级"): (_UNIT,),
        (_T.CONFINED, NO_GRADE): (_UNIT, _SAFETY),
        (_T.BLIND, NO_GRADE): (_UNIT,),
        (_T.HEIGHT, "Ⅰ"): (_UNIT,),
        (_T.HEIGHT, "Ⅱ"): (_UNIT,),
        (_T.HEIGHT, "Ⅲ"): (_UNIT, _SAFETY),
        (_T.HEIGHT, "Ⅳ"): (_UNIT, _SAFETY),
        (_T.LIFTING, "一级"): (_UNIT, _SAFETY, _PRINCIPAL),
        (_T.LIFTING, "二级"): (_UNIT, _SAFETY),
        (_T.LIFTING, "三级"): (_UNIT,),
        (_T.TEMP_POWER, NO_GRADE): (_UNIT,),
        (_T.EXCAVATION, NO_GRADE): (_UNIT,),
        (_T.ROAD, NO_GRADE): (_UNIT,),
    },
    unit_head_positions=("车间主任", "车间负责人", "装置负责人", "分厂厂长", "单位负责人"),
    hot_work_isolation_m={"液": 15.0, "气": 30.0},
    sign_fence_m=5.0,
    standard_measures={
        _T.HOT: (
            "动火设备内部构件清洗干净，蒸汽吹扫或水洗、置换合格",
            "与动火设备相连接的所有管线已断开并加盲板，未采用水封或关闭阀门代替盲板",
            "动火点周围 15 m 内易燃物已清除，下水井、地漏、地沟已封严",
            "15 m 内无可燃液体排放、30 m 内无可燃气体排放，无同时进行的刷漆、喷漆作业",
            "乙炔瓶直立放置并有防回火装置，气瓶距明火大于 10 m",
            "现场配备消防器材，监护人到位",
        ),
        _T.CONFINED: (
            "与受限空间连通的管线已盲板隔离，电源已切断并挂牌上锁",
            "受限空间已置换、通风，严禁用纯氧通风",
            "作业前 30 min 内气体分析合格，作业中定时监测",
            "出入口畅通，清点进出人员及工器具",
            "监护人在受限空间外全程监护，保持联络",
        ),
        _T.BLIND: ("一块盲板一张作业票", "绘制盲板位置图并编号", "同一管道不得同时进行两处及以上盲板抽堵"),
        _T.HEIGHT: ("作业人员佩戴安全带并高挂低用", "六级以上大风、暴雨、大雾等恶劣天气停止露天高处作业"),
        _T.LIFTING: ("一级、二级吊装已编制吊装方案", "吊装区域设置警戒，指定吊装指挥人员"),
        _T.TEMP_POWER: ("临时用电设备有漏电保护", "火灾爆炸危险场所用电前气体分析合格"),
        _T.EXCAVATION: ("已查明地下管线、电缆并标示", "作业现场设置围栏和警示标志"),
        _T.ROAD: ("交通组织方案已通知有关部门", "设置警示标志、路障，夜间设警示灯"),
    },
)
