"""The plant's connector (OPC UA subscriber or Modbus poller) in a process of its own.

Decoding 10,000 OPC UA data changes a second is pure-Python work (asyncua) that, in the
platform's process, competed for one interpreter lock with three dataflows, the API and the
WebSockets: the subscription fell behind (73-80 % of the samples stored at 10,000 tags) and
a Modbus poll's block reads waited behind flow batches. In a child process the connector
has a core's worth of interpreter to itself, as an edge gateway would; it hands each scan
to the platform over a pipe as one msgpack frame (``[4-byte length][msgpack]``), which the
platform decodes in about a millisecond per 2,000 readings and publishes to the flow.

The child is ``python -m api.connector_process`` (not :mod:`multiprocessing`, whose spawn
re-imports the parent's ``__main__``), configured by one JSON line on its stdin, and ends
when its stdin closes or its parent dies (``PR_SET_PDEATHSIG``), like the simulated
devices (:mod:`twin.field_process`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec

from models.contracts import SensorReading

if TYPE_CHECKING:
    from twin.plant import Plant

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
MAX_FRAME_BYTES = 64 << 20
"""A frame longer than this is a broken pipe, not a scan (10,000 readings are about 0.6 MB)."""


class ConnectorConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the child needs: the plant (for the points), the protocol and where the devices are."""

    kind: Literal["opcua", "modbus"]
    plant_file: str
    host: str = "127.0.0.1"
    port: int
    interval_s: float = 1.0
    """Modbus: the poll period (OPC UA devices push on change)."""
    chunk_points: int = 2_000
    """Modbus: readings per hand-over; a large poll is handed over as its blocks arrive."""
    timeout_s: float = 3.0


class Scan(msgspec.Struct, tag="scan", frozen=True):
    """Readings of one hand-over, in the order the connector produced them."""

    readings: list[SensorReading]


class Status(msgspec.Struct, tag="status", frozen=True):
    """``ready`` once the connector is connected; ``error`` when it could not start."""

    state: Literal["ready", "error"]
    detail: str = ""


Frame = Scan | Status
_encode = msgspec.msgpack.Encoder().encode
_decode_frame = msgspec.msgpack.Decoder(Frame).decode


class ConnectorProcessError(RuntimeError):
    """The connector process did not start, or it stopped on its own."""


class ConnectorProcess:
    """Runs one connector in a child process and hands its scans to ``on_scan`` on this event loop."""

    def __init__(self, config: ConnectorConfig, on_scan: Callable[[list[SensorReading]], None]) -> None:
        self.config = config
        self.on_scan = on_scan
        self.error: str | None = None
        """Why the child stopped or failed, if it did (``/health`` reports it)."""
        self.scans = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[str | None] | None = None
        self._stopping = False

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self._proc is not None and self._proc.returncode is None

    async def spawn(self) -> None:
        """Start the child, which imports its protocol stack and waits for its configuration.

        Done while the devices boot, so the interpreter's start and the imports (about a
        second, several on a loaded machine) are not added to the time to the first reading.
        """
        if self._proc is None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "api.connector_process", stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )

    async def start(self, timeout_s: float = 120.0) -> None:
        """Send the child its configuration (spawning it first if needed); wait until it is connected.

        Raises:
            ConnectorProcessError: It failed (the reason it gave) or took longer than ``timeout_s``.
        """
        await self.spawn()
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(msgspec.json.encode(self.config) + b"\n")
        await proc.stdin.drain()
        # Scans may come before "ready": a large OPC UA subscription notifies the items of its
        # first requests while the later ones are still being created. They are handed over.
        self._ready = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_scans(), name=f"{self.config.kind}-connector")
        try:
            detail = await asyncio.wait_for(asyncio.shield(self._ready), timeout_s)
        except TimeoutError as err:
            await self.stop()
            msg = f"the {self.config.kind} connector did not connect within {timeout_s:.0f} s"
            raise ConnectorProcessError(msg) from err
        if detail is not None:
            await self.stop()
            msg = f"the {self.config.kind} connector failed to start: {detail}"
            raise ConnectorProcessError(msg)

    def _started(self, detail: str | None) -> None:
        """Resolve ``start``'s wait: None when connected, else why not."""
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(detail)

    @staticmethod
    async def _read_frame(stdout: asyncio.StreamReader) -> Frame | None:
        """The next frame, or None at the end of the pipe.

        Takes the child's stdout rather than reading ``self._proc``: ``stop`` clears that
        while a frame is half read, and the rest of the frame is still in this stream.
        """
        try:
            head = await stdout.readexactly(_LENGTH.size)
            (size,) = _LENGTH.unpack(head)
            if size > MAX_FRAME_BYTES:
                msg = f"frame of {size} bytes from the connector process"
                raise ConnectorProcessError(msg)
            frame: Frame = _decode_frame(await stdout.readexactly(size))
            return frame
        except asyncio.IncompleteReadError:
            return None

    async def _read_scans(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        while True:
            try:
                frame = await self._read_frame(proc.stdout)
            except (ConnectorProcessError, msgspec.DecodeError) as err:
                self.error = f"{type(err).__name__}: {err}"
                log.exception("the connector process sent a broken frame; stopping it")
                break
            if frame is None:
                break
            if isinstance(frame, Scan):
                self.scans += 1
                try:
                    self.on_scan(frame.readings)
                except Exception:  # noqa: BLE001 - one bad hand-over must not end the connector
                    log.exception("handing a scan of %d readings to the flow failed", len(frame.readings))
            elif frame.state == "ready":
                self._started(None)
            else:
                self.error = frame.detail
                self._started(frame.detail)
        self._started(self.error or "the connector process ended before it connected")
        if not self._stopping:
            code = await proc.wait()
            self.error = self.error or f"the {self.config.kind} connector process exited (code {code})"
            log.error("%s", self.error)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Close the child's stdin (it stops), terminate it if it does not within ``timeout_s``."""
        self._stopping = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


# --- the child -------------------------------------------------------------------------


def _send(frame: Frame) -> None:
    """One frame to the parent; blocks while the pipe is full (the parent's back-pressure)."""
    payload = _encode(frame)
    out = sys.stdout.buffer
    out.write(_LENGTH.pack(len(payload)) + payload)
    out.flush()


def _emit(readings: list[SensorReading]) -> None:
    if readings:
        _send(Scan(list(readings)))


async def _stdin_closed() -> None:
    """Wait for the parent to close our stdin (or to die): the signal to stop."""
    while await asyncio.to_thread(sys.stdin.buffer.readline):
        pass


async def _poll_modbus(config: ConnectorConfig, plant: Plant) -> None:
    from connectors.modbus.client import ModbusPoller
    from twin.field import modbus_data_valid, modbus_points

    poller = ModbusPoller(
        config.host,
        config.port,
        modbus_points(plant),
        source="modbus",
        data_valid=modbus_data_valid(plant),
        timeout=config.timeout_s,
    )
    await poller.connect()
    _send(Status("ready"))
    _settle_heap()
    stop = asyncio.ensure_future(_stdin_closed())
    next_poll = time.monotonic()
    try:
        while not stop.done():
            # chunks as the blocks arrive (see connectors.modbus.client "Chunks")
            async for chunk in poller.poll_chunks(chunk_points=config.chunk_points):
                _emit(chunk)
            # a fixed grid: a late poll skips, never bunches
            next_poll = max(next_poll + config.interval_s, time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(stop), timeout=max(0.0, next_poll - time.monotonic()))
    finally:
        stop.cancel()
        await poller.close()


async def _subscribe_opcua(config: ConnectorConfig, plant: Plant) -> None:
    from connectors.opcua.client import OpcUaSubscriber
    from twin.field import opcua_points

    url = f"opc.tcp://{config.host}:{config.port}/safetwin/"
    subscriber = OpcUaSubscriber(url, opcua_points(plant), _emit)
    await subscriber.start()
    _send(Status("ready"))
    _settle_heap()
    try:
        await _stdin_closed()
    finally:
        await subscriber.stop()


def _settle_heap() -> None:
    """Freeze the connected connector's start-up objects out of full collections (see Runtime)."""
    gc.collect()
    gc.freeze()


async def _run(config: ConnectorConfig) -> None:
    from twin.plant import load_plant

    plant = load_plant(Path(config.plant_file))
    if config.kind == "opcua":
        await _subscribe_opcua(config, plant)
    else:
        await _poll_modbus(config, plant)


def main() -> None:
    """Child entry: read the config line, connect, send scans until stdin closes."""
    from twin.field_process import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout carries the frames
    try:
        # the protocol stacks and the plant model first, while the parent waits for its devices
        import connectors.modbus.client  # noqa: F401
        import connectors.opcua.client  # noqa: F401
        import twin.field  # noqa: F401
        import twin.plant  # noqa: F401

        line = sys.stdin.buffer.readline()
        if not line:
            return  # stopped before it was configured
        config = msgspec.json.decode(line, type=ConnectorConfig)
        asyncio.run(_run(config))
    except Exception as err:  # noqa: BLE001 - reported to the parent, which decides
        with contextlib.suppress(OSError):
            _send(Status("error", f"{type(err).__name__}: {err}"))
        raise SystemExit(1) from err


if __name__ == "__main__":
    main()
