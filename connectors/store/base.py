"""The time-series store interface that hides DuckDB (embedded) vs ClickHouse (production).

Writes are idempotent on the message key + event time, so a replay after a crash (Bytewax
recovery is at-least-once) neither loses nor doubles rows:

* readings: unique on ``(tag, ts)``; a replayed reading is ignored;
* alarm events: unique on ``(alarm_id, ts, state)``;
* dead letters: unique on ``(stream, ts, raw)``.

Both stores also keep 1-minute and 1-hour rollups per tag (min, max, sum, count, last) that
stay exact under replays, and pick them for history queries whose buckets are wide enough
(:func:`plan_buckets`). The pure helpers here (bucket planning, alarm intervals, statistics
assembly) are shared so both stores answer every query identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, cast, runtime_checkable

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from models.contracts import AlarmEvent, DeadLetter, SensorReading


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One downsampled bucket of a tag's history (min/max preserve spikes)."""

    ts: int  # bucket start, epoch ms
    min: float
    max: float
    avg: float
    last: float
    count: int


HistoryRow = tuple[int, float, float, float, float, int]
"""A :class:`HistoryPoint` as a plain tuple ``(ts, min, max, avg, last, count)``.

What :meth:`TimeSeriesStore.history_rows` returns: building 500 frozen dataclasses cost more
CPU than the query behind them, and the API only serialises the values.
"""

RollupInterval = Literal["1m", "1h"]
"""The two rollup resolutions every store keeps."""

ROLLUP_MS: Final[dict[RollupInterval, int]] = {"1m": 60_000, "1h": 3_600_000}
"""Width of each rollup bucket in ms; buckets start at multiples of it (UTC epoch)."""

ROLLUP_MIN_UNITS: Final = 10
"""A history bucket uses a rollup only when it spans at least this many rollup buckets.

History buckets built from rollups must be whole multiples of the rollup width, so the width
is rounded up to the next multiple; at 10 units or more that rounding costs under 10 % of the
requested resolution. Narrower buckets are computed from the raw readings (still fast: a
bucket under 10 minutes x 1,000 points is under 7 days of 1 Hz data).
"""


@dataclass(frozen=True, slots=True)
class BucketPlan:
    """How ``[start, end)`` is cut into history buckets.

    Bucket ``k`` covers ``[origin + k * width, origin + (k + 1) * width)`` clipped to
    ``[start, end)``; its reported ``ts`` is the clipped start. ``unit`` names the rollup
    the buckets are built from (``None``: raw readings).
    """

    start: int
    end: int
    origin: int
    width: int
    unit: RollupInterval | None

    @property
    def count(self) -> int:
        """Number of buckets (never more than the points asked for)."""
        return -(-(self.end - self.origin) // self.width)

    def bucket_ts(self, k: int) -> int:
        """Reported start of bucket ``k`` (the first one is clipped to ``start``)."""
        return max(self.start, self.origin + k * self.width)

    @property
    def timestamps(self) -> list[int]:
        """Every bucket's reported start, empty buckets included."""
        return [self.bucket_ts(k) for k in range(self.count)]

    def rows(self, buckets: Iterable[tuple[int, float, float, float, float, int]]) -> list[HistoryRow]:
        """Turn ``(k, min, max, avg, last, count)`` aggregates into :data:`HistoryRow` (``k`` -> ``ts``).

        :meth:`bucket_ts` inlined: one method call per bucket was a tenth of a history request.
        """
        start, origin, width = self.start, self.origin, self.width
        return [(max(start, origin + k * width), lo, hi, avg, last, n) for k, lo, hi, avg, last, n in buckets]


def plan_buckets(start_ms: int, end_ms: int, points: int) -> BucketPlan:
    """Choose bucket width, origin and source (raw or a rollup) for a history query.

    The raw width is ``ceil((end - start) / points)`` from ``start``. When that spans at least
    :data:`ROLLUP_MIN_UNITS` rollup buckets, the origin moves back to the rollup grid and the
    width rounds up to whole rollup buckets, so every rollup bucket falls into exactly one
    history bucket; the count still never exceeds ``points``.

    Args:
        start_ms: Inclusive start, epoch ms.
        end_ms: Exclusive end, epoch ms (greater than ``start_ms``).
        points: Maximum number of buckets (at least 1).

    Returns:
        The plan.

    Example:
        >>> plan_buckets(0, 30 * 86_400_000, 1000).unit, plan_buckets(0, 30 * 86_400_000, 1000).width
        ('1m', 2640000)
    """
    width = max(1, -(-(end_ms - start_ms) // points))
    for unit in ("1h", "1m"):
        u = ROLLUP_MS[unit]
        if width >= ROLLUP_MIN_UNITS * u:
            origin = start_ms - start_ms % u
            raw = max(1, -(-(end_ms - origin) // points))
            return BucketPlan(start_ms, end_ms, origin, -(-raw // u) * u, unit)
    return BucketPlan(start_ms, end_ms, start_ms, width, None)


def bucket_readings(ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], plan: BucketPlan) -> list[HistoryRow]:
    """The raw buckets of ``plan`` computed from readings in memory, as the stores compute them in SQL.

    Why: the API keeps the recent readings of tags whose history is asked for again and again
    (api/recent_history.py); cutting them into buckets here costs a fraction of a store query.

    Args:
        ts: Reading times, epoch ms, ascending and unique (a tag's readings are unique on ``ts``).
        values: The readings' values, in the same order.
        plan: A plan on the raw readings (``unit`` is None), as :func:`plan_buckets` makes.

    Returns:
        What ``history_rows`` returns for the same readings: one row per non-empty bucket of
        ``[start, end)``, oldest first; min, max, last and count exact, avg their mean.

    Raises:
        ValueError: If the plan is built on a rollup.
    """
    if plan.unit is not None:
        msg = f"bucket_readings needs a plan on raw readings, got one on the {plan.unit} rollup"
        raise ValueError(msg)
    first, stop = np.searchsorted(ts, (plan.start, plan.end))
    if first >= stop:
        return []
    ts, values = ts[first:stop], values[first:stop]
    k = (ts - plan.origin) // plan.width
    cuts = np.flatnonzero(k[1:] != k[:-1]) + 1  # sorted readings: a bucket is a run of one k
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [ts.size]))
    counts = ends - starts
    return plan.rows(
        zip(
            k[starts].tolist(),
            np.minimum.reduceat(values, starts).tolist(),
            np.maximum.reduceat(values, starts).tolist(),
            (np.add.reduceat(values, starts) / counts).tolist(),
            values[ends - 1].tolist(),
            counts.tolist(),
            strict=True,
        )
    )


def check_history_args(start_ms: int, end_ms: int, points: int) -> None:
    """Refuse history arguments no caller can mean.

    Raises:
        ValueError: If ``points < 1`` or ``end_ms < start_ms``.
    """
    if points < 1:
        msg = f"points must be >= 1, got {points}"
        raise ValueError(msg)
    if end_ms < start_ms:
        msg = f"end_ms ({end_ms}) is before start_ms ({start_ms})"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Comparison:
    """Several tags on one time axis: ``values[tag][i]`` is the bucket at ``ts[i]`` or None."""

    start: int
    end: int
    width: int
    ts: list[int]
    values: dict[str, list[HistoryPoint | None]]


@dataclass(frozen=True, slots=True)
class TagStatistics:
    """What a tag did in a period.

    ``above_limit_ms`` is time-weighted: each reading holds its value until the tag's next
    reading (at most ``max_hold_ms``), and the held intervals whose value is >= the high limit
    are summed, clipped to the period. It is None when the tag has no limit. ``in_alarm_ms``
    is the union of the tag's alarms' active -> returned intervals clipped to the period;
    ``alarm_count`` counts the alarms raised (transitions to active) inside the period.
    """

    tag: str
    count: int
    min: float | None
    max: float | None
    avg: float | None
    limit: float | None
    above_limit_ms: int | None
    in_alarm_ms: int
    alarm_count: int


@dataclass(frozen=True, slots=True)
class AreaStatistics:
    """What the tags of one area did in a period.

    ``above_limit_ms`` is the sum over the area's tags (tag-milliseconds), while
    ``in_alarm_ms`` is the union over them: the time the area had at least one alarm active.
    """

    area: str
    tags: tuple[str, ...]
    count: int
    above_limit_ms: int
    in_alarm_ms: int
    alarm_count: int


AlarmRow = tuple[str, str, str, int]
"""``(source_id, alarm_id, state, ts)`` of an alarm event of a tag."""


def merge_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of half-open intervals, sorted and non-overlapping; empty ones dropped.

    Example:
        >>> merge_intervals([(5, 9), (0, 3), (2, 4), (9, 10), (7, 7)])
        [(0, 4), (5, 10)]
    """
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(i for i in intervals if i[1] > i[0]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def alarm_intervals(
    rows: Iterable[AlarmRow], start_ms: int, end_ms: int
) -> dict[str, tuple[list[tuple[int, int]], int]]:
    """Per tag: the clipped active intervals of its alarms, and the number raised in the period.

    An alarm is active from an ``active`` event to its next ``returned`` event; one still active
    runs to the end of the period. A repeated ``active`` without a return continues the same
    activation. On a timestamp tie ``returned`` counts as the later event (as in the stores).

    Args:
        rows: Events of the tags' alarms up to ``end_ms``, any order.
        start_ms: Period start (inclusive).
        end_ms: Period end (exclusive).

    Returns:
        ``{tag: (intervals, raised)}`` for every tag that has events.
    """
    by_alarm: dict[str, list[AlarmRow]] = {}
    for row in rows:
        by_alarm.setdefault(row[1], []).append(row)
    result: dict[str, tuple[list[tuple[int, int]], int]] = {}
    for events in by_alarm.values():
        events.sort(key=lambda r: (r[3], r[2] == "returned"))
        tag = events[0][0]
        intervals, raised = result.get(tag, ([], 0))
        since: int | None = None
        for _, _, state, ts in events:
            if ts >= end_ms:
                break
            if state == "active":
                if since is None:
                    since = ts
                    raised += int(ts >= start_ms)
            elif since is not None:
                intervals.append((max(since, start_ms), min(ts, end_ms)))
                since = None
        if since is not None:
            intervals.append((max(since, start_ms), end_ms))
        result[tag] = (intervals, raised)
    return result


class StatisticsSource(Protocol):
    """The primitives from which :func:`tag_statistics_of` assembles statistics."""

    def history(self, tag: str, start_ms: int, end_ms: int, points: int = 1000) -> list[HistoryPoint]:
        """See :meth:`TimeSeriesStore.history`."""

    def above_limit_ms(self, tag: str, limit: float, start_ms: int, end_ms: int, max_hold_ms: int | None) -> int:
        """Time-weighted duration with value >= ``limit`` (see :class:`TagStatistics`)."""

    def tag_alarm_rows(self, tags: Sequence[str], end_ms: int) -> list[AlarmRow]:
        """Events of alarms on these tags (``source_kind = 'tag'``) before ``end_ms``."""


def _tag_statistics_and_intervals(
    src: StatisticsSource,
    tags: Sequence[str],
    start_ms: int,
    end_ms: int,
    limits: Mapping[str, float | None],
    max_hold_ms: int | None,
) -> tuple[list[TagStatistics], dict[str, list[tuple[int, int]]]]:
    check_history_args(start_ms, end_ms, 1)
    unique = sorted(set(tags))
    alarms = alarm_intervals(src.tag_alarm_rows(unique, end_ms), start_ms, end_ms) if unique else {}
    stats: list[TagStatistics] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    for tag in unique:
        bucket = src.history(tag, start_ms, end_ms, 1) if end_ms > start_ms else []
        limit = limits.get(tag)
        above = None if limit is None else src.above_limit_ms(tag, limit, start_ms, end_ms, max_hold_ms)
        intervals, raised = alarms.get(tag, ([], 0))
        merged = merge_intervals(intervals)
        spans[tag] = merged
        b = bucket[0] if bucket else None
        stats.append(
            TagStatistics(
                tag=tag,
                count=b.count if b else 0,
                min=b.min if b else None,
                max=b.max if b else None,
                avg=b.avg if b else None,
                limit=limit,
                above_limit_ms=above,
                in_alarm_ms=sum(hi - lo for lo, hi in merged),
                alarm_count=raised,
            )
        )
    return stats, spans


def tag_statistics_of(
    src: StatisticsSource,
    tags: Sequence[str],
    start_ms: int,
    end_ms: int,
    *,
    limits: Mapping[str, float | None] | None = None,
    max_hold_ms: int | None = None,
) -> list[TagStatistics]:
    """Statistics per tag, sorted by tag (the body of both stores' ``tag_statistics``)."""
    return _tag_statistics_and_intervals(src, tags, start_ms, end_ms, limits or {}, max_hold_ms)[0]


def area_statistics_of(
    src: StatisticsSource,
    areas: Mapping[str, str],
    start_ms: int,
    end_ms: int,
    *,
    limits: Mapping[str, float | None] | None = None,
    max_hold_ms: int | None = None,
) -> list[AreaStatistics]:
    """Statistics per area from a ``tag -> area`` mapping, sorted by area."""
    stats, spans = _tag_statistics_and_intervals(src, list(areas), start_ms, end_ms, limits or {}, max_hold_ms)
    by_area: dict[str, list[TagStatistics]] = {}
    for s in stats:
        by_area.setdefault(areas[s.tag], []).append(s)
    return [
        AreaStatistics(
            area=area,
            tags=tuple(s.tag for s in members),
            count=sum(s.count for s in members),
            above_limit_ms=sum(s.above_limit_ms or 0 for s in members),
            in_alarm_ms=sum(hi - lo for lo, hi in merge_intervals(i for s in members for i in spans[s.tag])),
            alarm_count=sum(s.alarm_count for s in members),
        )
        for area, members in sorted(by_area.items())
    ]


def compare_of(src: StatisticsSource, tags: Sequence[str], start_ms: int, end_ms: int, points: int) -> Comparison:
    """Several tags downsampled on one shared axis; empty buckets are None.

    Every tag uses the same :func:`plan_buckets` plan, so bucket ``i`` means the same
    interval for all of them.

    Raises:
        ValueError: If ``points < 1`` or ``end_ms < start_ms``.
    """
    check_history_args(start_ms, end_ms, points)
    if end_ms == start_ms:
        return Comparison(start_ms, end_ms, 0, [], {tag: [] for tag in tags})
    plan = plan_buckets(start_ms, end_ms, points)
    axis = plan.timestamps
    index = {ts: i for i, ts in enumerate(axis)}
    values: dict[str, list[HistoryPoint | None]] = {}
    for tag in tags:
        row: list[HistoryPoint | None] = [None] * len(axis)
        for p in src.history(tag, start_ms, end_ms, points):
            row[index[p.ts]] = p
        values[tag] = row
    return Comparison(start_ms, end_ms, plan.width, axis, values)


@runtime_checkable
class TimeSeriesStore(Protocol):
    """What pipelines write and the API reads."""

    def init_schema(self) -> None:
        """Create tables if missing (called once at start-up, never in a constructor)."""

    def write_readings(self, readings: Sequence[SensorReading]) -> int:
        """Insert readings, ignoring any (tag, ts) already stored; returns rows offered."""

    def write_readings_arrow(self, table: pa.Table) -> int:
        """Insert a batch in columnar form (``connectors.batches.READINGS_SCHEMA``); returns rows offered."""

    def write_alarms(self, alarms: Sequence[AlarmEvent]) -> int:
        """Insert alarm events, ignoring duplicates of (alarm_id, ts, state)."""

    def write_deadletters(self, items: Sequence[DeadLetter]) -> int:
        """Keep unusable messages with their reason."""

    def latest(self, tags: Sequence[str] | None = None) -> dict[str, SensorReading]:
        """Most recent reading per tag (all tags when ``tags`` is None)."""

    def history(self, tag: str, start_ms: int, end_ms: int, points: int = 1000) -> list[HistoryPoint]:
        """Readings of one tag in [start, end) downsampled to at most ``points`` buckets.

        Buckets follow :func:`plan_buckets` (from a rollup when wide enough); empty ones are
        omitted; min, max, count and last are exact.
        """

    def history_rows(self, tag: str, start_ms: int, end_ms: int, points: int = 1000) -> list[HistoryRow]:
        """The same buckets as :meth:`history`, as plain tuples (the API's hot path)."""

    def rollups(
        self,
        tag: str,
        interval: RollupInterval,
        start_ms: int,
        end_ms: int,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[HistoryPoint]:
        """Stored rollup buckets of one tag whose start lies in [start, end), oldest first."""

    def compare(self, tags: Sequence[str], start_ms: int, end_ms: int, points: int = 1000) -> Comparison:
        """Several tags on one shared time axis (see :func:`compare_of`)."""

    def tag_statistics(
        self,
        tags: Sequence[str],
        start_ms: int,
        end_ms: int,
        *,
        limits: Mapping[str, float | None] | None = None,
        max_hold_ms: int | None = None,
    ) -> list[TagStatistics]:
        """Count, min/max/avg, duration above the high limit and time in alarm per tag."""

    def area_statistics(
        self,
        areas: Mapping[str, str],
        start_ms: int,
        end_ms: int,
        *,
        limits: Mapping[str, float | None] | None = None,
        max_hold_ms: int | None = None,
    ) -> list[AreaStatistics]:
        """The same per area, from the caller's ``tag -> area`` mapping (stores know no plant)."""

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


class DerivedQueries:
    """Comparison and statistics, the same for every store.

    Built on each store's own history, readings and alarm queries (see
    :class:`StatisticsSource`), so a store only answers the basic questions.
    """

    def compare(self, tags: Sequence[str], start_ms: int, end_ms: int, points: int = 1000) -> Comparison:
        """Several tags downsampled on one shared time axis (missing buckets are None)."""
        return compare_of(cast(StatisticsSource, self), tags, start_ms, end_ms, points)

    def tag_statistics(
        self,
        tags: Sequence[str],
        start_ms: int,
        end_ms: int,
        *,
        limits: Mapping[str, float | None] | None = None,
        max_hold_ms: int | None = None,
    ) -> list[TagStatistics]:
        """Count, min/max/avg, duration above the high limit and time in alarm, per tag."""
        src = cast(StatisticsSource, self)
        return tag_statistics_of(src, tags, start_ms, end_ms, limits=limits, max_hold_ms=max_hold_ms)

    def area_statistics(
        self,
        areas: Mapping[str, str],
        start_ms: int,
        end_ms: int,
        *,
        limits: Mapping[str, float | None] | None = None,
        max_hold_ms: int | None = None,
    ) -> list[AreaStatistics]:
        """The same per area, from the caller's ``tag -> area`` mapping."""
        src = cast(StatisticsSource, self)
        return area_statistics_of(src, areas, start_ms, end_ms, limits=limits, max_hold_ms=max_hold_ms)
