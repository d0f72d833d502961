"""The request's worker-thread hand-over (``api.auth.in_request_thread``) keeps anyio's guarantees.

Why: the request session is used by the worker thread; if cancelling the request let the
event loop go on (and roll back or close the session) while the thread still ran, two
threads would use one session at once.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from api.auth import _session_limit, in_request_thread
from registers.db import REQUEST_SESSIONS

_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("_VAR", default="unset")


def test_the_work_runs_in_another_thread_with_the_callers_context() -> None:
    async def main() -> tuple[str, bool]:
        _VAR.set("request")
        loop_thread = threading.get_ident()
        return await in_request_thread(lambda: (_VAR.get(), threading.get_ident() != loop_thread))

    assert asyncio.run(main()) == ("request", True)


def test_an_exception_of_the_work_reaches_the_caller() -> None:
    def fail() -> None:
        msg = "boom"
        raise ValueError(msg)

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(in_request_thread(fail))


def test_cancelling_waits_until_the_work_has_ended() -> None:
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.3)
        finished.set()

    async def main() -> bool:
        task = asyncio.create_task(in_request_thread(slow))
        await asyncio.sleep(0.05)
        task.cancel()
        task.cancel()  # a second cancellation (anyio repeats them) does not end the wait either
        with pytest.raises(asyncio.CancelledError):
            await task
        return finished.is_set()

    assert asyncio.run(main()) is True


def test_one_session_limit_per_event_loop() -> None:
    async def limit() -> asyncio.Semaphore:
        first = _session_limit()
        assert _session_limit() is first
        return first

    one, other = asyncio.run(limit()), asyncio.run(limit())
    assert one is not other
    assert one._value == REQUEST_SESSIONS
