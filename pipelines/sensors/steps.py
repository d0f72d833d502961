"""Pure steps of the sensor flow: one scan, poll or Kafka batch at a time.

A plant of 10,000 tags at 1 Hz delivers 10,000 readings a second in a few large batches (an
OPC UA publish, a Modbus poll cycle, a Kafka fetch). Every step here takes and returns a
whole batch as columns, so the per-reading Python cost is a handful of array operations:

* :func:`parse` turns whatever a source delivered (JSON bytes of one reading or an array,
  contract structs, an Arrow table) into a :class:`SensorBatch` and dead-letters, with a
  reason, everything that cannot be used: malformed JSON, an unknown tag, a timestamp
  outside the accepted window, a payload over the size limit. It never raises.
* :func:`shard` splits a batch by tag shard, the key of the per-tag state.
* :func:`judge` runs the quality checks and the vectorised alarm engine
  (:mod:`pipelines.sensors.batch`) over one shard's batch.
* :func:`flood` passes a batch's alarm events through ISA-18.2 flood detection.
* :func:`watch_sources` raises a communication-failure alarm (通讯故障) for a source that
  stopped sending and returns it when data flows again.

Everything is a function of its arguments (time comes in as an argument), so the steps are
tested without a Bytewax runtime and a recovery replay gives the same result.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import msgspec
import numpy as np
import pyarrow as pa

from connectors.batches import READINGS_SCHEMA, AlarmBatch, RawRecord, ReadingBatch
from models import alarm_flood as floods
from models.alarm_engine import AlarmSlot, TagAlarmConfig
from models.contracts import (
    SENSOR_READING,
    AlarmEvent,
    AlarmPriority,
    AlarmState,
    DeadLetter,
    SensorReading,
    dead_letter,
    decode_message,
)
from models.limits import TagLimits
from pipelines.sensors.batch import (
    I64,
    QUALITY_CODE,
    BatchState,
    CompiledConfigs,
    ReadingColumns,
    process_batch,
    quality_names,
)

RAW_KEEP_BYTES: Final = 1024
"""How much of an oversized payload a dead letter keeps (the rest is counted, not stored)."""
_I64_MAX: Final = 2**63 - 1
COMM: Final = "COMM"
"""Alarm kind of a source that stopped sending (通讯故障)."""


@dataclass(frozen=True, slots=True)
class IngestRules:
    """What the flow accepts; everything else is dead-lettered with the reason.

    Attributes:
        max_payload_bytes: Largest message (one reading or one array of them).
        max_future_ms: A reading stamped further ahead of the wall clock is refused: one
            reading dated 2100 would otherwise freeze its tag's latest value and blind its
            alarms (every later, true reading would look older).
        min_ts_ms: Earliest accepted time (2000-01-01): a zero or seconds-based clock is a
            device fault, not a reading.
        source_timeout_ms: A source silent this long is in communication failure.
    """

    max_payload_bytes: int = 1 << 20
    max_future_ms: int = 5 * 60_000
    min_ts_ms: int = 946_684_800_000
    source_timeout_ms: int = 30_000


class _Row(msgspec.Struct, gc=False, frozen=True):
    """One element of a batched JSON array, as cheap to decode as msgspec allows."""

    tag: str
    ts: int
    value: float
    quality: str = "good"
    source: str = ""


_ROWS: Final = msgspec.json.Decoder(list[_Row])
_ANY: Final = msgspec.json.Decoder()
_json = msgspec.json.Encoder()


@dataclass(frozen=True, eq=False)
class FlowPlan:
    """Everything static the steps need, compiled once from the plant's tags.

    Attributes:
        specs: Tag -> limits and quality rules.
        compiled: The alarm configs as columns (tag index = row of every column).
        tag_names: Tag of each index, as an Arrow array (for the stored table).
        shards: Number of state shards (Kafka partitions / workers in distributed mode).
        shard_of: Shard of each tag index (crc32 of the tag, stable across processes).
        rules: What the flow accepts.
    """

    specs: Mapping[str, TagLimits]
    compiled: CompiledConfigs
    tag_names: pa.Array
    shards: int
    shard_of: I64
    rules: IngestRules

    @classmethod
    def build(
        cls,
        specs: Mapping[str, TagLimits],
        *,
        shards: int = 1,
        rules: IngestRules | None = None,
        configs: Sequence[TagAlarmConfig] | None = None,
    ) -> FlowPlan:
        """Compile the plan; ``configs`` overrides the alarm configs derived from ``specs``.

        Raises:
            ValueError: If ``shards`` < 1.
        """
        if shards < 1:
            msg = f"shards must be >= 1, got {shards}"
            raise ValueError(msg)
        cfgs = list(configs) if configs is not None else [TagAlarmConfig.from_tag_limits(s) for s in specs.values()]
        quality = {t: (s.flatline_count, s.stale_after_ms) for t, s in specs.items()}
        compiled = CompiledConfigs.build(cfgs, quality)
        shard_of = np.fromiter((zlib.crc32(t.encode()) % shards for t in compiled.tags), np.int64, len(compiled))
        return cls(
            specs=specs,
            compiled=compiled,
            tag_names=pa.array(compiled.tags, pa.string()),
            shards=shards,
            shard_of=shard_of,
            rules=rules or IngestRules(),
        )

    def shard_key(self, tag: str) -> str:
        """Shard of a tag (Kafka producers key raw readings by tag; this is the flow's key)."""
        return str(zlib.crc32(tag.encode()) % self.shards)


@dataclass(frozen=True, eq=False)
class SensorBatch:
    """One delivery of readings as columns, plus what could not be used.

    Attributes:
        cols: Usable readings (known tag, accepted time), tag as index into the plan.
        source: Source of each row (Arrow strings).
        dead: Dead letters of this delivery, with reasons.
        received_ms: Wall time the batch was parsed (source watchdog).
        shard: The shard key, once :func:`shard` split the batch.
    """

    cols: ReadingColumns
    source: pa.Array
    dead: tuple[DeadLetter, ...] = ()
    received_ms: int = 0
    shard: str = "0"

    def __len__(self) -> int:
        """Number of usable readings."""
        return len(self.cols)


def _empty_cols() -> ReadingColumns:
    return ReadingColumns(
        tag=np.zeros(0, np.int64), ts=np.zeros(0, np.int64), value=np.zeros(0, np.float64), quality=np.zeros(0, np.int8)
    )


def _text(raw: bytes | str, limit: int) -> str:
    if isinstance(raw, str):
        return raw[:limit]
    return raw[:limit].decode("utf-8", errors="replace")


# -- parse --------------------------------------------------------------------------------------


def parse(plan: FlowPlan, now_ms: int, item: Any) -> SensorBatch:
    """Whatever a source delivered -> usable readings as columns + dead letters. Never raises."""
    rows: list[_Row] = []
    dead: list[DeadLetter] = []
    try:
        _collect(plan, item, now_ms, rows, dead)
    except Exception as err:  # noqa: BLE001 - no input may stop the flow; the reason is kept
        rows = []
        dead = [
            dead_letter(SENSOR_READING, _describe(item), f"could not parse: {type(err).__name__}: {err}", ts=now_ms)
        ]
    return _columns(plan, rows, dead, now_ms)


def _describe(item: Any) -> str:
    if isinstance(item, bytes | str):
        return _text(item, RAW_KEEP_BYTES)
    return repr(item)[:RAW_KEEP_BYTES]


def _collect(plan: FlowPlan, item: Any, now_ms: int, rows: list[_Row], dead: list[DeadLetter]) -> None:
    if isinstance(item, SensorReading):
        rows.append(_Row(item.tag, item.ts, item.value, str(item.quality), item.source))
    elif isinstance(item, DeadLetter):
        dead.append(item)
    elif isinstance(item, RawRecord):
        _collect_json(plan, item.value, item.ts, rows, dead)
    elif isinstance(item, bytes | bytearray | memoryview | str):
        _collect_json(plan, bytes(item) if not isinstance(item, str) else item, now_ms, rows, dead)
    elif isinstance(item, list | tuple):
        for element in item:
            _collect(plan, element, now_ms, rows, dead)
    elif isinstance(item, pa.Table):
        _collect_arrow(item, rows)
    else:
        dead.append(dead_letter(SENSOR_READING, _describe(item), f"unsupported payload type {type(item).__name__}"))


def _collect_json(plan: FlowPlan, payload: bytes | str, now_ms: int, rows: list[_Row], dead: list[DeadLetter]) -> None:
    size = len(payload.encode() if isinstance(payload, str) else payload)
    limit = plan.rules.max_payload_bytes
    if size > limit:
        reason = f"payload of {size:,} bytes exceeds the {limit:,}-byte limit; first {RAW_KEEP_BYTES} bytes kept"
        dead.append(dead_letter(SENSOR_READING, _text(payload, RAW_KEEP_BYTES), reason, ts=now_ms))
        return
    head = payload.lstrip()[:1]
    if head in (b"[", "["):
        try:
            rows.extend(_ROWS.decode(payload))
            return
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass  # some element is bad: sort them out one by one below
        try:
            elements = _ANY.decode(payload)
        except (msgspec.DecodeError, RecursionError) as err:
            dead.append(dead_letter(SENSOR_READING, payload, f"malformed JSON: {err}", ts=now_ms))
            return
        for element in elements:
            raw = _json.encode(element)
            _one_json(raw, now_ms, rows, dead)
        return
    _one_json(payload, now_ms, rows, dead)


def _one_json(raw: bytes | str, now_ms: int, rows: list[_Row], dead: list[DeadLetter]) -> None:
    message = decode_message(SENSOR_READING, raw, received_ts=now_ms)
    if isinstance(message, SensorReading):
        rows.append(_Row(message.tag, message.ts, message.value, str(message.quality), message.source))
    elif isinstance(message, DeadLetter):
        dead.append(message)
    else:  # pragma: no cover - the decoder only returns those two
        dead.append(dead_letter(SENSOR_READING, raw, "not a reading", ts=now_ms))


def _collect_arrow(table: pa.Table, rows: list[_Row]) -> None:
    d = table.to_pydict()
    n = table.num_rows
    quality = d.get("quality", ["good"] * n)
    source = d.get("source", [""] * n)
    rows.extend(
        _Row(t, ts, v, q, s) for t, ts, v, q, s in zip(d["tag"], d["ts"], d["value"], quality, source, strict=True)
    )


def _columns(plan: FlowPlan, rows: list[_Row], dead: list[DeadLetter], now_ms: int) -> SensorBatch:
    """Validate rows in bulk; the few bad ones become dead letters."""
    if not rows:
        return SensorBatch(_empty_cols(), pa.array([], pa.string()), tuple(dead), now_ms)
    n = len(rows)
    get = plan.compiled.index.get
    rules = plan.rules
    tag = np.fromiter((get(r.tag, -1) for r in rows), np.int64, n)
    big: list[int] = []
    try:
        ts = np.fromiter((r.ts for r in rows), np.int64, n)
    except OverflowError:  # rare: only then look for the times int64 cannot hold
        big = [i for i, r in enumerate(rows) if not -_I64_MAX <= r.ts <= _I64_MAX]
        ts = np.fromiter((0 if i in big else r.ts for i, r in enumerate(rows)), np.int64, n)
    value = np.fromiter((r.value for r in rows), np.float64, n)
    codes = QUALITY_CODE
    qual = np.fromiter((codes.get(r.quality, -1) for r in rows), np.int16, n)
    latest = now_ms + rules.max_future_ms
    bad = (tag < 0) | (ts < rules.min_ts_ms) | (ts > latest) | (qual < 0)
    if big:
        bad[big] = True
    if bad.any():
        big_set = set(big)
        for i in np.flatnonzero(bad).tolist():
            r = rows[i]
            if r.tag not in plan.compiled.index:
                reason = f"unknown tag {r.tag!r}"
            elif i in big_set or r.ts > latest:
                reason = f"ts {r.ts} is more than {rules.max_future_ms // 1000} s in the future (now {now_ms})"
            elif r.ts < rules.min_ts_ms:
                reason = f"ts {r.ts} is before 2000-01-01: not an epoch-ms device time"
            else:
                reason = f"unknown quality {r.quality!r}"
            dead.append(dead_letter(SENSOR_READING, _json.encode(r), reason, ts=now_ms))
        keep = np.flatnonzero(~bad)
        rows = [rows[i] for i in keep.tolist()]
        tag, ts, value, qual = tag[keep], ts[keep], value[keep], qual[keep]
    cols = ReadingColumns(tag=tag, ts=ts, value=value, quality=qual.astype(np.int8))
    return SensorBatch(cols, pa.array([r.source for r in rows], pa.string()), tuple(dead), now_ms)


# -- shard ------------------------------------------------------------------------------------


def shard(plan: FlowPlan, batch: SensorBatch) -> list[tuple[str, SensorBatch]]:
    """Split a batch by shard; dead letters travel with the first piece (never dropped)."""
    if plan.shards == 1 or len(batch) == 0:
        return [("0", _with_shard(batch, "0"))]
    s = plan.shard_of[batch.cols.tag]
    out: list[tuple[str, SensorBatch]] = []
    dead = batch.dead
    for k in np.unique(s).tolist():
        rows = np.flatnonzero(s == k)
        c = batch.cols
        cols = ReadingColumns(tag=c.tag[rows], ts=c.ts[rows], value=c.value[rows], quality=c.quality[rows])
        key = str(k)
        out.append((key, SensorBatch(cols, batch.source.take(pa.array(rows)), dead, batch.received_ms, key)))
        dead = ()
    return out


def _with_shard(batch: SensorBatch, key: str) -> SensorBatch:
    return SensorBatch(batch.cols, batch.source, batch.dead, batch.received_ms, key)


# -- judge ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Judged:
    """One shard's batch after quality and alarms: what the sinks and flood detection get.

    Attributes:
        readings: The judged readings and the batch's dead letters.
        events: Alarm events raised or returned, in row order (before flood detection).
        newest_ts: Newest reading time of the batch (flood detection's clock), if any.
        sources: Source -> wall time the batch was received (the source watchdog's input).
    """

    readings: ReadingBatch
    events: tuple[AlarmEvent, ...]
    newest_ts: int | None
    sources: Mapping[str, int] = field(default_factory=dict)


def judge(
    plan: FlowPlan, now_ms: int | None, state: BatchState | None, batch: SensorBatch
) -> tuple[BatchState, Judged]:
    """Quality verdict and alarm engine over one shard's batch.

    ``now_ms`` is the wall clock for staleness, or ``None`` to judge by event time only (the
    distributed flow, so that a recovery replay re-derives identical events).
    """
    compiled = plan.compiled
    state = state or BatchState.fresh(compiled)
    cols = batch.cols
    if len(cols) == 0:
        empty = pa.Table.from_batches([], schema=READINGS_SCHEMA)
        return state, Judged(ReadingBatch(batch.shard, empty, batch.dead), (), None, {})
    result = process_batch(state, cols, compiled, now_ms)
    table = pa.Table.from_arrays(
        [
            plan.tag_names.take(pa.array(cols.tag)),
            pa.array(cols.ts),
            pa.array(cols.value),
            quality_names(result.quality),
            batch.source,
        ],
        schema=READINGS_SCHEMA,
    )
    sources = {s: batch.received_ms for s in batch.source.unique().to_pylist()}
    newest = int(cols.ts.max())
    return result.state, Judged(ReadingBatch(batch.shard, table, batch.dead), tuple(result.events), newest, sources)


# -- flood ------------------------------------------------------------------------------------


def flood(
    positions: Mapping[str, str], state: floods.FloodState | None, judged: tuple[tuple[AlarmEvent, ...], int | None]
) -> tuple[floods.FloodState, AlarmBatch]:
    """Flood detection of one batch's events; the batch's newest reading time ends old floods."""
    events, newest = judged
    state = state or floods.FloodState()
    annunciated: list[AlarmEvent] = []
    held: list[AlarmEvent] = []
    if events:
        state, out = floods.step(state, events, positions)
        annunciated += out.annunciated
        held += out.recorded_only
    if newest is not None:
        state, out = floods.tick(state, newest)
        annunciated += out.annunciated
    return state, AlarmBatch(tuple(annunciated), tuple(held))


# -- source watchdog --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceWatch:
    """Last time each source delivered, and which are in communication failure."""

    last_seen: Mapping[str, int] = field(default_factory=dict)
    failed: frozenset[str] = frozenset()


def comm_event(source: str, state: AlarmState, now_ms: int, timeout_ms: int) -> AlarmEvent:
    """The 通讯故障 alarm of a source (one alarm per source, not one per tag)."""
    verb = "通讯故障" if state == AlarmState.ACTIVE else "通讯恢复"
    detail = f"超过 {timeout_ms / 1000:g} s 无数据" if state == AlarmState.ACTIVE else "数据恢复"
    return AlarmEvent(
        alarm_id=f"{source}:{COMM}",
        source_kind="source",
        source_id=source,
        kind=COMM,
        priority=AlarmPriority.HIGH,
        state=state,
        ts=now_ms,
        message=f"数据源 {source} {verb}: {detail}",
    )


def watch_sources(
    timeout_ms: int, state: SourceWatch | None, seen: Mapping[str, int], now_ms: int
) -> tuple[SourceWatch, list[AlarmEvent]]:
    """Record deliveries (``seen``: source -> wall time) and judge silence at ``now_ms``.

    A source silent for more than ``timeout_ms`` raises its 通讯故障 alarm once; its next
    delivery returns it.
    """
    state = state or SourceWatch()
    last = dict(state.last_seen)
    failed = set(state.failed)
    events: list[AlarmEvent] = []
    for source, at in seen.items():
        last[source] = max(at, last.get(source, at))
        if source in failed:
            failed.discard(source)
            events.append(comm_event(source, AlarmState.RETURNED, at, timeout_ms))
    for source, at in last.items():
        if source not in failed and now_ms - at > timeout_ms:
            failed.add(source)
            events.append(comm_event(source, AlarmState.ACTIVE, now_ms, timeout_ms))
    return SourceWatch(last, frozenset(failed)), events


Clock = Callable[[], int]


def seed_state(plan: FlowPlan, active: Iterable[AlarmEvent]) -> BatchState:
    """Engine state that knows which process alarms are active (e.g. from the store at start).

    After a crash the embedded flow starts from this instead of from nothing, so an alarm
    active at the crash returns exactly once when its condition clears, and a condition still
    present does not raise a second activation. Readings not newer than the alarm's event
    are ignored as already judged.
    """
    state = BatchState.fresh(plan.compiled)
    alarms: dict[int, dict[str, AlarmSlot]] = {}
    for event in active:
        i = plan.compiled.index.get(event.source_id)
        if event.source_kind != "tag" or i is None or event.state != AlarmState.ACTIVE:
            continue
        if event.kind not in plan.compiled.configs[i].alarm_kinds:
            continue
        alarms.setdefault(i, {})[event.kind] = AlarmSlot(active=True)
        state.last_ts[i] = max(int(state.last_ts[i]), event.ts) if state.has_last[i] else event.ts
        state.has_last[i] = True
        state.busy[i] = True
    return replace(state, alarms={i: dict(slots) for i, slots in alarms.items()})
