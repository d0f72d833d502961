"""Each API worker keeps to a core of its own when a replica runs one worker per core.

Why: a worker's event loop hands each request's blocking work to a thread of its own
(:mod:`api.request_threads`) and takes the result back; the two threads pass the GIL and the
request's objects between them. Left to the scheduler, the threads of one worker ran on both
cores in turn, so every hand-over also moved the request's memory from one core's cache to
the other's. Pinned, a worker's threads share one core's cache: on the 2-core bench box the
business mix needed 1.48–2.09 ms of API CPU per request instead of 1.64–2.44 unpinned, less
in three of three alternated pairs (docs/performance.md, session 22).

When: ``auto`` (the default) pins when the workers match the cores this process may use one
to one (``os.sched_getaffinity``): the production layout of ``safetwin api --workers N`` on
a machine or a container given N cores of its own. A container under a CPU quota that sees
all of its host's cores is left to the scheduler, as is a replica with fewer or more workers
than cores; ``on`` pins round-robin all the same, ``off`` never pins.

Which core: the one the fewest live sibling workers keep to (the lowest on a tie), chosen
under the lock of the file the workers share (:class:`api.connection_balance.WorkerShares`),
so two workers starting together do not both take core 0, and a worker the supervisor
restarted takes the core its predecessor left.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Set
from typing import Literal

CpuAffinity = Literal["auto", "on", "off"]


def should_pin(mode: CpuAffinity, *, workers: int, usable: Set[int]) -> bool:
    """Whether ``workers`` workers of one replica, allowed the cores ``usable``, keep to a core each."""
    if mode == "off" or workers < 2 or not usable or not hasattr(os, "sched_setaffinity"):
        return False
    return mode == "on" or workers == len(usable)


def choose_core(usable: Set[int], siblings: Iterable[Set[int]]) -> int:
    """The usable core the fewest siblings keep to (a sibling on several cores keeps to none); lowest on a tie.

    Raises:
        ValueError: If ``usable`` is empty.
    """
    if not usable:
        msg = "no usable core"
        raise ValueError(msg)
    kept = dict.fromkeys(usable, 0)
    for cores in siblings:
        if len(cores) == 1:
            (core,) = cores
            if core in kept:
                kept[core] += 1
    return min(sorted(kept), key=kept.__getitem__)


def keep_to(core: int) -> None:
    """Keep this process (every thread it has now, and those it starts later) to ``core``.

    ``sched_setaffinity`` sets one thread; a thread inherits its creator's, so every thread
    that exists now is set, and the ones started later follow.
    """
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), {core})
        except ProcessLookupError:  # the thread ended meanwhile
            continue


def cores_of(pid: int) -> set[int] | None:
    """The cores process ``pid`` may run on, or ``None`` when it is gone or not ours to ask."""
    try:
        return os.sched_getaffinity(pid)
    except (ProcessLookupError, PermissionError):
        return None
