"""The positioning dataflow: ONE builder for the embedded runtime and the Kafka entry.

Shape (one item per delivered batch, never per fix)::

    input ─► parse ─► solve ─► locate (site state: tracks + rules) ─┬─► positions ─► sinks
                                                                    └─► alarms ────► sinks

The embedded runtime feeds it from the in-process bus (the people simulator's rangings);
the distributed entry (``api.flows:positioning``) feeds it from the Kafka topic
``location.fix`` (raw ranges or vendor fixes) and writes ``location.position``,
``alarm.event`` and ``deadletter``. Only sources and sinks differ. The rules need the whole
site at once (crowding looks at everyone's neighbours), so ``locate`` runs on one key; a
site of 2,000 tags at 1 Hz is a few milliseconds per second of it.
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
from models.contracts import (
    ALARM_EVENT,
    DEADLETTER,
    LOCATION_POSITION,
    AlarmEvent,
    DeadLetter,
    LocationPosition,
    now_ms,
)
from pipelines.positioning.steps import (
    Located,
    LocateState,
    PermitsProvider,
    PositionBatch,
    PositioningPlan,
    locate,
    parse,
    solve_batch,
)

SITE_KEY = "site"


def build_flow(
    plan: PositioningPlan,
    source: Source[Any],
    sinks: Sequence[Sink[Any]],
    *,
    stream_sinks: Mapping[str, Sink[Any] | Sequence[Sink[Any]]] | None = None,
    permits: PermitsProvider | None = None,
    clock: Callable[[], int] = now_ms,
    flow_id: str = "positioning",
) -> Dataflow:
    """Wire parse -> solve -> locate -> sinks.

    Args:
        plan: Anchors, zones, rule thresholds and solver tuning.
        source: Delivers rangings / fixes (JSON, structs, Kafka records, lists of them).
        sinks: Each receives every :class:`PositionBatch` and :class:`AlarmBatch`.
        stream_sinks: Contract stream -> sink of that stream only (one Kafka topic each):
            ``location.position`` gets single fixes, ``alarm.event`` alarm batches,
            ``deadletter`` single dead letters. A sequence of sinks all get that stream.
        permits: Returns the open permits now; without it, :class:`PermitsUpdate` items on
            the input set them (no permit known: every permit-required zone alarms).
        clock: Wall clock (epoch ms) for the accepted time window of the input.
        flow_id: Dataflow id.
    """
    flow = Dataflow(flow_id)
    raw = op.input("in", flow, source)
    parsed = op.map("parse", raw, lambda item: parse(plan, clock(), item))
    solved = op.map("solve", parsed, partial(solve_batch, plan))
    keyed = op.key_on("site_key", solved, lambda _: SITE_KEY)
    located = op.key_rm("unkey", op.stateful_map("locate", keyed, partial(_locate, plan, permits)))
    out = op.flat_map("split", located, _split)
    for i, sink in enumerate(sinks):
        op.output(f"out_{i}", out, sink)
    for stream, given in (stream_sinks or {}).items():
        name = stream.replace(".", "_")
        only = op.flat_map(f"only_{name}", out, partial(_of_stream, stream))
        for j, sink in enumerate(given if isinstance(given, Sequence) else [given]):
            op.output(f"out_{name}_{j}", only, sink)
    return flow


def _locate(
    plan: PositioningPlan, permits: PermitsProvider | None, state: LocateState | None, batch: Any
) -> tuple[LocateState, Located]:
    return locate(plan, permits, state, batch)


def _split(located: Located) -> list[Any]:
    out: list[Any] = [located.positions]
    if located.alarms.annunciated:
        out.append(located.alarms)
    return out


def _of_stream(stream: str, message: Any) -> list[Any]:
    if stream == LOCATION_POSITION:
        return list(message.positions) if isinstance(message, PositionBatch) else []
    if stream == ALARM_EVENT:
        return [message] if isinstance(message, AlarmBatch) and message.annunciated else []
    if stream == DEADLETTER:
        return list(message.dead) if isinstance(message, PositionBatch) else []
    return []


class _PositionStorePartition(StatelessSinkPartition[Any]):
    def __init__(
        self, store: Any, on_written: Callable[[PositionBatch | None, AlarmBatch | None], None] | None
    ) -> None:
        self._store = store
        self._on_written = on_written

    def write_batch(self, items: list[Any]) -> None:
        positions: list[LocationPosition] = []
        alarms: list[AlarmEvent] = []
        dead: list[DeadLetter] = []
        for m in items:
            if isinstance(m, PositionBatch):
                positions.extend(m.positions)
                dead.extend(m.dead)
            elif isinstance(m, AlarmBatch):
                alarms.extend(m.annunciated)
        if positions:
            self._store.write_positions(positions)
        if alarms:
            self._store.write_alarms(alarms)
        if dead:
            self._store.write_deadletters(dead)
        if self._on_written is not None:
            for m in items:
                if isinstance(m, PositionBatch):
                    self._on_written(m, None)
                elif isinstance(m, AlarmBatch):
                    self._on_written(None, m)


class PositionStoreSink(DynamicSink[Any]):
    """Writes fixes (``positions`` table), alarm events and dead letters into the store.

    The store's writes are idempotent (primary keys), so an at-least-once replay doubles
    nothing. ``on_written`` is told after each committed write (benchmarks, health).
    """

    def __init__(
        self, store: Any, *, on_written: Callable[[PositionBatch | None, AlarmBatch | None], None] | None = None
    ) -> None:
        self.store = store
        self.on_written = on_written

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _PositionStorePartition:
        """Every worker writes through the same (thread-safe) store."""
        return _PositionStorePartition(self.store, self.on_written)
