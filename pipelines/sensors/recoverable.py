r"""The sensor dataflow made crash-safe: per-tag alarm state in Bytewax recovery state.

``kill -9`` at any moment must neither lose a reading, nor write one twice, nor make an alarm
forget it was active. Three things together make that true:

* **State and offsets snapshot together.** The per-tag alarm state lives in a keyed
  ``stateful_flat_map``, the Kafka offsets in :class:`~connectors.kafka.source.KafkaSource`'s
  partition snapshots; Bytewax writes both at the end of every epoch, so a restart resumes
  from one consistent cut: the state as it was right after the last offset it had read.
* **Engine time is event time.** The default mapper judges each reading at its own
  timestamp, never the wall clock, so replaying the readings after the cut re-derives the very
  same readings (with the same quality) and the very same alarm events.
* **The store is idempotent.** Replays (Bytewax is at-least-once) re-offer rows the
  :class:`~connectors.store.duckdb.DuckDBStore` already holds; its primary keys
  ``(tag, ts)`` and ``(alarm_id, ts, state)`` drop them, so the effect is exactly once.

The per-tag mapper is pluggable (``mapper_factory``): :func:`event_time_limits_mapper` (the
simple limit checker) or :func:`alarm_engine_mapper` (the ISA-18.2 engine of ``models/``).

Run it under recovery (``-s`` and ``-b`` are mandatory with ``-r``; the directory must exist
and be initialised once)::

    mkdir -p /var/lib/safetwin/recovery && python -m bytewax.recovery /var/lib/safetwin/recovery 1
    python -m bytewax.run "pipelines.sensors.recoverable:kafka_to_duckdb(\
        brokers='kafka:9092', topic='safetwin.sensor.reading.raw', \
        duckdb_path='/var/lib/safetwin/safetwin.duckdb', specs_file='/etc/safetwin/tags.json')" \
        -r /var/lib/safetwin/recovery -s 1 -b 0
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import msgspec
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import DynamicSink, Sink, StatelessSinkPartition

from connectors.kafka.source import KafkaSource
from connectors.store.base import TimeSeriesStore
from connectors.store.duckdb import DuckDBStore
from connectors.store.sink import StoreSink
from models.contracts import AlarmEvent, SensorReading
from models.limits import TagLimits, TagState, evaluate
from pipelines.sensors.flow import build_flow
from pipelines.sensors.steps import limits_mapper

TagMapper: TypeAlias = Callable[[Any, SensorReading], tuple[Any, list[Any]]]
"""``mapper(state_or_None, reading) -> (new_state, [reading, *alarm_events])`` for one tag.

The state must pickle (Bytewax snapshots it) and the result must depend only on the state and
the reading, or a replay after a crash would re-derive different events.
"""

MapperFactory: TypeAlias = Callable[[Mapping[str, TagLimits]], TagMapper]
"""Builds the per-tag mapper from the plant's tag specs (swap in another alarm engine here)."""


def event_time_limits_mapper(specs: Mapping[str, TagLimits]) -> TagMapper:
    """The limit checker of :mod:`models.limits`, judged at each reading's own timestamp.

    Unlike :func:`pipelines.sensors.steps.limits_mapper` (wall clock, for the live path), the
    time here comes only from the reading, so the output is a pure function of (state,
    reading) and a replay is bit-identical. Staleness against the wall clock is therefore not
    judged here.

    Args:
        specs: Tag -> limits; every reading reaching the mapper has a known tag.

    Returns:
        The ``stateful_flat_map`` mapper.

    Example:
        >>> m = event_time_limits_mapper({"PT-1": TagLimits(tag="PT-1", lo=0, hi=10, h=8)})
        >>> state, out = m(None, SensorReading(tag="PT-1", ts=1_000, value=9.0))
        >>> [type(x).__name__ for x in out], sorted(state.active)
        (['SensorReading', 'AlarmEvent'], ['H'])
    """

    def mapper(state: TagState | None, reading: SensorReading) -> tuple[TagState, list[Any]]:
        new_state, quality, events = evaluate(state, reading, specs[reading.tag], now_ms=reading.ts)
        judged = reading if quality == reading.quality else msgspec.structs.replace(reading, quality=quality)
        out: list[Any] = [judged]
        out.extend(events)
        return new_state, out

    return mapper


def alarm_engine_mapper(specs: Mapping[str, TagLimits]) -> TagMapper:
    """Quality from :mod:`models.limits`, alarms from the engine of :mod:`models.alarm_engine`.

    The live flow's own mapper (:func:`pipelines.sensors.steps.limits_mapper`) judged at each
    reading's timestamp, so replays re-derive identical events.
    """
    return limits_mapper(specs, None)


def build_recoverable_flow(
    specs: Mapping[str, TagLimits],
    source: Source[Any],
    sinks: Sequence[Sink[Any]],
    *,
    mapper_factory: MapperFactory = event_time_limits_mapper,
    stream_sinks: Mapping[str, Sink[Any]] | None = None,
    flow_id: str = "sensors_recoverable",
) -> Dataflow:
    """Wire parse -> known tag -> per-tag alarm state (recoverable) -> sinks.

    The same shape as :func:`pipelines.sensors.flow.build_flow`, with the per-tag mapper as a
    parameter. Step ids are part of the recovery snapshot's keys: renaming one orphans its
    saved state, so they must stay stable across releases.

    Args:
        specs: Tag -> limits (readings of other tags are dead-lettered).
        source: A source whose partitions snapshot their position (e.g. ``KafkaSource``);
            a stateless source would replay nothing or everything after a crash.
        sinks: Each receives every reading, alarm event and dead letter; should be
            idempotent because recovery replays.
        mapper_factory: Builds the per-tag mapper; its state lives in Bytewax state.
        stream_sinks: Contract stream name -> sink receiving only that stream.
        flow_id: Dataflow id.

    Returns:
        The dataflow, ready for ``python -m bytewax.run`` or ``bytewax.testing.run_main``.
    """
    return build_flow(specs, source, sinks, stream_sinks=stream_sinks, mapper=mapper_factory(specs), flow_id=flow_id)


# -- specs ------------------------------------------------------------------------------------

_specs_decoder = msgspec.json.Decoder(list[TagLimits])


def dump_specs(specs: Mapping[str, TagLimits] | Sequence[TagLimits]) -> bytes:
    """Serialise tag specs as the JSON list that :func:`load_specs` reads."""
    values = list(specs.values()) if isinstance(specs, Mapping) else list(specs)
    return msgspec.json.encode(values)


def load_specs(path: str | Path) -> dict[str, TagLimits]:
    """Read tag specs from a JSON list of :class:`~models.limits.TagLimits` objects.

    A file rather than the plant YAML so a process started by ``python -m bytewax.run`` needs
    nothing from ``api/`` (pipelines may not import it); ``api`` writes the file from the plant.

    Raises:
        ValueError: If the file is not such a list, or names a tag twice.
    """
    try:
        items = _specs_decoder.decode(Path(path).read_bytes())
    except msgspec.DecodeError as err:
        msg = f"tag specs file {path} is not a JSON list of tag limits: {err}"
        raise ValueError(msg) from err
    specs = {s.tag: s for s in items}
    if len(specs) != len(items):
        msg = f"tag specs file {path} names some tag more than once"
        raise ValueError(msg)
    return specs


def resolve_mapper_factory(ref: str) -> MapperFactory:
    """Import a mapper factory from ``"package.module:attribute"``.

    Raises:
        ValueError: If ``ref`` is not of that form or does not name a callable.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        msg = f"mapper must be 'package.module:attribute', got {ref!r}"
        raise ValueError(msg)
    factory = getattr(importlib.import_module(module_name), attr, None)
    if not callable(factory):
        msg = f"{ref!r} does not name a callable mapper factory"
        raise ValueError(msg)
    return factory  # type: ignore[no-any-return]


# -- sinks ------------------------------------------------------------------------------------


class _AuditedPartition(StatelessSinkPartition[Any]):
    def __init__(self, inner: StatelessSinkPartition[Any], owner: AuditedStoreSink) -> None:
        self._inner = inner
        self._owner = owner

    def write_batch(self, items: list[Any]) -> None:
        self._inner.write_batch(items)
        self._owner.audit(items)

    def close(self) -> None:
        self._inner.close()
        self._owner.release()


class AuditedStoreSink(DynamicSink[Any]):
    """:class:`~connectors.store.sink.StoreSink` that owns its store and can count what it offered.

    Two jobs the plain sink leaves to its caller, needed when the flow runs alone in its own
    process: the store is closed when the last worker's partition closes (DuckDB then
    checkpoints its WAL), and, when ``audit_path`` is set, one line ``<readings> <alarms>`` is
    appended per written batch *after* the store committed it. Summing those lines and
    subtracting the distinct rows stored tells how many rows the recovery replays re-offered
    (and the idempotent store dropped).

    Args:
        store: The store to write; schema already initialised.
        audit_path: Optional append-only file of per-batch row counts.
    """

    def __init__(self, store: TimeSeriesStore, audit_path: str | Path | None = None) -> None:
        self._inner = StoreSink(store)
        self.store = store
        self._audit_path = Path(audit_path) if audit_path is not None else None
        self._lock = threading.Lock()
        self._open_parts = 0

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _AuditedPartition:
        """Wrap the store partition; every worker shares the store."""
        with self._lock:
            self._open_parts += 1
        return _AuditedPartition(self._inner.build(step_id, worker_index, worker_count), self)

    def audit(self, items: list[Any]) -> None:
        """Append this batch's counts (a no-op without an audit file)."""
        if self._audit_path is None:
            return
        readings = sum(1 for m in items if isinstance(m, SensorReading))
        alarms = sum(1 for m in items if isinstance(m, AlarmEvent))
        with self._lock:
            # O_APPEND single write: a kill leaves whole lines only (the page cache survives it).
            fd = os.open(self._audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{readings} {alarms}\n".encode())
            finally:
                os.close(fd)

    def release(self) -> None:
        """Close the store once the last partition is closed."""
        with self._lock:
            self._open_parts -= 1
            last = self._open_parts == 0
        if last:
            self.store.close()


def read_audit(path: str | Path) -> tuple[int, int]:
    """Total ``(readings, alarm events)`` offered to the store, per an audit file."""
    readings = alarms = 0
    p = Path(path)
    if not p.exists():
        return 0, 0
    for line in p.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            readings += int(parts[0])
            alarms += int(parts[1])
    return readings, alarms


# -- entry point ------------------------------------------------------------------------------


def kafka_to_duckdb(
    brokers: str | list[str],
    topic: str,
    duckdb_path: str,
    specs_file: str,
    *,
    tail: bool = True,
    stream: str = "sensor.reading",
    mapper: str | None = None,
    audit_file: str | None = None,
    batch_size: int = 1000,
) -> Dataflow:
    """``python -m bytewax.run "pipelines.sensors.recoverable:kafka_to_duckdb(...)"`` entry.

    The process owns the DuckDB file (DuckDB allows one process per file); other processes
    read it after this one exits, or through this process's API.

    Args:
        brokers: Kafka bootstrap address(es), ``host:port`` or a list of them.
        topic: Topic of raw readings (JSON ``SensorReading``).
        duckdb_path: Store file; created with its schema if missing.
        specs_file: JSON list of tag limits (see :func:`load_specs`).
        tail: Keep waiting for new readings; ``False`` ends at the end offsets seen at start.
        stream: Contract stream the topic carries.
        mapper: ``"package.module:factory"`` of the per-tag mapper; default
            :func:`event_time_limits_mapper`.
        audit_file: Optional per-batch count file (see :class:`AuditedStoreSink`).
        batch_size: Most records per source poll.

    Returns:
        The dataflow.
    """
    specs = load_specs(specs_file)
    store = DuckDBStore(duckdb_path)
    store.init_schema()
    factory = resolve_mapper_factory(mapper) if mapper else event_time_limits_mapper
    broker_list = [brokers] if isinstance(brokers, str) else list(brokers)
    return build_recoverable_flow(
        specs,
        KafkaSource(broker_list, topic, stream, tail=tail, batch_size=batch_size),
        [AuditedStoreSink(store, audit_file)],
        mapper_factory=factory,
    )
