"""The risk dataflow: ONE builder for the embedded runtime and the distributed entry.

Shape (one item per delivered batch; the stateful step sees one item per source per batch)::

    inputs (alarms, readings, register events) ─► merge ─► parse ─► route ─┬─► recompute (per source) ─► scores ─► sinks
                                                                         └─► dead letters ───────────────────────┘

The embedded runtime feeds it from the in-process bus (the sensor flow's ``alarm.event`` and
``sensor.reading`` plus ``risk.input``) and writes DuckDB + the bus; the distributed entry
(``api.flows:risk``) reads the same three streams from Kafka and writes the store + the
``risk.score`` topic. Only sources and sinks differ. Step ids are keys of recovery snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.outputs import DynamicSink, Sink, StatelessSinkPartition

from models.contracts import DEADLETTER, RISK_SCORE, DeadLetter, RiskScore, now_ms
from pipelines.risk.steps import RiskPlan, RiskState, parse, recompute, route

DEAD_KEY = ""


def build_flow(
    plan: RiskPlan,
    sources: Sequence[Source[Any]],
    sinks: Sequence[Sink[Any]],
    *,
    stream_sinks: Mapping[str, Sink[Any]] | None = None,
    clock: Callable[[], int] = now_ms,
    flow_id: str = "risk",
) -> Dataflow:
    """Wire inputs -> parse -> route -> recompute -> sinks.

    Args:
        plan: Hazard-source contexts and the rule table.
        sources: Each delivers alarm events, readings, register events (typed, JSON or raw
            Kafka records, singly or in lists).
        sinks: Each receives every :class:`RiskScore` and every :class:`DeadLetter`.
        stream_sinks: Contract stream -> sink of that stream only (one Kafka topic each):
            ``risk.score`` gets the scores, ``deadletter`` the dead letters.
        clock: Stamps dead letters of unparseable input (scores carry event time only).
        flow_id: Dataflow id.
    """
    flow = Dataflow(flow_id)
    ins = [op.input(f"in_{i}", flow, s) for i, s in enumerate(sources)]
    raw: Stream[Any] = ins[0] if len(ins) == 1 else op.merge("inputs", *ins)
    # raw: AlarmEvent | SensorReading | RiskInput | bytes | RawRecord | list of those
    parsed = op.map("parse", raw, lambda item: parse(item, clock()))
    # parsed: RiskBatch
    routed = op.flat_map("route", parsed, partial(route, plan))
    # routed: (source id, inputs of this batch) ; ("", dead letters)
    dead = op.flat_map("dead", routed, _dead_of)
    live = op.filter_map("known", routed, _keep_key)
    # live: (source id, (source id, inputs)): the mapper below is not told its key
    scored = op.stateful_map("recompute", live, partial(_recompute, plan))
    # scored: (source id, RiskScore | None)
    scores = op.filter_map("scores", scored, lambda kv: kv[1])
    out = op.merge("all", scores, dead)
    # out: RiskScore | DeadLetter
    for i, sink in enumerate(sinks):
        op.output(f"out_{i}", out, sink)
    for stream, sink in (stream_sinks or {}).items():
        name = stream.replace(".", "_")  # step ids must not contain dots
        if stream not in (RISK_SCORE, DEADLETTER):
            msg = f"the risk flow emits only {RISK_SCORE} and {DEADLETTER}, not {stream!r}"
            raise ValueError(msg)
        op.output(f"out_{name}", scores if stream == RISK_SCORE else dead, sink)
    return flow


def _keep_key(kv: tuple[str, Any]) -> tuple[str, tuple[str, Any]] | None:
    return None if kv[0] == DEAD_KEY else (kv[0], kv)


def _recompute(plan: RiskPlan, state: RiskState | None, value: tuple[str, Any]) -> tuple[RiskState, RiskScore | None]:
    sid, items = value
    return recompute(plan, sid, state, items)


def _dead_of(kv: tuple[str, Any]) -> list[DeadLetter]:
    return list(kv[1]) if kv[0] == DEAD_KEY else []


class StoreScoreSink(DynamicSink[Any]):
    """Writes scores (and dead letters) to a store with ``write_risk_scores`` (DuckDB or ClickHouse)."""

    def __init__(self, store: Any, on_written: Callable[[Sequence[RiskScore]], None] | None = None) -> None:
        self.store = store
        self.on_written = on_written

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _StorePartition:
        """One partition per worker; the store serialises writes itself."""
        return _StorePartition(self.store, self.on_written)


class _StorePartition(StatelessSinkPartition[Any]):
    def __init__(self, store: Any, on_written: Callable[[Sequence[RiskScore]], None] | None) -> None:
        self._store = store
        self._on_written = on_written

    def write_batch(self, items: list[Any]) -> None:
        scores = [m for m in items if isinstance(m, RiskScore)]
        dead = [m for m in items if isinstance(m, DeadLetter)]
        if scores:
            self._store.write_risk_scores(scores)
        if dead:
            self._store.write_deadletters(dead)
        if scores and self._on_written is not None:
            self._on_written(scores)
