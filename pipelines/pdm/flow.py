"""The PdM dataflow: ONE builder for the embedded runtime and a distributed entry.

Shape::

    windows ─► parse ─┬─► by asset ─► predict (per asset) ─► predictions + warnings ─┬─► sinks
                      └─► dead letters ─────────────────────────────────────────────┘

Embedded mode feeds it from the bus, distributed mode from a Kafka topic of windows; only the
sources and sinks differ. The model is trained offline (``models.pdm.model.train``) and handed
in; step ids are keys of recovery snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.outputs import DynamicSink, Sink, StatelessSinkPartition

from models.contracts import DEADLETTER, PDM_PREDICTION, DeadLetter, PdmPrediction, now_ms
from models.pdm.model import PdmModel
from models.pdm.stream import PDM_WARNING, PdmFeatureRow, PdmWarning
from pipelines.pdm.steps import parse, predict


def build_flow(
    model: PdmModel,
    sources: Sequence[Source[Any]],
    sinks: Sequence[Sink[Any]],
    *,
    stream_sinks: Mapping[str, Sink[Any]] | None = None,
    clock: Callable[[], int] = now_ms,
    flow_id: str = "pdm",
) -> Dataflow:
    """Wire windows -> parse -> per-asset predict -> sinks (predictions, warnings, dead letters).

    Args:
        model: The trained model (``safetwin pdm train``).
        sources: Each delivers windows (typed, JSON or raw Kafka records, singly or in lists).
        sinks: Each receives every feature row, prediction, warning and dead letter.
        stream_sinks: Stream -> sink of that stream only (one Kafka topic each):
            ``pdm.prediction``, ``pdm.warning`` or ``deadletter``.
        clock: Stamps dead letters of unparseable input.
        flow_id: Dataflow id.
    """
    flow = Dataflow(flow_id)
    ins = [op.input(f"in_{i}", flow, s) for i, s in enumerate(sources)]
    raw: Stream[Any] = ins[0] if len(ins) == 1 else op.merge("inputs", *ins)
    parsed = op.map("parse", raw, lambda item: parse(item, clock()))
    # parsed: (windows, dead letters)
    windows = op.flat_map("windows", parsed, lambda p: p[0])
    dead = op.flat_map("dead", parsed, lambda p: p[1])
    keyed = op.key_on("by_asset", windows, lambda w: w.asset_id)
    predicted = op.key_rm("unkey", op.stateful_map("predict", keyed, partial(predict, model)))
    # predicted: list of PdmPrediction | PdmWarning | DeadLetter
    out = op.merge("all", op.flat_map("flat", predicted, lambda xs: xs), dead)
    for i, sink in enumerate(sinks):
        op.output(f"out_{i}", out, sink)
    for stream, sink in (stream_sinks or {}).items():
        if stream not in _STREAM_TYPES:
            msg = f"the PdM flow emits only {', '.join(_STREAM_TYPES)} streams, not {stream!r}"
            raise ValueError(msg)
        name = stream.replace(".", "_")  # step ids must not contain dots
        op.output(f"out_{name}", op.filter(f"only_{name}", out, partial(_is_a, _STREAM_TYPES[stream])), sink)
    return flow


def _is_a(kind: type, item: Any) -> bool:
    return isinstance(item, kind)


_STREAM_TYPES: dict[str, type] = {PDM_PREDICTION: PdmPrediction, PDM_WARNING: PdmWarning, DEADLETTER: DeadLetter}


class StorePdmSink(DynamicSink[Any]):
    """Writes feature rows and predictions (``pdm_features``, ``pdm_predictions``) and dead letters to a store."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _StorePartition:
        """One partition per worker; the store serialises writes itself."""
        return _StorePartition(self.store)


class _StorePartition(StatelessSinkPartition[Any]):
    def __init__(self, store: Any) -> None:
        self._store = store

    def write_batch(self, items: list[Any]) -> None:
        features = [m for m in items if isinstance(m, PdmFeatureRow)]
        predictions = [m for m in items if isinstance(m, PdmPrediction)]
        dead = [m for m in items if isinstance(m, DeadLetter)]
        if features or predictions:
            self._store.write_pdm(features, predictions)
        if dead:
            self._store.write_deadletters(dead)
