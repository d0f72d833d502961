"""The sensor dataflow: ``sensor.reading`` in; flagged readings, alarms, dead letters out.

Same code in both modes: the embedded runtime feeds it from the in-process bus and writes to
DuckDB + the bus; production feeds it from Kafka and writes to ClickHouse + Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, cast

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.outputs import Sink

from models.contracts import AlarmEvent, SensorReading, now_ms, stream_of
from models.limits import TagLimits
from pipelines.sensors.steps import ANNUNCIATE, flood_mapper, known_tag, limits_mapper, parse


def build_flow(
    specs: Mapping[str, TagLimits],
    source: Source[Any],
    sinks: Sequence[Sink[Any]],
    *,
    stream_sinks: Mapping[str, Sink[Any]] | None = None,
    clock: Callable[[], int] | None = now_ms,
    mapper: Callable[[Any, SensorReading], tuple[Any, Iterable[Any]]] | None = None,
    positions: Mapping[str, str] | None = None,
    held_sinks: Sequence[Sink[Any]] = (),
    flow_id: str = "sensors",
) -> Dataflow:
    """Wire parse -> known tag -> per-tag quality and limits -> sinks.

    Every message goes to each of ``sinks``; ``stream_sinks`` maps a contract stream name
    (``alarm.event``) to a sink that receives only that stream (one Kafka topic each).
    ``mapper`` replaces the per-tag step (its state lives in Bytewax state and recovery
    snapshots); by default it is the quality + alarm engine mapper on ``clock`` (``None``:
    event time only, for exact replays after recovery).

    With ``positions`` (tag -> operator position, e.g. plant area) alarm events pass ISA-18.2
    flood detection: during a flood one summary is annunciated instead of the flood, and the
    lower-priority events held back go to ``held_sinks`` only (recorded, not annunciated).
    """
    flow = Dataflow(flow_id)
    raw = op.input("in", flow, source)
    # raw: bytes | str | SensorReading | DeadLetter
    parsed = op.map("parse", raw, parse)
    # parsed: SensorReading | DeadLetter
    checked = op.map("known_tag", parsed, partial(known_tag, specs))
    split = op.branch("is_reading", checked, _is_reading)
    readings = cast("Stream[SensorReading]", split.trues)  # branch does not narrow the type
    keyed = op.key_on("by_tag", readings, _tag_of)
    # keyed: (tag, SensorReading)
    judged = op.stateful_flat_map("quality_limits", keyed, mapper or limits_mapper(specs, clock))
    # judged: (tag, SensorReading | AlarmEvent)
    messages = op.key_rm("unkey", judged)
    if positions is not None:
        messages = _flood_filter(messages, positions, held_sinks)
    out = op.merge("all", messages, split.falses)
    # out: SensorReading | AlarmEvent | DeadLetter
    for i, sink in enumerate(sinks):
        op.output(f"out_{i}", out, sink)
    for stream, sink in (stream_sinks or {}).items():
        name = stream.replace(".", "_")  # step ids must not contain dots
        only = op.filter(f"only_{name}", out, partial(_is_stream, stream))
        op.output(f"out_{name}", only, sink)
    return flow


def _flood_filter(messages: Stream[Any], positions: Mapping[str, str], held_sinks: Sequence[Sink[Any]]) -> Stream[Any]:
    """Readings pass; alarm events go through flood detection (one state for the plant)."""
    split = op.branch("is_alarm", messages, _is_alarm)
    keyed = op.key_on("flood_key", cast("Stream[AlarmEvent]", split.trues), _plant_key)
    decided = op.key_rm("unflood", op.stateful_flat_map("flood", keyed, partial(flood_mapper, positions)))
    # decided: (ANNUNCIATE | HOLD, AlarmEvent)
    routed = op.branch("annunciate", decided, _annunciated)
    held = op.map("held_event", routed.falses, _event_of)
    for i, sink in enumerate(held_sinks):
        op.output(f"held_{i}", held, sink)
    return op.merge("readings_and_alarms", split.falses, op.map("annunciated_event", routed.trues, _event_of))


def _is_alarm(message: Any) -> bool:
    return isinstance(message, AlarmEvent)


def _plant_key(_event: AlarmEvent) -> str:
    return "plant"


def _annunciated(decision: tuple[str, AlarmEvent]) -> bool:
    return decision[0] == ANNUNCIATE


def _event_of(decision: tuple[str, AlarmEvent]) -> AlarmEvent:
    return decision[1]


def _is_reading(message: Any) -> bool:
    return isinstance(message, SensorReading)


def _tag_of(reading: SensorReading) -> str:
    return reading.tag


def _is_stream(stream: str, message: Any) -> bool:
    return bool(stream_of(message) == stream)
