"""The video-detection dataflow: ONE builder for the embedded runtime and the Kafka entry.

Shape::

    input ─► parse ─► split by camera ─► judge (per-camera state) ─┬─► detections ─► sinks
                                                                  └─► alarms ─────► sinks

The distributed entry (``api.flows:video``) reads the DeepStream topic (nvmsgbroker, full or
minimal schema) and writes ``video.detection``, ``alarm.event`` and ``deadletter``; the
embedded runtime feeds it from the in-process bus. Only sources and sinks differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import DynamicSink, Sink, StatelessSinkPartition

from connectors.batches import AlarmBatch
from models.contracts import ALARM_EVENT, DEADLETTER, VIDEO_DETECTION, AlarmEvent, DeadLetter, VideoDetection, now_ms
from pipelines.video.steps import DetectionBatch, Judged, VideoPlan, judge, parse, split


def build_flow(
    plan: VideoPlan,
    source: Source[Any],
    sinks: Sequence[Sink[Any]],
    *,
    stream_sinks: Mapping[str, Sink[Any] | Sequence[Sink[Any]]] | None = None,
    clock: Callable[[], int] = now_ms,
    flow_id: str = "video",
) -> Dataflow:
    """Wire parse -> split -> judge -> sinks.

    Args:
        plan: Cameras (zone masks, posts, crowd limits) and the rule table.
        source: Delivers DeepStream payloads / detections.
        sinks: Each receives every :class:`DetectionBatch` and :class:`AlarmBatch`.
        stream_sinks: Contract stream -> sink(s) of that stream only: ``video.detection``
            gets single detections, ``alarm.event`` alarm batches, ``deadletter`` single
            dead letters.
        clock: Wall clock (epoch ms) for the accepted time window.
        flow_id: Dataflow id.
    """
    flow = Dataflow(flow_id)
    raw = op.input("in", flow, source)
    parsed = op.map("parse", raw, lambda item: parse(plan, clock(), item))
    keyed = op.flat_map("split", parsed, split)
    judged = op.key_rm("unkey", op.stateful_map("judge", keyed, partial(judge, plan)))
    out = op.flat_map("out", judged, _split_out)
    for i, sink in enumerate(sinks):
        op.output(f"out_{i}", out, sink)
    for stream, given in (stream_sinks or {}).items():
        name = stream.replace(".", "_")
        only = op.flat_map(f"only_{name}", out, partial(_of_stream, stream))
        for j, sink in enumerate(given if isinstance(given, Sequence) else [given]):
            op.output(f"out_{name}_{j}", only, sink)
    return flow


def _split_out(judged: Judged) -> list[Any]:
    out: list[Any] = [judged.detections]
    if judged.alarms.annunciated:
        out.append(judged.alarms)
    return out


def _of_stream(stream: str, message: Any) -> list[Any]:
    if stream == VIDEO_DETECTION:
        return list(message.detections) if isinstance(message, DetectionBatch) else []
    if stream == ALARM_EVENT:
        return [message] if isinstance(message, AlarmBatch) and message.annunciated else []
    if stream == DEADLETTER:
        return list(message.dead) if isinstance(message, DetectionBatch) else []
    return []


class _Partition(StatelessSinkPartition[Any]):
    def __init__(self, store: Any) -> None:
        self._store = store

    def write_batch(self, items: list[Any]) -> None:
        detections: list[VideoDetection] = []
        alarms: list[AlarmEvent] = []
        dead: list[DeadLetter] = []
        for m in items:
            if isinstance(m, DetectionBatch):
                detections.extend(m.detections)
                dead.extend(m.dead)
            elif isinstance(m, AlarmBatch):
                alarms.extend(m.annunciated)
        if detections:
            self._store.write_detections(detections)
        if alarms:
            self._store.write_alarms(alarms)
        if dead:
            self._store.write_deadletters(dead)


class DetectionStoreSink(DynamicSink[Any]):
    """Writes detections (``video_detections``), alarm events and dead letters (idempotent)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _Partition:
        """Every worker writes through the same (thread-safe) store."""
        return _Partition(self.store)
