"""The time-series store interface that hides DuckDB (embedded) vs ClickHouse (production).

Writes are idempotent on the message key + event time, so a replay after a crash (Bytewax
recovery is at-least-once) neither loses nor doubles rows:

* readings: unique on ``(tag, ts)``; a replayed reading is ignored;
* alarm events: unique on ``(alarm_id, ts, state)``;
* dead letters: unique on ``(stream, ts, raw)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from connectors.contracts import AlarmEvent, DeadLetter, SensorReading


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One downsampled bucket of a tag's history (min/max preserve spikes)."""

    ts: int  # bucket start, epoch ms
    min: float
    max: float
    avg: float
    last: float
    count: int


@runtime_checkable
class TimeSeriesStore(Protocol):
    """What pipelines write and the API reads."""

    def init_schema(self) -> None:
        """Create tables if missing (called once at start-up, never in a constructor)."""

    def write_readings(self, readings: Sequence[SensorReading]) -> int:
        """Insert readings, ignoring any (tag, ts) already stored; returns rows offered."""

    def write_alarms(self, alarms: Sequence[AlarmEvent]) -> int:
        """Insert alarm events, ignoring duplicates of (alarm_id, ts, state)."""

    def write_deadletters(self, items: Sequence[DeadLetter]) -> int:
        """Keep unusable messages with their reason."""

    def latest(self, tags: Sequence[str] | None = None) -> dict[str, SensorReading]:
        """Most recent reading per tag (all tags when ``tags`` is None)."""

    def history(self, tag: str, start_ms: int, end_ms: int, points: int = 1000) -> list[HistoryPoint]:
        """Readings of one tag in [start, end) downsampled to at most ``points`` buckets."""

    def count_readings(self, tag: str | None = None) -> int:
        """Number of distinct stored readings (of one tag, or all)."""

    def active_alarms(self) -> list[AlarmEvent]:
        """Latest event of every alarm whose latest state is active."""

    def alarm_events(
        self, start_ms: int | None = None, end_ms: int | None = None, limit: int = 1000
    ) -> list[AlarmEvent]:
        """Alarm events newest first."""

    def deadletters(self, limit: int = 100) -> list[DeadLetter]:
        """Most recent dead letters, newest first."""

    def close(self) -> None:
        """Release the database."""
