"""The simulated plant's devices in a process of their own, as real devices are not the platform.

At 10,000 tags the simulator and its OPC UA server (pure-Python asyncua: every value write is
copied to each monitored item) cost about as much CPU as the whole platform; in the same
process they starve the subscriber, the flow and the API of the interpreter lock, so OPC UA
subscriptions time out and logins wait seconds. In a child process they use the machine's
other core, and the platform talks to them only over the field protocols, as it would to a
plant. Commands (forced excursions, simulated outages) go over a pipe.

The child dies with its parent: ``PR_SET_PDEATHSIG`` (Linux) and a closed pipe both end it, so
a ``kill -9`` of ``safetwin run`` never leaves a plant holding the ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class FieldConfig:
    """What the child needs to build the plant's devices (picklable)."""

    plant_file: Path
    seed: int
    modbus_port: int
    opcua_port: int
    mqtt_url: str | None
    interval_s: float


class FieldProcessError(RuntimeError):
    """The field process did not start or stopped on its own."""


class FieldProcess:
    """Runs :class:`twin.field.FieldServers` with its :class:`twin.simulator.Simulator` in a child process."""

    def __init__(self, config: FieldConfig) -> None:
        self.config = config
        self._conn: Connection | None = None
        self._proc: Any = None

    async def start(self, timeout_s: float = 180.0) -> None:
        """Start the child and wait until every server accepts connections.

        Raises:
            FieldProcessError: If it fails or takes longer than ``timeout_s``.
        """
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_main, args=(child, self.config), name="safetwin-field", daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        ready = await asyncio.to_thread(parent.poll, timeout_s)
        if not ready:
            await self.stop()
            msg = f"the field process did not start within {timeout_s:.0f} s"
            raise FieldProcessError(msg)
        try:
            status, detail = parent.recv()
        except EOFError as err:
            msg = f"the field process exited during start-up (exit code {self._proc.exitcode})"
            raise FieldProcessError(msg) from err
        if status != "ready":
            await self.stop()
            msg = f"the field process failed to start: {detail}"
            raise FieldProcessError(msg)

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self._proc is not None and bool(self._proc.is_alive())

    def _send(self, *command: Any) -> None:
        if self._conn is None or not self.alive:
            msg = "the field process is not running"
            raise FieldProcessError(msg)
        self._conn.send(command)

    def trigger_excursion(self, tag: str, *, to: float | None = None, duration_s: float = 30.0) -> None:
        """Force an excursion of ``tag`` in the simulator (see ``Simulator.trigger_excursion``)."""
        self._send("excursion", tag, to, duration_s)

    def pause(self, seconds: float) -> None:
        """Stop the devices sending for ``seconds`` (a simulated communication outage)."""
        self._send("pause", seconds)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the child to stop; terminate it if it does not within ``timeout_s``."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if proc is None:
            return
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("stop",))
        await asyncio.to_thread(proc.join, timeout_s)
        if proc.is_alive():
            proc.terminate()
            await asyncio.to_thread(proc.join, 2.0)
        if conn is not None:
            conn.close()


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _main(conn: Connection, config: FieldConfig) -> None:
    """Child entry: build the plant's devices, report ready, serve until told or orphaned."""
    _die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_serve(conn, config))
    except Exception as err:  # noqa: BLE001 - reported to the parent, which decides
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(err).__name__}: {err}"))


async def _serve(conn: Connection, config: FieldConfig) -> None:
    from twin.field import FieldServers
    from twin.plant import load_plant
    from twin.simulator import Simulator

    plant = load_plant(config.plant_file)
    simulator = Simulator(plant, seed=config.seed, start_s=time.time())
    servers = FieldServers(
        plant, simulator, modbus_port=config.modbus_port, opcua_port=config.opcua_port, mqtt_url=config.mqtt_url
    )
    await servers.start()
    stop = asyncio.Event()
    conn.send(("ready", None))
    runner = asyncio.create_task(servers.run(config.interval_s, stop))
    try:
        while not stop.is_set():
            if not await asyncio.to_thread(conn.poll, 0.2):
                continue
            try:
                command = conn.recv()
            except EOFError:  # the parent is gone
                break
            match command:
                case ("excursion", tag, to, duration_s):
                    with contextlib.suppress(KeyError, ValueError):
                        simulator.trigger_excursion(tag, to=to, duration_s=duration_s)
                case ("pause", seconds):
                    servers.pause(seconds)
                case ("stop",):
                    break
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 5)
        await servers.stop()
