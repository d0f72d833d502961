r"""Dataflows of the distributed mode, composed from settings for ``python -m bytewax.run``.

Production runs the very builder of the embedded mode (:func:`pipelines.sensors.flow.build_flow`)
with other edges: raw readings come from Kafka (``safetwin.sensor.reading.raw``, published by
the field gateways, one reading or one JSON array per record, keyed by tag) and go to the
store plus one topic per output stream (``safetwin.sensor.reading`` as one JSON array per
batch, ``safetwin.alarm.event``, ``safetwin.alarm.event.held``, ``safetwin.deadletter``),
which API replicas consume for live push. Offsets live in Bytewax recovery state; the store
is idempotent. Run (see README "Distributed mode")::

    SAFETWIN_KAFKA_BROKERS='["kafka:9092"]' SAFETWIN_FLOW_SHARDS=4 \\
      python -m bytewax.run api.flows:sensors -w 2 -i 0 -a "h1:2101;h2:2101" -r /shared/recovery -s 5 -b 0

Where several flow processes run, they cannot share one chDB/DuckDB directory: set
``SAFETWIN_FLOW_WRITES_STORE=false`` and run one loader (``api.flows:loader``) that owns the
store and reads the output topics, the shape of ClickHouse's Kafka engine in production.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from api.runtime import hazard_contexts, ingest_rules, operator_positions, risk_table, tag_limits
from api.settings import Settings
from connectors.batches import AlarmBatch
from connectors.kafka.admin import topic_for
from connectors.kafka.sink import KafkaSink
from connectors.kafka.source import KafkaSource
from connectors.store import open_store
from connectors.store.sink import StoreSink, WriteCallback
from models.contracts import ALARM_EVENT, DEADLETTER, RISK_SCORE, SENSOR_READING
from models.limits import TagLimits
from models.risk import RISK_INPUT
from pipelines.risk.flow import StoreScoreSink
from pipelines.risk.flow import build_flow as build_risk_flow
from pipelines.risk.steps import RiskPlan
from pipelines.sensors.flow import build_flow
from pipelines.sensors.loader import HELD, build_loader_flow
from pipelines.sensors.steps import FlowPlan
from twin.plant import load_plant

OUTPUT_STREAMS = (SENSOR_READING, ALARM_EVENT, DEADLETTER)


def topics_with_prefix(prefix: str) -> dict[str, str]:
    """Every topic of the sensor flow by role: ``raw`` in, each output stream and ``held`` out."""
    out = {"raw": topic_for(SENSOR_READING, prefix) + ".raw", "held": topic_for(ALARM_EVENT, prefix) + ".held"}
    out.update({s: topic_for(s, prefix) for s in OUTPUT_STREAMS})
    return out


def topics(settings: Settings) -> dict[str, str]:
    """The sensor flow's topics under ``SAFETWIN_KAFKA_TOPIC_PREFIX``."""
    return topics_with_prefix(settings.kafka_topic_prefix)


RAW_READINGS_TOPIC = topics_with_prefix("safetwin")["raw"]
"""The raw topic of the default prefix (what gateways publish to)."""


_specs_decoder = msgspec.json.Decoder(list[TagLimits])


def dump_specs(specs: Mapping[str, TagLimits]) -> bytes:
    """Tag specs as the JSON list ``SAFETWIN_TAGS_FILE`` holds."""
    return msgspec.json.encode(list(specs.values()))


def load_specs(path: str | Path) -> dict[str, TagLimits]:
    """Read a ``SAFETWIN_TAGS_FILE``: a JSON list of tag limits (a gateway's tag list).

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


def audit_writer(path: Path) -> WriteCallback:
    """Append ``<readings> <alarm events>`` per committed store write (reconciles replays)."""

    def write(readings: int, alarms: int, _newest: int | None) -> None:
        # O_APPEND single write: a kill leaves whole lines only.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{readings} {alarms}\n".encode())
        finally:
            os.close(fd)

    return write


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


def _store_sinks(settings: Settings) -> list[Sink[AlarmBatch]]:
    store = open_store(
        settings.store, duckdb_path=settings.resolved_duckdb_path, clickhouse_dsn=settings.clickhouse_dsn
    )
    store.init_schema()
    audit = audit_writer(settings.ingest_audit_file) if settings.ingest_audit_file else None
    return [StoreSink(store, on_written=audit, owns_store=True)]


def sensors_flow(settings: Settings, *, tail: bool = True) -> Dataflow:
    """Kafka raw readings -> quality, alarms, floods, source watchdog -> store + per-stream topics."""
    if not settings.kafka_brokers:
        msg = "the distributed sensor flow needs SAFETWIN_KAFKA_BROKERS"
        raise ValueError(msg)
    if settings.tags_file is not None:
        specs, positions = load_specs(settings.tags_file), {}
    else:
        plant = load_plant(settings.plant_file)
        specs, positions = tag_limits(plant), operator_positions(plant)
    brokers = settings.kafka_brokers
    names = topics(settings)
    plan = FlowPlan.build(specs, shards=settings.flow_shards, rules=ingest_rules(settings))
    return build_flow(
        plan,
        KafkaSource(brokers, names["raw"], SENSOR_READING, tail=tail, raw=True, batch_size=10_000),
        _store_sinks(settings) if settings.flow_writes_store else [],
        stream_sinks={s: KafkaSink(brokers, names[s]) for s in OUTPUT_STREAMS},
        held_sinks=[KafkaSink(brokers, names["held"], held=True)],
        clock=None,  # event time only: a replay after recovery re-derives identical alarms
        positions=positions,
        watch_sources_ms=round(settings.source_timeout_s * 1000) if tail else None,
        flow_id="sensors_distributed",
    )


def sensors() -> Dataflow:
    """``python -m bytewax.run api.flows:sensors`` entry (settings from the environment)."""
    settings = Settings()
    return sensors_flow(settings, tail=settings.flow_tail)


def loader_flow(settings: Settings, *, tail: bool = True) -> Dataflow:
    """The output topics -> the store, in ONE process that owns it (see module docstring)."""
    if not settings.kafka_brokers:
        msg = "the store loader needs SAFETWIN_KAFKA_BROKERS"
        raise ValueError(msg)
    names = topics(settings)
    brokers = settings.kafka_brokers
    by_stream = {SENSOR_READING: names[SENSOR_READING], ALARM_EVENT: names[ALARM_EVENT], HELD: names["held"]}
    by_stream[DEADLETTER] = names[DEADLETTER]
    sources: dict[str, Source[Any]] = {
        s: KafkaSource(brokers, topic, s, tail=tail, raw=True, batch_size=10_000) for s, topic in by_stream.items()
    }
    return build_loader_flow(sources, _store_sinks(settings))


def loader() -> Dataflow:
    """``python -m bytewax.run api.flows:loader`` entry (settings from the environment)."""
    settings = Settings()
    return loader_flow(settings, tail=settings.flow_tail)


def risk_flow(settings: Settings, *, tail: bool = True) -> Dataflow:
    """Kafka alarms, readings and ``risk.input`` (+ the registers) -> risk scores -> store + ``risk.score`` topic.

    The same builder as the embedded runtime. Special work at work and bypassed interlocks come
    from the registers' database (``SAFETWIN_DATABASE_URL``, PostgreSQL in production) through
    :class:`api.risk_register_inputs.RegisterInputSource`, as the embedded bridge reads them, and
    overdue inspections and hidden hazards per source through
    :class:`api.risk_management_inputs.ManagementStatusSource`; without an explicit database URL
    (no shared registers database) only the topic carries them. Integrators publish other
    register events (people counts, operating modes) to ``<prefix>.risk.input``.
    """
    if not settings.kafka_brokers:
        msg = "the distributed risk flow needs SAFETWIN_KAFKA_BROKERS"
        raise ValueError(msg)
    brokers, prefix = settings.kafka_brokers, settings.kafka_topic_prefix
    plan = RiskPlan.build(hazard_contexts(load_plant(settings.plant_file)), risk_table(settings))
    sources: list[Source[Any]] = [
        KafkaSource(brokers, topic_for(ALARM_EVENT, prefix), ALARM_EVENT, tail=tail),
        KafkaSource(brokers, topic_for(SENSOR_READING, prefix), SENSOR_READING, tail=tail, raw=True, batch_size=10_000),
        KafkaSource(brokers, topic_for(RISK_INPUT, prefix), RISK_INPUT, tail=tail, raw=True),
    ]
    if settings.database_url:
        from api.risk_management_inputs import ManagementStatusSource
        from api.risk_register_inputs import RegisterInputSource
        from registers.db import make_engine, make_session_factory

        registers = make_session_factory(make_engine(settings.database_url))
        sources.append(RegisterInputSource(registers, tail=tail))
        areas = {sid: ctx.area for sid, ctx in plan.sources.items()}
        sources.append(ManagementStatusSource(registers, areas, tail=tail))  # overdue inspections, hidden hazards
    stream_sinks = {s: KafkaSink(brokers, topic_for(s, prefix)) for s in (RISK_SCORE, DEADLETTER)}
    sinks: list[Sink[Any]] = []
    if settings.flow_writes_store:
        store = open_store(
            settings.store, duckdb_path=settings.resolved_duckdb_path, clickhouse_dsn=settings.clickhouse_dsn
        )
        store.init_schema()
        sinks.append(StoreScoreSink(store))
    return build_risk_flow(plan, sources, sinks, stream_sinks=stream_sinks, flow_id="risk_distributed")


def risk() -> Dataflow:
    """``python -m bytewax.run api.flows:risk`` entry (settings from the environment)."""
    settings = Settings()
    return risk_flow(settings, tail=settings.flow_tail)


def pdm_flow(settings: Settings, *, tail: bool = True) -> Dataflow:
    """Kafka ``pdm.window`` -> features, predictions, warnings -> store, topics and work orders.

    The builder of the embedded runtime with the newest model of ``<data_dir>/models/pdm``
    (``safetwin pdm train``). Input ``<prefix>.pdm.window`` (what condition-monitoring gateways
    publish, keyed by asset); outputs ``<prefix>.pdm.prediction``, ``<prefix>.pdm.warning`` and
    ``<prefix>.deadletter``, the store, and with ``SAFETWIN_DATABASE_URL`` set, ONE maintenance
    work order per asset and failure mode in the equipment register (:mod:`api.pdm_orders`).

    Raises:
        ValueError: Without brokers, or without a trained model.
    """
    from threadpoolctl import threadpool_limits

    from api.pdm_models import latest, load
    from api.pdm_orders import PdmWorkOrderRecorder, PdmWorkOrderSink
    from api.pdm_runtime import model_dir
    from models.contracts import PDM_PREDICTION
    from models.pdm.stream import PDM_WARNING, PDM_WINDOW
    from pipelines.pdm.flow import StorePdmSink
    from pipelines.pdm.flow import build_flow as build_pdm_flow
    from registers.db import make_engine, make_session_factory

    if not settings.kafka_brokers:
        msg = "the distributed PdM flow needs SAFETWIN_KAFKA_BROKERS"
        raise ValueError(msg)
    path = latest(model_dir(settings))
    if path is None:
        msg = f"no PdM model in {model_dir(settings)}: run `safetwin pdm train` first"
        raise ValueError(msg)
    model = load(path).meta["model"]
    # one-row predictions: OpenMP threads would only contend with the flow's workers
    threadpool_limits(limits=1)
    brokers, prefix = settings.kafka_brokers, settings.kafka_topic_prefix
    source = KafkaSource(brokers, topic_for(PDM_WINDOW, prefix), PDM_WINDOW, tail=tail, raw=True)
    sinks: list[Sink[Any]] = []
    if settings.flow_writes_store:
        store = open_store(
            settings.store, duckdb_path=settings.resolved_duckdb_path, clickhouse_dsn=settings.clickhouse_dsn
        )
        store.init_schema()
        sinks.append(StorePdmSink(store))
    if settings.database_url:
        recorder = PdmWorkOrderRecorder(make_session_factory(make_engine(settings.database_url)))
        sinks.append(PdmWorkOrderSink(recorder))
    streams = (PDM_PREDICTION, PDM_WARNING, DEADLETTER)
    return build_pdm_flow(
        model,
        [source],
        sinks,
        stream_sinks={s: KafkaSink(brokers, topic_for(s, prefix)) for s in streams},
        flow_id="pdm_distributed",
    )


def pdm() -> Dataflow:
    """``python -m bytewax.run api.flows:pdm`` entry (settings from the environment)."""
    settings = Settings()
    return pdm_flow(settings, tail=settings.flow_tail)


def positioning_flow(settings: Settings, *, tail: bool = True) -> Dataflow:
    """Kafka ``location.fix`` (raw ranges or vendor fixes) -> positions, person alarms -> store + topics.

    The same builder as the embedded runtime. Outputs: ``<prefix>.location.position`` (one
    fix per record, keyed by person), ``<prefix>.alarm.event`` (where the sensor flow's
    alarms go, so the alarm worker registers them) and ``<prefix>.deadletter``.
    """
    from api.runtime import POSITION_TOPIC_STREAM, positioning_plan  # issue 11: local, beside its flow
    from models.contracts import LOCATION_POSITION
    from pipelines.positioning.flow import PositionStoreSink
    from pipelines.positioning.flow import build_flow as build_positioning_flow

    if not settings.kafka_brokers:
        msg = "the distributed positioning flow needs SAFETWIN_KAFKA_BROKERS"
        raise ValueError(msg)
    brokers, prefix = settings.kafka_brokers, settings.kafka_topic_prefix
    plan = positioning_plan(load_plant(settings.plant_file), settings)
    source = KafkaSource(brokers, topic_for(POSITION_TOPIC_STREAM, prefix), POSITION_TOPIC_STREAM, tail=tail, raw=True)
    sinks: list[Sink[Any]] = []
    if settings.flow_writes_store:
        store = open_store(
            settings.store, duckdb_path=settings.resolved_duckdb_path, clickhouse_dsn=settings.clickhouse_dsn
        )
        store.init_schema()
        sinks.append(PositionStoreSink(store))
    streams = (LOCATION_POSITION, ALARM_EVENT, DEADLETTER)
    return build_positioning_flow(
        plan,
        source,
        sinks,
        stream_sinks={s: KafkaSink(brokers, topic_for(s, prefix)) for s in streams},
        flow_id="positioning_distributed",
    )


def positioning() -> Dataflow:
    """``python -m bytewax.run api.flows:positioning`` entry (settings from the environment)."""
    settings = Settings()
    return positioning_flow(settings, tail=settings.flow_tail)


def video_flow(settings: Settings, *, tail: bool = True) -> Dataflow:
    """Kafka DeepStream topic (nvmsgbroker, full or minimal schema) -> detections, camera alarms.

    Input ``<prefix>.video.deepstream``; outputs ``<prefix>.video.detection``,
    ``<prefix>.alarm.event`` and ``<prefix>.deadletter``, plus the store.
    """
    from api.runtime import DEEPSTREAM_STREAM, video_plan  # issue 11: local, beside its flow
    from models.contracts import VIDEO_DETECTION
    from pipelines.video.flow import DetectionStoreSink
    from pipelines.video.flow import build_flow as build_video_flow

    if not settings.kafka_brokers:
        msg = "the distributed video flow needs SAFETWIN_KAFKA_BROKERS"
        raise ValueError(msg)
    brokers, prefix = settings.kafka_brokers, settings.kafka_topic_prefix
    plan = video_plan(load_plant(settings.plant_file))
    source = KafkaSource(brokers, topic_for(DEEPSTREAM_STREAM, prefix), DEEPSTREAM_STREAM, tail=tail, raw=True)
    sinks: list[Sink[Any]] = []
    if settings.flow_writes_store:
        store = open_store(
            settings.store, duckdb_path=settings.resolved_duckdb_path, clickhouse_dsn=settings.clickhouse_dsn
        )
        store.init_schema()
        sinks.append(DetectionStoreSink(store))
    streams = (VIDEO_DETECTION, ALARM_EVENT, DEADLETTER)
    return build_video_flow(
        plan,
        source,
        sinks,
        stream_sinks={s: KafkaSink(brokers, topic_for(s, prefix)) for s in streams},
        flow_id="video_distributed",
    )


def video() -> Dataflow:
    """``python -m bytewax.run api.flows:video`` entry (settings from the environment)."""
    settings = Settings()
    return video_flow(settings, tail=settings.flow_tail)
