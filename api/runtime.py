"""The embedded plant: simulated devices (own process), connectors, dataflow and store behind the API.

This is the composition root of the embedded mode (ARCHITECTURE.md "one command, nothing
else installed"): DuckDB lets one process write its file, so the pipeline writes and the API
reads through the same store object. Data travels the real path:

    simulator -> OPC UA server (or Modbus TCP server), in a child process (twin.field_process)
    -> subscriber / poller (connectors)
    -> bus "ingest.sensor.reading" -> Bytewax flow (thread) -> DuckDB + bus "live" -> WebSocket
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bytewax.testing import run_main

from api.settings import Settings
from connectors.bus.bytewax_io import BusSink, BusSource
from connectors.bus.memory import Bus
from connectors.modbus.client import ModbusPoller
from connectors.opcua.client import OpcUaSubscriber
from connectors.store import open_store
from connectors.store.base import TimeSeriesStore
from connectors.store.sink import StoreSink
from models.contracts import SensorReading
from models.limits import TagLimits
from pipelines.sensors.flow import build_flow
from pipelines.sensors.steps import COMM, FlowPlan, IngestRules, seed_state
from twin.field import modbus_data_valid, modbus_points, opcua_points
from twin.field_process import FieldConfig, FieldProcess
from twin.plant import Plant

log = logging.getLogger(__name__)

INGEST_STREAM = "ingest.sensor.reading"
LIVE_STREAM = "live"
HELD_ALARM_STREAM = "alarm.event.held"  # recorded, not annunciated (held back during a flood)


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


def ingest_rules(settings: Settings) -> IngestRules:
    """What the sensor flow accepts, from the settings."""
    return IngestRules(
        max_payload_bytes=settings.max_payload_bytes,
        max_future_ms=round(settings.max_future_s * 1000),
        source_timeout_ms=round(settings.source_timeout_s * 1000),
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
    _subscriber: OpcUaSubscriber | None = None
    _poller: ModbusPoller | None = None
    stored_readings: int = 0
    last_stored_at: float = 0.0
    """Wall time (s) of the latest committed store write of readings."""
    newest_stored_ts: int | None = None
    devices_error: str | None = None
    """Why the simulated devices or their connector failed to start, if they did."""
    live_push: Any = None
    """Distributed mode: the :class:`api.kafka_live.KafkaLivePush` feeding ``/ws/live``."""

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
                StoreSink(self.store, on_written=self._stored),
                BusSink(self.bus, held_stream=HELD_ALARM_STREAM),
                BusSink(self.bus, LIVE_STREAM),
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

    def _stored(self, readings: int, _alarms: int, newest: int | None) -> None:
        if readings:
            self.stored_readings += readings
            self.last_stored_at = time.time()
            if newest is not None:
                self.newest_stored_ts = max(newest, self.newest_stored_ts or newest)

    def publish_readings(self, readings: Sequence[SensorReading]) -> None:
        """Hand one scan of a connector to the dataflow, as ONE item (the flow works in batches)."""
        if readings:
            self.bus.publish(INGEST_STREAM, list(readings))

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
        self.start_flow()
        if not self.settings.simulate:
            return
        s = self.settings
        self._stop = asyncio.Event()
        self.devices = FieldProcess(
            FieldConfig(
                plant_file=s.plant_file,
                seed=s.seed,
                modbus_port=s.modbus_port,
                opcua_port=s.opcua_port,
                mqtt_url=s.mqtt_url,
                interval_s=s.sim_interval_s,
            )
        )
        # The API is up while the devices boot (2 s for the demo plant, more for a large one):
        # /health answers at once, and the readings follow as soon as the devices do.
        self._tasks.append(asyncio.create_task(self._connect_devices(), name="devices"))

    async def _connect_devices(self) -> None:
        """Start the simulated devices, then the connector that reads them."""
        assert self.devices is not None
        s = self.settings
        try:
            await self.devices.start()
            if s.ingest == "opcua":
                url = f"opc.tcp://127.0.0.1:{s.opcua_port}/safetwin/"
                self._subscriber = OpcUaSubscriber(url, opcua_points(self.plant), self.publish_readings)
                await self._subscriber.start()
            else:
                self._poller = ModbusPoller(
                    "127.0.0.1",
                    s.modbus_port,
                    modbus_points(self.plant),
                    source="modbus",
                    data_valid=modbus_data_valid(self.plant),
                    timeout=3.0,  # a poll cycle of a large plant shares one event loop with the API
                )
                await self._poller.connect()
                self._tasks.append(asyncio.create_task(self._poll_modbus(), name="modbus-poll"))
        except Exception as err:  # noqa: BLE001 - reported by /health, never silent
            self.devices_error = f"{type(err).__name__}: {err}"
            log.exception("the simulated devices or their connector did not start")

    async def _poll_modbus(self) -> None:
        assert self._poller is not None and self._stop is not None
        interval = self.settings.sim_interval_s
        next_poll = time.monotonic()
        while not self._stop.is_set():
            self.publish_readings(await self._poller.poll())
            # A fixed grid: the poll's own duration must not stretch the scan period (a
            # 10,000-tag poll takes a third of a second), and a late poll skips, never bunches.
            next_poll = max(next_poll + interval, time.monotonic())
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, next_poll - time.monotonic()))
            except TimeoutError:
                pass

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
        if self._subscriber is not None:
            await self._subscriber.stop()
        if self._poller is not None:
            await self._poller.close()
        if self.devices is not None:
            await self.devices.stop()
        self.bus.close()
        if self._flow_thread is not None:
            await asyncio.to_thread(self._flow_thread.join, 10)
        if self.store is not None:
            self.store.close()
