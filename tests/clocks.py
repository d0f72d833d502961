"""A clock the test moves by hand, for code that takes ``clock: Callable[[], float]``.

Ages and timeouts then come out exact (binary fractions of a second add up without rounding)
instead of depending on how long a test happened to sleep.
"""

from __future__ import annotations


class ManualClock:
    """Seconds the test sets by hand (``clock.now += 0.125``)."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
