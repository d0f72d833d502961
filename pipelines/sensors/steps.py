"""Pure steps of the sensor dataflow: parse, check the tag is known, quality + limits.

Each step is a plain function so it is tested without a Bytewax runtime; ``flow.py`` only
wires them. Anything unusable becomes a :class:`DeadLetter` with the reason and flows on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.contracts import (
    SENSOR_READING,
    DeadLetter,
    SensorReading,
    dead_letter,
    decode_message,
    encode,
)
from models.limits import TagLimits, TagState, evaluate

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


def limits_mapper(
    specs: Mapping[str, TagLimits], now_ms: Callable[[], int]
) -> Callable[[TagState | None, SensorReading], tuple[TagState, list[Any]]]:
    """Build the ``stateful_flat_map`` mapper: quality-flagged reading first, then alarms."""

    def mapper(state: TagState | None, reading: SensorReading) -> tuple[TagState, list[Any]]:
        new_state, quality, events = evaluate(state, reading, specs[reading.tag], now_ms=now_ms())
        out: list[Any] = [reading if quality == reading.quality else _with_quality(reading, quality)]
        out.extend(events)
        return new_state, out

    return mapper


def _with_quality(reading: SensorReading, quality: Any) -> SensorReading:
    return SensorReading(tag=reading.tag, ts=reading.ts, value=reading.value, quality=quality, source=reading.source)
