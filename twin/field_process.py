"""The simulated plant's devices in a process of their own, as real devices are not the platform.

At 10,000 tags the simulator and its OPC UA server (pure-Python asyncua: every value write is
copied to each monitored item) cost about as much CPU as the whole platform; in the same
process they starve the subscriber, the flow and the API of the interpreter lock, so OPC UA
subscriptions time out and logins wait seconds. In a child process they use the machine's
other core, and the platform talks to them only over the field protocols, as it would to a
plant. Commands (forced excursions, simulated outages) go as JSON lines over its stdin.

The child dies with its parent: ``PR_SET_PDEATHSIG`` (Linux) and a closed stdin both end it, so
a ``kill -9`` of ``safetwin run`` never leaves a plant holding the ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
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
    protocols: tuple[str, ...] = ("modbus", "opcua")
    """Servers to run; the runtime asks for the one it reads (see ``FieldServers``)."""


class FieldProcessError(RuntimeError):
    """The field process did not start or stopped on its own."""


class FieldProcess:
    """Runs :class:`twin.field.FieldServers` with its :class:`twin.simulator.Simulator` in a child process.

    The child is ``python -m twin.field_process``, spoken to in JSON lines over its stdin and
    stdout (not :mod:`multiprocessing`, whose spawn re-imports the parent's ``__main__``: a
    script or notebook starting the app without a main guard would fork itself).
    """

    def __init__(self, config: FieldConfig) -> None:
        self.config = config
        self._proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> FieldProcess:
        """Start the child and hand it its configuration, without waiting for it (once; then a no-op).

        ``safetwin run`` launches the devices before it imports the platform, so they boot (about
        3 s for the demo plant) while the API loads rather than after; :meth:`start` then only
        waits for them.
        """
        if self._proc is None:
            proc = subprocess.Popen(
                [sys.executable, "-m", "twin.field_process"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            self._proc = proc
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(asdict(self.config), default=str).encode() + b"\n")
            proc.stdin.flush()
        return self

    async def start(self, timeout_s: float = 180.0) -> None:
        """Start the child (unless :meth:`launch` did) and wait until every server accepts connections.

        Raises:
            FieldProcessError: If it fails or takes longer than ``timeout_s``.
        """
        proc = self.launch()._proc
        assert proc is not None and proc.stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout_s)
        except TimeoutError as err:
            await self.stop()
            msg = f"the field process did not start within {timeout_s:.0f} s"
            raise FieldProcessError(msg) from err
        answer = json.loads(line) if line.strip() else {"status": "exited", "detail": f"exit code {proc.poll()}"}
        if answer.get("status") != "ready":
            await self.stop()
            msg = f"the field process failed to start: {answer.get('detail')}"
            raise FieldProcessError(msg)

    @property
    def alive(self) -> bool:
        """Whether the child is running."""
        return self._proc is not None and self._proc.poll() is None

    def _send(self, command: dict[str, Any]) -> None:
        if self._proc is None or self._proc.stdin is None or not self.alive:
            msg = "the field process is not running"
            raise FieldProcessError(msg)
        try:
            self._proc.stdin.write(json.dumps(command).encode() + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as err:
            msg = "the field process is not running"
            raise FieldProcessError(msg) from err

    def trigger_excursion(self, tag: str, *, to: float | None = None, duration_s: float = 30.0) -> None:
        """Force an excursion of ``tag`` in the simulator (see ``Simulator.trigger_excursion``)."""
        self._send({"command": "excursion", "tag": tag, "to": to, "duration_s": duration_s})

    def pause(self, seconds: float) -> None:
        """Stop the devices sending for ``seconds`` (a simulated communication outage)."""
        self._send({"command": "pause", "seconds": seconds})

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the child to stop (its stdin closes); terminate it if it does not within ``timeout_s``."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout_s)
        except TimeoutError:
            proc.terminate()
            await asyncio.to_thread(proc.wait)
        if proc.stdout is not None:
            proc.stdout.close()


def die_with_parent() -> None:
    """End this child process with its parent (Linux): a ``kill -9`` of the platform leaves no device or connector."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Child entry: read the config line, build the devices, report ready, obey until stdin closes."""
    die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.basicConfig(level=logging.WARNING)
    try:
        raw = json.loads(sys.stdin.readline())
        raw["plant_file"] = Path(raw["plant_file"])
        raw["protocols"] = tuple(raw.get("protocols", ("modbus", "opcua")))
        config = FieldConfig(**raw)
        asyncio.run(_serve(config))
    except Exception as err:  # noqa: BLE001 - reported to the parent, which decides
        with contextlib.suppress(OSError):
            _reply({"status": "error", "detail": f"{type(err).__name__}: {err}"})
        raise SystemExit(1) from err


async def _serve(config: FieldConfig) -> None:
    from twin.field import FieldServers
    from twin.plant import load_plant
    from twin.simulator import Simulator

    plant = load_plant(config.plant_file)
    simulator = Simulator(plant, seed=config.seed, start_s=time.time())
    servers = FieldServers(
        plant,
        simulator,
        modbus_port=config.modbus_port,
        opcua_port=config.opcua_port,
        mqtt_url=config.mqtt_url,
        protocols=config.protocols,
    )
    await servers.start()
    # The address space (about 60 objects per tag, plus asyncua's standard nodes) lives as
    # long as the process; frozen, the full collections that the per-sample allocations
    # trigger do not walk it again each time (as the platform's own processes do).
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    _reply({"status": "ready"})
    runner = asyncio.create_task(servers.run(config.interval_s, stop))
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:  # stdin closed: the parent stopped us, or is gone
                break
            with contextlib.suppress(ValueError, KeyError, TypeError):
                command = json.loads(line)
                match command.get("command"):
                    case "excursion":
                        simulator.trigger_excursion(command["tag"], to=command["to"], duration_s=command["duration_s"])
                    case "pause":
                        servers.pause(float(command["seconds"]))
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 5)
        await servers.stop()


if __name__ == "__main__":
    main()
