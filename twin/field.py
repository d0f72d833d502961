"""The simulated plant's field level: real Modbus TCP, OPC UA and MQTT servers.

The connectors must be exercised against the protocols they will meet in a plant, not
against mocks, so the simulator speaks through real servers:

* Modbus TCP (pymodbus): every tag is a FLOAT32 in two holding registers at
  ``plant.modbus_address(tag)``, big-endian word order, device id 1, and one "data valid"
  holding register (uint16, 1 once the first sample is written) just after the last tag
  (:func:`modbus_data_valid`);
* OPC UA (asyncua): ``opc.tcp://{host}:{port}/safetwin/``, namespace
  ``urn:safetwin:{plant_id}`` (index 2), one folder object per area, one object per
  equipment in it and one Double variable per tag whose string NodeId is the tag
  (``ns=2;s=PT-101``); each value carries the sample time as its SourceTimestamp. A node is
  created with status BadWaitingForInitialData: its initial value is not a reading;
* MQTT (paho, optional): each reading's contract JSON on ``safetwin/{plant_id}/sensor/{tag}``.

The helpers :func:`modbus_points`, :func:`modbus_data_valid` and :func:`opcua_points` give
the matching connector maps, so a demo needs no hand-written address table.

No client ever sees a value the simulator did not produce: :meth:`FieldServers.start` writes
a first sample into both servers before either accepts a connection, so a poll at start-up
never reads zero-filled registers and a subscription's initial notification is a real sample.

Start-up cost is dominated by asyncua: loading the standard address space takes about
0.9 s on the reference machine, and creating the nodes about 1.2 ms per tag (measured: 4.3 s
for a generated 2,000-tag plant, 13.2 s for 10,000 tags with 2,605 equipment; asyncua checks
a new node against every sibling, so equipment is grouped in area folders to keep that cost
linear). Writing a sample into the OPC UA nodes takes about 12 µs of CPU per tag (0.10-0.15 s
for 10,000 with a subscriber; it was 30 µs before :func:`_share_written_values` took
asyncua's per-value overheads out); Modbus and MQTT take milliseconds. :attr:`FieldServers.startup_s` records the
measured times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
from collections.abc import Callable, Iterable
from datetime import UTC

import numpy as np
from asyncua import ua
from asyncua.server.address_space import AttributeValue
from asyncua.server.internal_subscription import InternalSubscription
from asyncua.server.monitored_item_service import MonitoredItemService, MonitoredItemValues
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.object_ids import ObjectIds
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.ua_binary import struct_to_binary
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from connectors.modbus.client import RegisterPoint
from connectors.mqtt.client import MqttPublisher
from connectors.opcua.client import NodePoint
from models.contracts import SensorReading
from twin.plant import Plant
from twin.simulator import Simulator

logger = logging.getLogger(__name__)

MODBUS_DEVICE_ID = 1
OPCUA_NAMESPACE_INDEX = 2  # 0 is the OPC Foundation's, 1 the server's own; ours is the first registered
_WRITE_MULTIPLE_REGISTERS = 16
MODBUS_DATA_VALID_TAG = "_data_valid"
"""Tag name of the field server's "data valid" register in :func:`modbus_data_valid`."""
WRITE_SLICE = 250
"""Values written between two yields to the event loop (see ``FieldServers._write``)."""
PROTOCOLS = ("modbus", "opcua")
"""The field protocols the simulated devices can serve."""

OnSample = Callable[[list[SensorReading]], None]


def opcua_namespace(plant: Plant) -> str:
    """The namespace URI of a plant's OPC UA nodes."""
    return f"urn:safetwin:{plant.plant.id}"


def opcua_endpoint(host: str, port: int) -> str:
    """The endpoint URL the field OPC UA server listens on."""
    return f"opc.tcp://{host}:{port}/safetwin/"


def modbus_points(plant: Plant, *, device_id: int = MODBUS_DEVICE_ID) -> list[RegisterPoint]:
    """Modbus map of the field server: one big-endian FLOAT32 per tag, in plant order."""
    return [
        RegisterPoint(tag=t.tag, address=plant.modbus_address(t.tag), datatype="float32", device_id=device_id)
        for t in plant.tags
    ]


def modbus_data_valid_address(plant: Plant) -> int:
    """Holding register of the "data valid" flag: the first one after the last tag's value."""
    return max((plant.modbus_address(t.tag) for t in plant.tags), default=-2) + 2


def modbus_data_valid(plant: Plant, *, device_id: int = MODBUS_DEVICE_ID) -> dict[int, RegisterPoint]:
    """The ``data_valid`` map for :class:`~connectors.modbus.client.ModbusPoller`: 1 once values are real."""
    point = RegisterPoint(
        tag=MODBUS_DATA_VALID_TAG, address=modbus_data_valid_address(plant), datatype="uint16", device_id=device_id
    )
    return {device_id: point}


def opcua_points(plant: Plant) -> list[NodePoint]:
    """OPC UA map of the field server: ``ns=2;s={tag}`` per tag, in plant order."""
    return [NodePoint(tag=t.tag, node_id=f"ns={OPCUA_NAMESPACE_INDEX};s={t.tag}") for t in plant.tags]


def _float32_runs(addresses: dict[str, int]) -> list[tuple[int, list[str]]]:
    """Tags grouped into runs of back-to-back FLOAT32 registers: (first address, tags in order)."""
    runs: list[tuple[int, list[str]]] = []
    for tag, address in sorted(addresses.items(), key=lambda item: item[1]):
        if runs and address == runs[-1][0] + 2 * len(runs[-1][1]):
            runs[-1][1].append(tag)
        else:
            runs.append((address, [tag]))
    return runs


def _keep_written_value(self: MonitoredItemValues, cur_val: ua.DataValue) -> None:
    self.old_dvalue = self.current_dvalue
    self.current_dvalue = cur_val


def _share_written_values() -> None:
    """Let the simulator's OPC UA server keep the DataValue it was given instead of a deep copy.

    asyncua's server deep-copies every written value once per monitored item, in case the
    writer mutates it later. The field servers build a fresh DataValue for every sample and
    never touch it again, so the copy protects nothing; at 10,000 tags it was the largest
    cost of the device process (about 60 % of its CPU, measured with py-spy) and capped the
    plant's OPC UA rate at about 8,000 values/s on 2 cores. Only the simulated devices'
    process runs an OPC UA server; the platform's subscriber is a client and unaffected.

    For the same reason data changes are queued without a coroutine per value
    (:func:`_queue_change`) and publish responses carry them already encoded
    (:func:`_pop_encoded_datachanges`); what a client receives is byte for byte the same.
    """
    MonitoredItemValues.set_current_datavalue = _keep_written_value  # type: ignore[method-assign]
    MonitoredItemService.datachange_callback = _lean_datachange_callback  # type: ignore[method-assign]
    InternalSubscription._pop_triggered_datachanges = _pop_encoded_datachanges  # type: ignore[method-assign]


_asyncua_datachange_callback = MonitoredItemService.datachange_callback


def _queue_change(service: MonitoredItemService, handle: int, value: ua.DataValue) -> bool:
    """Queue a written value's data change as asyncua does, without a coroutine per value.

    The logic of asyncua's ``MonitoredItemService.datachange_callback`` and
    ``InternalSubscription.enqueue_datachange_event``, less two things that cost the device
    process most of its CPU at 10,000 values a second: asyncua builds a default
    ``MonitoredItemNotification()`` before looking at the value (its empty
    ``DataValue(Variant())`` guesses a variant type, 15 µs, 37 % of the process's samples)
    and awaits three coroutines per value that only append to a list when a publishing loop
    runs (another fifth, py-spy). Returns False, having done nothing, where asyncua's own
    path is needed: a subscription without a publishing loop (interval 0 publishes at once).
    """
    isub = service.isub
    if isub._task is None:
        return False
    mid = service._monitored_datachange[handle]
    mdata = service._monitored_items[mid]
    if mdata.mode == ua.MonitoringMode.Disabled:
        return True
    mdata.mvalue.set_current_datavalue(value)
    if mdata.filter:
        report = service._is_data_changed(mdata.mvalue, mdata.filter.Trigger) and service._is_deadband_exceeded(
            mdata.mvalue, mdata.filter
        )
    else:
        report = service._is_data_changed(mdata.mvalue, ua.DataChangeTrigger.StatusValue)
    if report:
        notification = ua.MonitoredItemNotification(ClientHandle=mdata.client_handle, Value=value)
        queued = isub._triggered_datachanges.get(mid)
        if queued is None:
            isub._triggered_datachanges[mid] = [notification]
        else:
            if mdata.queue_size and len(queued) >= mdata.queue_size:
                queued.pop(0)
            queued.append(notification)
    return True


async def _lean_datachange_callback(
    self: MonitoredItemService, handle: int, value: ua.DataValue, error: ua.StatusCode | None = None
) -> None:
    """The data-change callback of asyncua, through :func:`_queue_change` where it can."""
    if error is None and _queue_change(self, handle, value):
        return
    await _asyncua_datachange_callback(self, handle, value, error)


_asyncua_pop_datachanges = InternalSubscription._pop_triggered_datachanges
_DATA_CHANGE_BINARY = ua.NodeId(ua.Int32(ObjectIds.DataChangeNotification_Encoding_DefaultBinary))
_COUNT = struct.Struct("<i")
_SAMPLE_ITEM = struct.Struct("<IBBdIqq")
"""A MonitoredItemNotification as the devices write it: handle, DataValue mask 0x0F, Double, status, two times."""


def _encode_item(item: ua.MonitoredItemNotification, ticks: dict[object, int]) -> bytes:
    """One notification in OPC UA binary: struct-packed in the devices' shape, else by asyncua."""
    dv = item.Value
    var = dv.Value
    if (
        var is None
        or var.VariantType is not ua.VariantType.Double
        or var.is_array
        or type(var.Value) is not float
        or dv.StatusCode is None
        or dv.SourceTimestamp is None
        or dv.ServerTimestamp is None
        or dv.SourcePicoseconds is not None
        or dv.ServerPicoseconds is not None
    ):
        return struct_to_binary(item)
    source = ticks.get(dv.SourceTimestamp)
    if source is None:
        source = ticks[dv.SourceTimestamp] = ua.datetime_to_win_epoch(dv.SourceTimestamp)
    server = ticks.get(dv.ServerTimestamp)
    if server is None:
        server = ticks[dv.ServerTimestamp] = ua.datetime_to_win_epoch(dv.ServerTimestamp)
    return _SAMPLE_ITEM.pack(item.ClientHandle, 0x0F, 11, var.Value, dv.StatusCode.value, source, server)


def _pop_encoded_datachanges(self: InternalSubscription, result: ua.PublishResult) -> None:
    """The ``_pop_triggered_datachanges`` of asyncua, the notification handed over already encoded.

    asyncua encodes a publish response field by field from the type hints, about 18 µs per
    data change: with the writes, the rest of the device process's CPU at 10,000 tags.
    The data changes of the devices all have one shape (a Double with status and both
    timestamps), which is packed here in one ``struct`` call each; the notification goes
    into the response as an ExtensionObject holding those bytes, which is exactly what
    asyncua would have sent (tests/twin/test_field_encoding.py compares them). A server-side
    subscription (no client; its results are read as objects) keeps asyncua's own path.
    """
    if self.pub_request_callback is None or not self._triggered_datachanges:
        _asyncua_pop_datachanges(self, result)
        return
    items = [item for queued in self._triggered_datachanges.values() for item in queued]
    self._triggered_datachanges = {}
    ticks: dict[object, int] = {}
    body = b"".join([_COUNT.pack(len(items)), *[_encode_item(item, ticks) for item in items], _COUNT.pack(0)])
    result.NotificationMessage.NotificationData.append(
        ua.ExtensionObject(TypeId=_DATA_CHANGE_BINARY, Body=ua.ByteString(body))
    )


class FieldServers:
    """Serves a simulator's values over Modbus TCP, OPC UA and (optionally) MQTT.

    Args:
        plant: The plant whose tags are served.
        simulator: Source of the values (usually built for the same plant).
        modbus_port: TCP port of the Modbus server.
        opcua_port: TCP port of the OPC UA server.
        host: Interface both servers bind to.
        mqtt_url: ``mqtt://host:port`` of a broker to publish readings to; None for no MQTT.
        on_sample: Called with each step's readings (e.g. to feed an in-memory bus directly).
        protocols: Which servers to run (``"modbus"``, ``"opcua"``). The embedded runtime
            reads one of them; at 10,000 tags feeding the other every second is most of the
            device process's CPU (asyncua's per-node writes) and delays the answers to the
            protocol that is actually read.
    """

    def __init__(
        self,
        plant: Plant,
        simulator: Simulator,
        *,
        modbus_port: int,
        opcua_port: int,
        host: str = "127.0.0.1",
        mqtt_url: str | None = None,
        on_sample: OnSample | None = None,
        protocols: Iterable[str] = PROTOCOLS,
    ) -> None:
        chosen = frozenset(protocols)
        if not chosen or not chosen <= set(PROTOCOLS):
            msg = f"protocols must be a non-empty subset of {PROTOCOLS}, got {sorted(chosen)}"
            raise ValueError(msg)
        self.protocols = chosen
        self.plant = plant
        self.simulator = simulator
        self.host = host
        self.modbus_port = modbus_port
        self.opcua_port = opcua_port
        self.mqtt_url = mqtt_url
        self.on_sample = on_sample
        self.startup_s: dict[str, float] = {}
        """Measured start-up seconds per server (``modbus``, ``opcua``, ``mqtt``)."""
        self.paused_until = 0.0
        """Wall time (s) until which no sample is written (a simulated outage, see :meth:`pause`)."""
        self._addresses = {t.tag: plant.modbus_address(t.tag) for t in plant.tags}
        self._modbus_runs = _float32_runs(self._addresses)
        self._data_valid_address = modbus_data_valid_address(plant)
        self._modbus: ModbusTcpServer | None = None
        self._opcua: Server | None = None
        self._nodes: dict[str, ua.NodeId] = {}
        self._value_attributes: dict[str, AttributeValue] = {}
        self._mqtt: MqttPublisher | None = None

    @property
    def opcua_url(self) -> str:
        """Endpoint URL of the OPC UA server."""
        return opcua_endpoint(self.host, self.opcua_port)

    @property
    def namespace_uri(self) -> str:
        """Namespace URI of the tag nodes."""
        return opcua_namespace(self.plant)

    async def __aenter__(self) -> FieldServers:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self, *, first_sample_s: float | None = None) -> None:
        """Start every server; on any failure the ones already started are stopped again.

        Both servers hold the simulator's sample at ``first_sample_s`` (default: now) before
        they accept connections. That priming sample is not published to MQTT or
        ``on_sample``: push channels only carry the samples of :meth:`step`.
        """
        t_first = time.time() if first_sample_s is None else first_sample_s
        try:
            t0 = time.perf_counter()
            modbus = self._build_modbus() if "modbus" in self.protocols else None
            self._modbus = modbus
            t1 = time.perf_counter()
            self._opcua = await self._build_opcua() if "opcua" in self.protocols else None
            t2 = time.perf_counter()
            await self._write(self.simulator.readings_at(t_first), t_first)
            if modbus is not None:
                await modbus.async_setValues(MODBUS_DEVICE_ID, _WRITE_MULTIPLE_REGISTERS, self._data_valid_address, [1])
            t3 = time.perf_counter()
            if modbus is not None:
                await modbus.serve_forever(background=True)
            t4 = time.perf_counter()
            if self._opcua is not None:
                await self._opcua.start()
            t5 = time.perf_counter()
            self.startup_s = {"modbus": t1 - t0 + t4 - t3, "opcua": t2 - t1 + t5 - t4, "first_sample": t3 - t2}
            if self.mqtt_url is not None:
                publisher = MqttPublisher(self.mqtt_url)
                await asyncio.to_thread(publisher.connect)
                self._mqtt = publisher
                self.startup_s["mqtt"] = time.perf_counter() - t5
        except BaseException:
            await self.stop()
            raise
        logger.info(
            "field servers up: %s%s%s (start-up %s)",
            f"modbus {self.host}:{self.modbus_port} " if self._modbus is not None else "",
            self.opcua_url if self._opcua is not None else "",
            f", mqtt {self.mqtt_url}" if self.mqtt_url else "",
            {k: round(v, 3) for k, v in self.startup_s.items()},
        )

    def _build_modbus(self) -> ModbusTcpServer:
        # One register block from 0 to the data-valid flag after the last tag: gaps read as
        # zero instead of failing. Not listening yet.
        device = SimDevice(
            id=MODBUS_DEVICE_ID,
            simdata=[SimData(address=0, count=self._data_valid_address + 1, values=0, datatype=DataType.REGISTERS)],
        )
        return ModbusTcpServer(context=device, address=(self.host, self.modbus_port))

    async def _build_opcua(self) -> Server:
        """The OPC UA server with every node, not listening yet (``start()`` opens the endpoint)."""
        _share_written_values()
        server = Server()
        await server.init()
        server.set_endpoint(self.opcua_url)
        server.set_server_name(f"SafeTwin field server ({self.plant.plant.id})")
        idx = await server.register_namespace(self.namespace_uri)
        if idx != OPCUA_NAMESPACE_INDEX:  # pragma: no cover - asyncua always gives 2 to the first
            msg = f"expected namespace index {OPCUA_NAMESPACE_INDEX}, asyncua gave {idx}"
            raise RuntimeError(msg)
        # asyncua checks each new node against all its siblings (quadratic in the children
        # of one parent): area folders keep the Objects folder small in a large plant.
        areas = {}
        for area in self.plant.areas:
            areas[area.id] = await server.nodes.objects.add_folder(
                f"ns={idx};s=area/{area.id}", ua.QualifiedName(area.id, idx)
            )
        objects = {}
        for equipment in self.plant.equipment:
            objects[equipment.id] = await areas[equipment.area].add_object(
                f"ns={idx};s={equipment.id}", ua.QualifiedName(equipment.id, idx)
            )
        waiting = ua.DataValue(
            ua.Variant(0.0, ua.VariantType.Double),
            StatusCode=ua.StatusCode(ua.UInt32(StatusCodes.BadWaitingForInitialData)),
        )
        for tag in self.plant.tags:
            node = await objects[tag.equipment].add_variable(
                f"ns={idx};s={tag.tag}", ua.QualifiedName(tag.tag, idx), 0.0, varianttype=ua.VariantType.Double
            )
            # Not a reading until the simulator writes one (OPC UA Part 8: no initial data yet).
            await server.write_attribute_value(node.nodeid, waiting)
            self._nodes[tag.tag] = node.nodeid
            self._value_attributes[tag.tag] = server.iserver.aspace[node.nodeid].attributes[AttributeIds.Value]
        return server

    async def _write(self, readings: list[SensorReading], t_s: float) -> None:
        """Put one sample into the Modbus registers and the OPC UA nodes."""
        # Neither write suspends, so without a pause every WRITE_SLICE values a 10,000-tag
        # sample would hold the event loop for a third of a second and make every Modbus
        # request and OPC UA publish of that moment wait for it.
        if self._modbus is not None:
            await self._write_modbus(readings)
        if self._opcua is not None:
            await self._write_opcua(self._opcua, readings, t_s)

    async def _write_opcua(self, server: Server, readings: list[SensorReading], t_s: float) -> None:
        """Write the sample into the tag nodes, straight into the address space.

        What ``Server.write_attribute_value`` does for a Double node without a value setter
        (store the value, call each monitored item's data-change callback), minus its two
        awaited wrappers and the per-value type check (the devices write Doubles into Double
        nodes): at 10,000 values a second the wrappers showed in the profile, and the time
        a sample takes to write is the first part of every reading's latency (the sample's
        SourceTimestamp is its grid time). Monitored items are queued by
        :func:`_queue_change`; anything else gets the callback asyncua would call. The
        ServerTimestamp is when the slice was written (the server's receive time in OPC UA
        terms), so a client can tell the device's write time from its own delays.
        """
        source_ts = ua.DateTime.fromtimestamp(t_s, tz=UTC)
        double = ua.VariantType.Double
        good = ua.StatusCode()  # Good, immutable: shared instead of one per value
        targets = self._value_attributes
        for start in range(0, len(readings), WRITE_SLICE):
            server_ts = ua.DateTime.now(tz=UTC)
            for r in readings[start : start + WRITE_SLICE]:
                value = ua.DataValue(
                    ua.Variant(r.value, double), StatusCode=good, SourceTimestamp=source_ts, ServerTimestamp=server_ts
                )
                attribute = targets[r.tag]
                if attribute.value_setter is not None:  # pragma: no cover - the devices install none
                    await server.iserver.aspace.write_attribute_value(self._nodes[r.tag], AttributeIds.Value, value)
                    continue
                attribute.value = value
                attribute.value_callback = None
                for handle, callback in attribute.datachange_callbacks.items():
                    service = getattr(callback, "__self__", None)
                    if not (isinstance(service, MonitoredItemService) and _queue_change(service, handle, value)):
                        await callback(handle, value)
            await asyncio.sleep(0)

    async def _write_modbus(self, readings: list[SensorReading]) -> None:
        """Write the sample's FLOAT32 registers, one request per run of neighbouring tags.

        A value at a time (10,000 ``setValues`` calls and register conversions per sample)
        was a tenth of the device process's CPU at 10,000 tags; numpy converts a run of
        values to big-endian register pairs (high word first, as the client's FLOAT32
        conversion does) in one go.
        """
        assert self._modbus is not None
        value_of = {r.tag: r.value for r in readings}
        for start, tags in self._modbus_runs:
            for i in range(0, len(tags), WRITE_SLICE):
                chunk = [t for t in tags[i : i + WRITE_SLICE] if t in value_of]
                if len(chunk) < min(WRITE_SLICE, len(tags) - i):  # a tag without a value: one by one
                    for tag in chunk:
                        registers = np.asarray([value_of[tag]], dtype=">f4").view(">u2").tolist()
                        await self._modbus.async_setValues(
                            MODBUS_DEVICE_ID, _WRITE_MULTIPLE_REGISTERS, self._addresses[tag], registers
                        )
                else:
                    registers = np.asarray([value_of[t] for t in chunk], dtype=">f4").view(">u2").tolist()
                    await self._modbus.async_setValues(
                        MODBUS_DEVICE_ID, _WRITE_MULTIPLE_REGISTERS, start + 2 * i, registers
                    )
                await asyncio.sleep(0)

    async def step(self, t_s: float) -> list[SensorReading]:
        """Sample the simulator at ``t_s`` and publish the values on every server."""
        readings = self.simulator.readings_at(t_s)
        await self._write(readings, t_s)
        if self._mqtt is not None:
            self._mqtt.publish_readings(self.plant.plant.id, readings)
        if self.on_sample is not None:
            self.on_sample(readings)
        return readings

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Step on a wall-clock grid (multiples of ``interval_s``) until ``stop`` is set.

        Sample times are exact grid points, so the series has no drift and two runs (or two
        processes) with the same seed produce the same samples; a late wake-up skips to the
        next grid point instead of bunching samples.
        """
        if not interval_s > 0:
            msg = f"interval_s must be positive, got {interval_s}"
            raise ValueError(msg)
        n = math.floor(time.time() / interval_s) + 1
        while not stop.is_set():
            t = n * interval_s
            delay = t - time.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return
            if time.time() >= self.paused_until:
                await self.step(t)
            n = max(n + 1, math.floor(time.time() / interval_s) + 1)

    def pause(self, seconds: float) -> None:
        """Stop updating the servers for ``seconds``: a field communication outage (demo, tests)."""
        self.paused_until = time.time() + seconds

    async def stop(self) -> None:
        """Stop every server that is running (idempotent)."""
        mqtt, self._mqtt = self._mqtt, None
        if mqtt is not None:
            await asyncio.to_thread(mqtt.close)
        opcua, self._opcua = self._opcua, None
        if opcua is not None:
            await stop_opcua_server(opcua)
        modbus, self._modbus = self._modbus, None
        if modbus is not None:
            await modbus.shutdown()  # type: ignore[no-untyped-call]


async def stop_opcua_server(server: Server) -> None:
    """Stop an asyncua server quickly and without leaving tasks behind.

    Two asyncua 2.1 habits are worked around, both through private attributes (if they
    move, this degrades to a plain ``Server.stop()``):

    * ``stop()`` waits for the once-a-second ServerStatus clock task to finish its sleep,
      adding up to 1 s per stop; the task is cancelled first instead.
    * A client session with subscriptions outlives its TCP connection (so the client may
      re-activate it, OPC UA Part 4 6.7) and ``stop()`` does not close it, leaving two tasks
      per session running after the server is gone; those sessions are closed here.
    """
    iserver = server.iserver
    clock: asyncio.Task[None] | None = getattr(iserver, "time_task", None)
    if clock is not None:
        clock.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await clock
        iserver.time_task = None
    await server.stop()
    for session in list(getattr(iserver, "_external_sessions", {}).values()):
        with contextlib.suppress(Exception):
            await session.close_session()
