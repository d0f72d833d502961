"""The busy keep-alive connections of ``safetwin api --workers N`` shared out evenly (api.connection_balance).

The rule, the shared file and the middleware, in one process; ``tests/e2e/test_api_workers.py``
checks two real workers under load.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from api.connection_balance import CHECK_EVERY_S, ConnectionBalance, WorkerShares, excess_connections


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


@pytest.fixture
def live_pid() -> Iterator[int]:
    """A real process other than this one, alive for the test."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_workers_see_each_others_counts_and_a_stale_count_as_none(tmp_path: Path, live_pid: int) -> None:
    path = tmp_path / "shares"
    WorkerShares.create(path, 4)
    assert path.stat().st_mode & 0o777 == 0o600
    me, other = WorkerShares(path, 4), WorkerShares(path, 4, pid=live_pid)
    try:
        assert other.publish(7, now=1000.0) == [7, 0]
        assert me.publish(3, now=1000.5) == [3, 7]
        # the other worker had no request for more than 2 s: none of its connections is busy
        assert me.publish(3, now=1003.0) == [3, 0]
    finally:
        me.close()
        other.close()


def test_the_slot_of_a_worker_that_died_is_taken_by_its_successor(tmp_path: Path, live_pid: int) -> None:
    path = tmp_path / "shares"
    WorkerShares.create(path, 2)
    dead = WorkerShares(path, 2, pid=_dead_pid())
    dead.publish(40, now=1000.0)
    me = WorkerShares(path, 2)  # the other slot
    successor = WorkerShares(path, 2, pid=live_pid)  # no free slot but the dead worker's
    try:
        assert successor.publish(2, now=1000.1) == [2, 0]  # me has not published yet: none busy
        assert me.publish(5, now=1000.2) == [5, 2]  # the dead worker's 40 counts no more
        with pytest.raises(RuntimeError, match="no free slot"):
            WorkerShares(path, 2, pid=live_pid + 10**6)
    finally:
        me.close()
        successor.close()
        dead.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


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
def two_workers(tmp_path: Path, live_pid: int) -> Iterator[tuple[WorkerShares, ConnectionBalance, _Clock]]:
    """The other worker's slot, and this worker's middleware with a clock the test moves."""
    path = tmp_path / "shares"
    WorkerShares.create(path, 4)
    other = WorkerShares(path, 4, pid=live_pid)
    clock = _Clock()
    app = ConnectionBalance(_ok, shares=WorkerShares(path, 4), clock=clock)
    yield other, app, clock
    other.close()
    app.shares.close()


def test_a_worker_holding_more_than_its_share_closes_that_many_busy_connections(
    two_workers: tuple[WorkerShares, ConnectionBalance, _Clock],
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


def test_a_worker_at_its_share_closes_nothing(two_workers: tuple[WorkerShares, ConnectionBalance, _Clock]) -> None:
    other, app, clock = two_workers
    other.publish(6)
    for _ in range(5):
        clock.now += CHECK_EVERY_S
        assert not any(_closes(_request(app, port)) for port in range(6))
