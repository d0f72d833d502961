"""API workers keep to a core each (api/cpu_affinity.py): when, which core, and every thread.

The workers are real processes here, claiming slots in one shared file as
``safetwin api --workers N`` does (tests/e2e/test_api_workers.py checks the replica itself).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.connection_balance import WorkerShares
from api.cpu_affinity import choose_core, should_pin

USABLE = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")


@pytest.mark.parametrize(
    ("mode", "workers", "usable", "pinned"),
    [
        ("auto", 2, {0, 1}, True),  # one worker per core: the production layout
        ("auto", 4, {0, 1, 2, 3}, True),
        ("auto", 2, set(range(16)), False),  # a container under a quota that sees all host cores
        ("auto", 3, {0, 1}, False),  # more workers than cores: left to the scheduler
        ("on", 3, {0, 1}, True),
        ("on", 2, set(range(16)), True),
        ("off", 2, {0, 1}, False),
        ("auto", 1, {0}, False),  # one worker: nothing to keep apart
        ("on", 1, {0, 1}, False),
    ],
)
def test_when_a_replica_pins_its_workers(mode: Any, workers: int, usable: set[int], pinned: bool) -> None:
    assert should_pin(mode, workers=workers, usable=usable) is pinned


@given(data=st.data(), usable=st.sets(st.integers(0, 63), min_size=1, max_size=16))
def test_the_core_taken_is_a_usable_one_the_fewest_siblings_keep_to(data: st.DataObject, usable: set[int]) -> None:
    one_usable_core = st.sampled_from(sorted(usable)).map(lambda c: {c})
    any_cores = st.sets(st.integers(0, 63), min_size=1, max_size=4)  # several cores, or another's core
    siblings = data.draw(st.lists(st.one_of(one_usable_core, any_cores), max_size=12))
    core = choose_core(usable, siblings)
    kept = {c: sum(1 for s in siblings if s == {c}) for c in usable}
    assert core in usable
    assert kept[core] == min(kept.values())
    assert core == min(c for c in usable if kept[c] == kept[core])  # the lowest on a tie


def test_no_usable_core_is_an_error() -> None:
    with pytest.raises(ValueError, match="no usable core"):
        choose_core(set(), [])


def _worker(path: str, slots: int, usable: list[int], out: Any) -> None:
    """A worker's start as api.workers.worker_app does it, with a thread already running; then serve until killed."""
    started, never = threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        never.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    started.wait(5)
    shares = WorkerShares(Path(path), slots)
    shares.start_heartbeat(idle_after_s=1.0)
    core = shares.keep_to_a_free_core(set(usable))
    threads = {int(t): os.sched_getaffinity(int(t)) for t in os.listdir("/proc/self/task")}
    later = threading.Thread(target=lambda: out.put(("later", os.getpid(), os.sched_getaffinity(0))))
    later.start()
    later.join()
    out.put(("pinned", os.getpid(), core, threads))
    never.wait(60)  # killed by the test: a worker's slot stays taken while it lives


@pytest.mark.skipif(len(USABLE) < 2, reason="needs two usable cores to tell the workers' cores apart")  # noqa: PLR2004
def test_workers_starting_together_take_different_cores_and_a_restarted_one_takes_the_free_one(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    usable = sorted(USABLE)[:3]
    path = tmp_path / "shares"
    slots = 2 * len(usable)
    WorkerShares.create(path, slots)
    # A queue of its own per worker: a worker killed right after its last message may still
    # hold its queue's write lock, which would stall every other writer of a shared queue.
    outs = [ctx.Queue() for _ in usable]
    workers = [ctx.Process(target=_worker, args=(str(path), slots, usable, out)) for out in outs]
    try:
        for w in workers:
            w.start()
        reports = [_report(out) for out in outs]
        pinned = {pid: (core, threads) for pid, core, threads, _ in reports}
        assert sorted(core for core, _ in pinned.values()) == usable, pinned  # one worker per core
        for _, core, threads, later in reports:
            assert len(threads) >= 2  # noqa: PLR2004 - the thread started before the pinning counts too
            assert all(cores == {core} for cores in threads.values()), threads
            assert later == {core}  # a thread started afterwards inherits the core

        victim = workers[0]
        freed = pinned[_pid(victim)][0]
        victim.kill()
        victim.join(10)
        out = ctx.Queue()
        again = ctx.Process(target=_worker, args=(str(path), slots, usable, out))
        again.start()
        workers.append(again)
        pid, core, _threads, _later = _report(out)
        assert pid == _pid(again)
        assert core == freed, (freed, core, pinned)
    finally:
        for w in workers:
            w.kill()
            w.join(10)


def _pid(process: Any) -> int:
    assert process.pid is not None, "not started"
    return int(process.pid)


def _report(out: Any) -> tuple[int, int, dict[int, set[int]], set[int]]:
    """One worker's report: its pid, its core, its threads' cores at pinning, a later thread's cores."""
    later: set[int] | None = None
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, "a worker did not report its core"
        message = out.get(timeout=60)
        if message[0] == "later":
            later = message[2]
        else:
            assert later is not None, "the later thread reports before the worker does"
            return message[1], message[2], message[3], later
