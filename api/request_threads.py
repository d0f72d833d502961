"""The threads that run a request's blocking work (its queries, its commit) off the event loop.

Every request of the business mix hands one piece of work to a thread and waits for it. With
``loop.run_in_executor`` and a :class:`~concurrent.futures.ThreadPoolExecutor` that hand-over
cost ~75 µs of CPU (idle loop) or ~48 µs (busy loop) on the bench box: the executor's
shutdown lock, a :class:`concurrent.futures.Future` with its ``Condition``, the idle
semaphore, ``asyncio.wrap_future``'s two callbacks and a shield. Here a job is a slotted
object on a C queue (:class:`queue.SimpleQueue`), and the thread hands the outcome back with
one ``call_soon_threadsafe``: ~21 µs with an idle loop, 15–20 µs busy for a prototype of the
same design (docs/performance.md, session 22).

What the executor guaranteed is kept:

* a job never waits for another job while fewer than ``max_threads`` threads exist: a job
  finds an idle thread or starts a new one (threads start only when needed and then stay);
* cancellation of the awaiting task waits for the work to end, as ``anyio.to_thread.run_sync``
  does: the request's session is in that thread's hands until then;
* context variables travel with the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

_T = TypeVar("_T")


class _Job(Generic[_T]):
    """One piece of work, its outcome, and the future the awaiting task waits on."""

    __slots__ = ("context", "ended", "failed", "future", "loop", "outcome", "waiter", "work")

    def __init__(self, loop: asyncio.AbstractEventLoop, work: Callable[[], _T]) -> None:
        self.loop = loop
        self.work = work
        self.context = contextvars.copy_context()
        self.future: asyncio.Future[_T] = loop.create_future()
        self.outcome: Any = None
        self.failed = False
        self.ended = False  # set on the event loop, when the outcome has been handed back
        self.waiter: asyncio.Future[None] | None = None  # set when the awaiting task was cancelled

    def run(self) -> None:
        """In a worker thread: run the work, then hand the outcome to the event loop."""
        try:
            self.outcome = self.context.run(self.work)
        except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the awaiting task
            self.outcome = exc
            self.failed = True
        try:
            self.loop.call_soon_threadsafe(self.hand_back)
        except RuntimeError:  # the loop closed while the work ran: nobody is waiting any more
            pass

    def hand_back(self) -> None:
        """On the event loop: settle the future, or wake a cancelled task waiting for the end."""
        self.ended = True
        future = self.future
        if not future.done():
            if self.failed:
                future.set_exception(self.outcome)
            else:
                future.set_result(self.outcome)
        elif self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        self.outcome = None  # an exception's traceback holds the work's frames


class RequestThreads:
    """A pool of worker threads fed through a C queue; see the module's docstring."""

    def __init__(self, max_threads: int, name: str) -> None:
        self._max_threads = max_threads
        self._name = name
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()  # None: end a thread
        # One token per thread between jobs that no queued job has claimed yet. list.append and
        # list.pop are atomic under the GIL, so threads and event loops share it without a lock.
        # Invariant: tokens + queued jobs == threads waiting for a job.
        self._idle: list[None] = []
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._closed = False
        pool = weakref.ref(self)  # the hook must not keep a closed pool alive
        os.register_at_fork(after_in_child=lambda: _forget_threads_of(pool))

    def _forget_threads(self) -> None:
        """In a forked child: the parent's threads did not come along, so start afresh."""
        self._jobs = queue.SimpleQueue()
        self._idle = []
        self._threads = []
        self._start_lock = threading.Lock()

    @property
    def threads(self) -> int:
        """How many worker threads have been started (they stay until :meth:`close`)."""
        return len(self._threads)

    def close(self) -> list[threading.Thread]:
        """Take no more work, and let every thread end once the jobs queued before are done.

        For pools that live shorter than their process (tests); the request pool of
        :mod:`api.auth` lives as long as its process. Returns the threads, to join if wanted.
        """
        with self._start_lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        return threads

    async def run(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` in a worker thread and return its result (or raise its exception)."""
        job = _Job(asyncio.get_running_loop(), work)
        self._submit(job)
        try:
            return await job.future
        except asyncio.CancelledError:
            if not job.ended:  # the work still runs: the session is not ours to touch yet
                job.waiter = job.loop.create_future()
                while not job.ended:
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.wait((job.waiter,))
            raise

    def _submit(self, job: _Job[Any]) -> None:
        if self._closed:
            msg = f"{self._name}: the pool is closed"
            raise RuntimeError(msg)
        try:
            self._idle.pop()  # claim a thread between jobs: it takes this job from the queue
        except IndexError:
            if self._start(job):
                return
        self._jobs.put(job)

    def _start(self, first: _Job[Any]) -> bool:
        """Start a thread with ``first`` as its first job; False at the limit (the job queues)."""
        with self._start_lock:
            if self._closed or len(self._threads) >= self._max_threads:
                return False
            thread = threading.Thread(
                target=self._serve, args=(first,), name=f"{self._name}_{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
        thread.start()
        return True

    def _serve(self, first: _Job[Any]) -> None:
        first.run()
        del first
        while True:
            self._idle.append(None)
            job = self._jobs.get()
            if job is None:  # closed
                return
            job.run()
            del job


def _forget_threads_of(pool: weakref.ref[RequestThreads]) -> None:
    if (alive := pool()) is not None:
        alive._forget_threads()  # noqa: SLF001 - its own fork hook
