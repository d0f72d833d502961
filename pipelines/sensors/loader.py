"""The store loader of the distributed mode: the sensor flow's output topics into one store.

Several flow processes cannot share one chDB or DuckDB directory (each locks it). In
production ClickHouse's Kafka engine reads the output topics; here one loader process owns
the store and does the same: judged reading batches, alarm events (annunciated and held) and
dead letters, written idempotently, so a replay after a crash doubles nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import bytewax.operators as op
import msgspec
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from connectors.batches import AlarmBatch, RawRecord, ReadingBatch, readings_to_arrow
from models.contracts import (
    ALARM_EVENT,
    DEADLETTER,
    SENSOR_READING,
    AlarmEvent,
    DeadLetter,
    dead_letter,
    decode_message,
    decode_readings,
    now_ms,
)

HELD = "alarm.event.held"


def loaded(stream: str, values: Any) -> list[Any]:
    """Record values of one output topic -> store items; an unreadable record becomes a dead letter."""
    out: list[Any] = []
    for value in values if isinstance(values, list) else [values]:
        if isinstance(value, DeadLetter):
            out.append(value)
            continue
        if isinstance(value, RawRecord):
            value = value.value
        try:
            if stream == SENSOR_READING:
                out.append(ReadingBatch("loaded", readings_to_arrow(decode_readings(value))))
                continue
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            out.append(dead_letter(stream, value, f"output record: {err}", ts=now_ms()))
            continue
        message = decode_message(DEADLETTER if stream == DEADLETTER else ALARM_EVENT, value)
        if isinstance(message, AlarmEvent):
            out.append(AlarmBatch((message,)))
        else:
            out.append(message)
    return out


def build_loader_flow(sources: Mapping[str, Source[Any]], sinks: Sequence[Sink[Any]]) -> Dataflow:
    """Each output topic's source -> the sinks (the store).

    ``sources`` is keyed by stream: ``sensor.reading``, ``alarm.event``, ``alarm.event.held``,
    ``deadletter``.
    """
    flow = Dataflow("store_loader")
    streams = []
    for stream, source in sources.items():
        name = stream.replace(".", "_")
        raw = op.input(f"in_{name}", flow, source)
        streams.append(op.flat_map(f"load_{name}", raw, partial(loaded, stream)))
    out = op.merge("all", *streams)
    for i, sink in enumerate(sinks):
        op.output(f"out_{i}", out, sink)
    return flow
