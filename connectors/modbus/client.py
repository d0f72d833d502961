"""Modbus TCP poller: registers and bits to :class:`~models.contracts.SensorReading`.

PLCs and RTUs in chemical plants mostly expose process values as holding registers; analog
input cards often as input registers, and switches (level switches, valve limit switches,
pump run feedback) as coils or discrete inputs. All four tables are read here. A poll
must never stop the stream: a device that answers with an exception (bad address, busy
device) marks *its* tags :attr:`~models.contracts.Quality.BAD`, and a lost TCP connection
marks *every* tag BAD and is re-established on later polls with exponential back-off, so a
dead PLC costs one cheap check per poll instead of a connect storm. Transport errors are
translated here once; ``poll`` never raises.

Registers are described as data (:class:`RegisterPoint`) and grouped into as few block reads
as possible (at most 125 registers or 2000 bits each, the protocol limits), because on a real
serial gateway each request costs tens of milliseconds.

Byte order: devices disagree on how a 32-bit value is laid over two 16-bit registers. The
four layouts are named by where the bytes A (most significant) .. D of the big-endian value
end up: ``"ABCD"`` (Modbus convention, high word first), ``"CDAB"`` (word-swapped, most
Modicon-style PLCs), ``"BADC"`` (byte-swapped) and ``"DCBA"`` (fully little-endian). The same
two switches, word swap and byte swap, are applied to 16- and 64-bit values.

Scaling: either ``value = raw * scale + offset``, or a linear span ``raw_lo..raw_hi ->
eng_lo..eng_hi`` as a 4-20 mA transmitter is wired to an analog input card (e.g. raw
0..27648 -> 0..2.5 MPa). A raw value outside the span (broken wire, saturated transmitter)
is still converted, but the reading's quality is ``OUT_OF_RANGE`` so it is never trusted as
a real measurement.

A BAD reading carries the last good value of the tag so the reading still satisfies the
contract's "value is finite" rule; consumers must look at the quality, as they would with a
DCS's hold-last-value.

First sample: a device that has just started (or a gateway that has not scanned its field
bus yet) answers with zero-filled registers, which would be judged as real values (low and
low-low alarms at every start). Nothing of a device (unit id) is delivered until it has
delivered a valid first sample: a poll in which its reads succeeded and, where the device
has a "data valid" point (``data_valid``, e.g. a PLC's healthy bit), that point reads
non-zero. Until then the poller returns no readings for the device's tags, not BAD ones:
there is nothing to hold yet, and a communication failure of a device never heard from is a
matter for the source's own supervision (:attr:`ModbusPoller.waiting_devices`). Once valid,
a failed read (or the data-valid point dropping to zero) gives BAD readings as above.

Chunks: a 10,000-tag device is 162 block reads, a chain of round trips that takes a third of a
second or more; held until the last block, the first values would be that old before anyone
sees them. :meth:`ModbusPoller.poll_chunks` hands the readings over as their blocks arrive,
each chunk stamped with the time its first block was requested (when its values were
sampled), and reads the blocks holding data-valid points first so a chunk can be judged
valid or not at once, as a SCADA driver reads a PLC's status word before its data.

Example:
    >>> p = RegisterPoint(tag="TT-101", address=4)
    >>> p.width, decode_point(p, [16812, 0])
    (2, 21.5)
    >>> encode_point(RegisterPoint(tag="TT-101", address=4, word_order="little"), 21.5)
    [0, 16812]
    >>> encode_point(RegisterPoint(tag="TT-101", address=4, byte_order="BADC"), 21.5)
    [44097, 0]
    >>> pt = RegisterPoint(tag="PT-101", address=0, datatype="uint16", raw_lo=0, raw_hi=27648, eng_lo=0, eng_hi=2.5)
    >>> decode_point(pt, [13824])
    1.25
"""

from __future__ import annotations

import logging
import math
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from models.contracts import Quality, SensorReading
from models.contracts import now_ms as _now_ms

logger = logging.getLogger(__name__)

Datatype: TypeAlias = Literal["float32", "int16", "uint16", "int32", "uint32", "float64", "bool"]
WordOrder: TypeAlias = Literal["big", "little"]
ByteOrder: TypeAlias = Literal["ABCD", "CDAB", "BADC", "DCBA"]
Table: TypeAlias = Literal["holding", "input", "coil", "discrete"]

MAX_REGISTERS_PER_READ: Final = 125
"""Protocol limit of one Read Holding/Input Registers request (function codes 3 and 4)."""
MAX_BITS_PER_READ: Final = 2000
"""Protocol limit of one Read Coils/Discrete Inputs request (function codes 1 and 2)."""

BIT_TABLES: Final = frozenset({"coil", "discrete"})
_TABLE_ORDER: Final = {"coil": 0, "discrete": 1, "holding": 2, "input": 3}
# struct format (big-endian) and width in registers; "bool" is one bit or one register.
_DATATYPES: Final[dict[str, tuple[str, int]]] = {
    "int16": (">h", 1),
    "uint16": (">H", 1),
    "int32": (">i", 2),
    "uint32": (">I", 2),
    "float32": (">f", 2),
    "float64": (">d", 4),
    "bool": ("", 1),
}
_BYTE_ORDERS: Final[dict[str, tuple[bool, bool]]] = {  # (words swapped, bytes swapped)
    "ABCD": (False, False),
    "CDAB": (True, False),
    "BADC": (False, True),
    "DCBA": (True, True),
}


@dataclass(frozen=True, slots=True)
class RegisterPoint:
    """Where one tag's value lives on a Modbus device and how to turn it into engineering units.

    ``raw`` is decoded from ``width`` registers (or one bit) of ``table`` starting at
    ``address``. The engineering value is ``raw * scale + offset``, or, when the four span
    fields are given, the straight line through ``(raw_lo, eng_lo)`` and ``(raw_hi, eng_hi)``.

    Attributes:
        tag: The plant's tag, e.g. ``"PT-101"``.
        address: Zero-based address of the first register (or the bit) in ``table``.
        datatype: How the registers encode the raw value; ``"bool"`` for coils and discrete
            inputs (1.0 = on), or a register that is 0/non-zero.
        word_order: ``"big"`` = high word first (the Modbus convention); ``"little"`` =
            word-swapped. Superseded by ``byte_order`` when that is given.
        scale: Multiplier of the raw value (ignored when a span is given).
        offset: Added after ``scale``.
        device_id: Unit id on a gateway or RS-485 line.
        table: ``"holding"`` (FC 3), ``"input"`` (FC 4), ``"coil"`` (FC 1) or ``"discrete"``
            (FC 2).
        byte_order: ``"ABCD"``, ``"CDAB"``, ``"BADC"`` or ``"DCBA"``; see the module docs.
        raw_lo: Raw value at the bottom of the transmitter's span (e.g. 4 mA).
        raw_hi: Raw value at the top of the span (e.g. 20 mA).
        eng_lo: Engineering value at ``raw_lo`` (e.g. 0 MPa).
        eng_hi: Engineering value at ``raw_hi`` (e.g. 2.5 MPa).
    """

    tag: str
    address: int
    datatype: Datatype = "float32"
    word_order: WordOrder = "big"
    scale: float = 1.0
    offset: float = 0.0
    device_id: int = 1
    table: Table = "holding"
    byte_order: ByteOrder | None = None
    raw_lo: float | None = None
    raw_hi: float | None = None
    eng_lo: float | None = None
    eng_hi: float | None = None

    def __post_init__(self) -> None:
        if self.datatype not in _DATATYPES:
            msg = f"{self.tag}: unknown datatype {self.datatype!r}, expected one of {sorted(_DATATYPES)}"
            raise ValueError(msg)
        if self.word_order not in ("big", "little"):
            msg = f"{self.tag}: word_order must be 'big' or 'little', got {self.word_order!r}"
            raise ValueError(msg)
        if self.byte_order is not None:
            if self.byte_order not in _BYTE_ORDERS:
                msg = f"{self.tag}: byte_order must be one of {sorted(_BYTE_ORDERS)}, got {self.byte_order!r}"
                raise ValueError(msg)
            if self.word_order == "little" and not _BYTE_ORDERS[self.byte_order][0]:
                msg = f"{self.tag}: word_order='little' contradicts byte_order={self.byte_order!r}"
                raise ValueError(msg)
        if self.table not in _TABLE_ORDER:
            msg = f"{self.tag}: table must be one of {sorted(_TABLE_ORDER)}, got {self.table!r}"
            raise ValueError(msg)
        if self.table in BIT_TABLES and self.datatype != "bool":
            msg = f"{self.tag}: {self.table} points are single bits, use datatype='bool' (got {self.datatype!r})"
            raise ValueError(msg)
        if not 0 <= self.address <= 65536 - self.width:
            msg = f"{self.tag}: address {self.address} does not fit {self.width} registers in 0..65535"
            raise ValueError(msg)
        if not 0 <= self.device_id <= 255:
            msg = f"{self.tag}: device_id must be 0..255, got {self.device_id}"
            raise ValueError(msg)
        span = (self.raw_lo, self.raw_hi, self.eng_lo, self.eng_hi)
        if any(v is not None for v in span):
            if any(v is None for v in span):
                msg = f"{self.tag}: a linear span needs all of raw_lo, raw_hi, eng_lo, eng_hi"
                raise ValueError(msg)
            if not all(math.isfinite(v) for v in span if v is not None) or self.raw_lo == self.raw_hi:
                msg = f"{self.tag}: raw_lo and raw_hi must be finite and differ, got {self.raw_lo}..{self.raw_hi}"
                raise ValueError(msg)
            if (self.scale, self.offset) != (1.0, 0.0):
                msg = f"{self.tag}: give either scale/offset or a raw/eng span, not both"
                raise ValueError(msg)
        if not (math.isfinite(self.scale) and math.isfinite(self.offset)) or self.scale == 0:
            msg = f"{self.tag}: scale must be finite and non-zero, offset finite"
            raise ValueError(msg)

    @property
    def width(self) -> int:
        """How many 16-bit registers (or bits, for coils and discrete inputs) the value occupies."""
        return _DATATYPES[self.datatype][1]

    @property
    def swaps(self) -> tuple[bool, bool]:
        """``(words swapped, bytes swapped)`` relative to the big-endian ``"ABCD"`` layout."""
        if self.byte_order is not None:
            return _BYTE_ORDERS[self.byte_order]
        return (self.word_order == "little", False)

    @property
    def has_span(self) -> bool:
        """Whether a raw/engineering span (4-20 mA style) is configured."""
        return self.raw_lo is not None

    def to_engineering(self, raw: float) -> float:
        """Engineering value of a raw value (scale/offset or the linear span)."""
        if self.raw_lo is not None and self.raw_hi is not None and self.eng_lo is not None and self.eng_hi is not None:
            return self.eng_lo + (raw - self.raw_lo) * (self.eng_hi - self.eng_lo) / (self.raw_hi - self.raw_lo)
        return raw * self.scale + self.offset

    def to_raw(self, value: float) -> float:
        """Raw value of an engineering value (inverse of :meth:`to_engineering`)."""
        if self.raw_lo is not None and self.raw_hi is not None and self.eng_lo is not None and self.eng_hi is not None:
            if self.eng_hi == self.eng_lo:
                return self.raw_lo
            return self.raw_lo + (value - self.eng_lo) * (self.raw_hi - self.raw_lo) / (self.eng_hi - self.eng_lo)
        return (value - self.offset) / self.scale

    def raw_in_span(self, raw: float) -> bool:
        """Whether a raw value lies inside the configured span (always True without a span)."""
        if self.raw_lo is None or self.raw_hi is None:
            return True
        return min(self.raw_lo, self.raw_hi) <= raw <= max(self.raw_lo, self.raw_hi)


@dataclass(frozen=True, slots=True)
class RegisterBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``address`` covering ``points``."""

    device_id: int
    address: int
    count: int
    points: tuple[RegisterPoint, ...]
    table: Table = "holding"


def plan_blocks(
    points: Iterable[RegisterPoint], *, max_gap: int = 16, max_count: int = MAX_REGISTERS_PER_READ
) -> list[RegisterBlock]:
    """Group points into block reads per device and table.

    Neighbouring points share a request when the unused registers between them number at
    most ``max_gap`` and the block stays within ``max_count`` registers: reading a few
    spare registers is cheaper than another round trip. Bits are 16 times cheaper than
    registers, so coil and discrete-input blocks bridge gaps of ``16 * max_gap`` bits and
    may hold up to :data:`MAX_BITS_PER_READ` bits.
    """
    by_key: dict[tuple[int, int], list[RegisterPoint]] = {}
    for p in points:
        by_key.setdefault((p.device_id, _TABLE_ORDER[p.table]), []).append(p)
    blocks: list[RegisterBlock] = []
    for key in sorted(by_key):
        device_id = key[0]
        group = by_key[key]
        table = group[0].table
        bits = table in BIT_TABLES
        gap = max_gap * 16 if bits else max_gap
        limit = MAX_BITS_PER_READ if bits else max_count
        current: list[RegisterPoint] = []
        start = end = 0  # end is exclusive
        for p in sorted(group, key=lambda q: (q.address, q.width)):
            p_end = p.address + p.width
            if current and p.address - end <= gap and max(end, p_end) - start <= limit:
                current.append(p)
                end = max(end, p_end)
                continue
            if current:
                blocks.append(RegisterBlock(device_id, start, end - start, tuple(current), table))
            current, start, end = [p], p.address, p_end
        if current:
            blocks.append(RegisterBlock(device_id, start, end - start, tuple(current), table))
    return blocks


def decode_raw(point: RegisterPoint, registers: Sequence[int | bool]) -> float:
    """Raw value of ``point`` (before scaling) from exactly its ``width`` registers or its bit."""
    if point.datatype == "bool":
        return 1.0 if registers[0] else 0.0
    fmt, width = _DATATYPES[point.datatype]
    if len(registers) != width:
        msg = f"{point.tag}: {point.datatype} needs {width} registers, got {len(registers)}"
        raise ValueError(msg)
    words_swapped, bytes_swapped = point.swaps
    regs = [int(r) & 0xFFFF for r in registers]
    if words_swapped:
        regs.reverse()
    if bytes_swapped:
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    raw: int | float = struct.unpack(fmt, struct.pack(f">{width}H", *regs))[0]
    return float(raw)


def decode_point(point: RegisterPoint, registers: Sequence[int | bool]) -> float:
    """Engineering value of ``point`` from exactly its ``width`` registers (or its bit)."""
    return point.to_engineering(decode_raw(point, registers))


def encode_raw(point: RegisterPoint, raw: float) -> list[int]:
    """Registers holding the raw value ``raw`` for ``point`` (``[0]``/``[1]`` for a bit)."""
    if point.datatype == "bool":
        return [1 if raw else 0]
    fmt, width = _DATATYPES[point.datatype]
    native: int | float = raw if point.datatype.startswith("float") else round(raw)
    try:
        regs = list(struct.unpack(f">{width}H", struct.pack(fmt, native)))
    except struct.error as err:
        msg = f"{point.tag}: raw value {raw} does not fit {point.datatype}"
        raise ValueError(msg) from err
    words_swapped, bytes_swapped = point.swaps
    if bytes_swapped:
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    if words_swapped:
        regs.reverse()
    return regs


def encode_point(point: RegisterPoint, value: float) -> list[int]:
    """Registers holding ``value`` for ``point`` (inverse of :func:`decode_point`, for servers and tests)."""
    return encode_raw(point, point.to_raw(value))


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
        data_valid: Per device id, a point that reads non-zero once the device's values
            are valid (a PLC's "data valid" bit or register). Optional: without one, a
            device is valid from its first successful read.
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
        data_valid: Mapping[int, RegisterPoint] | None = None,
    ) -> None:
        flags = dict(data_valid or {})
        tags = [p.tag for p in points] + [f.tag for f in flags.values()]
        duplicated = sorted(t for t, n in Counter(tags).items() if n > 1)
        if duplicated:
            msg = f"duplicate tags in Modbus points (data-valid points included): {duplicated}"
            raise ValueError(msg)
        for device_id, flag in flags.items():
            if flag.device_id != device_id:
                msg = f"data-valid point {flag.tag} is on device {flag.device_id}, not {device_id}"
                raise ValueError(msg)
        self.host = host
        self.port = port
        self.points = tuple(points)
        self.source = source
        self.timeout = timeout
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.data_valid = flags
        blocks = plan_blocks([*self.points, *flags.values()])
        flag_tags = {f.tag for f in flags.values()}
        # Blocks holding a data-valid point first (see "Chunks" in the module docs).
        self.blocks = [b for b in blocks if any(p.tag in flag_tags for p in b.points)] + [
            b for b in blocks if not any(p.tag in flag_tags for p in b.points)
        ]
        self._n_flag_blocks = sum(1 for b in blocks if any(p.tag in flag_tags for p in b.points))
        self._index = {p.tag: i for i, p in enumerate(self.points)}
        self._block_tag_points = [sum(1 for p in b.points if p.tag in self._index) for b in self.blocks]
        """Tag points (not data-valid flags) of each block of ``self.blocks``, by position."""
        self._unflagged_devices = {p.device_id for p in self.points} - set(flags)
        self._client: AsyncModbusTcpClient | None = None
        self._valid_devices: set[int] = set()
        self._last_value: dict[str, float] = {}
        self._backoff_s = initial_backoff_s
        self._next_attempt = 0.0  # time.monotonic() of the next allowed connect
        self._was_connected = False

    @property
    def connected(self) -> bool:
        """Whether a TCP connection to the device is up."""
        return self._client is not None and self._client.connected

    @property
    def waiting_devices(self) -> frozenset[int]:
        """Device ids that have not delivered a valid first sample yet (their tags yield nothing)."""
        return frozenset({p.device_id for p in self.points} - self._valid_devices)

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
        """Read every point once; one reading per point of every valid device, in the order given.

        The points of a device that has not delivered a valid first sample yet (see the
        module docs) yield no reading at all.

        Args:
            now_ms: Timestamp of the readings (epoch ms); the current time by default.
        """
        chunks = [chunk async for chunk in self.poll_chunks(now_ms=now_ms)]
        return chunks[0] if len(chunks) == 1 else [r for chunk in chunks for r in chunk]

    async def poll_chunks(
        self, *, chunk_points: int | None = None, now_ms: int | None = None
    ) -> AsyncIterator[list[SensorReading]]:
        """Read every point once, handing over the readings as their blocks arrive.

        Args:
            chunk_points: Hand over a chunk once its blocks hold at least this many points
                (``None``: one chunk for the whole poll, in the order of ``points``).
            now_ms: Timestamp of every reading (epoch ms); by default each chunk is stamped
                with the time its first block was requested.

        Yields:
            Readings of the chunk's points of valid devices (in the order of ``points``), BAD
            where a read failed; a lost connection makes the rest of the poll one BAD chunk.
        """

        def stamp() -> int:
            return _now_ms() if now_ms is None else now_ms

        if not self.connected and self._was_connected:
            self._lost(ConnectionError("closed by peer"))
        if not self.connected and (time.monotonic() < self._next_attempt or not await self.connect()):
            ts = stamp()
            yield [self._bad(p, ts) for p in self.points if p.device_id in self._valid_devices]
            return
        assert self._client is not None
        raw: dict[str, Sequence[int | bool]] = {}  # registers (or bit) of each point read successfully
        flagged_invalid: set[int] = set()
        group: list[RegisterBlock] = []
        size = 0  # tag points in the group
        group_ts = stamp()
        lost = False
        for i, (block, tag_points) in enumerate(zip(self.blocks, self._block_tag_points, strict=True)):
            if not group:
                group_ts = stamp()
            group.append(block)
            size += tag_points
            if not lost:
                try:
                    rr = await self._read(block)
                except (TimeoutError, ModbusException, OSError) as err:
                    self._lost(err)
                    await self._drop()
                    lost = True  # the rest of the poll: BAD, in this chunk
                else:
                    values: Sequence[int | bool] = (
                        [] if rr.isError() else (rr.bits if block.table in BIT_TABLES else rr.registers)
                    )
                    if len(values) < block.count:
                        logger.debug(
                            "Modbus device %s error for %s+%s: %s", block.device_id, block.address, block.count, rr
                        )
                    else:
                        for p in block.points:
                            at = p.address - block.address
                            raw[p.tag] = values[at : at + p.width]
            last = i == len(self.blocks) - 1
            if i + 1 == self._n_flag_blocks or (last and self._n_flag_blocks == 0):
                flagged_invalid = self._update_flags(raw)
            if lost and not last:
                continue
            if last or (chunk_points is not None and i >= self._n_flag_blocks and size >= chunk_points):
                self._update_unflagged(raw)
                yield self._readings(group, raw, flagged_invalid, group_ts)
                group, size = [], 0

    def _readings(
        self, blocks: Sequence[RegisterBlock], raw: Mapping[str, Sequence[int | bool]], invalid: set[int], ts: int
    ) -> list[SensorReading]:
        points = sorted((p for b in blocks for p in b.points if p.tag in self._index), key=lambda p: self._index[p.tag])
        out: list[SensorReading] = []
        for p in points:
            if p.device_id not in self._valid_devices:
                continue
            regs = raw.get(p.tag)
            out.append(self._bad(p, ts) if regs is None or p.device_id in invalid else self._good(p, ts, regs))
        return out

    def _update_flags(self, raw: Mapping[str, Sequence[int | bool]]) -> set[int]:
        """Mark devices with a data-valid point valid once it reads non-zero; return those reading 0."""
        invalid: set[int] = set()
        for device_id, flag in self.data_valid.items():
            regs = raw.get(flag.tag)
            if regs is None:
                continue
            if decode_raw(flag, regs) == 0:
                invalid.add(device_id)
            elif device_id not in self._valid_devices:
                self._valid_devices.add(device_id)
                logger.info("Modbus device %s at %s:%s: first valid sample", device_id, self.host, self.port)
        return invalid

    def _update_unflagged(self, raw: Mapping[str, Sequence[int | bool]]) -> None:
        """Mark devices without a data-valid point valid once any of their points was read."""
        if self._unflagged_devices <= self._valid_devices:
            return
        for p in self.points:
            device_id = p.device_id
            if device_id in self._valid_devices or device_id in self.data_valid or p.tag not in raw:
                continue
            self._valid_devices.add(device_id)
            logger.info("Modbus device %s at %s:%s: first valid sample", device_id, self.host, self.port)

    async def close(self) -> None:
        """Close the connection; a later poll reconnects."""
        await self._drop()
        self._was_connected = False

    # -- internals --------------------------------------------------------------------------

    async def _read(self, block: RegisterBlock) -> Any:
        assert self._client is not None
        read = {
            "holding": self._client.read_holding_registers,
            "input": self._client.read_input_registers,
            "coil": self._client.read_coils,
            "discrete": self._client.read_discrete_inputs,
        }[block.table]
        return await read(block.address, count=block.count, device_id=block.device_id)

    def _good(self, point: RegisterPoint, ts: int, registers: Sequence[int | bool]) -> SensorReading:
        raw = decode_raw(point, registers)
        value = point.to_engineering(raw)
        if not math.isfinite(value):  # NaN/inf pattern from the device
            return self._bad(point, ts)
        if not point.raw_in_span(raw):
            # Broken wire or saturated transmitter: keep the number, but never call it GOOD,
            # and do not let it become the "last good value" a later BAD reading holds.
            return SensorReading(tag=point.tag, ts=ts, value=value, quality=Quality.OUT_OF_RANGE, source=self.source)
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
