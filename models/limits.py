"""A tag's limits and quality rules, and the quality verdict on one reading.

:class:`TagLimits` is what the pipeline knows of a tag (range, HH/H/L/LL, flat-line and stale
rules); the alarm engine (:mod:`models.alarm_engine`) builds its configuration from it.
:func:`quality_of` is the per-reading definition of the quality verdict; the sensor flow
computes the same verdict for a whole batch at once (``pipelines.sensors.batch``), and a
property test holds the two equal.

Example:
    >>> spec = TagLimits(tag="PT-101", lo=0, hi=2.5, h=1.6, hh=1.75)
    >>> quality_of(TagState(), SensorReading(tag="PT-101", ts=1000, value=3.0), spec, now_ms=1000)
    <Quality.OUT_OF_RANGE: 'out_of_range'>
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from models.contracts import AlarmPriority, Quality, SensorReading

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
