"""Polling groups: tags read at their own pace, each group on its own schedule.

A plant does not need every tag at the same rate: pressures and gas detectors are read every
second, tank levels and temperatures every ten. A :class:`ModbusPollingGroup` is one device
connection, one interval and the tags read at that interval. The :class:`ModbusScheduler`
runs every group in its own asyncio task with its own :class:`~connectors.modbus.client.ModbusPoller`
(own TCP connection, own back-off), so a device that answers slowly, or not at all, only
delays its own group: the other groups keep their schedule.

The schedule is a wall-clock grid (multiples of the interval). A poll that overruns its
interval is not queued up behind itself: the missed ticks are skipped and counted in
:attr:`GroupStats.overruns`, so a slow device never builds a backlog of stale polls.

Example:
    >>> from connectors.modbus.client import RegisterPoint
    >>> fast = ModbusPollingGroup("fast", 1.0, "10.0.0.5", 502, (RegisterPoint("PT-101", 0),))
    >>> fast.name, fast.interval_s, [p.tag for p in fast.points]
    ('fast', 1.0, ['PT-101'])
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from connectors.modbus.client import ModbusPoller, RegisterPoint
from models.contracts import SensorReading

logger = logging.getLogger(__name__)

OnReadings = Callable[[list[SensorReading]], None]


@dataclass(frozen=True, slots=True)
class ModbusPollingGroup:
    """Tags of one device that are read together at one interval.

    Attributes:
        name: Unique name of the group, e.g. ``"fast"`` or ``"tank-farm-10s"``.
        interval_s: Seconds between polls (the grid the polls are aligned to).
        host: Device or gateway address.
        port: TCP port.
        points: The tags to read; unique within the group.
        timeout_s: Seconds to wait for connect and each response; by default the smaller of
            1 s and the interval, so one poll rarely spans more than one tick.
    """

    name: str
    interval_s: float
    host: str
    port: int
    points: tuple[RegisterPoint, ...]
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            msg = "a polling group needs a name"
            raise ValueError(msg)
        if not (math.isfinite(self.interval_s) and self.interval_s > 0):
            msg = f"group {self.name!r}: interval_s must be positive, got {self.interval_s}"
            raise ValueError(msg)
        if not self.points:
            msg = f"group {self.name!r} has no points"
            raise ValueError(msg)
        object.__setattr__(self, "points", tuple(self.points))

    @property
    def timeout(self) -> float:
        """The effective per-request timeout in seconds."""
        return self.timeout_s if self.timeout_s is not None else min(1.0, self.interval_s)


def group_by_interval(
    host: str,
    port: int,
    points: Sequence[RegisterPoint],
    interval_of: Callable[[RegisterPoint], float],
    *,
    prefix: str = "",
) -> list[ModbusPollingGroup]:
    """Split one device's points into one group per distinct interval (fastest first).

    Args:
        host: Device address.
        port: Device port.
        points: Every point of the device.
        interval_of: Poll interval of a point in seconds (e.g. 1.0 for pressures, 10.0 for levels).
        prefix: Prepended to the group names, which are ``f"{prefix}{interval}s"``.
    """
    by_interval: dict[float, list[RegisterPoint]] = {}
    for p in points:
        by_interval.setdefault(float(interval_of(p)), []).append(p)
    return [
        ModbusPollingGroup(f"{prefix}{interval:g}s", interval, host, port, tuple(pts))
        for interval, pts in sorted(by_interval.items())
    ]


@dataclass(slots=True)
class GroupStats:
    """What a group's schedule has done so far (for status pages and tests)."""

    polls: int = 0
    overruns: int = 0
    """Ticks skipped because the previous poll was still running."""
    last_duration_s: float = 0.0
    durations_s: list[float] = field(default_factory=list)
    """Duration of the most recent polls (at most 100)."""


class ModbusScheduler:
    """Runs every polling group on its own schedule and hands over each poll's readings.

    Args:
        groups: The groups; names must be unique.
        on_readings: Called on the event loop with one poll's readings; must not block. An
            exception it raises is logged and the schedule carries on.
        source: ``SensorReading.source`` of every reading.
        initial_backoff_s: First wait after a failed connect; doubles per failure.
        max_backoff_s: Cap of the back-off.
    """

    def __init__(
        self,
        groups: Sequence[ModbusPollingGroup],
        on_readings: OnReadings,
        *,
        source: str = "modbus",
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
    ) -> None:
        names = [g.name for g in groups]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            msg = f"duplicate polling group names: {duplicated}"
            raise ValueError(msg)
        self.groups = tuple(groups)
        self.on_readings = on_readings
        self.pollers = {
            g.name: ModbusPoller(
                g.host,
                g.port,
                g.points,
                source=source,
                timeout=g.timeout,
                initial_backoff_s=initial_backoff_s,
                max_backoff_s=max_backoff_s,
            )
            for g in self.groups
        }
        self.stats = {g.name: GroupStats() for g in self.groups}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        """Whether the group tasks are running."""
        return bool(self._tasks)

    async def start(self) -> None:
        """Start one task per group (idempotent); the first polls happen on the next grid tick."""
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._run(g), name=f"modbus-group {g.name}") for g in self.groups]

    async def stop(self) -> None:
        """Stop every group and close its connection (idempotent)."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for poller in self.pollers.values():
            await poller.close()

    async def __aenter__(self) -> ModbusScheduler:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def poll_group(self, name: str) -> list[SensorReading]:
        """Poll one group now, outside its schedule, and record the stats."""
        stats = self.stats[name]
        t0 = time.monotonic()
        readings = await self.pollers[name].poll()
        stats.last_duration_s = time.monotonic() - t0
        stats.polls += 1
        stats.durations_s.append(stats.last_duration_s)
        del stats.durations_s[:-100]
        return readings

    async def _run(self, group: ModbusPollingGroup) -> None:
        interval = group.interval_s
        stats = self.stats[group.name]
        n = math.floor(time.time() / interval) + 1
        while True:
            delay = n * interval - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            readings = await self.poll_group(group.name)
            try:
                self.on_readings(readings)
            except Exception:
                logger.exception("on_readings failed for Modbus group %s", group.name)
            following = math.floor(time.time() / interval) + 1
            if following > n + 1:
                stats.overruns += following - n - 1
                logger.debug("Modbus group %s overran %d tick(s)", group.name, following - n - 1)
            n = max(n + 1, following)
