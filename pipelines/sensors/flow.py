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

from connectors.contracts import SensorReading, now_ms, stream_of
from models.limits import TagLimits
from pipelines.sensors.steps import known_tag, limits_mapper, parse


def build_flow(
    specs: Mapping[str, TagLimits],
    source: Source[Any],
    sinks: Sequence[Sink[Any]],
    *,
    stream_sinks: Mapping[str, Sink[Any]] | None = None,
    clock: Callable[[], int] | None = now_ms,
    mapper: Callable[[Any, SensorReading], tuple[Any, Iterable[Any]]] | None = None,
    flow_id: str = "sensors",
) -> Dataflow:
    """Wire parse -> known tag -> per-tag quality and limits -> sinks.

    Every message goes to each of ``sinks``; ``stream_sinks`` maps a contract stream name
    (``alarm.event``) to a sink that receives only that stream (one Kafka topic each).
    ``mapper`` replaces the per-tag step (its state lives in Bytewax state and recovery
    snapshots); by default it is the quality + alarm engine mapper on ``clock`` (``None``:
    event time only, for exact replays after recovery).
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
    out = op.merge("all", op.key_rm("unkey", judged), split.falses)
    # out: SensorReading | AlarmEvent | DeadLetter
    for i, sink in enumerate(sinks):
        op.output(f"out_{i}", out, sink)
    for stream, sink in (stream_sinks or {}).items():
        name = stream.replace(".", "_")  # step ids must not contain dots
        only = op.filter(f"only_{name}", out, partial(_is_stream, stream))
        op.output(f"out_{name}", only, sink)
    return flow


def _is_reading(message: Any) -> bool:
    return isinstance(message, SensorReading)


def _tag_of(reading: SensorReading) -> str:
    return reading.tag


def _is_stream(stream: str, message: Any) -> bool:
    return bool(stream_of(message) == stream)
