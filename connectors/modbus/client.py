"""Modbus TCP poller: holding registers to :class:`~connectors.contracts.SensorReading`.

PLCs and RTUs in chemical plants mostly expose process values as holding registers. A poll
must never stop the stream: a device that answers with an exception (bad address, busy
device) marks *its* tags :attr:`~connectors.contracts.Quality.BAD`, and a lost TCP connection
marks *every* tag BAD and is re-established on later polls with exponential back-off, so a
dead PLC costs one cheap check per poll instead of a connect storm. Transport errors are
translated here once; ``poll`` never raises.

Registers are described as data (:class:`RegisterPoint`) and grouped into as few block reads
as possible (at most 125 registers each, the protocol limit), because on a real serial
gateway each request costs tens of milliseconds.

A BAD reading carries the last good value of the tag (0.0 before the first one) so the
reading still satisfies the contract's "value is finite" rule; consumers must look at the
quality, as they would with a DCS's hold-last-value.

Example:
    >>> p = RegisterPoint(tag="TT-101", address=4)
    >>> p.width, decode_point(p, [16812, 0])
    (2, 21.5)
    >>> encode_point(RegisterPoint(tag="TT-101", address=4, word_order="little"), 21.5)
    [0, 16812]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from connectors.contracts import Quality, SensorReading
from connectors.contracts import now_ms as _now_ms

logger = logging.getLogger(__name__)

Datatype: TypeAlias = Literal["float32", "int16", "uint16", "int32", "uint32", "float64"]
WordOrder: TypeAlias = Literal["big", "little"]

MAX_REGISTERS_PER_READ: Final = 125
"""Protocol limit of one Read Holding Registers request (function code 3)."""

_DT = AsyncModbusTcpClient.DATATYPE
_DATATYPES: Final[dict[str, tuple[AsyncModbusTcpClient.DATATYPE, int]]] = {
    "int16": (_DT.INT16, 1),
    "uint16": (_DT.UINT16, 1),
    "int32": (_DT.INT32, 2),
    "uint32": (_DT.UINT32, 2),
    "float32": (_DT.FLOAT32, 2),
    "float64": (_DT.FLOAT64, 4),
}


@dataclass(frozen=True, slots=True)
class RegisterPoint:
    """Where one tag's value lives on a Modbus device and how to turn it into engineering units.

    ``value = raw * scale + offset``, where ``raw`` is decoded from ``width`` holding
    registers starting at ``address``; ``word_order="big"`` means the high word comes first
    (the Modbus convention; many PLCs use "little", word-swapped).
    """

    tag: str
    address: int
    datatype: Datatype = "float32"
    word_order: WordOrder = "big"
    scale: float = 1.0
    offset: float = 0.0
    device_id: int = 1

    def __post_init__(self) -> None:
        if self.datatype not in _DATATYPES:
            msg = f"{self.tag}: unknown datatype {self.datatype!r}, expected one of {sorted(_DATATYPES)}"
            raise ValueError(msg)
        if self.word_order not in ("big", "little"):
            msg = f"{self.tag}: word_order must be 'big' or 'little', got {self.word_order!r}"
            raise ValueError(msg)
        if not 0 <= self.address <= 65536 - self.width:
            msg = f"{self.tag}: address {self.address} does not fit {self.width} registers in 0..65535"
            raise ValueError(msg)
        if not 0 <= self.device_id <= 255:
            msg = f"{self.tag}: device_id must be 0..255, got {self.device_id}"
            raise ValueError(msg)

    @property
    def width(self) -> int:
        """How many 16-bit registers the value occupies."""
        return _DATATYPES[self.datatype][1]


@dataclass(frozen=True, slots=True)
class RegisterBlock:
    """One read request: ``count`` registers from ``address`` covering ``points``."""

    device_id: int
    address: int
    count: int
    points: tuple[RegisterPoint, ...]


def plan_blocks(
    points: Iterable[RegisterPoint], *, max_gap: int = 16, max_count: int = MAX_REGISTERS_PER_READ
) -> list[RegisterBlock]:
    """Group points into block reads per device.

    Neighbouring points share a request when the unused registers between them number at
    most ``max_gap`` and the block stays within ``max_count`` registers: reading a few
    spare registers is cheaper than another round trip.
    """
    by_device: dict[int, list[RegisterPoint]] = {}
    for p in points:
        by_device.setdefault(p.device_id, []).append(p)
    blocks: list[RegisterBlock] = []
    for device_id in sorted(by_device):
        current: list[RegisterPoint] = []
        start = end = 0  # end is exclusive
        for p in sorted(by_device[device_id], key=lambda q: (q.address, q.width)):
            p_end = p.address + p.width
            if current and p.address - end <= max_gap and max(end, p_end) - start <= max_count:
                current.append(p)
                end = max(end, p_end)
                continue
            if current:
                blocks.append(RegisterBlock(device_id, start, end - start, tuple(current)))
            current, start, end = [p], p.address, p_end
        if current:
            blocks.append(RegisterBlock(device_id, start, end - start, tuple(current)))
    return blocks


def decode_point(point: RegisterPoint, registers: Sequence[int]) -> float:
    """Engineering value of ``point`` from exactly its ``width`` registers."""
    datatype, _width = _DATATYPES[point.datatype]
    raw = AsyncModbusTcpClient.convert_from_registers(list(registers), datatype, word_order=point.word_order)
    assert isinstance(raw, int | float)
    return float(raw) * point.scale + point.offset


def encode_point(point: RegisterPoint, value: float) -> list[int]:
    """Registers holding ``value`` for ``point`` (inverse of :func:`decode_point`, for servers and tests)."""
    datatype, _width = _DATATYPES[point.datatype]
    raw = (value - point.offset) / point.scale
    native: int | float = raw if point.datatype.startswith("float") else round(raw)
    return AsyncModbusTcpClient.convert_to_registers(native, datatype, word_order=point.word_order)


class ModbusPoller:
    """Polls a Modbus TCP device for a fixed set of points.

    Args:
        host: Device (or gateway) address.
        port: TCP port, usually 502.
        points: What to read; tags must be unique.
        source: ``SensorReading.source`` of every reading.
        timeout: Seconds to wait for connect and for each response.
        initial_backoff_s: First wait after a failed connect; doubles per failure.
        max_backoff_s: Cap of the back-off.
    """

    def __init__(
        self,
        host: str,
        port: int,
        points: Sequence[RegisterPoint],
        *,
        source: str = "modbus",
        timeout: float = 1.0,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        tags = [p.tag for p in points]
        duplicated = sorted({t for t in tags if tags.count(t) > 1})
        if duplicated:
            msg = f"duplicate tags in Modbus points: {duplicated}"
            raise ValueError(msg)
        self.host = host
        self.port = port
        self.points = tuple(points)
        self.source = source
        self.timeout = timeout
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.blocks = plan_blocks(self.points)
        self._client: AsyncModbusTcpClient | None = None
        self._last_value: dict[str, float] = {}
        self._backoff_s = initial_backoff_s
        self._next_attempt = 0.0  # time.monotonic() of the next allowed connect
        self._was_connected = False

    @property
    def connected(self) -> bool:
        """Whether a TCP connection to the device is up."""
        return self._client is not None and self._client.connected

    async def connect(self) -> bool:
        """Try to connect now (ignoring back-off); failure schedules the next try.

        Returns:
            Whether the connection is up. Never raises for an unreachable device: the
            following polls report BAD quality and keep retrying.
        """
        if self.connected:
            return True
        await self._drop()
        client = AsyncModbusTcpClient(
            self.host, port=self.port, timeout=self.timeout, retries=0, reconnect_delay=0
        )  # reconnect_delay=0: we own the reconnect policy, pymodbus must not retry behind our back
        try:
            ok = await client.connect()
        except (TimeoutError, ModbusException, OSError) as err:
            logger.debug("Modbus connect to %s:%s failed: %s", self.host, self.port, err)
            ok = False
        if not ok:
            client.close()
            self._schedule_retry()
            return False
        self._client = client
        self._backoff_s = self.initial_backoff_s
        if not self._was_connected:
            logger.info("Modbus connected to %s:%s", self.host, self.port)
        self._was_connected = True
        return True

    async def poll(self, now_ms: int | None = None) -> list[SensorReading]:
        """Read every point once; one reading per point, in the order the points were given.

        Args:
            now_ms: Timestamp of the readings (epoch ms); the current time by default.
        """
        ts = _now_ms() if now_ms is None else now_ms
        results: dict[str, SensorReading] = {}
        if not self.connected and self._was_connected:
            self._lost(ConnectionError("closed by peer"))
        if not self.connected and (time.monotonic() < self._next_attempt or not await self.connect()):
            return [self._bad(p, ts) for p in self.points]
        assert self._client is not None
        for i, block in enumerate(self.blocks):
            try:
                rr = await self._client.read_holding_registers(
                    block.address, count=block.count, device_id=block.device_id
                )
            except (TimeoutError, ModbusException, OSError) as err:
                self._lost(err)
                await self._drop()
                for rest in self.blocks[i:]:
                    results.update({p.tag: self._bad(p, ts) for p in rest.points})
                break
            if rr.isError() or len(rr.registers) < block.count:
                logger.debug("Modbus device %s error for %s+%s: %s", block.device_id, block.address, block.count, rr)
                results.update({p.tag: self._bad(p, ts) for p in block.points})
                continue
            for p in block.points:
                at = p.address - block.address
                results[p.tag] = self._good(p, ts, rr.registers[at : at + p.width])
        return [results[p.tag] for p in self.points]

    async def close(self) -> None:
        """Close the connection; a later poll reconnects."""
        await self._drop()
        self._was_connected = False

    # -- internals --------------------------------------------------------------------------

    def _good(self, point: RegisterPoint, ts: int, registers: Sequence[int]) -> SensorReading:
        value = decode_point(point, registers)
        if value != value or value in (float("inf"), float("-inf")):  # NaN/inf pattern from the device
            return self._bad(point, ts)
        self._last_value[point.tag] = value
        return SensorReading(tag=point.tag, ts=ts, value=value, quality=Quality.GOOD, source=self.source)

    def _bad(self, point: RegisterPoint, ts: int) -> SensorReading:
        value = self._last_value.get(point.tag, 0.0)
        return SensorReading(tag=point.tag, ts=ts, value=value, quality=Quality.BAD, source=self.source)

    def _lost(self, err: BaseException) -> None:
        if self._was_connected:
            logger.warning("Modbus connection to %s:%s lost: %s", self.host, self.port, err)
        self._was_connected = False
        self._next_attempt = 0.0  # the device may be back already (restart): retry at once

    def _schedule_retry(self) -> None:
        self._next_attempt = time.monotonic() + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self.max_backoff_s)

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
