"""Pure steps of the sensor dataflow: parse, check the tag is known, quality + limits.

Each step is a plain function so it is tested without a Bytewax runtime; ``flow.py`` only
wires them. Anything unusable becomes a :class:`DeadLetter` with the reason and flows on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from models import alarm_flood as flood
from models.alarm_engine import TagAlarmConfig, TagAlarmState, process
from models.alarm_flood import FloodState
from models.contracts import (
    SENSOR_READING,
    AlarmEvent,
    DeadLetter,
    Quality,
    SensorReading,
    dead_letter,
    decode_message,
    encode,
)
from models.limits import TagLimits, TagState, quality_of

Checked = SensorReading | DeadLetter


def parse(item: Any) -> Checked:
    """Raw JSON (bytes/str) or an already typed reading -> reading or dead letter."""
    if isinstance(item, SensorReading | DeadLetter):
        return item
    if isinstance(item, bytes | str):
        message = decode_message(SENSOR_READING, item)
        return (
            message
            if isinstance(message, SensorReading | DeadLetter)
            else dead_letter(SENSOR_READING, item, "not a reading")
        )
    return dead_letter(SENSOR_READING, item, f"unsupported payload type {type(item).__name__}")


def known_tag(specs: Mapping[str, TagLimits], message: Checked) -> Checked:
    """A reading of a tag the plant does not define is dead-lettered, not guessed at."""
    if isinstance(message, SensorReading) and message.tag not in specs:
        return dead_letter(SENSOR_READING, encode(message), f"unknown tag {message.tag!r}")
    return message


@dataclass(frozen=True, slots=True)
class FlowTagState:
    """Per-tag state of the flow: the quality checker's memory and the alarm engine's."""

    quality: TagState = TagState()
    alarms: TagAlarmState | None = None


def alarm_configs(specs: Mapping[str, TagLimits]) -> dict[str, TagAlarmConfig]:
    """The alarm engine's configuration of every tag, from the plant's limits."""
    return {tag: TagAlarmConfig.from_tag_limits(spec) for tag, spec in specs.items()}


def judge(
    state: FlowTagState | None, reading: SensorReading, spec: TagLimits, config: TagAlarmConfig, now_ms: int
) -> tuple[FlowTagState, list[Any]]:
    """Flag the reading's quality, then run the alarm engine on the flagged reading.

    A duplicate (same ts as the newest seen, e.g. a replay after recovery) passes through for
    the idempotent store and changes nothing; an older reading is flagged stale and raises
    nothing.
    """
    state = state or FlowTagState()
    q = state.quality
    if q.last_ts and reading.ts <= q.last_ts:
        if reading.ts == q.last_ts:
            return state, [reading]
        return state, [_with_quality(reading, Quality.STALE)]
    quality = quality_of(q, reading, spec, now_ms)
    flagged = reading if quality == reading.quality else _with_quality(reading, quality)
    repeats = q.repeats + 1 if q.last_value == reading.value else 0
    alarms, events = process(state.alarms, flagged, config)
    new_q = TagState(last_ts=reading.ts, last_value=reading.value, repeats=repeats)
    return FlowTagState(quality=new_q, alarms=alarms), [flagged, *events]


def limits_mapper(
    specs: Mapping[str, TagLimits], now_ms: Callable[[], int] | None = None
) -> Callable[[FlowTagState | None, SensorReading], tuple[FlowTagState, list[Any]]]:
    """Build the ``stateful_flat_map`` mapper: quality-flagged reading first, then alarms.

    With ``now_ms`` (the live path) a reading older than its tag's ``stale_after_ms`` by the
    wall clock is flagged stale. Without it, time comes only from the readings, so the output
    is a pure function of (state, reading) and a recovery replay is identical.
    """
    configs = alarm_configs(specs)

    def mapper(state: FlowTagState | None, reading: SensorReading) -> tuple[FlowTagState, list[Any]]:
        tag = reading.tag
        now = now_ms() if now_ms is not None else reading.ts
        return judge(state, reading, specs[tag], configs[tag], now)

    return mapper


def _with_quality(reading: SensorReading, quality: Any) -> SensorReading:
    return SensorReading(tag=reading.tag, ts=reading.ts, value=reading.value, quality=quality, source=reading.source)


ANNUNCIATE = "annunciate"
HOLD = "hold"


def flood_mapper(
    positions: Mapping[str, str], state: FloodState | None, event: AlarmEvent
) -> tuple[FloodState, list[tuple[str, AlarmEvent]]]:
    """Flood detection of one alarm event: what to annunciate (summaries included), what to hold."""
    new_state, out = flood.step(state or flood.FloodState(), [event], positions)
    return new_state, [(ANNUNCIATE, e) for e in out.annunciated] + [(HOLD, e) for e in out.recorded_only]
