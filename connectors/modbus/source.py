"""Bytewax source that polls Modbus devices by polling group.

Each :class:`~connectors.modbus.scheduler.ModbusPollingGroup` is one Bytewax partition, so
with several workers the groups (and their devices) are spread over the workers and every
tag is polled exactly once per tick.

Polling is asynchronous network I/O with timeouts up to a second; doing it inside
``next_batch`` would stall every other step on the worker while a device is slow or dead.
Each partition therefore runs its group's schedule on a small event loop in a background
thread (a :class:`~connectors.modbus.scheduler.ModbusScheduler` with one group) and
``next_batch`` only drains what that thread has already read. When nothing is waiting the
partition asks Bytewax to come back a little later (``next_awake``) instead of sleeping.

Recovery: a poll reads the present value; the past cannot be read again. The partition
snapshot is therefore ``None`` and a resumed flow simply polls on. Readings that were polled
but not yet part of a finished epoch when the process died are lost, as with any polled
source; the next tick supersedes them.

Example:
    >>> from connectors.modbus.client import RegisterPoint
    >>> g = ModbusPollingGroup("fast", 1.0, "127.0.0.1", 502, (RegisterPoint("PT-101", 0),))
    >>> ModbusSource([g]).list_parts()  # no I/O happens until a partition is built
    ['fast']
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from connectors.modbus.scheduler import ModbusPollingGroup, ModbusScheduler
from models.contracts import SensorReading

logger = logging.getLogger(__name__)


class _PollingThread(threading.Thread):
    """A daemon thread that runs one group's schedule on its own event loop."""

    def __init__(self, group: ModbusPollingGroup, inbox: collections.deque[list[SensorReading]], source: str) -> None:
        super().__init__(name=f"modbus-source {group.name}", daemon=True)
        self._group = group
        self._inbox = inbox
        self._source = source
        self._loop = asyncio.new_event_loop()
        self._stop_event: asyncio.Event | None = None
        self.started_event = threading.Event()

    def run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop_event = asyncio.Event()
        scheduler = ModbusScheduler([self._group], self._inbox.append, source=self._source)
        await scheduler.start()
        self.started_event.set()
        try:
            await self._stop_event.wait()
        finally:
            await scheduler.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to stop the schedule and close the connection, and wait for it."""
        self.started_event.wait(timeout)
        if self._stop_event is not None and self.is_alive():
            self._loop.call_soon_threadsafe(self._stop_event.set)
        self.join(timeout)
        if self.is_alive():  # pragma: no cover - a device hung beyond every timeout
            logger.warning("Modbus polling thread for group %s did not stop in %s s", self._group.name, timeout)


class _ModbusPartition(StatefulSourcePartition[SensorReading, None]):
    def __init__(self, group: ModbusPollingGroup, source: str, idle_pause: timedelta, polls: int | None) -> None:
        # One list per poll; deque.append/popleft are atomic, so no lock is needed.
        self._inbox: collections.deque[list[SensorReading]] = collections.deque()
        self._idle_pause = idle_pause
        self._polls_left = polls
        self._awake: datetime | None = None
        self._thread = _PollingThread(group, self._inbox, source)
        self._thread.start()

    def next_batch(self) -> list[SensorReading]:
        """What the polling thread has read since the last call; never waits."""
        if self._polls_left is not None and self._polls_left <= 0:
            raise StopIteration
        batch: list[SensorReading] = []
        inbox = self._inbox
        while inbox and (self._polls_left is None or self._polls_left > 0):
            batch.extend(inbox.popleft())
            if self._polls_left is not None:
                self._polls_left -= 1
        self._awake = None if batch else datetime.now(UTC) + self._idle_pause
        return batch

    def next_awake(self) -> datetime | None:
        """After an empty batch, come back after the idle pause instead of spinning."""
        return self._awake

    def snapshot(self) -> None:
        """Nothing to resume: a poll cannot read the past."""
        return None

    def close(self) -> None:
        """Stop the schedule and close the device connection."""
        self._thread.stop()


class ModbusSource(FixedPartitionedSource[SensorReading, None]):
    """Readings of Modbus polling groups, one Bytewax partition per group.

    Args:
        groups: The polling groups; names must be unique (they name the partitions).
        source: ``SensorReading.source`` of every reading.
        idle_pause: How long a partition with nothing to hand over waits before Bytewax asks
            again; bounds the added latency (default 20 ms).
        polls: End each partition after this many polls (commissioning checks, tests);
            ``None`` polls until the flow stops.
    """

    def __init__(
        self,
        groups: Sequence[ModbusPollingGroup],
        *,
        source: str = "modbus",
        idle_pause: timedelta = timedelta(milliseconds=20),
        polls: int | None = None,
    ) -> None:
        names = [g.name for g in groups]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            msg = f"duplicate polling group names: {duplicated}"
            raise ValueError(msg)
        if polls is not None and polls < 1:
            msg = f"polls must be >= 1 or None, got {polls}"
            raise ValueError(msg)
        self.groups = {g.name: g for g in groups}
        self.source = source
        self.idle_pause = idle_pause
        self.polls = polls

    def list_parts(self) -> list[str]:
        """One partition per polling group."""
        return list(self.groups)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _ModbusPartition:
        """Start polling one group in the background."""
        return _ModbusPartition(self.groups[for_part], self.source, self.idle_pause, self.polls)
