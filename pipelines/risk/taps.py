"""A sensor-flow sink that hands the risk flow the few readings it scores, picked with the columns.

The gas-near-limit rule (``GAS.NEAR``) needs the values of the gas detectors of the hazard
sources, a few hundred tags of a 10,000-tag plant. Subscribing the risk flow to every judged
reading would make the sensor flow build one Python object per reading for the bus (10,000 a
second on a large plant) only to drop almost all of them. :class:`TagTapSink` instead filters
each :class:`~connectors.batches.ReadingBatch` on its Arrow ``tag`` column (one vectorised
``is_in``, tens of microseconds for a 2,000-row chunk) and publishes the rows left, if any, as
ONE list on a bus stream, and only while that stream has a subscriber.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.batches import ReadingBatch
from connectors.bus.memory import Bus

GAS_READINGS_STREAM = "risk.gas"
"""Embedded mode: bus stream of the hazard sources' gas readings, tapped off the sensor flow."""


class TagTapSink(DynamicSink[Any]):
    """Publishes the readings of ``tags`` in each reading batch as one list on ``stream``.

    Other items (alarm batches, dead letters) are not its business and pass by untouched.

    Example:
        >>> from connectors.batches import readings_to_arrow
        >>> from models.contracts import SensorReading
        >>> bus = Bus()
        >>> sub = bus.subscribe("risk.gas")
        >>> part = TagTapSink(bus, "risk.gas", ["GT-101"]).build("tap", 0, 1)
        >>> rows = [SensorReading(tag=t, ts=1, value=1.0, source="s") for t in ("GT-101", "TT-101")]
        >>> part.write_batch([ReadingBatch("0", readings_to_arrow(rows))])
        >>> [r.tag for r in sub.drain()[0]]
        ['GT-101']
    """

    def __init__(self, bus: Bus, stream: str, tags: Iterable[str]) -> None:
        self.bus = bus
        self.stream = stream
        self.tags = sorted(set(tags))

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _TapPartition:
        """One partition per worker, all publishing to the same bus."""
        return _TapPartition(self.bus, self.stream, pa.array(self.tags, pa.string()))


class _TapPartition(StatelessSinkPartition[Any]):
    def __init__(self, bus: Bus, stream: str, tags: pa.Array) -> None:
        self._bus = bus
        self._stream = stream
        self._tags = tags

    def write_batch(self, items: list[Any]) -> None:
        if not len(self._tags) or not self._bus.has_subscribers(self._stream):
            return
        picked: list[Any] = []
        for item in items:
            if isinstance(item, ReadingBatch) and len(item):
                mask = pc.is_in(item.table.column("tag"), value_set=self._tags)
                if pc.any(mask).as_py():
                    picked.extend(ReadingBatch(item.shard, item.table.filter(mask)).readings())
        if picked:
            self._bus.publish(self._stream, picked)
