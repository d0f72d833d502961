"""What the sensor flow hands its sinks: whole batches, never one message per reading.

A scan of 10,000 tags is one :class:`ReadingBatch` (an Arrow table plus the scan's dead
letters), and the alarm events of a batch are one :class:`AlarmBatch`. Sinks write a batch
with one store insert, one bus publication or one Kafka record: per-reading Python objects
cost far more than the store itself (RECIPES.md, calibration figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import pyarrow as pa

from models.contracts import AlarmEvent, DeadLetter, Quality, SensorReading

READINGS_SCHEMA: Final = pa.schema(
    [
        ("tag", pa.string()),
        ("ts", pa.int64()),
        ("value", pa.float64()),
        ("quality", pa.string()),
        ("source", pa.string()),
    ]
)
"""Arrow schema of judged readings (ts in epoch ms), as the stores take them."""

_json = msgspec.json.Encoder()


def readings_to_arrow(readings: Sequence[SensorReading]) -> pa.Table:
    """Contract structs as a :data:`READINGS_SCHEMA` table."""
    return pa.table(
        [
            pa.array([r.tag for r in readings], pa.string()),
            pa.array([r.ts for r in readings], pa.int64()),
            pa.array([r.value for r in readings], pa.float64()),
            pa.array([r.quality.value if isinstance(r.quality, Quality) else r.quality for r in readings], pa.string()),
            pa.array([r.source for r in readings], pa.string()),
        ],
        schema=READINGS_SCHEMA,
    )


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One undecoded record (e.g. a Kafka value) and when the broker received it (epoch ms).

    The flow stamps a dead letter made of it with ``ts``, not with the wall clock, so a
    replay after recovery writes the same dead letter (the store drops the repeat).
    """

    value: bytes
    ts: int


@dataclass(frozen=True, eq=False, slots=True)
class ReadingBatch:
    """The judged readings of one batch and shard, with the batch's dead letters.

    Attributes:
        shard: The flow shard that judged it (Kafka record key of the output topic).
        table: Readings with the pipeline's quality, :data:`READINGS_SCHEMA`.
        dead: Messages of the batch that could not be used, each with its reason.
    """

    shard: str
    table: pa.Table
    dead: tuple[DeadLetter, ...] = ()

    def __len__(self) -> int:
        """Number of readings."""
        return int(self.table.num_rows)

    def readings(self) -> list[SensorReading]:
        """The readings as contract structs (live push, tests); costs a Python object per row."""
        cols = self.table.to_pydict()
        return [
            SensorReading(tag=t, ts=ts, value=v, quality=Quality(q), source=s)
            for t, ts, v, q, s in zip(
                cols["tag"], cols["ts"], cols["value"], cols["quality"], cols["source"], strict=True
            )
        ]

    def to_json(self) -> bytes:
        """One JSON array of readings: the record the ``sensor.reading`` output topic carries."""
        rows: list[dict[str, Any]] = self.table.to_pylist()
        return _json.encode(rows)


@dataclass(frozen=True, eq=False, slots=True)
class AlarmBatch:
    """Alarm events of one batch after flood detection.

    Attributes:
        annunciated: Shown and notified (flood summaries included).
        held: Held back during a flood: recorded in the register, annunciated to nobody.
    """

    annunciated: tuple[AlarmEvent, ...] = ()
    held: tuple[AlarmEvent, ...] = ()

    def __len__(self) -> int:
        """Number of events."""
        return len(self.annunciated) + len(self.held)
