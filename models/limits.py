"""Reading quality and high/low limit alarms of one tag: pure state transitions.

This is the first, simple alarm logic of the live path: quality flags (out of range, stale,
flat-lined) and the four classic limits HH/H/L/LL with a deadband on return. Each limit is
its own alarm (``<tag>:HH``), as in ISA-18.2 practice, so an operator sees H raised first and
HH on top of it. Everything here is a pure function of (state, reading, spec) so the
dataflow can keep the state in Bytewax and recovery replays give identical results.

Example:
    >>> spec = TagLimits(tag="PT-101", lo=0, hi=2.5, h=1.6, hh=1.75)
    >>> state, q, events = evaluate(None, SensorReading(tag="PT-101", ts=1000, value=1.7), spec, now_ms=1000)
    >>> q, [(e.kind, e.state) for e in events]
    (<Quality.GOOD: 'good'>, [('H', <AlarmState.ACTIVE: 'active'>)])
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from models.contracts import AlarmEvent, AlarmPriority, AlarmState, Quality, SensorReading

LIMIT_KINDS: Final = ("HH", "H", "L", "LL")
_GAS_KINDS: Final = frozenset({"flammable_gas", "toxic_gas"})


@dataclass(frozen=True, slots=True)
class TagLimits:
    """What the pipeline needs to know about a tag (built from the plant model)."""

    tag: str
    lo: float
    hi: float
    ll: float | None = None
    l: float | None = None  # noqa: E741 - instrument engineers' name
    h: float | None = None
    hh: float | None = None
    kind: str = ""
    unit: str = ""
    name: str = ""
    deadband: float | None = None  # default: 1 % of span
    flatline_count: int = 30
    stale_after_ms: int = 60_000

    @property
    def span(self) -> float:
        """Instrument span (hi - lo)."""
        return self.hi - self.lo

    @property
    def effective_deadband(self) -> float:
        """Return hysteresis; 1 % of span unless configured."""
        return self.deadband if self.deadband is not None else 0.01 * self.span

    def limit(self, kind: str) -> float | None:
        """The configured value of limit ``kind`` (HH, H, L, LL)."""
        value: float | None = getattr(self, kind.lower())
        return value

    def priority(self, kind: str) -> AlarmPriority:
        """HH/LL on gas detectors are critical; HH/LL high; H/L medium."""
        if kind in ("HH", "LL"):
            return AlarmPriority.CRITICAL if self.kind in _GAS_KINDS else AlarmPriority.HIGH
        return AlarmPriority.MEDIUM


@dataclass(frozen=True, slots=True)
class TagState:
    """Per-tag memory of the limit checker (kept in Bytewax state)."""

    last_ts: int = 0
    last_value: float | None = None
    repeats: int = 0  # identical values seen after the first of a run
    active: frozenset[str] = field(default_factory=frozenset)


def _breached(kind: str, value: float, limit: float, active: bool, deadband: float) -> bool:
    """Whether limit ``kind`` is in alarm; an active alarm needs ``deadband`` to return."""
    if kind in ("HH", "H"):
        return value >= limit - deadband if active else value >= limit
    return value <= limit + deadband if active else value <= limit


def quality_of(state: TagState, reading: SensorReading, spec: TagLimits, now_ms: int) -> Quality:
    """The pipeline's verdict on a reading, refining the source's own quality."""
    if reading.quality != Quality.GOOD:
        return reading.quality
    if not spec.lo <= reading.value <= spec.hi:
        return Quality.OUT_OF_RANGE
    if now_ms - reading.ts > spec.stale_after_ms or (state.last_ts and reading.ts < state.last_ts):
        return Quality.STALE
    if state.last_value == reading.value and state.repeats + 2 >= spec.flatline_count:
        return Quality.FLATLINE
    return Quality.GOOD


def evaluate(
    state: TagState | None, reading: SensorReading, spec: TagLimits, *, now_ms: int
) -> tuple[TagState, Quality, list[AlarmEvent]]:
    """Flag the reading's quality and raise or return limit alarms.

    A duplicate (same ts as the last one seen, e.g. a replay after recovery) changes
    nothing and raises nothing. Readings of doubtful quality keep alarms as they are: a
    dead transmitter must not "return" an alarm.
    """
    state = state or TagState()
    if state.last_ts and reading.ts == state.last_ts:
        return state, Quality.GOOD if reading.quality == Quality.GOOD else reading.quality, []
    quality = quality_of(state, reading, spec, now_ms)
    repeats = state.repeats + 1 if state.last_value == reading.value else 0
    if quality == Quality.STALE and state.last_ts and reading.ts < state.last_ts:
        return state, quality, []
    new_state = replace(state, last_ts=reading.ts, last_value=reading.value, repeats=repeats)
    if quality != Quality.GOOD:
        return new_state, quality, []
    events: list[AlarmEvent] = []
    active = set(state.active)
    deadband = spec.effective_deadband
    for kind in LIMIT_KINDS:
        limit = spec.limit(kind)
        if limit is None:
            continue
        was = kind in active
        now = _breached(kind, reading.value, limit, was, deadband)
        if now == was:
            continue
        if now:
            active.add(kind)
        else:
            active.discard(kind)
        events.append(_alarm(spec, kind, limit, reading, AlarmState.ACTIVE if now else AlarmState.RETURNED))
    return replace(new_state, active=frozenset(active)), quality, events


_WORDS: Final = {"HH": "高高报", "H": "高报", "L": "低报", "LL": "低低报"}


def _alarm(spec: TagLimits, kind: str, limit: float, reading: SensorReading, state: AlarmState) -> AlarmEvent:
    verb = "报警" if state == AlarmState.ACTIVE else "恢复"
    label = spec.name or spec.tag
    return AlarmEvent(
        alarm_id=f"{spec.tag}:{kind}",
        source_kind="tag",
        source_id=spec.tag,
        kind=kind,
        priority=spec.priority(kind),
        state=state,
        ts=reading.ts,
        value=reading.value,
        limit=limit,
        message=f"{label} {_WORDS[kind]}{verb}: {reading.value:g} {spec.unit} (限值 {limit:g})".strip(),
    )
