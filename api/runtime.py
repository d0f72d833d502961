"""The embedded plant: simulated devices (own process), connectors, dataflow and store behind the API.

This is the composition root of the embedded mode (ARCHITECTURE.md "one command, nothing
else installed"): DuckDB lets one process write its file, so the pipeline writes and the API
reads through the same store object. Data travels the real path:

    simulator -> OPC UA server (or Modbus TCP server), in a child process (twin.field_process)
    -> subscriber / poller (connectors), in a child process of its own (api.connector_process)
    -> msgpack frames over a pipe -> bus "ingest.sensor.reading" -> Bytewax flow (thread)
    -> DuckDB + bus "live" -> WebSocket
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bytewax.testing import run_main

from api.connector_process import ConnectorConfig, ConnectorProcess
from api.field_devices import field_config
from api.settings import Settings
from connectors.bus.bytewax_io import BusSink, BusSource
from connectors.bus.memory import Bus
from connectors.store import open_store
from connectors.store.base import TimeSeriesStore
from connectors.store.sink import StoreSink
from models.contracts import ALARM_EVENT, LOCATION_POSITION, SensorReading
from models.hazard_identification import grade_for_r
from models.limits import TagLimits
from models.positioning import SolverConfig
from models.risk import GAS_KINDS, RISK_INPUT, HazardContext, Recompute
from models.risk_rules import RiskRuleTable, default_table, load_table
from models.video_rules import camera_rules
from pipelines.positioning.flow import PositionStoreSink
from pipelines.positioning.flow import build_flow as build_positioning_flow
from pipelines.positioning.steps import PositioningPlan
from pipelines.risk.flow import StoreScoreSink
from pipelines.risk.flow import build_flow as build_risk_flow
from pipelines.risk.steps import RiskPlan
from pipelines.risk.taps import GAS_READINGS_STREAM, GasNearTap
from pipelines.sensors.flow import build_flow
from pipelines.sensors.steps import COMM, FlowPlan, IngestRules, seed_state
from pipelines.video.steps import VideoPlan
from twin.field_process import FieldProcess
from twin.people import PeopleSim, RangeNoise, plant_anchors, plant_zone_rules
from twin.plant import Plant, Tag

log = logging.getLogger(__name__)

INGEST_STREAM = "ingest.sensor.reading"
LIVE_STREAM = "live"
HELD_ALARM_STREAM = "alarm.event.held"  # recorded, not annunciated (held back during a flood)
MODBUS_CHUNK_POINTS = 2_000
"""Readings per hand-over of a Modbus poll (a 10,000-tag poll is five chunks, about 32 block reads each)."""
GIL_SWITCH_INTERVAL_S = 0.001
"""Interpreter-lock switch interval of the embedded runtime's process (see ``Runtime.start``)."""
HEAP_SETTLE_S = 60.0
"""Longest wait for the first stored scan before the start-up heap is frozen anyway."""
SCAN_LAG_WINDOW_S = 60.0
"""``/health`` reports the scan hand-over lag over this many recent seconds."""


def operator_positions(plant: Plant) -> dict[str, str]:
    """Operator position of each tag for flood detection: one position per plant area."""
    return {t.tag: plant.equipment_by_id(t.equipment).area for t in plant.tags}


def tag_limits(plant: Plant) -> dict[str, TagLimits]:
    """The pipeline's view of every tag: range, limits, kind and label."""
    return {
        t.tag: TagLimits(
            tag=t.tag,
            lo=t.range[0],
            hi=t.range[1],
            ll=t.limits.ll,
            l=t.limits.l,
            h=t.limits.h,
            hh=t.limits.hh,
            kind=t.kind,
            unit=t.unit,
            name=t.name,
        )
        for t in plant.tags
    }


def hazard_contexts(plant: Plant) -> list[HazardContext]:
    """What the risk model needs of each major hazard source: grade, process, β, tags, area.

    Computed once per plant object (the plant file does not change while the app runs) and
    shared by the embedded runtime, the flows and the risk routes.
    """
    return list(_hazard_context_index(plant).values())


def hazard_context(plant: Plant, hazard_source_id: str) -> HazardContext | None:
    """One source's context from the same per-plant cache, ``None`` for an unknown id."""
    return _hazard_context_index(plant).get(hazard_source_id)


_CONTEXT_CACHE: tuple[weakref.ref[Plant], dict[str, HazardContext]] | None = None
_CONTEXT_LOCK = threading.Lock()


def _hazard_context_index(plant: Plant) -> dict[str, HazardContext]:
    global _CONTEXT_CACHE
    with _CONTEXT_LOCK:
        cached = _CONTEXT_CACHE
        if cached is not None and cached[0]() is plant:
            return cached[1]
        index = {c.id: c for c in _build_hazard_contexts(plant)}
        _CONTEXT_CACHE = (weakref.ref(plant), index)
        return index


def _build_hazard_contexts(plant: Plant) -> list[HazardContext]:
    # One pass over the tags (a 10,000-tag plant has 359 sources and 2,605 equipment:
    # scanning every tag per source took 5 s); each source's tags keep the plant file's order.
    source_of = {e.id: e.hazard_source for e in plant.equipment if e.hazard_source is not None}
    tags_of: dict[str, list[Tag]] = defaultdict(list)
    for t in plant.tags:
        if (source := source_of.get(t.equipment)) is not None:
            tags_of[source].append(t)
    out: list[HazardContext] = []
    for hs in plant.hazard_sources:
        tags = tags_of[hs.id]
        out.append(
            HazardContext(
                id=hs.id,
                name=hs.name,
                area=hs.area,
                grade=int(grade_for_r(round(hs.r_value, 6))),
                key_process=hs.process is not None,
                max_toxic_beta=max(c.beta for c in hs.chemicals),
                tags={t.tag: t.kind for t in tags},
                gas_limits={t.tag: t.limits.h for t in tags if t.kind in GAS_KINDS and t.limits.h},
            )
        )
    return out


def gas_limits(plant: Plant) -> dict[str, float]:
    """The gas detectors of the hazard sources and their first alarm limit: what ``GAS.NEAR`` reads."""
    return {tag: limit for h in hazard_contexts(plant) for tag, limit in h.gas_limits.items()}


def risk_table(settings: Settings) -> RiskRuleTable:
    """The risk rule table in force: the plant's JSON file if set, else the shipped one."""
    if settings.risk_rules_file is None:
        return default_table()
    return load_table(settings.risk_rules_file.read_bytes())


def ingest_rules(settings: Settings) -> IngestRules:
    """What the sensor flow accepts, from the settings."""
    return IngestRules(
        max_payload_bytes=settings.max_payload_bytes,
        max_future_ms=round(settings.max_future_s * 1000),
        source_timeout_ms=round(settings.source_timeout_s * 1000),
    )


POSITION_INGEST_STREAM = "ingest.location.fix"
"""Embedded mode: rangings / vendor fixes on their way into the positioning flow."""
POSITION_TOPIC_STREAM = "location.fix"
"""Distributed mode: the topic ``<prefix>.location.fix`` positioning engines publish to."""
DEEPSTREAM_STREAM = "video.deepstream"
"""Distributed mode: the topic ``<prefix>.video.deepstream`` edge boxes' nvmsgbroker publish to."""


def video_plan(plant: Plant) -> VideoPlan:
    """The video flow's plan: the plant's cameras, the zone each watches and its kind."""
    kinds = {z.id: z.kind for z in plant.zones}
    return VideoPlan(camera_rules([(c.id, c.name, c.zone) for c in plant.cameras], kinds))


def positioning_plan(plant: Plant, settings: Settings) -> PositioningPlan:
    """The positioning flow's plan: the plant's anchors and zones, the site's ranging noise."""
    return PositioningPlan.build(
        plant_anchors(plant),
        plant_zone_rules(plant),
        solver=SolverConfig(sigma_m=settings.positioning_sigma_m),
        max_future_ms=round(settings.max_future_s * 1000),
        max_payload_bytes=settings.max_payload_bytes,
    )


@dataclass
class Runtime:
    """Everything that runs behind the API in embedded mode."""

    settings: Settings
    plant: Plant
    bus: Bus = field(default_factory=Bus)
    store: TimeSeriesStore | None = None
    devices: FieldProcess | None = None
    """The simulated plant's devices (simulator + field servers) in their own process."""
    started_at: float = 0.0
    _flow_thread: threading.Thread | None = None
    _flow_error: BaseException | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _stop: asyncio.Event | None = None
    connector: ConnectorProcess | None = None
    """The connector reading the simulated devices, in its own process."""
    stored_readings: int = 0
    last_stored_at: float = 0.0
    """Wall time (s) of the latest committed store write of readings."""
    newest_stored_ts: int | None = None
    devices_error: str | None = None
    """Why the simulated devices or their connector failed to start, if they did."""
    live_push: Any = None
    risk_plan: RiskPlan | None = None
    """Hazard-source contexts and rule table of the running risk flow (embedded mode)."""
    _risk_thread: threading.Thread | None = None
    _risk_error: BaseException | None = None
    _risk_ticks: threading.Thread | None = None
    """Distributed mode: the :class:`api.kafka_live.KafkaLivePush` feeding ``/ws/live``."""
    positioning: PositioningPlan | None = None
    """Anchors, zones and rules of the running positioning flow (issue 11)."""
    _pos_thread: threading.Thread | None = None
    _pos_error: BaseException | None = None
    _scan_lags: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=4096))
    """(hand-over time, lag s) of recent scans, see :meth:`scan_lag`."""
    pdm: Any = None
    _pdm_boot: threading.Thread | None = None
    """The PdM flow, its model and work orders (:class:`api.pdm_runtime.PdmService`), embedded mode."""

    @property
    def hazard_contexts(self) -> list[HazardContext]:
        """The risk model's view of the plant's major hazard sources (cached per plant)."""
        return hazard_contexts(self.plant)

    @property
    def specs(self) -> dict[str, TagLimits]:
        """Tag limits of the plant."""
        return tag_limits(self.plant)

    @property
    def flow_alive(self) -> bool:
        """Whether the dataflow thread is running."""
        return self._flow_thread is not None and self._flow_thread.is_alive()

    def open_store(self) -> TimeSeriesStore:
        """Open and migrate the time-series store named by the settings."""
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(s.store, duckdb_path=s.resolved_duckdb_path, clickhouse_dsn=s.clickhouse_dsn)
        store.init_schema()
        return store

    def start_flow(self) -> None:
        """Run the sensor dataflow in a thread (Bytewax's run_main blocks).

        The engine starts from the alarms the store says are active, so a restart after a
        crash neither repeats an activation nor loses a return-to-normal.
        """
        assert self.store is not None
        s = self.settings
        plan = FlowPlan.build(self.specs, rules=ingest_rules(s))
        seed = seed_state(plan, self.store.active_alarms())
        flow = build_flow(
            plan,
            BusSource(self.bus, INGEST_STREAM, maxsize=s.ingest_queue_batches),
            [
                # Live push first: the twin must not wait for the store write of the same batch
                # (Bytewax runs a worker's outputs in this order). The alarm register's feed
                # stays after the store: an event it records is one the store has, so a crash
                # between the two cannot make the restarted engine raise it a second time.
                BusSink(self.bus, LIVE_STREAM),
                StoreSink(self.store, on_written=self._stored),
                BusSink(self.bus, held_stream=HELD_ALARM_STREAM),
                # the hazard sources' gas readings near their limit only (picked with the columns)
                GasNearTap(
                    self.bus,
                    GAS_READINGS_STREAM,
                    {tag: limit for h in self.hazard_contexts for tag, limit in h.gas_limits.items()},
                    near_ratio=risk_table(s).gas_near_ratio,
                ),
            ],
            positions=operator_positions(self.plant),
            watch_sources_ms=round(s.source_timeout_s * 1000),
            seed=seed,
        )

        def target() -> None:
            try:
                run_main(flow)  # type: ignore[no-untyped-call]
            except BaseException as err:  # noqa: BLE001 - reported by health, never silent
                self._flow_error = err
                log.exception("sensor dataflow stopped")

        self._flow_thread = threading.Thread(target=target, name="bytewax-sensors", daemon=True)
        self._flow_thread.start()

    def start_risk_flow(self) -> None:
        """Run the risk dataflow in a thread, fed by the sensor flow's alarms and gas readings and register events."""
        assert self.store is not None
        self.risk_plan = RiskPlan.build(self.hazard_contexts, risk_table(self.settings))
        # Not sensor.reading: subscribing to it would make the sensor flow expand every reading
        # batch into objects for the bus (10,000 a second on a large plant). The gas-near-limit
        # rule gets the gas tags only, filtered on the batch's columns (pipelines.risk.taps).
        sources = [BusSource(self.bus, s) for s in (ALARM_EVENT, RISK_INPUT, GAS_READINGS_STREAM)]
        flow = build_risk_flow(self.risk_plan, sources, [StoreScoreSink(self.store), BusSink(self.bus)])

        def target() -> None:
            try:
                run_main(flow)  # type: ignore[no-untyped-call]
            except BaseException as err:  # noqa: BLE001 - reported by health, never silent
                self._risk_error = err
                log.exception("risk dataflow stopped")

        self._risk_thread = threading.Thread(target=target, name="bytewax-risk", daemon=True)
        self._risk_thread.start()
        self._risk_ticks = threading.Thread(target=self._first_risk_scores, name="risk-ticks", daemon=True)
        self._risk_ticks.start()

    def _first_risk_scores(self) -> None:
        """Score every source once the flow has subscribed, then re-score every minute.

        The first message must wait for the flow's subscription (earlier ones are lost); the
        ticks let time-based rules (an alarm active for more than 30 min) fire with no new input.
        """
        deadline = time.monotonic() + 30
        while not self.bus.has_subscribers(RISK_INPUT) and time.monotonic() < deadline and not self.bus.closed:
            time.sleep(0.01)
        next_tick = 0.0
        while not self.bus.closed:
            if time.monotonic() >= next_tick:
                self.bus.publish(RISK_INPUT, Recompute(ts=int(time.time() * 1000)))
                next_tick = time.monotonic() + 60
            time.sleep(0.2)

    def start_positioning_flow(self) -> None:
        """Run the positioning dataflow in a thread: rangings/fixes in, positions and alarms out.

        Its alarm events go on the bus stream the sensor flow uses, so the alarm worker
        registers them; positions go to the store and the ``location.position`` bus stream.
        """
        assert self.store is not None
        self.positioning = positioning_plan(self.plant, self.settings)
        flow = build_positioning_flow(
            self.positioning,
            BusSource(self.bus, POSITION_INGEST_STREAM, maxsize=self.settings.ingest_queue_batches),
            [PositionStoreSink(self.store)],
            stream_sinks={
                ALARM_EVENT: [BusSink(self.bus), BusSink(self.bus, LIVE_STREAM)],
                LOCATION_POSITION: BusSink(self.bus),
            },
        )

        def target() -> None:
            try:
                run_main(flow)  # type: ignore[no-untyped-call]
            except BaseException as err:  # noqa: BLE001 - reported by health, never silent
                self._pos_error = err
                log.exception("positioning dataflow stopped")

        self._pos_thread = threading.Thread(target=target, name="bytewax-positioning", daemon=True)
        self._pos_thread.start()

    def start_pdm_flow(self) -> None:
        """Run the PdM dataflow once a trained model is there (``safetwin pdm train``), see :mod:`api.pdm_runtime`.

        Booted in a thread: importing scikit-learn and the PdM models takes 1.4 s, which the
        API's start-up (and the first readings) must not wait for; ``pdm`` is None until then.
        """
        store = self.store
        assert store is not None

        def boot() -> None:
            from api.pdm_runtime import PdmService  # registers and scikit-learn: only where the flow runs

            if not self.bus.closed:
                service = PdmService(self.settings, self.plant, self.bus, store, simulate=self.settings.simulate)
                self.pdm = service.start()

        self._pdm_boot = threading.Thread(target=boot, name="pdm-boot", daemon=True)
        self._pdm_boot.start()

    def publish_positioning(self, item: Any) -> None:
        """Hand rangings or vendor fixes (structs or JSON) to the positioning flow."""
        self.bus.publish(POSITION_INGEST_STREAM, item)

    async def _simulate_people(self) -> None:
        """Simulated people walk the plant; their tags' rangings feed the flow once a second."""
        s = self.settings
        if not self.plant.anchors or s.sim_people <= 0:
            return
        # Outdoor line-of-sight range of the demo's corner anchors (110 m x 70 m units): 80 m.
        noise = RangeNoise(sigma_m=s.positioning_sigma_m, nlos_bias_m=5 * s.positioning_sigma_m, max_range_m=80.0)
        sim = PeopleSim.for_plant(self.plant, s.sim_people, noise=noise, seed=s.seed)
        while self._stop is None or not self._stop.is_set():
            sim.step(s.sim_interval_s)
            self.publish_positioning(sim.ranging(int(time.time() * 1000)))
            await asyncio.sleep(s.sim_interval_s)

    def publish_risk_input(self, item: Any) -> None:
        """Hand a register event (special work, bypass, ...) to the risk flow."""
        self.bus.publish(RISK_INPUT, item)

    def _stored(self, readings: int, _alarms: int, newest: int | None) -> None:
        if readings:
            self.stored_readings += readings
            self.last_stored_at = time.time()
            if newest is not None:
                self.newest_stored_ts = max(newest, self.newest_stored_ts or newest)

    def publish_readings(self, readings: Sequence[SensorReading]) -> None:
        """Hand one scan of a connector to the dataflow, as ONE item (the flow works in batches)."""
        if readings:
            now = time.time()
            self._scan_lags.append((now, now - min(r.ts for r in readings) / 1000))
            self.bus.publish(INGEST_STREAM, list(readings))

    def scan_lag(self, since: float | None = None) -> tuple[float, float] | None:
        """Median and p99 (s) of how late recent scans reached the flow: hand-over time - oldest reading's time.

        The connector's share of a reading's way to the screen; ``/health`` shows it so an
        operator can tell a slow device link from a slow flow. Over the last
        :data:`SCAN_LAG_WINDOW_S` seconds, or over the scans handed over since ``since`` (epoch
        s, as far back as the kept scans reach): a measurement that starts after warm-up leaves
        out an OPC UA subscription's first notifications, whose readings carry the time of
        each value's last change, not a lag.
        """
        if since is None:
            since = time.time() - SCAN_LAG_WINDOW_S
        lags = sorted(lag for at, lag in list(self._scan_lags) if at >= since)
        if not lags:
            return None
        return lags[len(lags) // 2], lags[min(len(lags) - 1, int(0.99 * len(lags)))]

    @property
    def dropped_batches(self) -> int:
        """Scans dropped because the flow fell more than ``ingest_queue_batches`` behind."""
        return self.bus.dropped(INGEST_STREAM)

    def problems(self) -> list[str]:
        """Why the runtime is not healthy (empty: healthy); ``/health`` reports them."""
        out: list[str] = []
        if self.live_push is not None:
            if not self.live_push.connected:
                out.append(f"Kafka live push not connected: {self.live_push.last_error or 'starting'}")
            return out
        if self.store is None or not self.flow_alive:
            out.append("sensor dataflow is not running" + (f": {self._flow_error}" if self._flow_error else ""))
        if self.devices_error is not None:
            out.append(f"simulated devices: {self.devices_error}")
        elif self.connector is not None and self.connector.error is not None:
            out.append(f"connector: {self.connector.error}")
        if self._risk_error is not None:
            out.append(f"risk dataflow stopped: {self._risk_error}")
        if self._pos_error is not None:
            out.append(f"positioning dataflow stopped: {self._pos_error}")
        if self.dropped_batches:
            out.append(f"{self.dropped_batches} scan(s) dropped: the dataflow fell behind")
        if self.store is not None:
            silent = [a.source_id for a in self.store.active_alarms() if a.kind == COMM]
            if silent:
                out.append("通讯故障 (no data): " + ", ".join(sorted(silent)))
        timeout = self.settings.source_timeout_s
        started = self.started_at and time.time() - self.started_at > timeout
        if self.settings.simulate and started and time.time() - self.last_stored_at > timeout:
            out.append(f"no reading stored for more than {timeout:g} s")
        return out

    @property
    def distributed(self) -> bool:
        """An API replica of the distributed mode: the flow runs elsewhere, live push comes from Kafka."""
        return bool(self.settings.kafka_brokers)

    async def start(self) -> None:
        """Open the store, start the flow, the field servers and the connectors.

        In distributed mode (Kafka brokers set) no flow runs here: the replica reads the store
        and serves live push from the flow's output topics.
        """
        self.started_at = time.time()
        self.store = self.open_store()
        if self.distributed:
            from api.kafka_live import KafkaLivePush, default_topics

            s = self.settings
            self.live_push = KafkaLivePush(
                self.bus, s.kafka_brokers, stream=LIVE_STREAM, topics=default_topics(s.kafka_topic_prefix)
            ).start()
            return
        if self.settings.own_process:
            # Three dataflow threads and the event loop (connectors, API, WebSockets) share one
            # interpreter lock. With the default 5 ms switch interval every socket read of the
            # event loop can wait 5 ms for a busy flow thread; a 162-request Modbus poll then
            # took twice as long (0.81 -> 0.43 s median measured with one busy thread at 1 ms).
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self.start_flow()
        self.start_risk_flow()
        self.start_positioning_flow()
        self.start_pdm_flow()
        if not self.settings.simulate:
            return
        self._tasks.append(asyncio.create_task(self._simulate_people(), name="people"))
        s = self.settings
        self._stop = asyncio.Event()
        if self.devices is None:  # else launched already, before the platform loaded (api.field_devices)
            self.devices = FieldProcess(field_config(s))
        # The API is up while the devices boot (2 s for the demo plant, more for a large one):
        # /health answers at once, and the readings follow as soon as the devices do.
        self._tasks.append(asyncio.create_task(self._connect_devices(), name="devices"))

    async def _connect_devices(self) -> None:
        """Start the simulated devices, then the connector that reads them."""
        assert self.devices is not None
        s = self.settings
        try:
            # The connector decodes in a process of its own (api.connector_process): at 10,000
            # tags its pure-Python decoding starved the flows and the API of the interpreter lock.
            # Spawned first, it loads its protocol stack while the devices boot.
            self.connector = ConnectorProcess(
                ConnectorConfig(
                    kind=s.ingest,
                    plant_file=str(s.plant_file),
                    port=s.opcua_port if s.ingest == "opcua" else s.modbus_port,
                    interval_s=s.sim_interval_s,
                    chunk_points=MODBUS_CHUNK_POINTS,
                ),
                self.publish_readings,
            )
            await self.connector.spawn()
            await self.devices.start()
            await self.connector.start()
        except Exception as err:  # noqa: BLE001 - reported by /health, never silent
            self.devices_error = f"{type(err).__name__}: {err}"
            log.exception("the simulated devices or their connector did not start")
            return
        if s.own_process:
            await self._settle_heap()

    async def _settle_heap(self) -> None:
        """Freeze what start-up built (modules, plant, flows, connectors) out of the full GC passes.

        A 10,000-tag plant leaves about 740,000 long-lived objects; every full collection
        walked all of them, holding the interpreter lock 0.4-0.8 s, and each such pause was
        a late scan (measured: the late Modbus chunks of a 40 s run were exactly the full
        collections). Frozen, a full pass walks only what was made since. Done once the
        first scans are in, so the connector's and the flow's own state is frozen too.
        """
        deadline = time.monotonic() + HEAP_SETTLE_S
        while self.stored_readings == 0 and time.monotonic() < deadline and not self.bus.closed:
            await asyncio.sleep(0.1)
        gc.collect()
        gc.freeze()
        log.info("start-up heap frozen: %d objects left out of full collections", gc.get_freeze_count())

    async def stop(self) -> None:
        """Stop connectors, servers and the flow; close the store last."""
        if self.live_push is not None:
            await asyncio.to_thread(self.live_push.stop)
        if self._stop is not None:
            self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.connector is not None:
            await self.connector.stop()
        if self.devices is not None:
            await self.devices.stop()
        self.bus.close()
        if self._flow_thread is not None:
            await asyncio.to_thread(self._flow_thread.join, 10)
        if self._risk_thread is not None:
            await asyncio.to_thread(self._risk_thread.join, 10)
        if self._risk_ticks is not None:
            await asyncio.to_thread(self._risk_ticks.join, 5)
        if self._pos_thread is not None:
            await asyncio.to_thread(self._pos_thread.join, 10)
        if self._pdm_boot is not None:
            await asyncio.to_thread(self._pdm_boot.join, 30)
        if self.pdm is not None:
            await asyncio.to_thread(self.pdm.stop)
        if self.store is not None:
            self.store.close()
