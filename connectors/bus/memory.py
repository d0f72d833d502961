"""In-process publish/subscribe bus: the stream transport of the embedded mode.

It plays the part Kafka plays in production: connectors publish ``sensor.reading``, the
Bytewax flow subscribes, and the flow publishes ``sensor.reading`` (quality-flagged) and
``alarm.event`` for the WebSocket push. Thread-safe (the flow runs in its own thread) and
asyncio-aware (WebSocket handlers await their queue). A slow subscriber never blocks a
publisher: its bounded queue drops the oldest item and counts the drop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Subscription:
    """A bounded FIFO of one subscriber on one stream."""

    stream: str
    maxsize: int = 100_000
    dropped: int = 0
    closed: bool = False
    _items: deque[Any] = field(default_factory=deque)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _loop: asyncio.AbstractEventLoop | None = None
    _event: asyncio.Event | None = None

    def _put(self, items: Iterable[Any]) -> None:
        with self._cond:
            for item in items:
                if len(self._items) >= self.maxsize:
                    self._items.popleft()
                    self.dropped += 1
                self._items.append(item)
            self._cond.notify_all()
        if self._loop is not None and self._event is not None:
            try:
                self._loop.call_soon_threadsafe(self._event.set)
            except RuntimeError:  # loop closed: the subscriber is gone
                self.closed = True

    def drain(self, max_items: int = 10_000) -> list[Any]:
        """Everything queued now (up to ``max_items``), without waiting."""
        with self._cond:
            n = min(len(self._items), max_items)
            return [self._items.popleft() for _ in range(n)]

    def get_batch(self, timeout: float, max_items: int = 10_000) -> list[Any]:
        """Wait up to ``timeout`` seconds for at least one item, then drain."""
        with self._cond:
            if not self._items and not self.closed:
                self._cond.wait(timeout)
        return self.drain(max_items)

    async def aget_batch(self, max_items: int = 10_000) -> list[Any]:
        """Await at least one item (async subscribers only)."""
        if self._event is None:
            msg = "aget_batch needs a subscription made with Bus.subscribe_async"
            raise RuntimeError(msg)
        while True:
            items = self.drain(max_items)
            if items or self.closed:
                return items
            self._event.clear()
            items = self.drain(max_items)
            if items:
                return items
            await self._event.wait()

    def close(self) -> None:
        """Wake any waiter; a closed subscription returns what is left, then nothing."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        if self._loop is not None and self._event is not None:
            try:
                self._loop.call_soon_threadsafe(self._event.set)
            except RuntimeError:
                pass


class Bus:
    """Streams by name, each with any number of subscribers."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Subscription]] = {}
        self._lock = threading.Lock()
        self.published: dict[str, int] = {}
        self.closed = False

    def subscribe(self, stream: str, maxsize: int = 100_000) -> Subscription:
        """A thread-side subscription (blocking ``get_batch``)."""
        sub = Subscription(stream=stream, maxsize=maxsize)
        with self._lock:
            self._subs.setdefault(stream, []).append(sub)
        return sub

    def subscribe_async(self, stream: str, maxsize: int = 10_000) -> Subscription:
        """A subscription to await from the running event loop."""
        sub = Subscription(stream=stream, maxsize=maxsize)
        sub._loop = asyncio.get_running_loop()
        sub._event = asyncio.Event()
        with self._lock:
            self._subs.setdefault(stream, []).append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub``."""
        with self._lock:
            subs = self._subs.get(sub.stream, [])
            if sub in subs:
                subs.remove(sub)
        sub.close()

    def has_subscribers(self, stream: str) -> bool:
        """Whether anyone listens on ``stream`` (publishers may skip building messages)."""
        with self._lock:
            return bool(self._subs.get(stream))

    def dropped(self, stream: str) -> int:
        """Items dropped so far by full subscriptions of ``stream`` (shown by ``/health``)."""
        with self._lock:
            return sum(s.dropped for s in self._subs.get(stream, ()))

    def publish(self, stream: str, message: Any) -> None:
        """Deliver one message to every subscriber of ``stream``."""
        self.publish_many(stream, (message,))

    def publish_many(self, stream: str, messages: Iterable[Any]) -> None:
        """Deliver messages, in order, to every subscriber of ``stream``."""
        items = list(messages)
        if not items:
            return
        with self._lock:
            subs = list(self._subs.get(stream, ()))
            self.published[stream] = self.published.get(stream, 0) + len(items)
        for sub in subs:
            sub._put(items)

    def close(self) -> None:
        """Close every subscription (sources built on them reach end of stream)."""
        with self._lock:
            subs = [s for ss in self._subs.values() for s in ss]
            self._subs.clear()
            self.closed = True
        for sub in subs:
            sub.close()
