"""The sensor dataflow: ONE builder for the embedded runtime, the Kafka entry and recovery.

Shape (one item per delivered batch, never per reading)::

    input ─► parse ─► shard ─► judge (per-shard state) ─┬─► readings ──────────────┬─► sinks
                                                        ├─► events ─► flood ───────┤
                                                        └─► sources ─► watchdog ───┘

The embedded runtime feeds it from the in-process bus and writes DuckDB + the bus; the
distributed entry (``api.flows:sensors``) feeds it from Kafka and writes the store + Kafka
topics. Only sources and sinks differ. Step ids are keys of recovery snapshots: renaming one
orphans its saved state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import StatefulLogic
from bytewax.outputs import Sink

from connectors.batches import AlarmBatch, ReadingBatch
from models.contracts import ALARM_EVENT, DEADLETTER, SENSOR_READING, AlarmEvent, DeadLetter, now_ms
from pipelines.sensors.batch import BatchState
from pipelines.sensors.steps import (
    Clock,
    FlowPlan,
    Judged,
    SensorBatch,
    SourceWatch,
    flood,
    judge,
    parse,
    shard,
    watch_sources,
)

PLANT_KEY = "plant"
WATCH_EVERY = timedelta(seconds=1)


class _JudgeLogic(StatefulLogic[SensorBatch, Judged, BatchState]):
    """Per-shard engine state, snapshotted without a copy.

    ``judge`` returns a new state per batch and never mutates the old one, so the snapshot is
    the state itself: no deep copy of 10,000-tag columns per epoch.
    """

    def __init__(self, plan: FlowPlan, clock: Clock | None, state: BatchState | None) -> None:
        self._plan = plan
        self._clock = clock
        self.state = state

    def on_item(self, value: SensorBatch) -> tuple[list[Judged], bool]:
        now = self._clock() if self._clock is not None else None
        self.state, out = judge(self._plan, now, self.state, value)
        return [out], StatefulLogic.RETAIN

    def snapshot(self) -> BatchState:
        assert self.state is not None
        return self.state


class _WatchLogic(StatefulLogic[dict[str, int], AlarmBatch, SourceWatch]):
    """Source watchdog: wakes every second even when nothing arrives (that is the point)."""

    def __init__(self, timeout_ms: int, clock: Clock, state: SourceWatch | None) -> None:
        self._timeout_ms = timeout_ms
        self._clock = clock
        self.state = state or SourceWatch()

    def _run(self, seen: Mapping[str, int]) -> tuple[list[AlarmBatch], bool]:
        self.state, events = watch_sources(self._timeout_ms, self.state, seen, self._clock())
        return ([AlarmBatch(tuple(events))] if events else []), StatefulLogic.RETAIN

    def on_item(self, value: dict[str, int]) -> tuple[list[AlarmBatch], bool]:
        return self._run(value)

    def on_notify(self) -> tuple[list[AlarmBatch], bool]:
        return self._run({})

    def on_eof(self) -> tuple[list[AlarmBatch], bool]:
        return [], StatefulLogic.RETAIN

    def notify_at(self) -> datetime | None:
        return datetime.now(UTC) + WATCH_EVERY

    def snapshot(self) -> SourceWatch:
        return self.state


def build_flow(
    plan: FlowPlan,
    source: Source[Any],
    sinks: Sequence[Sink[Any]],
    *,
    stream_sinks: Mapping[str, Sink[Any]] | None = None,
    held_sinks: Sequence[Sink[Any]] = (),
    clock: Clock | None = now_ms,
    positions: Mapping[str, str] | None = None,
    watch_sources_ms: int | None = None,
    seed: BatchState | None = None,
    flow_id: str = "sensors",
) -> Dataflow:
    """Wire parse -> shard -> judge -> flood / watchdog -> sinks.

    Args:
        plan: The compiled tags, shards and ingest rules.
        source: Delivers batches (or single readings, JSON, Arrow tables; see ``parse``).
        sinks: Each receives every :class:`ReadingBatch` and :class:`AlarmBatch`.
        stream_sinks: Contract stream -> sink of that stream only (one Kafka topic each):
            ``sensor.reading`` gets reading batches, ``alarm.event`` alarm batches (the sink
            writes the annunciated events), ``deadletter`` single dead letters.
        held_sinks: Receive the alarm batches too, to record the events held back during a
            flood (e.g. the held-alarm topic); the store sinks in ``sinks`` record them anyway.
        clock: Wall clock for staleness; ``None`` judges by event time only (exact replays).
        positions: Tag -> operator position: alarm events pass ISA-18.2 flood detection.
        watch_sources_ms: Raise 通讯故障 for a source silent this long (``None``: off).
        seed: Engine state of a shard that has no recovery snapshot (e.g. from the store's
            active alarms, :func:`pipelines.sensors.steps.seed_state`); default: all quiet.
        flow_id: Dataflow id.
    """
    flow = Dataflow(flow_id)
    raw = op.input("in", flow, source)
    # raw: bytes | str | SensorReading | list[SensorReading] | pa.Table | DeadLetter
    parsed = op.map("parse", raw, lambda item: parse(plan, now_ms(), item))
    # parsed: SensorBatch (usable rows as columns + dead letters)
    keyed = op.flat_map("shard", parsed, partial(shard, plan))
    # keyed: (shard, SensorBatch)
    judged = op.key_rm("unkey", op.stateful("judge", keyed, lambda resume: _JudgeLogic(plan, clock, resume or seed)))
    # judged: Judged (one per shard batch)
    readings: Stream[Any] = op.map("readings", judged, _readings_of)
    # readings: ReadingBatch
    alarm_input = op.map("events", judged, _events_of)
    if positions is not None:
        keyed_events = op.key_on("flood_key", alarm_input, lambda _: PLANT_KEY)
        alarms: Stream[Any] = op.key_rm("unflood", op.stateful_map("flood", keyed_events, partial(flood, positions)))
    else:
        alarms = op.filter_map("alarms", alarm_input, _plain_alarms)
    # alarms: AlarmBatch
    outs = [readings, alarms]
    if watch_sources_ms is not None:
        seen = op.filter_map("seen", judged, lambda j: dict(j.sources) if j.sources else None)
        batched = op.key_on("watch_key", seen, lambda _: PLANT_KEY)
        wall = clock or now_ms
        watched = op.stateful("watchdog", batched, lambda resume: _WatchLogic(watch_sources_ms, wall, resume))
        outs.append(op.key_rm("unwatch", watched))
    out = op.merge("all", *outs)
    # out: ReadingBatch | AlarmBatch
    for i, sink in enumerate(sinks):
        op.output(f"out_{i}", out, sink)
    alarm_out = op.filter("alarm_batches", out, lambda m: isinstance(m, AlarmBatch))
    for i, sink in enumerate(held_sinks):
        op.output(f"held_{i}", alarm_out, sink)
    for stream, sink in (stream_sinks or {}).items():
        name = stream.replace(".", "_")  # step ids must not contain dots
        op.output(f"out_{name}", op.flat_map(f"only_{name}", out, partial(_of_stream, stream)), sink)
    return flow


def _readings_of(judged: Judged) -> ReadingBatch:
    return judged.readings


def _events_of(judged: Judged) -> tuple[tuple[AlarmEvent, ...], int | None]:
    return judged.events, judged.newest_ts


def _plain_alarms(item: tuple[tuple[AlarmEvent, ...], int | None]) -> AlarmBatch | None:
    return AlarmBatch(item[0]) if item[0] else None


def _of_stream(stream: str, message: Any) -> list[Any]:
    if stream == SENSOR_READING:
        return [message] if isinstance(message, ReadingBatch) and len(message) else []
    if stream == ALARM_EVENT:
        return [message] if isinstance(message, AlarmBatch) and message.annunciated else []
    if stream == DEADLETTER:
        return list(message.dead) if isinstance(message, ReadingBatch) else []
    return [message] if isinstance(message, DeadLetter) else []
