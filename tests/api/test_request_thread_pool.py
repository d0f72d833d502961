"""The request threads (api/request_threads.py): what a request relies on when it hands work off.

A request's session is used in the thread its work runs in, so the promises are about that:
the work's result or exception comes back to the right task, a cancelled request does not
get control back while its work still holds the session, and no job waits behind another
while the pool may still start threads (a waiting job would stall its request, and two jobs
that wait on each other would never end).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.request_threads import RequestThreads

_REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def _ended(pool: RequestThreads) -> bool:
    """Close ``pool`` and wait for its threads: whether every one of them ended."""
    threads = pool.close()
    for thread in threads:
        thread.join(5)
    return not any(thread.is_alive() for thread in threads)


@pytest.fixture
def pools() -> Iterator[Callable[[int], RequestThreads]]:
    """A maker of pools that are closed after the test, each of whose threads must end."""
    made: list[RequestThreads] = []

    def make(max_threads: int) -> RequestThreads:
        made.append(RequestThreads(max_threads=max_threads, name="t"))
        return made[-1]

    yield make
    assert all(_ended(pool) for pool in made)


def test_result_exception_and_context_come_back_to_the_awaiting_task(pools: Callable[[int], RequestThreads]) -> None:
    pool = pools(4)

    def fails() -> None:
        msg = "register locked"
        raise LookupError(msg)

    async def main() -> None:
        _REQUEST_ID.set("req-17")
        caller = threading.get_ident()
        assert await pool.run(lambda: 6 * 7) == 42
        seen = await pool.run(lambda: (_REQUEST_ID.get(), threading.get_ident()))
        assert seen[0] == "req-17"
        assert seen[1] != caller  # it really ran off the event loop's thread
        with pytest.raises(LookupError, match="register locked"):
            await pool.run(fails)
        results = await asyncio.gather(*(pool.run(functools.partial(pow, i, 2)) for i in range(50)))
        assert results == [i * i for i in range(50)]

    asyncio.run(main())
    assert 1 <= pool.threads <= 4


def test_a_cancelled_request_waits_until_its_work_has_ended(pools: Callable[[int], RequestThreads]) -> None:
    pool = pools(4)
    release = threading.Event()
    ended = threading.Event()

    def holds_the_session() -> str:
        release.wait(5)
        time.sleep(0.05)
        ended.set()
        return "committed"

    async def main() -> None:
        task = asyncio.create_task(pool.run(holds_the_session))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.1)
        assert not task.done(), "the task got control back while its work still ran"
        task.cancel()  # a second cancellation does not cut the wait short either
        await asyncio.sleep(0.05)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended.is_set(), "cancellation returned before the work ended"

    asyncio.run(main())


def test_a_cancelled_request_whose_work_failed_still_waits_and_stays_cancelled(
    pools: Callable[[int], RequestThreads],
) -> None:
    pool = pools(2)
    release = threading.Event()

    def fails_late() -> None:
        release.wait(5)
        msg = "late"
        raise RuntimeError(msg)

    async def main() -> None:
        task = asyncio.create_task(pool.run(fails_late))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await pool.run(lambda: "next") == "next"  # the thread went back to work

    asyncio.run(main())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6))
def test_below_the_limit_no_job_waits_for_another(rounds: list[int]) -> None:
    """Each round's jobs meet at a barrier: one job queued behind another breaks it (timeout)."""
    pool = RequestThreads(max_threads=12, name="t")

    async def main() -> None:
        for size in rounds:
            barrier = threading.Barrier(size, timeout=5)
            ids = await asyncio.gather(*(pool.run(barrier.wait) for _ in range(size)))
            assert sorted(ids) == list(range(size))

    asyncio.run(main())
    assert max(rounds) <= pool.threads <= 12  # noqa: PLR2004
    assert _ended(pool)


def test_at_the_limit_jobs_queue_and_all_end(pools: Callable[[int], RequestThreads]) -> None:
    pool = pools(2)
    running = 0
    most = 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return i

    async def main() -> list[int]:
        return await asyncio.gather(*(pool.run(functools.partial(work, i)) for i in range(20)))

    assert asyncio.run(main()) == list(range(20))
    assert pool.threads == 2
    assert most == 2


def test_threads_are_shared_by_event_loops_in_other_threads(pools: Callable[[int], RequestThreads]) -> None:
    """Each test client runs its own event loop; one pool serves all of them."""
    pool = pools(8)
    out: dict[int, list[int]] = {}

    def client(n: int) -> None:
        def plus(i: int) -> int:
            return i + n

        async def main() -> list[int]:
            return await asyncio.gather(*(pool.run(functools.partial(plus, i)) for i in range(30)))

        out[n] = asyncio.run(main())

    clients = [threading.Thread(target=client, args=(n * 100,)) for n in range(4)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(10)
    assert out == {n * 100: [i + n * 100 for i in range(30)] for n in range(4)}


def test_a_closed_pool_takes_no_work_and_its_threads_end() -> None:
    pool = RequestThreads(max_threads=4, name="t")
    release = threading.Event()

    async def main() -> list[str]:
        busy = [asyncio.create_task(pool.run(functools.partial(release.wait, 5))) for _ in range(3)]
        await asyncio.sleep(0.05)
        threads = pool.close()
        with pytest.raises(RuntimeError, match="closed"):
            await pool.run(lambda: "late")
        release.set()
        await asyncio.gather(*busy)  # work taken before the close still ends
        for thread in threads:
            thread.join(5)
        return [thread.name for thread in threads if thread.is_alive()]

    assert asyncio.run(main()) == []
