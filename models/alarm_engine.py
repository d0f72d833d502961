"""The process-side alarm engine of one tag: limits, delays, rate of change, deviation, quality.

This is the "alarm rules" box of the live path (ARCHITECTURE.md). It decides *whether an alarm
condition holds* and emits an :class:`~models.contracts.AlarmEvent` each time an alarm
becomes active or returns. What the operator does with the alarm (acknowledge, shelve, dispose)
is the ISA-18.2 operator state machine, which lives elsewhere and consumes these events.

Each alarm of a tag is its own alarm, ``"{tag}:{kind}"``, as in ISA-18.2 practice:

* ``HH``/``H``/``L``/``LL``: absolute limits, with a deadband (hysteresis) on return.
* ``ROC``: rate of change per minute between two *consecutive good* readings.
* ``DEV``: deviation from a setpoint beyond a band (the deadband applies on return too).
* ``BAD``: the reading is unusable (bad, stale, flat-lined or out-of-range quality, a value
  outside the instrument range, or not finite). While quality is bad the other alarms *hold*
  their state: a dead transmitter must neither raise nor return a process alarm.

On-delay and off-delay (ISA-18.2 "alarm delays") apply to every alarm: a condition must hold
for ``on_delay_ms`` of *reading time* before the alarm becomes active, and be clear for
``off_delay_ms`` before it returns. A spike shorter than the on-delay never alarms. Pending
delay timers restart after bad quality, because the engine saw no evidence in between.

Determinism for recovery: :func:`process` is pure and takes time **only** from reading
timestamps, never from the wall clock. Replaying the same readings from a recovery snapshot
of the state therefore gives exactly the same events. A duplicate or older reading
(``ts <= last_ts``) changes nothing, so an at-least-once replay never doubles an event.

Chattering (ISA-18.2: an alarm that repeatedly goes active and returns in a short time): an
alarm activated :data:`CHATTER_COUNT` (3) or more times within :data:`CHATTER_WINDOW_MS`
(60 s) is flagged. The flag is in the state (:meth:`TagAlarmState.chattering`) and every event
of a chattering alarm carries :data:`CHATTER_MARK` in its message. **The engine does not
suppress chattering alarms.** Every transition is emitted so that the event history stays
complete, active/returned strictly alternate per alarm, and replays stay identical. ISA-18.2
treats chattering as something to fix by rationalisation (deadband, delays) or to shelve by
an operator decision, which the operator state machine records with who and when. Silent
automatic suppression here would hide alarms without such a record.

Example:
    >>> from models.contracts import SensorReading
    >>> cfg = TagAlarmConfig(tag="PT-101", lo=0, hi=2.5, deadband=0.02,
    ...                      limits=(LimitAlarm("H", 1.6, AlarmPriority.MEDIUM),))
    >>> state, events = process(None, SensorReading(tag="PT-101", ts=1000, value=1.7), cfg)
    >>> [(e.alarm_id, e.state.value) for e in events]
    [('PT-101:H', 'active')]
    >>> state, events = process(state, SensorReading(tag="PT-101", ts=2000, value=1.59), cfg)
    >>> events  # inside the deadband: still active
    []
    >>> state, events = process(state, SensorReading(tag="PT-101", ts=3000, value=1.5), cfg)
    >>> [(e.alarm_id, e.state.value) for e in events]
    [('PT-101:H', 'returned')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

from models.contracts import AlarmEvent, AlarmPriority, AlarmState, Quality, SensorReading
from models.limits import LIMIT_KINDS, TagLimits

LimitKind: TypeAlias = Literal["HH", "H", "L", "LL"]

ROC: Final = "ROC"
DEV: Final = "DEV"
BAD: Final = "BAD"
ALARM_KINDS: Final = (BAD, *LIMIT_KINDS, ROC, DEV)
"""Every alarm kind, in the order events of one reading are emitted."""

CHATTER_COUNT: Final = 3
CHATTER_WINDOW_MS: Final = 60_000
CHATTER_MARK: Final = "[振荡]"
"""Marker in the message of every event of a chattering alarm."""

USABLE_QUALITIES: Final = frozenset({Quality.GOOD, Quality.UNCERTAIN})
"""Qualities whose value is evaluated. Uncertain values still drive alarms (OPC practice:
better an alarm on a doubtful value than a missed one); every other quality is bad."""

_MS_PER_MIN: Final = 60_000.0
_GAS_KINDS: Final = frozenset({"flammable_gas", "toxic_gas"})
_WORDS: Final = {
    "HH": "高高限",
    "H": "高限",
    "L": "低限",
    "LL": "低低限",
    ROC: "变化率",
    DEV: "偏差",
    BAD: "测量坏值",
}


@dataclass(frozen=True, slots=True)
class LimitAlarm:
    """One absolute limit of a tag (HH, H, L or LL) and the priority of its alarm."""

    kind: LimitKind
    limit: float
    priority: AlarmPriority = AlarmPriority.MEDIUM

    @property
    def is_high(self) -> bool:
        """HH and H trip at or above the limit; L and LL at or below it."""
        return self.kind in ("HH", "H")


@dataclass(frozen=True, slots=True)
class TagAlarmConfig:
    """Alarm configuration of one tag (a rationalised alarm in ISA-18.2 terms).

    Attributes:
        tag: The tag (位号).
        lo: Low end of the instrument range; a value below it is bad quality.
        hi: High end of the instrument range; a value above it is bad quality.
        limits: Absolute limits, each its own alarm.
        deadband: Hysteresis in engineering units; an active limit or deviation alarm returns
            only once the value is back inside by more than this.
        on_delay_ms: The condition must hold this long (reading time) before the alarm raises.
        off_delay_ms: The condition must be clear this long before the alarm returns.
        roc_limit_per_min: Rate-of-change limit in units per minute, or ``None`` for no ROC alarm.
        deviation: ``(setpoint, band)``: alarm when ``|value - setpoint| > band``; ``None`` for none.
        bad_quality_alarm: Whether an unusable reading raises the ``BAD`` alarm.
        name: Plant name of the tag, used in messages.
        unit: Engineering unit, used in messages.
        kind: Measurement kind (``level``, ``flammable_gas``, ...).
        roc_priority: Priority of the ROC alarm.
        deviation_priority: Priority of the DEV alarm.
        bad_quality_priority: Priority of the BAD alarm.
    """

    tag: str
    lo: float
    hi: float
    limits: tuple[LimitAlarm, ...] = ()
    deadband: float = 0.0
    on_delay_ms: int = 0
    off_delay_ms: int = 0
    roc_limit_per_min: float | None = None
    deviation: tuple[float, float] | None = None
    bad_quality_alarm: bool = True
    name: str = ""
    unit: str = ""
    kind: str = ""
    roc_priority: AlarmPriority = AlarmPriority.MEDIUM
    deviation_priority: AlarmPriority = AlarmPriority.MEDIUM
    bad_quality_priority: AlarmPriority = AlarmPriority.LOW
    _kinds: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _by_kind: Mapping[str, LimitAlarm] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Refuse configurations whose alarms could not be evaluated sensibly."""
        self._validate()
        own: set[str] = {a.kind for a in self.limits}
        if self.roc_limit_per_min is not None:
            own.add(ROC)
        if self.deviation is not None:
            own.add(DEV)
        if self.bad_quality_alarm:
            own.add(BAD)
        object.__setattr__(self, "_kinds", tuple(k for k in ALARM_KINDS if k in own))
        object.__setattr__(self, "_by_kind", {a.kind: a for a in self.limits})

    def _validate(self) -> None:
        problems = []
        if not self.lo < self.hi:
            problems.append(f"range must satisfy lo < hi, got [{self.lo}, {self.hi}]")
        if self.deadband < 0 or self.on_delay_ms < 0 or self.off_delay_ms < 0:
            problems.append("deadband and delays must not be negative")
        if self.roc_limit_per_min is not None and not self.roc_limit_per_min > 0:
            problems.append(f"roc_limit_per_min must be > 0, got {self.roc_limit_per_min}")
        if self.deviation is not None and not self.deviation[1] > self.deadband:
            problems.append(f"deviation band must exceed the deadband, got {self.deviation[1]}")
        kinds = [a.kind for a in self.limits]
        if len(set(kinds)) != len(kinds):
            problems.append(f"each limit kind may appear once, got {kinds}")
        values = [self.lo, self.hi, self.deadband, *(a.limit for a in self.limits)]
        if self.roc_limit_per_min is not None:
            values.append(self.roc_limit_per_min)
        if self.deviation is not None:
            values.extend(self.deviation)
        if not all(math.isfinite(v) for v in values):
            problems.append("every number must be finite")
        if problems:
            msg = f"alarm config of {self.tag!r}: " + "; ".join(problems)
            raise ValueError(msg)

    @property
    def alarm_kinds(self) -> tuple[str, ...]:
        """The alarms this tag has, in emission order."""
        return self._kinds

    def limit_alarm(self, kind: str) -> LimitAlarm | None:
        """The absolute limit of ``kind`` (HH, H, L, LL), if configured."""
        return self._by_kind.get(kind)

    @classmethod
    def from_tag_limits(
        cls,
        spec: TagLimits,
        *,
        on_delay_ms: int = 0,
        off_delay_ms: int = 0,
        roc_limit_per_min: float | None = None,
        deviation: tuple[float, float] | None = None,
        bad_quality_alarm: bool = True,
    ) -> TagAlarmConfig:
        """Map the plant's limits (``twin`` → :class:`~models.limits.TagLimits`) into the engine.

        Priorities follow :meth:`TagLimits.priority` (HH/LL on gas detectors critical). A bad
        gas detector means lost protection, so its BAD alarm is high; on other tags it is low.

        Example:
            >>> cfg = TagAlarmConfig.from_tag_limits(TagLimits(tag="GT-1", lo=0, hi=100, h=25, hh=50,
            ...                                                kind="flammable_gas"))
            >>> [(a.kind, a.limit, a.priority.value) for a in cfg.limits]
            [('HH', 50, 'critical'), ('H', 25, 'medium')]
        """
        limits = tuple(
            LimitAlarm(kind, limit, spec.priority(kind))
            for kind in LIMIT_KINDS
            if (limit := spec.limit(kind)) is not None
        )
        return cls(
            tag=spec.tag,
            lo=spec.lo,
            hi=spec.hi,
            limits=limits,
            deadband=spec.effective_deadband,
            on_delay_ms=on_delay_ms,
            off_delay_ms=off_delay_ms,
            roc_limit_per_min=roc_limit_per_min,
            deviation=deviation,
            bad_quality_alarm=bad_quality_alarm,
            name=spec.name,
            unit=spec.unit,
            kind=spec.kind,
            bad_quality_priority=AlarmPriority.HIGH if spec.kind in _GAS_KINDS else AlarmPriority.LOW,
        )


@dataclass(frozen=True, slots=True)
class AlarmSlot:
    """State of one alarm of a tag.

    Attributes:
        active: Whether the alarm is active (raised and not yet returned).
        since: While inactive: reading time the condition started to hold (on-delay pending).
            While active: reading time the condition started to clear (off-delay pending).
            ``None`` when no delay is pending.
        activations: Reading times of the latest activations within the chattering window,
            oldest first, at most :data:`CHATTER_COUNT`.
    """

    active: bool = False
    since: int | None = None
    activations: tuple[int, ...] = ()

    @property
    def chattering(self) -> bool:
        """Activated at least :data:`CHATTER_COUNT` times within :data:`CHATTER_WINDOW_MS`."""
        return len(self.activations) >= CHATTER_COUNT

    @property
    def is_default(self) -> bool:
        """Nothing to remember: quiet slots are not stored, keeping the state tiny."""
        return not self.active and self.since is None and not self.activations


_QUIET: Final = AlarmSlot()


@dataclass(frozen=True, slots=True)
class TagAlarmState:
    """Everything the engine remembers about one tag (kept in Bytewax state and snapshots).

    Small and picklable: three scalars and a dict holding only the alarms that are active,
    have a delay pending, or were activated recently. A quiet tag is ``alarms == {}``.
    The dict is never mutated after construction; :func:`process` builds a new one.

    Attributes:
        last_ts: Time of the latest reading taken (any quality); older ones are ignored.
        prev_ts: Time of the latest reading if it was good, the base of the ROC rate.
        prev_value: Value of that reading.
        alarms: Non-quiet alarms by kind.
    """

    last_ts: int | None = None
    prev_ts: int | None = None
    prev_value: float | None = None
    alarms: Mapping[str, AlarmSlot] = field(default_factory=dict)

    def active(self) -> frozenset[str]:
        """Kinds of the alarms that are active."""
        return frozenset(k for k, s in self.alarms.items() if s.active)

    def chattering(self) -> frozenset[str]:
        """Kinds of the alarms flagged as chattering."""
        return frozenset(k for k, s in self.alarms.items() if s.chattering)

    def slot(self, kind: str) -> AlarmSlot:
        """The state of alarm ``kind`` (quiet if not remembered)."""
        return self.alarms.get(kind, _QUIET)


def invariant_violations(state: TagAlarmState, config: TagAlarmConfig) -> list[str]:
    """What is wrong with a state, if anything (empty when the state is well defined).

    Used by the property tests and safe to call on a recovered snapshot before trusting it.
    """
    out: list[str] = []
    if (state.prev_ts is None) != (state.prev_value is None):
        out.append("prev_ts and prev_value must be set together")
    if state.last_ts is None and (state.prev_ts is not None or state.alarms):
        out.append("a state without last_ts must be empty")
    last = state.last_ts if state.last_ts is not None else 0
    if state.prev_ts is not None and state.prev_ts > last:
        out.append("prev_ts after last_ts")
    kinds = set(config.alarm_kinds)
    for kind, slot in state.alarms.items():
        if kind not in kinds:
            out.append(f"{kind}: not configured")
        if slot.is_default:
            out.append(f"{kind}: quiet slot stored")
        if slot.since is not None and slot.since > last:
            out.append(f"{kind}: since after last_ts")
        acts = slot.activations
        if len(acts) > CHATTER_COUNT or list(acts) != sorted(acts):
            out.append(f"{kind}: activations not a short sorted tuple")
        if acts and (acts[-1] > last or acts[-1] - acts[0] >= CHATTER_WINDOW_MS):
            out.append(f"{kind}: activations outside the chattering window")
    return out


def usable(reading: SensorReading, config: TagAlarmConfig) -> bool:
    """Whether the reading's value may be evaluated (good quality, finite, within range)."""
    value = reading.value
    return reading.quality in USABLE_QUALITIES and math.isfinite(value) and config.lo <= value <= config.hi


def process(
    state: TagAlarmState | None, reading: SensorReading, config: TagAlarmConfig
) -> tuple[TagAlarmState, list[AlarmEvent]]:
    """Take one reading of ``config.tag``: the new state and the alarms raised or returned.

    Pure: the result depends only on the arguments, and time comes only from ``reading.ts``.
    Never raises for any reading of the tag (any value, quality or timestamp).

    Args:
        state: The tag's state, or ``None`` for a tag never seen.
        reading: The reading; the caller routes it by ``reading.tag`` to this config.
        config: The tag's alarm configuration.

    Returns:
        The new state and the events, in :data:`ALARM_KINDS` order.
    """
    if state is None:
        state = TagAlarmState()
    ts = reading.ts
    if state.last_ts is not None and ts <= state.last_ts:
        return state, []
    old = state.alarms
    good = usable(reading, config)
    value = reading.value
    new: dict[str, AlarmSlot] = {}
    events: list[AlarmEvent] = []

    if good:
        rate = (
            abs(value - state.prev_value) * _MS_PER_MIN / (ts - state.prev_ts)
            if state.prev_ts is not None and state.prev_value is not None
            else None
        )
        for kind in config.alarm_kinds:
            slot = old.get(kind, _QUIET)
            cond = _condition(kind, value, rate, slot.active, config)
            _step(kind, slot, cond, ts, config, reading, rate, new, events)
        return TagAlarmState(last_ts=ts, prev_ts=ts, prev_value=value, alarms=new), events

    for kind in config.alarm_kinds:
        slot = old.get(kind, _QUIET)
        _step(kind, slot, True if kind == BAD else None, ts, config, reading, None, new, events)
    return TagAlarmState(last_ts=ts, prev_ts=None, prev_value=None, alarms=new), events


def _condition(kind: str, value: float, rate: float | None, active: bool, config: TagAlarmConfig) -> bool | None:
    """Whether alarm ``kind`` is in alarm on a usable value; ``None`` when it cannot be told."""
    if kind == BAD:
        return False
    if kind == ROC:
        if rate is None:  # first good reading after bad or at start: no consecutive pair
            return None
        limit = config.roc_limit_per_min
        return limit is not None and rate > limit
    db = config.deadband if active else 0.0
    if kind == DEV:
        if config.deviation is None:
            return False
        setpoint, band = config.deviation
        return abs(value - setpoint) > band - db
    alarm = config.limit_alarm(kind)
    if alarm is None:  # pragma: no cover - kinds come from config.alarm_kinds
        return False
    return value >= alarm.limit - db if alarm.is_high else value <= alarm.limit + db


def _step(
    kind: str,
    slot: AlarmSlot,
    cond: bool | None,
    ts: int,
    config: TagAlarmConfig,
    reading: SensorReading,
    rate: float | None,
    new: dict[str, AlarmSlot],
    events: list[AlarmEvent],
) -> None:
    """Advance one alarm through its delays; append its event if it flips, keep it if not quiet."""
    acts = slot.activations
    if acts and ts - acts[0] >= CHATTER_WINDOW_MS:
        acts = tuple(t for t in acts if ts - t < CHATTER_WINDOW_MS)
    active, since, flipped = slot.active, slot.since, False
    if cond is None:  # hold: keep active as it is, restart any pending delay
        since = None
    elif cond != active:
        since = ts if since is None else since
        if ts - since >= (config.off_delay_ms if active else config.on_delay_ms):
            active, since, flipped = cond, None, True
            if cond:
                acts = (*acts[-(CHATTER_COUNT - 1) :], ts)
    else:
        since = None
    out = AlarmSlot(active, since, acts)
    if not out.is_default:
        new[kind] = out
    if flipped:
        events.append(_event(kind, out, config, reading, rate))


def _priority_and_limit(kind: str, config: TagAlarmConfig) -> tuple[AlarmPriority, float | None]:
    if kind == BAD:
        return config.bad_quality_priority, None
    if kind == ROC:
        return config.roc_priority, config.roc_limit_per_min
    if kind == DEV:
        return config.deviation_priority, config.deviation[1] if config.deviation else None
    alarm = config.limit_alarm(kind)
    if alarm is None:  # pragma: no cover - kinds come from config.alarm_kinds
        return AlarmPriority.LOW, None
    return alarm.priority, alarm.limit


def _event(
    kind: str, slot: AlarmSlot, config: TagAlarmConfig, reading: SensorReading, rate: float | None
) -> AlarmEvent:
    priority, limit = _priority_and_limit(kind, config)
    state = AlarmState.ACTIVE if slot.active else AlarmState.RETURNED
    verb = "报警" if slot.active else "恢复"
    label = config.name or config.tag
    unit = f" {config.unit}" if config.unit else ""
    value = reading.value
    if kind == BAD:
        detail = f"质量 {reading.quality}, 值 {value:g}{unit}"
    elif kind == ROC:
        per_min = f"{rate:g}" if rate is not None else "?"
        detail = f"{per_min}{unit}/min (限值 {limit:g}{unit}/min)"
    elif kind == DEV and config.deviation is not None:
        detail = f"{value:g}{unit} (设定值 {config.deviation[0]:g}, 允许偏差 ±{config.deviation[1]:g})"
    else:
        detail = f"{value:g}{unit} (限值 {limit:g})"
    mark = f" {CHATTER_MARK}" if slot.chattering else ""
    return AlarmEvent(
        alarm_id=f"{config.tag}:{kind}",
        source_kind="tag",
        source_id=config.tag,
        kind=kind,
        priority=priority,
        state=state,
        ts=reading.ts,
        value=value if math.isfinite(value) else None,
        limit=limit,
        message=f"{label} {_WORDS[kind]}{verb}: {detail}{mark}",
    )
