"""A sensor-flow sink that hands the risk flow the few readings it scores, picked with the columns.

The gas-near-limit rule (``GAS.NEAR``) needs the values of the gas detectors of the hazard
sources only while one is near its first alarm limit: below ``gas_near_ratio`` of it a value
scores nothing. A generated 10,000-tag plant has 1,848 such detectors; handing all their
readings to the risk flow made it build and score 1,848 Python objects a second in the
platform's process for nothing. :class:`GasNearTap` instead filters each
:class:`~connectors.batches.ReadingBatch` on its Arrow columns (tag lookup, value / limit,
vectorised) and publishes only the readings of detectors that are near their limit, or were
at their previous reading (the one that brings them back, so the rule lets go), as ONE list
on a bus stream, and only while that stream has a subscriber.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.batches import ReadingBatch
from connectors.bus.memory import Bus

GAS_READINGS_STREAM = "risk.gas"
"""Embedded mode: bus stream of the hazard sources' gas readings, tapped off the sensor flow."""


class GasNearTap(DynamicSink[Any]):
    """Publishes the readings of gas detectors near their limit (or just back from it) as one list.

    Other items (alarm batches, dead letters) and other tags are not its business.

    Example:
        >>> from connectors.batches import readings_to_arrow
        >>> from models.contracts import SensorReading
        >>> bus = Bus()
        >>> sub = bus.subscribe("risk.gas")
        >>> part = GasNearTap(bus, "risk.gas", {"GT-101": 20.0}, near_ratio=0.5).build("tap", 0, 1)
        >>> def scan(value):
        ...     rows = [SensorReading(tag=t, ts=1, value=value, source="s") for t in ("GT-101", "TT-101")]
        ...     part.write_batch([ReadingBatch("0", readings_to_arrow(rows))])
        ...     return [(r.tag, r.value) for batch in sub.drain() for r in batch]
        >>> scan(2.0), scan(12.0), scan(11.0), scan(3.0), scan(2.0)
        ([], [('GT-101', 12.0)], [('GT-101', 11.0)], [('GT-101', 3.0)], [])
    """

    def __init__(self, bus: Bus, stream: str, limits: Mapping[str, float], *, near_ratio: float) -> None:
        self.bus = bus
        self.stream = stream
        self.limits = {tag: limit for tag, limit in limits.items() if limit > 0}
        self.near_ratio = near_ratio

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TapPartition:
        """One partition per worker (each sees its own shards' tags), all publishing to the same bus."""
        return _TapPartition(self.bus, self.stream, self.limits, self.near_ratio)


class _TapPartition(StatelessSinkPartition[Any]):
    def __init__(self, bus: Bus, stream: str, limits: Mapping[str, float], near_ratio: float) -> None:
        self._bus = bus
        self._stream = stream
        tags = sorted(limits)
        self._tags = pa.array(tags, pa.string())
        self._limits = pa.array([limits[t] for t in tags], pa.float64())
        self._limit_of = dict(limits)
        self._near_ratio = near_ratio
        self._near: set[str] = set()
        """Detectors whose latest published reading was near their limit."""

    def write_batch(self, items: list[Any]) -> None:
        if not len(self._tags) or not self._bus.has_subscribers(self._stream):
            return
        picked: list[Any] = []
        for item in items:
            if isinstance(item, ReadingBatch) and len(item):
                picked.extend(self._pick(item))
        if picked:
            self._bus.publish(self._stream, picked)

    def _pick(self, batch: ReadingBatch) -> list[Any]:
        table = batch.table
        index = pc.index_in(table.column("tag"), value_set=self._tags)
        ratio = pc.divide(table.column("value").cast(pa.float64()), pc.take(self._limits, index))
        near = pc.fill_null(pc.greater_equal(ratio, self._near_ratio), False)
        # every reading of a detector near now or at its previous reading: the batch's latest decides
        tags = set(table.column("tag").filter(near).to_pylist()) | self._near
        if not tags:
            return []
        keep = pc.is_in(table.column("tag"), value_set=pa.array(sorted(tags), pa.string()))
        readings = ReadingBatch(batch.shard, table.filter(keep)).readings()
        for reading in readings:  # the latest reading of each published detector decides
            if reading.value / self._limit_of[reading.tag] >= self._near_ratio:
                self._near.add(reading.tag)
            else:
                self._near.discard(reading.tag)
        return readings
