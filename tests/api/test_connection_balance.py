"""The busy keep-alive connections of ``safetwin api --workers N`` shared out evenly (api.connection_balance).

The rule, the shared file and the middleware, in one process; ``tests/e2e/test_api_workers.py``
checks two real workers under load.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from api.connection_balance import (
    CHECK_EVERY_S,
    HEARTBEAT_S,
    LIVE_S,
    ConnectionBalance,
    WorkerShares,
    excess_connections,
)
from tests.clocks import ManualClock


@given(st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=16))
def test_handing_back_the_excess_leaves_no_worker_above_the_even_share(counts: list[int]) -> None:
    share = math.ceil(sum(counts) / len(counts))
    after = [mine - excess_connections(mine, counts) for mine in counts]
    assert all(held <= share for held in after)
    # only workers above the share hand anything back, and none goes below it doing so
    assert all(held == mine for held, mine in zip(after, counts, strict=True) if mine <= share)
    assert all(held == share for held, mine in zip(after, counts, strict=True) if mine > share)


@given(st.integers(min_value=0, max_value=500))
def test_a_worker_alone_keeps_everything(mine: int) -> None:
    assert excess_connections(mine, [mine]) == 0


def test_workers_see_each_others_counts_and_a_slot_gone_stale_as_no_worker(tmp_path: Path) -> None:
    path = tmp_path / "shares"
    WorkerShares.create(path, 4)
    assert path.stat().st_mode & 0o777 == 0o600
    me, other = WorkerShares(path, 4, now=1000.0), WorkerShares(path, 4, pid=1, now=1000.0)
    try:
        assert other.publish(7, now=1000.0) == [7, 0]  # me: claimed, nothing busy yet
        assert me.publish(3, now=1000.5) == [3, 7]
        # the other worker's slot was not rewritten for more than LIVE_S: it is gone
        assert me.publish(3, now=1000.0 + LIVE_S + 0.1) == [3]
    finally:
        me.close()
        other.close()


def test_a_worker_without_requests_stays_counted_by_its_heartbeat_with_none_busy(tmp_path: Path) -> None:
    """A restarted worker gets no request until users are handed to it: it must still count."""
    path = tmp_path / "shares"
    WorkerShares.create(path, 4)
    me, other = WorkerShares(path, 4), WorkerShares(path, 4, pid=1)
    other.start_heartbeat(idle_after_s=0.5)
    try:
        other.publish(7)
        assert me.publish(3) == [3, 7]
        time.sleep(LIVE_S + 2 * HEARTBEAT_S)  # the other worker had no request since
        assert me.publish(3) == [3, 0]
    finally:
        me.close()
        other.close()


def test_the_slot_of_a_worker_that_stopped_is_taken_by_its_successor(tmp_path: Path) -> None:
    path = tmp_path / "shares"
    WorkerShares.create(path, 2)
    gone = WorkerShares(path, 2, pid=1, now=1000.0)
    gone.publish(40, now=1000.0)  # then nothing: the worker died, its pid may be reused
    me, successor = WorkerShares(path, 2), WorkerShares(path, 2, pid=2)  # one of them takes the stale slot
    try:
        assert me.publish(5) == [5, 0]  # the successor's none, not the 40 of the worker gone
        with pytest.raises(RuntimeError, match="no free slot"):
            WorkerShares(path, 2, pid=3)
    finally:
        me.close()
        successor.close()


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _request(app: ConnectionBalance, port: int) -> list[tuple[bytes, bytes]]:
    """One request on the connection from 10.0.0.1:``port``; the response's headers."""
    sent: list[Message] = []
    scope: Scope = {"type": "http", "method": "GET", "path": "/x", "client": ("10.0.0.1", port), "headers": []}

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return list(sent[0]["headers"])


def _closes(headers: list[tuple[bytes, bytes]]) -> bool:
    return (b"connection", b"close") in headers


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[WorkerShares, ConnectionBalance, ManualClock]]:
    """The other worker's slot, and this worker's middleware with a clock the test moves."""
    path = tmp_path / "shares"
    WorkerShares.create(path, 4)
    other = WorkerShares(path, 4, pid=1)
    clock = ManualClock(0.0)
    app = ConnectionBalance(_ok, shares=WorkerShares(path, 4), clock=clock)
    yield other, app, clock
    other.close()
    app.shares.close()


def test_a_worker_holding_more_than_its_share_closes_that_many_busy_connections(
    two_workers: tuple[WorkerShares, ConnectionBalance, ManualClock],
) -> None:
    other, app, clock = two_workers
    other.publish(4)  # the other worker is busy with 4 users
    for port in range(10):  # this one with 10, each two requests deep
        assert not _closes(_request(app, port))
        assert not _closes(_request(app, port))
    assert not _closes(_request(app, 99))  # a one-shot connection is never handed back
    clock.now += CHECK_EVERY_S
    closed = [port for port in range(10) if _closes(_request(app, port))]
    # 14 users over 2 workers: this one keeps 7 and hands back 3, the first 3 that ask
    assert closed == [0, 1, 2]
    assert app.busy(clock.now) == 7
    assert not _closes(_request(app, 99))


def test_a_worker_at_its_share_closes_nothing(two_workers: tuple[WorkerShares, ConnectionBalance, ManualClock]) -> None:
    other, app, clock = two_workers
    other.publish(6)
    for _ in range(5):
        clock.now += CHECK_EVERY_S
        assert not any(_closes(_request(app, port)) for port in range(6))
