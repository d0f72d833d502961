"""The shared background loop: stop ends the thread promptly; a loop that dies says why."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from api.background import BackgroundLoop


def test_stop_ends_a_waiting_loop_at_once() -> None:
    rounds: list[int] = []

    def run() -> None:
        while not loop.wait(60.0):  # an interval far longer than the test
            rounds.append(1)

    loop = BackgroundLoop("test-waiting", run)
    loop.start()
    assert loop.is_alive
    assert "test-waiting" in {t.name for t in threading.enumerate()}
    t0 = time.monotonic()
    loop.stop(timeout=5.0)
    assert time.monotonic() - t0 < 1.0
    assert not loop.is_alive and loop.stopping
    assert loop.error is None and rounds == []


def test_start_passes_its_arguments_and_the_loop_may_end_by_itself() -> None:
    got: list[tuple[int, str]] = []
    loop = BackgroundLoop("test-args", lambda n, word: got.append((n, word)))
    loop.start(3, word="three")
    loop.stop(timeout=5.0)
    assert got == [(3, "three")]
    assert not loop.is_alive and loop.error is None


def test_an_exception_is_kept_and_logged_not_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    def run() -> None:
        msg = "the device link broke"
        raise ConnectionError(msg)

    with caplog.at_level(logging.ERROR, logger="api.background"):
        loop = BackgroundLoop("test-failing", run).start()
        loop.stop(timeout=5.0)
    assert not loop.is_alive
    assert isinstance(loop.error, ConnectionError) and str(loop.error) == "the device link broke"
    (record,) = [r for r in caplog.records if r.name == "api.background"]
    assert "test-failing" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is ConnectionError


def test_wait_until_returns_when_ready_or_false_when_stopped() -> None:
    ready = threading.Event()
    outcomes: list[bool] = []
    loop = BackgroundLoop("test-ready", lambda: outcomes.append(loop.wait_until(ready.is_set, poll_s=0.01)))
    loop.start()
    time.sleep(0.05)
    assert outcomes == [] and loop.is_alive  # still waiting
    ready.set()
    deadline = time.monotonic() + 5.0
    while not outcomes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert outcomes == [True]
    loop.stop(timeout=5.0)

    never = BackgroundLoop("test-never", lambda: outcomes.append(never.wait_until(lambda: False, poll_s=0.01)))
    never.start()
    never.stop(timeout=5.0)
    assert outcomes[-1] is False and not never.is_alive

    early = BackgroundLoop("test-early", lambda: outcomes.append(early.wait_until(lambda: True)))
    early.start()
    early.stop(timeout=5.0)
    assert outcomes[-1] is True


def test_a_stopped_loop_starts_again_and_a_running_one_is_not_started_twice() -> None:
    """The Kafka live push is stopped and restarted by its owner: the second run must not end at once."""
    rounds: list[int] = []

    def run() -> None:
        rounds.append(1)
        while not loop.wait(60.0):
            pass

    loop = BackgroundLoop("test-restart", run)
    loop.start()
    loop.start()  # already running: no second thread
    time.sleep(0.05)
    assert rounds == [1]
    assert [t.name for t in threading.enumerate()].count("test-restart") == 1
    loop.stop(timeout=5.0)
    assert not loop.is_alive

    loop.start()
    time.sleep(0.05)
    assert loop.is_alive and not loop.stopping  # the last run's stop request was cleared
    assert rounds == [1, 1]
    loop.stop(timeout=5.0)
    assert not loop.is_alive
