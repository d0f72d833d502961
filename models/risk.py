"""Real-time risk level of a major hazard source (重大危险源实时风险等级), DOMAIN.md §3.3.

A plant manager trusts a colour only when the screen says why it is that colour, so scoring
returns, beside the level and the score, one :class:`~models.contracts.Contribution` per rule
that fired, named by the rule id of :mod:`models.risk_rules` (its Chinese label is one lookup
away). The contributions add up to the score, and ``score // 25`` is the level's index (blue
0 … red 3), so the number and the colour never disagree.

Inputs are of three kinds:

* the hazard source's registered data (:class:`HazardContext`: GB 18218 grade, key
  supervised process, toxic β, its tags and area), which set the inherent level;
* the sensor flow's outputs: :class:`~models.contracts.AlarmEvent` (process and gas alarms,
  data-quality alarms) and gas :class:`~models.contracts.SensorReading` values near a limit;
* events of the other registers, modelled here as small contracts (:data:`RiskInput`) so the
  flow accepts them before those registers publish them: special work started/ended in an
  area, an interlock bypassed or restored, people in an area, overdue inspections and hidden
  hazards, start-up/shut-down. Integrators publish these; nothing here imports a register.

Everything is a function of its arguments (event time, never the wall clock), so a replay
gives the same scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Final, Literal, TypeAlias

import msgspec

from models.contracts import AlarmEvent, AlarmState, Contribution, RiskLevel, RiskScore, SensorReading
from models.risk_rules import BAND, LEVEL_ORDER, RiskRule, RiskRuleTable

GAS_KINDS: Final = frozenset({"flammable_gas", "toxic_gas"})
"""Tag kinds of gas detectors (GDS): their H alarm is the first level, HH the second."""

PROCESS_KINDS: Final = frozenset({"H", "L", "ROC", "DEV"})
SEVERE_KINDS: Final = frozenset({"HH", "LL"})
QUALITY_KINDS: Final = frozenset({"BAD", "COMM"})
"""Alarm kinds that mean the enterprise is blind (监测失效), not that the process is off."""

_HOUR_MS: Final = 3_600_000

NonNegative = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
EpochMs = Annotated[int, msgspec.Meta(gt=0)]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class _Input(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", forbid_unknown_fields=True):
    """Base of the non-sensor inputs of the risk flow (JSON ``{"type": ..., ...}``)."""


WorkType = Literal[
    "hot_work", "confined_space", "lifting", "blind_plate", "at_height", "temp_power", "excavation", "road_break"
]
"""The eight special-work types of GB 30871 (动火, 受限空间, 吊装, 盲板抽堵, 高处, 临时用电, 动土, 断路)."""


class SpecialWork(_Input, frozen=True, kw_only=True, tag="special_work"):
    """A special-work permit started (``active``) or ended in an area (特殊作业).

    ``grade`` is the hot-work grade: ``special`` (特级), ``1`` (一级) or ``2`` (二级).
    ``hazard_source_id`` narrows the work to one source; without it, every source of the area.
    """

    work_id: Ident
    work_type: WorkType
    grade: Literal["special", "1", "2"] | None = None
    area: Ident
    hazard_source_id: Ident | None = None
    active: bool
    ts: EpochMs


class SisBypass(_Input, frozen=True, kw_only=True, tag="sis_bypass"):
    """An interlock or SIS function of a source bypassed (联锁摘除/旁路) or restored."""

    interlock_id: Ident
    hazard_source_id: Ident
    bypassed: bool
    ts: EpochMs


class PeopleCount(_Input, frozen=True, kw_only=True, tag="people_count"):
    """People currently in an area (from personnel positioning)."""

    area: Ident
    count: NonNegative
    ts: EpochMs


class ManagementStatus(_Input, frozen=True, kw_only=True, tag="management"):
    """Counts from the inspection and hidden-hazard registers for one source."""

    hazard_source_id: Ident
    overdue_inspections: NonNegative = 0
    overdue_hidden_hazards: NonNegative = 0
    open_major_hidden_hazards: NonNegative = 0
    ts: EpochMs


class OperatingMode(_Input, frozen=True, kw_only=True, tag="operating_mode"):
    """Start-up, shut-down, trial production or major maintenance of a source (开停车 …)."""

    hazard_source_id: Ident
    mode: Literal["normal", "startup", "shutdown", "trial", "maintenance"]
    ts: EpochMs


class Recompute(_Input, frozen=True, kw_only=True, tag="recompute"):
    """Re-evaluate (one or every) source at ``ts``: initial scores and time-based rules."""

    hazard_source_id: Ident | None = None
    ts: EpochMs


RiskInput: TypeAlias = SpecialWork | SisBypass | PeopleCount | ManagementStatus | OperatingMode | Recompute
"""Every non-sensor input of the risk flow, decoded by its ``type`` field."""

RISK_INPUT: Final = "risk.input"
"""Stream (bus name / topic suffix) the non-sensor inputs travel on."""

input_decoder: Final = msgspec.json.Decoder(RiskInput)


@dataclass(frozen=True, slots=True)
class HazardContext:
    """What the register knows about one major hazard source.

    Attributes:
        id: Hazard source id (also the risk stream's key).
        name: Its name (shown).
        area: Plant area it lies in (special work and people are reported by area).
        grade: GB 18218 grade 1 (一级, most severe) … 4 (四级).
        key_process: Involves a key supervised hazardous process (重点监管危险化工工艺).
        max_toxic_beta: Largest β of a toxic gas it holds (0: none).
        tags: Tag -> measurement kind of the tags on its equipment.
        gas_limits: Gas tag -> its first alarm limit (H), for the near-limit rule.
    """

    id: str
    name: str
    area: str
    grade: int
    key_process: bool = False
    max_toxic_beta: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    gas_limits: dict[str, float] = field(default_factory=dict)

    @property
    def inherent(self) -> RiskLevel:
        """Level from the grade alone: 一级 red, 二级 orange, 三级 yellow, 四级 blue."""
        return LEVEL_ORDER[max(0, min(3, 4 - self.grade))]


@dataclass(slots=True)
class ActiveAlarm:
    """An active alarm on one of the source's tags."""

    tag: str
    kind: str
    since: int
    gas: bool


@dataclass(slots=True)
class SourceState:
    """Everything live about one source, changed by :func:`apply` and read by :func:`evaluate`."""

    alarms: dict[str, ActiveAlarm] = field(default_factory=dict)
    activations: dict[str, list[int]] = field(default_factory=dict)
    gas_ratio: dict[str, float] = field(default_factory=dict)
    works: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    bypasses: set[str] = field(default_factory=set)
    people: int = 0
    overdue_inspections: int = 0
    overdue_hidden_hazards: int = 0
    open_major_hidden_hazards: int = 0
    mode: str = "normal"
    now: int = 0


RiskItem: TypeAlias = AlarmEvent | SensorReading | RiskInput
"""Anything the risk flow folds into a source's state."""


def apply(ctx: HazardContext, state: SourceState, item: object) -> None:
    """Fold one input into ``state`` (the caller routed it to ``ctx``'s source).

    Older-than-now inputs still count (a late alarm return must clear its alarm), and ``now``
    only moves forward, so the windows of the time rules never run backwards.
    """
    ts = getattr(item, "ts", 0)
    state.now = max(state.now, ts)
    if isinstance(item, AlarmEvent):
        _apply_alarm(ctx, state, item)
    elif isinstance(item, SensorReading):
        limit = ctx.gas_limits.get(item.tag)
        if limit:
            state.gas_ratio[item.tag] = item.value / limit
    elif isinstance(item, SpecialWork):
        if item.active:
            state.works[item.work_id] = (item.work_type, item.grade)
        else:
            state.works.pop(item.work_id, None)
    elif isinstance(item, SisBypass):
        if item.bypassed:
            state.bypasses.add(item.interlock_id)
        else:
            state.bypasses.discard(item.interlock_id)
    elif isinstance(item, PeopleCount):
        state.people = item.count
    elif isinstance(item, ManagementStatus):
        state.overdue_inspections = item.overdue_inspections
        state.overdue_hidden_hazards = item.overdue_hidden_hazards
        state.open_major_hidden_hazards = item.open_major_hidden_hazards
    elif isinstance(item, OperatingMode):
        state.mode = item.mode


def _apply_alarm(ctx: HazardContext, state: SourceState, event: AlarmEvent) -> None:
    if event.state == AlarmState.ACTIVE:
        tag = event.source_id if event.source_kind == "tag" else ""
        gas = ctx.tags.get(tag, "") in GAS_KINDS
        state.alarms[event.alarm_id] = ActiveAlarm(tag=tag, kind=event.kind, since=event.ts, gas=gas)
        recent = [t for t in state.activations.get(event.alarm_id, []) if t > event.ts - _HOUR_MS]
        recent.append(event.ts)
        state.activations[event.alarm_id] = recent
    else:
        state.alarms.pop(event.alarm_id, None)


def fired_rules(ctx: HazardContext, state: SourceState, table: RiskRuleTable) -> dict[str, float]:
    """Rule id -> score points of a score-only rule (0 for level rules) for every rule that fires."""
    out: dict[str, float] = {"INH.GRADE": 0.0}
    if ctx.key_process:
        out["INH.PROCESS"] = 0.0
    if ctx.max_toxic_beta >= table.toxic_beta_raise:
        out["INH.TOXIC"] = 0.0
    now = state.now
    process = severe = quality = False
    gas_first: set[str] = set()
    gas_second = False
    for alarm_id, a in state.alarms.items():
        if a.kind in QUALITY_KINDS:
            quality = True
        elif a.gas:
            gas_first.add(a.tag)
            gas_second |= a.kind in SEVERE_KINDS
        elif a.kind in PROCESS_KINDS or a.kind in SEVERE_KINDS:
            process = True
            long = now - a.since > table.alarm_long_ms
            repeats = sum(1 for t in state.activations.get(alarm_id, ()) if t > now - _HOUR_MS)
            severe |= a.kind in SEVERE_KINDS or long or repeats > table.repeat_per_hour
    if process:
        out["ALM.PROCESS"] = 0.0
    if severe:
        out["ALM.SEVERE"] = 0.0
    if gas_first:
        out["GAS.L1"] = 0.0
    if gas_second or len(gas_first) >= 2:
        out["GAS.L2"] = 0.0
    if quality:
        out["DQ.LOSS"] = 0.0
    works = state.works.values()
    if any((t == "hot_work" and g == "special") or t == "confined_space" for t, g in works):
        out["WORK.SPECIAL"] = 0.0
    inherent = _inherent_index(ctx, table)
    grade1 = any((t == "hot_work" and g == "1") or t in ("lifting", "blind_plate") for t, g in works)
    if grade1 and inherent <= 1:
        out["WORK.GRADE1"] = 0.0
    if state.bypasses:
        out["SIS.BYPASS"] = 0.0
        if process or gas_first:
            out["SIS.BYPASS_ALARM"] = 0.0
    if state.mode != "normal":
        out["OPS.MODE"] = 0.0
    if state.overdue_hidden_hazards:
        out["HID.OVERDUE"] = 0.0
    if state.open_major_hidden_hazards:
        out["HID.MAJOR"] = 0.0
    if state.overdue_inspections:
        out["MGT.OVERDUE"] = 0.0
    near = [r for tag, r in state.gas_ratio.items() if r >= table.gas_near_ratio and not _gas_alarmed(state, tag)]
    if near and table.gas_near_ratio < 1:
        share = (min(1.0, max(near)) - table.gas_near_ratio) / (1 - table.gas_near_ratio)
        out["GAS.NEAR"] = share
    if state.people > table.people_limit:
        out["PEOPLE"] = float(state.people - table.people_limit)
    return out


def _gas_alarmed(state: SourceState, tag: str) -> bool:
    return any(a.tag == tag and a.gas for a in state.alarms.values())


def _inherent_index(ctx: HazardContext, table: RiskRuleTable) -> int:
    idx = LEVEL_ORDER.index(ctx.inherent)
    for rule_id, applies in (
        ("INH.PROCESS", ctx.key_process),
        ("INH.TOXIC", ctx.max_toxic_beta >= table.toxic_beta_raise),
    ):
        rule = _enabled(table, rule_id)
        if applies and rule is not None:
            idx = min(3, idx + rule.steps)
    return idx


def _enabled(table: RiskRuleTable, rule_id: str) -> RiskRule | None:
    for r in table.rules:
        if r.id == rule_id:
            return r if r.enabled else None
    return None


def evaluate(ctx: HazardContext, state: SourceState, table: RiskRuleTable) -> RiskScore:
    """Level, score and contributions of one source now.

    Level rules first add their ``steps`` to the grade's level in table order (capped at red),
    then raise it to their ``floor``; each contribution is 25 points per level its rule really
    added (0: it fired but the level was already there, still listed as a reason). Score-only
    rules add up to their ``max_points`` inside the band.
    """
    fired = fired_rules(ctx, state, table)
    base = LEVEL_ORDER.index(ctx.inherent)
    gained: dict[str, float] = {}
    level = base
    rules = [r for r in table.rules if r.enabled and r.id in fired]
    for r in rules:
        if r.steps:
            new = min(3, level + r.steps)
            gained[r.id] = gained.get(r.id, 0.0) + BAND * (new - level)
            level = new
    for r in rules:
        if r.floor is not None:
            new = max(level, LEVEL_ORDER.index(r.floor))
            gained[r.id] = gained.get(r.id, 0.0) + BAND * (new - level)
            level = new
    contributions: list[Contribution] = []
    for r in rules:
        if r.id == "INH.GRADE":
            value = BAND * base
        elif r.max_points:
            value = round(min(r.max_points, fired[r.id] * r.max_points if r.id == "GAS.NEAR" else fired[r.id]), 2)
        else:
            value = gained.get(r.id, 0.0)
        contributions.append(Contribution(factor=r.id, value=value))
    score = round(sum(c.value for c in contributions), 2)
    return RiskScore(
        hazard_source_id=ctx.id, ts=state.now, level=LEVEL_ORDER[level], score=score, contributions=contributions
    )


def score_of(
    ctx: HazardContext,
    items: list[RiskItem] | tuple[RiskItem, ...],
    table: RiskRuleTable,
    state: SourceState | None = None,
) -> tuple[SourceState, RiskScore]:
    """Apply ``items`` in order to ``state`` (new if ``None``) and evaluate once."""
    st = state if state is not None else SourceState()
    for item in items:
        apply(ctx, st, item)
    return st, evaluate(ctx, st, table)
