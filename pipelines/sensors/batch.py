"""Vectorised fast path of the alarm engine: a whole batch of readings at numpy speed.

At 10,000 tags x 1 Hz almost every reading is unremarkable: a good value well inside its
limits, of a tag with no alarm active or pending. For such a reading
:func:`models.alarm_engine.process` only moves the tag's ``last_ts``/``prev_ts``/``prev_value``
forward. This module keeps that per-tag memory in columns (:class:`BatchState`), finds with a
few array comparisons the rows that *could* change alarm state, runs only those through the
per-tag :func:`~models.alarm_engine.process`, and updates all the others in bulk.

A row is sent through ``process`` (a *candidate*) when any of these holds:

* its tag is busy: an alarm active, a delay pending, or activations in the chattering window;
* it is not usable: quality neither good nor uncertain, value not finite or outside the range;
* the value trips a limit as an inactive alarm would see it (``>= min(H, HH)``,
  ``<= max(L, LL)``) or lies outside the deviation band;
* the rate of change from the previous good reading exceeds the ROC limit.

Otherwise ``process`` would provably emit nothing and leave the alarms empty, so the bulk
update is exact: the result equals running ``process`` row by row, event for event (a property
test checks this on random batches). The comparisons are the same IEEE operations in the same
order as in ``process``, so no rounding can tell the two apart.

Several readings of one tag in a batch are handled in *rounds*: round ``k`` holds the ``k``-th
reading of every tag, so each round has each tag at most once and updates it with plain fancy
indexing. Small rounds (a long burst of one tag) go row by row instead, where numpy's per-call
overhead would cost more than it saves. Events come back in row order.

Everything here is pure: functions return new state and never touch I/O.

Example:
    >>> from models.alarm_engine import LimitAlarm, TagAlarmConfig
    >>> compiled = CompiledConfigs.build([TagAlarmConfig(tag="TT-1", lo=0, hi=200,
    ...                                   limits=(LimitAlarm("H", 85.0),))])
    >>> cols = ReadingColumns.from_lists(compiled, ["TT-1", "TT-1"], [1000, 2000], [20.0, 90.0])
    >>> result = process_batch(BatchState.fresh(compiled), cols, compiled)
    >>> [(e.alarm_id, e.state.value, e.ts) for e in result.events]
    [('TT-1:H', 'active', 2000)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from models.alarm_engine import (
    USABLE_QUALITIES,
    AlarmSlot,
    TagAlarmConfig,
    TagAlarmState,
    process,
)
from models.contracts import AlarmEvent, Quality, SensorReading

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
I8 = npt.NDArray[np.int8]

QUALITIES: Final[tuple[Quality, ...]] = tuple(Quality)
"""Quality of each code in a quality column (the code is the index)."""
QUALITY_CODE: Final[Mapping[str, int]] = {q.value: i for i, q in enumerate(QUALITIES)}
_USABLE_CODE: Final = np.array([q in USABLE_QUALITIES for q in QUALITIES], dtype=np.bool_)
_OUT_OF_RANGE: Final = QUALITY_CODE[Quality.OUT_OF_RANGE.value]
_QUALITY_NAMES: Final = pa.array([q.value for q in QUALITIES], pa.string())
_MS_PER_MIN: Final = 60_000.0
_GOOD: Final = QUALITY_CODE[Quality.GOOD.value]
_STALE: Final = QUALITY_CODE[Quality.STALE.value]
_FLATLINE: Final = QUALITY_CODE[Quality.FLATLINE.value]
_NEVER: Final = 2**62
"""Flat-line count / stale age of a tag without quality rules: never reached."""
MIN_VECTOR_ROUND: Final = 32
"""Rounds with fewer rows than this go row by row (numpy call overhead beats the gain)."""


@dataclass(frozen=True, eq=False)
class CompiledConfigs:
    """The alarm configs of all tags as columns, indexed by tag number.

    Attributes:
        tags: Tag of each index.
        index: Index of each tag.
        configs: Config of each index.
        lo: Instrument range low end.
        hi: Instrument range high end.
        high_min: Lowest of the H/HH limits (``+inf`` if none): at or above, an alarm may raise.
        low_max: Highest of the L/LL limits (``-inf`` if none).
        dev_setpoint: Deviation setpoint (0 if none).
        dev_band: Deviation band (``+inf`` if none, so nothing deviates).
        roc_limit: ROC limit per minute (``+inf`` if none).
        has_roc: Whether the tag has a ROC alarm.
        flatline_count: Identical good values in a row that make a reading flat-lined.
        stale_after_ms: A good reading older than this by the wall clock is stale.
    """

    tags: tuple[str, ...]
    index: Mapping[str, int]
    configs: tuple[TagAlarmConfig, ...]
    lo: F64
    hi: F64
    high_min: F64
    low_max: F64
    dev_setpoint: F64
    dev_band: F64
    roc_limit: F64
    has_roc: B
    flatline_count: I64
    stale_after_ms: I64

    @classmethod
    def build(
        cls, configs: Iterable[TagAlarmConfig], quality: Mapping[str, tuple[int, int]] | None = None
    ) -> CompiledConfigs:
        """Compile configs once; reuse the result for every batch.

        Args:
            configs: The alarm configuration of every tag.
            quality: Tag -> ``(flatline_count, stale_after_ms)`` of the quality checks
                (:class:`models.limits.TagLimits`); tags left out are never flat-lined or stale.

        Raises:
            ValueError: If a tag appears twice.
        """
        cfgs = tuple(configs)
        tags = tuple(c.tag for c in cfgs)
        if len(set(tags)) != len(tags):
            msg = "each tag may have one alarm config"
            raise ValueError(msg)
        inf = math.inf

        def col(values: Iterable[float]) -> F64:
            return np.fromiter(values, dtype=np.float64, count=len(cfgs))

        return cls(
            tags=tags,
            index={t: i for i, t in enumerate(tags)},
            configs=cfgs,
            lo=col(c.lo for c in cfgs),
            hi=col(c.hi for c in cfgs),
            high_min=col(min((a.limit for a in c.limits if a.is_high), default=inf) for c in cfgs),
            low_max=col(max((a.limit for a in c.limits if not a.is_high), default=-inf) for c in cfgs),
            dev_setpoint=col(c.deviation[0] if c.deviation else 0.0 for c in cfgs),
            dev_band=col(c.deviation[1] if c.deviation else inf for c in cfgs),
            roc_limit=col(c.roc_limit_per_min if c.roc_limit_per_min is not None else inf for c in cfgs),
            has_roc=np.array([c.roc_limit_per_min is not None for c in cfgs], dtype=np.bool_),
            flatline_count=np.fromiter(
                ((quality or {}).get(c.tag, (_NEVER, _NEVER))[0] for c in cfgs), dtype=np.int64, count=len(cfgs)
            ),
            stale_after_ms=np.fromiter(
                ((quality or {}).get(c.tag, (_NEVER, _NEVER))[1] for c in cfgs), dtype=np.int64, count=len(cfgs)
            ),
        )

    def __len__(self) -> int:
        """Number of tags."""
        return len(self.tags)


@dataclass(frozen=True, eq=False)
class ReadingColumns:
    """A batch of readings as columns (``tag`` as an index into :class:`CompiledConfigs`).

    Attributes:
        tag: Tag index per row; ``-1`` for a tag without config (to dead-letter).
        ts: Reading time, epoch ms.
        value: Value.
        quality: Quality code per row (index into :data:`QUALITIES`).
    """

    tag: I64
    ts: I64
    value: F64
    quality: I8

    def __len__(self) -> int:
        """Number of rows."""
        return int(self.ts.shape[0])

    @classmethod
    def from_lists(
        cls,
        compiled: CompiledConfigs,
        tags: Sequence[str],
        ts: Sequence[int] | I64,
        value: Sequence[float] | F64,
        quality: Sequence[str] | None = None,
    ) -> ReadingColumns:
        """Columns from plain sequences (quality names; all good if omitted)."""
        get = compiled.index.get
        n = len(tags)
        q = (
            np.zeros(n, dtype=np.int8)
            if quality is None
            else np.fromiter((QUALITY_CODE[x] for x in quality), dtype=np.int8, count=n)
        )
        return cls(
            tag=np.fromiter((get(t, -1) for t in tags), dtype=np.int64, count=n),
            ts=np.asarray(ts, dtype=np.int64),
            value=np.asarray(value, dtype=np.float64),
            quality=q,
        )


@dataclass(frozen=True, eq=False)
class BatchState:
    """The engine state of every tag, columnar; the busy few keep their alarm slots.

    ``has_*`` say whether the matching column holds a value (``None`` in :class:`TagAlarmState`).
    Treat as immutable: :func:`process_batch` copies before it writes.
    """

    last_ts: I64
    has_last: B
    prev_ts: I64
    prev_value: F64
    has_prev: B
    busy: B
    last_value: F64
    has_value: B
    repeats: I64
    alarms: Mapping[int, Mapping[str, AlarmSlot]] = field(default_factory=dict)

    @classmethod
    def fresh(cls, compiled: CompiledConfigs) -> BatchState:
        """State of tags never seen."""
        n = len(compiled)
        return cls(
            last_ts=np.zeros(n, np.int64),
            has_last=np.zeros(n, np.bool_),
            prev_ts=np.zeros(n, np.int64),
            prev_value=np.zeros(n, np.float64),
            has_prev=np.zeros(n, np.bool_),
            busy=np.zeros(n, np.bool_),
            last_value=np.zeros(n, np.float64),
            has_value=np.zeros(n, np.bool_),
            repeats=np.zeros(n, np.int64),
        )

    @classmethod
    def from_states(cls, compiled: CompiledConfigs, states: Mapping[str, TagAlarmState]) -> BatchState:
        """Columnar state from per-tag states (e.g. a recovery snapshot of the row-by-row flow)."""
        s = cls.fresh(compiled)
        alarms: dict[int, Mapping[str, AlarmSlot]] = {}
        for tag, st in states.items():
            i = compiled.index.get(tag)
            if i is None:
                msg = f"state of tag {tag!r}, which has no alarm config"
                raise ValueError(msg)
            _put(s, i, st, alarms)
        return replace(s, alarms=alarms)

    def tag_state(self, i: int) -> TagAlarmState:
        """The :class:`TagAlarmState` of tag index ``i``."""
        return TagAlarmState(
            last_ts=int(self.last_ts[i]) if self.has_last[i] else None,
            prev_ts=int(self.prev_ts[i]) if self.has_prev[i] else None,
            prev_value=float(self.prev_value[i]) if self.has_prev[i] else None,
            alarms=self.alarms.get(i, {}),
        )

    def to_states(self, compiled: CompiledConfigs) -> dict[str, TagAlarmState]:
        """Per-tag states of every tag seen (for snapshots or the row-by-row flow)."""
        return {compiled.tags[i]: self.tag_state(int(i)) for i in np.flatnonzero(self.has_last)}

    def copy(self) -> BatchState:
        """A state sharing nothing mutable with this one."""
        return BatchState(
            self.last_ts.copy(),
            self.has_last.copy(),
            self.prev_ts.copy(),
            self.prev_value.copy(),
            self.has_prev.copy(),
            self.busy.copy(),
            self.last_value.copy(),
            self.has_value.copy(),
            self.repeats.copy(),
            dict(self.alarms),
        )


def _put(s: BatchState, i: int, st: TagAlarmState, alarms: dict[int, Mapping[str, AlarmSlot]]) -> None:
    """Write one tag's state into (already copied) columns."""
    s.has_last[i] = st.last_ts is not None
    s.last_ts[i] = st.last_ts if st.last_ts is not None else 0
    has_prev = st.prev_ts is not None and st.prev_value is not None
    s.has_prev[i] = has_prev
    s.prev_ts[i] = st.prev_ts if st.prev_ts is not None else 0
    s.prev_value[i] = st.prev_value if st.prev_value is not None else 0.0
    s.busy[i] = bool(st.alarms)
    if st.alarms:
        alarms[i] = st.alarms
    else:
        alarms.pop(i, None)


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Outcome of one batch.

    Attributes:
        state: The new state.
        events: Alarm events in row order, exactly as row-by-row ``process`` would give them.
        unknown_rows: Rows whose tag has no config (the caller dead-letters them).
        candidates: How many rows went through the per-tag engine (for monitoring).
        quality: The pipeline's quality verdict per row (codes into :data:`QUALITIES`).
    """

    state: BatchState
    events: list[AlarmEvent]
    unknown_rows: I64
    candidates: int
    quality: I8


def process_batch(
    state: BatchState, cols: ReadingColumns, compiled: CompiledConfigs, now_ms: int | None = None
) -> BatchResult:
    """Judge a batch: quality verdict per row, then the alarm engine on the flagged readings.

    The same result as the per-reading path (:func:`models.limits.quality_of` then
    :func:`~models.alarm_engine.process`, row by row): a duplicate of a tag's newest timestamp
    passes unchanged and changes nothing; an older reading is flagged stale and changes
    nothing; a good value outside the range is out of range; a good reading older than its
    tag's ``stale_after_ms`` by ``now_ms`` is stale; the ``flatline_count``-th identical good
    value in a row is flat-lined.

    Args:
        state: State before the batch (not modified).
        cols: The readings, in arrival order.
        compiled: The configs the state and columns were built against.
        now_ms: Wall clock for staleness; ``None`` judges by event time only, so a recovery
            replay re-derives exactly the same verdicts and events.

    Returns:
        New state, events in row order, unknown rows, the candidate count and the quality.
    """
    new = state.copy()
    alarms = cast("dict[int, Mapping[str, AlarmSlot]]", new.alarms)  # copy() made it a fresh dict
    known = cols.tag >= 0
    rows = np.flatnonzero(known)
    unknown = np.flatnonzero(~known)
    out: list[tuple[int, list[AlarmEvent]]] = []
    candidates = 0
    quality = cols.quality.copy()
    for rr in _rounds(cols.tag, rows):
        fresh = _judge_quality(new, cols, compiled, rr, now_ms, quality)
        if rr.shape[0] < MIN_VECTOR_ROUND:
            for row in rr[fresh].tolist():
                candidates += _one(new, alarms, cols, quality, compiled, row, out)
        else:
            candidates += _vector_round(new, alarms, cols, quality, compiled, rr[fresh], out)
    if len(out) > 1:
        out.sort(key=lambda pair: pair[0])
    events = [e for _, es in out for e in es]
    return BatchResult(state=new, events=events, unknown_rows=unknown, candidates=candidates, quality=quality)


def _judge_quality(
    s: BatchState, cols: ReadingColumns, compiled: CompiledConfigs, rr: I64, now_ms: int | None, quality: I8
) -> B:
    """Write the quality verdict of one round into ``quality``; return which rows are new.

    Updates the flat-line memory (last value, repeats) of the new rows in place.
    """
    t = cols.tag[rr]
    ts = cols.ts[rr]
    v = cols.value[rr]
    seen = s.has_last[t]
    last = s.last_ts[t]
    older = seen & (ts < last)
    fresh = ~seen | (ts > last)
    q = cols.quality[rr]
    good = fresh & (q == _GOOD)
    with np.errstate(invalid="ignore"):
        oor = good & ~((v >= compiled.lo[t]) & (v <= compiled.hi[t]))
    same = s.has_value[t] & (s.last_value[t] == v)
    ok = good & ~oor
    stale = ok & (now_ms - ts > compiled.stale_after_ms[t]) if now_ms is not None else np.zeros_like(ok)
    flat = ok & ~stale & same & (s.repeats[t] + 2 >= compiled.flatline_count[t])
    verdict = q.copy()
    verdict[oor] = _OUT_OF_RANGE
    verdict[stale | older] = _STALE
    verdict[flat] = _FLATLINE
    quality[rr] = verdict
    tf = t[fresh]
    s.repeats[tf] = np.where(same[fresh], s.repeats[tf] + 1, 0)
    s.last_value[tf] = v[fresh]
    s.has_value[tf] = True
    return fresh


def _rounds(tag: I64, rows: I64) -> list[I64]:
    """Split rows into rounds with each tag at most once, rows ascending within a round."""
    if rows.shape[0] == 0:
        return []
    t = tag[rows]
    order = np.argsort(t, kind="stable")
    st = t[order]
    first = np.ones(st.shape[0], dtype=np.bool_)
    first[1:] = st[1:] != st[:-1]
    if first.all():
        return [rows]
    pos = np.arange(st.shape[0])
    rank_sorted = pos - np.maximum.accumulate(np.where(first, pos, 0))
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.cumsum(np.bincount(rank))[:-1]
    return [rows[chunk] for chunk in np.split(by_rank, bounds)]


def _one(
    s: BatchState,
    alarms: dict[int, Mapping[str, AlarmSlot]],
    cols: ReadingColumns,
    quality: I8,
    compiled: CompiledConfigs,
    row: int,
    out: list[tuple[int, list[AlarmEvent]]],
) -> int:
    """One row through the per-tag engine, state read from and written back to the columns."""
    i = int(cols.tag[row])
    st = s.tag_state(i)  # s.alarms is ``alarms``
    reading = SensorReading(
        tag=compiled.tags[i],
        ts=int(cols.ts[row]),
        value=float(cols.value[row]),
        quality=QUALITIES[int(quality[row])],
    )
    new_st, events = process(st, reading, compiled.configs[i])
    if new_st is not st:
        _put(s, i, new_st, alarms)
    if events:
        out.append((row, events))
    return 1


def _vector_round(
    s: BatchState,
    alarms: dict[int, Mapping[str, AlarmSlot]],
    cols: ReadingColumns,
    quality: I8,
    compiled: CompiledConfigs,
    rr: I64,
    out: list[tuple[int, list[AlarmEvent]]],
) -> int:
    """New rows of one round (each tag at most once): bulk-update the quiet ones, engine the rest."""
    t = cols.tag[rr]
    ts = cols.ts[rr]
    v = cols.value[rr]
    with np.errstate(all="ignore"):
        valid = ~s.has_last[t] | (ts > s.last_ts[t])
        ok = _USABLE_CODE[quality[rr]] & np.isfinite(v) & (v >= compiled.lo[t]) & (v <= compiled.hi[t])
        trip = (v >= compiled.high_min[t]) | (v <= compiled.low_max[t])
        trip |= np.abs(v - compiled.dev_setpoint[t]) > compiled.dev_band[t]
        roc = s.has_prev[t] & compiled.has_roc[t]
        if roc.any():
            rate = np.abs(v - s.prev_value[t]) * _MS_PER_MIN / (ts - s.prev_ts[t]).astype(np.float64)
            trip |= roc & (rate > compiled.roc_limit[t])
    cand = valid & (s.busy[t] | ~ok | trip)
    quiet = valid & ~cand
    tq = t[quiet]
    s.last_ts[tq] = ts[quiet]
    s.has_last[tq] = True
    s.prev_ts[tq] = ts[quiet]
    s.prev_value[tq] = v[quiet]
    s.has_prev[tq] = True
    picked = rr[cand]
    for row in picked.tolist():
        _one(s, alarms, cols, quality, compiled, row, out)
    return int(picked.shape[0])


def quality_names(codes: I8) -> pa.Array:
    """Quality codes as the Arrow string column the store expects."""
    return pc.take(_QUALITY_NAMES, pa.array(codes.astype(np.int32)))
