"""Register facts into the risk flow by polling: one poller for the embedded bus and for Bytewax.

Some of the risk model's inputs live in the registers (special work at work, bypassed
interlocks, overdue inspections and hidden hazards) and change with the clock as much as with
writes: a deadline passes at midnight with nobody touching a row. So they are read every
``interval_s`` in one short read transaction, compared with what the flow was last told, and
only the changes are sent.

A :class:`RegisterReader` says what one kind of fact is: how to read it now, what changed,
and how to remember what was told across a restart. The embedded runtime runs it in a
:class:`RegisterPublisher` thread that publishes on the bus's ``risk.input`` stream; the
distributed risk flow reads it through a :class:`RegisterPollSource`, one Bytewax partition
whose recovery state is what it last told. Both diff with the same reader, so the two modes
tell the flow the same thing.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Generic, Self, TypeVar

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from sqlalchemy.orm import Session, sessionmaker

from api.background import BackgroundLoop
from connectors.bus.memory import Bus
from models.risk import RISK_INPUT

log = logging.getLogger(__name__)

State = TypeVar("State")
Item = TypeVar("Item")


def wall_ms() -> int:
    """Now, in epoch milliseconds (the default clock)."""
    return int(time.time() * 1000)


class RegisterReader(ABC, Generic[State, Item]):
    """One kind of register fact the risk flow hears about as changes."""

    what: ClassVar[str]
    """What is read, for the log line of a failed read ("reading … failed")."""

    @abstractmethod
    def read(self, session: Session, ts: int) -> State:
        """What holds now (``ts`` in epoch ms), read in ``session``."""

    @abstractmethod
    def changes(self, told: State, now: State, ts: int) -> list[Item]:
        """What the flow must hear, given what it was told and what holds now."""

    @abstractmethod
    def untold(self) -> State:
        """What the flow knows before it has been told anything."""

    @abstractmethod
    def encode(self, told: State) -> bytes:
        """``told`` as recovery state."""

    @abstractmethod
    def decode(self, state: bytes) -> State:
        """The inverse of :meth:`encode`."""


class RegisterPublisher(Generic[State, Item]):
    """Polls the registers and publishes what changed on the bus's ``risk.input`` stream (embedded)."""

    def __init__(
        self,
        bus: Bus,
        session_factory: sessionmaker[Session],
        reader: RegisterReader[State, Item],
        *,
        interval_s: float,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.bus = bus
        self.session_factory = session_factory
        self.reader = reader
        self.interval_s = interval_s
        self.clock = clock
        self.published = 0
        self.errors = 0
        self._told: State = reader.untold()
        self._loop = BackgroundLoop(f"risk-inputs-{type(reader).__name__}", self._run)

    def poll(self) -> list[Item]:
        """One read of the registers; publishes and returns the changes."""
        ts = self.clock()
        with self.session_factory() as session:
            current = self.reader.read(session, ts)
        news = self.reader.changes(self._told, current, ts)
        if news:
            self.bus.publish(RISK_INPUT, news)
            self.published += len(news)
        self._told = current
        return news

    def start(self) -> Self:
        """Poll in a daemon thread, once the risk flow listens (earlier messages would be lost)."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling."""
        self._loop.stop(timeout)

    def _run(self) -> None:
        if not self._loop.wait_until(lambda: self.bus.has_subscribers(RISK_INPUT) or self.bus.closed):
            return
        while not self._loop.stopping and not self.bus.closed:
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the publisher must outlive one failed read
                self.errors += 1
                log.exception("reading %s for the risk flow failed", self.reader.what)
            self._loop.wait(self.interval_s)


class _PollPartition(StatefulSourcePartition[Item, bytes], Generic[State, Item]):
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        reader: RegisterReader[State, Item],
        interval_s: float,
        clock: Callable[[], int],
        tail: bool,
        resume_state: bytes | None,
    ) -> None:
        self._session_factory = session_factory
        self._reader = reader
        self._interval = timedelta(seconds=interval_s)
        self._clock = clock
        self._tail = tail
        self._told: State = reader.untold() if resume_state is None else reader.decode(resume_state)
        self._awake: datetime | None = None
        self._polled = False
        self.errors = 0

    def next_batch(self) -> list[Item]:
        # One short read transaction every interval_s, paced by next_awake: the worker is
        # free in between.
        if self._polled and not self._tail:
            raise StopIteration
        self._polled = True
        self._awake = datetime.now(UTC) + self._interval
        ts = self._clock()
        try:
            with self._session_factory() as session:
                current = self._reader.read(session, ts)
        except Exception:  # noqa: BLE001 - the flow must outlive a database restart; next poll retries
            self.errors += 1
            log.exception("reading %s for the risk flow failed", self._reader.what)
            return []
        news = self._reader.changes(self._told, current, ts)
        self._told = current
        return news

    def next_awake(self) -> datetime | None:
        return self._awake

    def snapshot(self) -> bytes:
        return self._reader.encode(self._told)


class RegisterPollSource(FixedPartitionedSource[Item, bytes], Generic[State, Item]):
    """A register fact as changes, for the distributed risk flow.

    ONE partition (whichever worker owns it polls), its recovery state what it last told the
    flow: a flow restarted after a permit ended while it was down still hears the end.
    ``tail=False`` polls once and ends (a bounded run, as the Kafka sources' ``tail=False``).
    """

    PART: ClassVar[str] = "registers"

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        reader: RegisterReader[State, Item],
        *,
        interval_s: float,
        tail: bool = True,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.session_factory = session_factory
        self.reader = reader
        self.interval_s = interval_s
        self.tail = tail
        self.clock = clock

    def list_parts(self) -> list[str]:
        """The one partition."""
        return [self.PART]

    def build_part(self, step_id: str, for_part: str, resume_state: bytes | None) -> _PollPartition[State, Item]:
        """The poller, resuming from what it had told the flow before a restart."""
        return _PollPartition(self.session_factory, self.reader, self.interval_s, self.clock, self.tail, resume_state)
