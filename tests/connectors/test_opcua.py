from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from asyncua import Client, Server, ua
from hypothesis import given
from hypothesis import strategies as st

from connectors.opcua.client import NodePoint, OpcUaError, OpcUaSubscriber, quality_of, timestamp_ms
from models.contracts import Quality, SensorReading
from tests.conftest import free_port
from twin.field import stop_opcua_server

NS = "urn:safetwin:test"
T0 = datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC)
T0_MS = round(T0.timestamp() * 1000)
POINTS = [NodePoint(tag="PT-1", node_id="ns=2;s=PT-1"), NodePoint(tag="TT-1", node_id="ns=2;s=TT-1")]


class UaTestServer:
    """A two-variable asyncua server; the field servers are tested in tests/twin."""

    def __init__(self, port: int) -> None:
        self.url = f"opc.tcp://127.0.0.1:{port}/test/"
        self.server = Server()
        self.nodes: dict[str, ua.NodeId] = {}

    async def start(self) -> None:
        await self.server.init()
        self.server.set_endpoint(self.url)
        idx = await self.server.register_namespace(NS)
        obj = await self.server.nodes.objects.add_object(idx, "V-1")
        for tag in ("PT-1", "TT-1"):
            var = await obj.add_variable(ua.NodeId(tag, idx), tag, 0.0, varianttype=ua.VariantType.Double)
            await var.set_writable()  # a field device or another client may write it
            self.nodes[tag] = var.nodeid
            # as the field servers do: the initial value is no reading
            await self.write(tag, 0.0, status=ua.StatusCodes.BadWaitingForInitialData)
        await self.server.start()

    async def write(self, tag: str, value: float, *, status: int = ua.StatusCodes.Good, **stamps: datetime) -> None:
        dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double), StatusCode=ua.StatusCode(status), **stamps)
        await self.server.write_attribute_value(self.nodes[tag], dv)

    async def stop(self) -> None:
        await stop_opcua_server(self.server)  # fast, and closes sessions asyncua would leak


class Collector:
    def __init__(self) -> None:
        self.batches: list[list[SensorReading]] = []
        self.changed = asyncio.Event()

    def __call__(self, readings: list[SensorReading]) -> None:
        self.batches.append(readings)
        self.changed.set()

    async def wait_for(self, predicate: Callable[[SensorReading], bool], timeout: float = 5.0) -> SensorReading:
        async def scan() -> SensorReading:
            while True:
                for batch in self.batches:
                    for r in batch:
                        if predicate(r):
                            return r
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(scan(), timeout)


async def test_notifications_become_readings_with_source_time_and_quality(no_leaks: None) -> None:
    server = UaTestServer(free_port())
    await server.start()
    got = Collector()
    sub = OpcUaSubscriber(server.url, POINTS, got, publishing_interval_ms=50)
    try:
        await server.write("PT-1", 1.5, SourceTimestamp=T0)
        await server.write("TT-1", 20.0, SourceTimestamp=T0)
        await sub.start()
        first = await got.wait_for(lambda r: r.tag == "TT-1")
        # the initial values of both nodes arrive in one publish response -> one batch
        assert sorted(r.tag for r in got.batches[0]) == ["PT-1", "TT-1"]
        assert first == SensorReading(tag="TT-1", ts=T0_MS, value=20.0, quality=Quality.GOOD, source="opcua")

        later = datetime(2024, 5, 1, 8, 0, 1, 250_000, tzinfo=UTC)
        await server.write("PT-1", 1.6, status=ua.StatusCodes.UncertainLastUsableValue, SourceTimestamp=later)
        r = await got.wait_for(lambda r: r.value == 1.6)
        assert (r.quality, r.ts) == (Quality.STALE, T0_MS + 1250)  # the server repeats its last value

        await server.write("PT-1", 1.7, status=ua.StatusCodes.BadSensorFailure, SourceTimestamp=later)
        r = await got.wait_for(lambda r: r.quality is Quality.BAD)
        assert r.tag == "PT-1"
        assert r.value == 1.5  # a Bad value is unusable: BAD readings carry the last good value

        # no SourceTimestamp: fall back to the server's timestamp
        await server.write("TT-1", 21.0, ServerTimestamp=later)
        r = await got.wait_for(lambda r: r.value == 21.0)
        assert r.ts == T0_MS + 1250 and r.quality is Quality.GOOD
    finally:
        await sub.stop()
        await server.stop()


async def test_server_loss_reports_bad_then_resubscribes(no_leaks: None) -> None:
    port = free_port()
    server = UaTestServer(port)
    await server.start()
    got = Collector()
    sub = OpcUaSubscriber(
        server.url, POINTS, got, publishing_interval_ms=50, initial_backoff_s=0.1, watchdog_s=0.5, timeout=1.0
    )
    try:
        await server.write("PT-1", 2.5, SourceTimestamp=T0)
        await sub.start()
        await got.wait_for(lambda r: r.value == 2.5)
        assert sub.connected

        await server.stop()
        bad = await got.wait_for(lambda r: r.quality is Quality.BAD and r.tag == "PT-1")
        assert bad.value == 2.5  # last good value held
        assert not sub.connected

        server = UaTestServer(port)
        await server.start()
        await server.write("PT-1", 3.5, SourceTimestamp=T0)
        back = await got.wait_for(lambda r: r.value == 3.5, timeout=10)
        assert back.quality is Quality.GOOD
        assert sub.connected
    finally:
        await sub.stop()
        await server.stop()


async def test_start_without_a_server_raises(no_leaks: None) -> None:
    sub = OpcUaSubscriber(f"opc.tcp://127.0.0.1:{free_port()}/", POINTS, lambda _: None, timeout=0.5)
    with pytest.raises(OpcUaError, match="cannot subscribe"):
        await sub.start()
    await sub.stop()


def test_status_codes_map_to_quality() -> None:
    codes = ua.StatusCodes
    assert quality_of(None) is Quality.GOOD
    for good in (codes.Good, codes.GoodLocalOverride, codes.GoodClamped):
        assert quality_of(ua.StatusCode(good)) is Quality.GOOD
    for uncertain in (codes.Uncertain, codes.UncertainSensorNotAccurate, codes.UncertainInitialValue):
        assert quality_of(ua.StatusCode(uncertain)) is Quality.UNCERTAIN
    assert quality_of(codes.UncertainLastUsableValue) is Quality.STALE
    assert quality_of(codes.UncertainEngineeringUnitsExceeded) is Quality.OUT_OF_RANGE
    for bad in (
        codes.Bad,
        codes.BadSensorFailure,
        codes.BadCommunicationError,
        codes.BadNotConnected,
        codes.BadDeviceFailure,
        codes.BadOutOfService,
        codes.BadWaitingForInitialData,
    ):
        assert quality_of(ua.StatusCode(bad)) is Quality.BAD, hex(bad)
    # info bits (here: "limit high" + overflow) do not change a subcode's meaning
    assert quality_of(codes.UncertainLastUsableValue | 0x0480) is Quality.STALE
    assert quality_of(codes.GoodLocalOverride | 0x0200) is Quality.GOOD


SEVERITY = {
    0: {Quality.GOOD},
    1: {Quality.UNCERTAIN, Quality.STALE, Quality.OUT_OF_RANGE},
    2: {Quality.BAD},
    3: {Quality.BAD},
}


@given(code=st.integers(min_value=0, max_value=2**32 - 1) | st.sampled_from(list(vars(ua.StatusCodes).values())))
def test_every_status_code_has_the_quality_of_its_severity(code: object) -> None:
    if not isinstance(code, int):
        return  # non-code attributes of StatusCodes
    q = quality_of(ua.StatusCode(code))
    assert q in SEVERITY[code >> 30]
    assert quality_of(code) is q  # a bare integer works the same
    assert quality_of(code & 0xFFFF0000) is q  # info bits never matter


async def test_a_value_written_by_a_client_arrives_stamped_with_server_time(no_leaks: None) -> None:
    server = UaTestServer(free_port())
    await server.start()
    got = Collector()
    sub = OpcUaSubscriber(server.url, POINTS, got, publishing_interval_ms=50)
    writer = Client(server.url, timeout=2)
    try:
        await server.write("PT-1", 1.0, SourceTimestamp=T0)
        await sub.start()
        await got.wait_for(lambda r: r.tag == "PT-1")
        await writer.connect()
        before = round(datetime.now(UTC).timestamp() * 1000)
        # an HMI or gateway writes a bare value: no SourceTimestamp, the server stamps it
        await writer.get_node("ns=2;s=PT-1").write_value(ua.DataValue(ua.Variant(4.25, ua.VariantType.Double)))
        after = round(datetime.now(UTC).timestamp() * 1000)
        r = await got.wait_for(lambda r: r.value == 4.25)
        assert (r.tag, r.quality, r.source) == ("PT-1", Quality.GOOD, "opcua")
        stored = await writer.get_node("ns=2;s=PT-1").read_data_value()
        assert stored.SourceTimestamp is None and stored.ServerTimestamp is not None
        assert r.ts == timestamp_ms(stored)  # the server's timestamp, not our clock on arrival
        assert before - 5 <= r.ts <= after + 5
    finally:
        await writer.disconnect()
        await sub.stop()
        await server.stop()


async def test_nothing_is_delivered_before_a_tags_first_valid_sample(no_leaks: None) -> None:
    server = UaTestServer(free_port())
    await server.start()
    got = Collector()
    sub = OpcUaSubscriber(server.url, POINTS, got, publishing_interval_ms=50)
    try:
        await sub.start()  # before any write: both nodes are BadWaitingForInitialData
        await asyncio.sleep(0.3)
        assert got.batches == []
        assert sub.waiting_tags == {"PT-1", "TT-1"}
        # a Good value without a SourceTimestamp (e.g. a node's creation value) is no first sample
        await server.write("TT-1", 5.0)
        await asyncio.sleep(0.3)
        assert got.batches == []
        assert sub.dropped_before_first_sample >= 3
        first_write = datetime.now(UTC)
        await server.write("PT-1", 1.5, SourceTimestamp=first_write)
        r = await got.wait_for(lambda r: r.tag == "PT-1")
        assert (r.value, r.quality, r.ts) == (1.5, Quality.GOOD, round(first_write.timestamp() * 1000))
        assert sub.waiting_tags == {"TT-1"}
        # once past the first sample, a Bad status is reported (BAD, holding the last good value)
        await server.write("PT-1", 9.9, status=ua.StatusCodes.BadSensorFailure, SourceTimestamp=first_write)
        bad = await got.wait_for(lambda r: r.quality is Quality.BAD)
        assert (bad.tag, bad.value) == ("PT-1", 1.5)
        assert all(r.tag == "PT-1" for batch in got.batches for r in batch)
    finally:
        await sub.stop()
        await server.stop()


def test_timestamp_falls_back_from_source_to_server_to_default() -> None:
    naive = datetime(2024, 5, 1, 8, 0, 0)  # noqa: DTZ001 - other stacks send naive UTC
    assert timestamp_ms(ua.DataValue(SourceTimestamp=T0, ServerTimestamp=datetime.now(UTC))) == T0_MS
    assert timestamp_ms(ua.DataValue(ServerTimestamp=naive)) == T0_MS
    assert timestamp_ms(ua.DataValue(), default_ms=42) == 42


# -- scale ----------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_ten_thousand_nodes_subscribe_and_deliver_every_change(no_leaks: None) -> None:
    """10,000 monitored items (created 1,000 per request, 2 s base timeout) and one change each."""
    n, per_folder = 10_000, 100
    server = Server()
    await server.init()
    url = f"opc.tcp://127.0.0.1:{free_port()}/scale/"
    server.set_endpoint(url)
    idx = await server.register_namespace(NS)
    nodes: list[ua.NodeId] = []
    for f in range(n // per_folder):  # folders: asyncua's add cost grows with a parent's children
        folder = await server.nodes.objects.add_folder(ua.NodeId(f"F{f}", idx), f"F{f}")
        for i in range(f * per_folder, (f + 1) * per_folder):
            var = await folder.add_variable(ua.NodeId(f"T{i}", idx), f"T{i}", 0.0, varianttype=ua.VariantType.Double)
            nodes.append(var.nodeid)
    for i, node in enumerate(nodes):
        dv = ua.DataValue(ua.Variant(float(i), ua.VariantType.Double), SourceTimestamp=T0)
        await server.write_attribute_value(node, dv)
    await server.start()
    seen: dict[str, SensorReading] = {}
    sub = OpcUaSubscriber(
        url,
        [NodePoint(tag=f"T{i}", node_id=f"ns={idx};s=T{i}") for i in range(n)],
        lambda rs: seen.update({r.tag: r for r in rs}),
        publishing_interval_ms=100,
        timeout=2.0,
    )
    loop = asyncio.get_running_loop()
    try:
        t0 = loop.time()
        await sub.start()
        subscribed_s = loop.time() - t0
        async with asyncio.timeout(30):
            while len(seen) < n:
                await asyncio.sleep(0.05)
        assert all(seen[f"T{i}"].value == float(i) for i in range(n))
        later = datetime(2024, 5, 1, 8, 0, 1, tzinfo=UTC)
        t1 = loop.time()
        for i, node in enumerate(nodes):
            dv = ua.DataValue(ua.Variant(i + 0.5, ua.VariantType.Double), SourceTimestamp=later)
            await server.write_attribute_value(node, dv)
        async with asyncio.timeout(30):
            while not all(r.value == int(r.value) + 0.5 for r in seen.values()):
                await asyncio.sleep(0.05)
        changed_s = loop.time() - t1
        assert sub.connected
        print(f"10,000 nodes: subscribed in {subscribed_s:.2f} s, one change each delivered in {changed_s:.2f} s")
    finally:
        await sub.stop()
        await stop_opcua_server(server)
