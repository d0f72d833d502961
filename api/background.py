"""One background loop of the embedded mode: a named daemon thread with a stop event.

The alarm worker, the register pollers and the simulated PdM gateway each run a loop in a
thread of their own, beside the event loop; each must stop promptly when asked (its waits
are waits on the stop event, never ``time.sleep``), and one that dies must say why instead of
vanishing with a traceback on stderr that no one reads. :class:`BackgroundLoop` is that shared
part, so the services keep only their loop bodies.

Example:
    >>> ticks = []
    >>> def tick() -> None:
    ...     while not runner.wait(0.01):
    ...         ticks.append(1)
    >>> runner = BackgroundLoop("doc-ticker", tick)
    >>> runner.start().stop(timeout=1.0)
    >>> runner.is_alive, runner.error
    (False, None)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, ParamSpec, Self

log = logging.getLogger(__name__)

P = ParamSpec("P")

READY_POLL_S = 0.05
"""How often :meth:`BackgroundLoop.wait_until` asks whether the awaited condition holds."""


class BackgroundLoop(Generic[P]):
    """Runs ``target`` in a named daemon thread until it returns; :meth:`stop` asks it to.

    ``target`` ends its loop when :attr:`stopping` is true (or :meth:`wait` returns true). An
    exception escaping it is kept in :attr:`error` and logged, so the owner can report it;
    the thread then ends as it would have.
    """

    def __init__(self, name: str, target: Callable[P, object]) -> None:
        self.name = name
        self.target = target
        self.error: BaseException | None = None
        """What ended the loop, if it did not end by itself."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, *args: P.args, **kwargs: P.kwargs) -> Self:
        """Run ``target(*args, **kwargs)`` in a new daemon thread (daemon: it never holds the exit).

        A loop that runs is left as it is; a stopped one starts again (the Kafka live push is
        stopped and restarted by its owner), so the stop request of the last run is cleared.
        """
        if self.is_alive:
            return self
        self._stop.clear()
        self.error = None
        self._thread = threading.Thread(target=self._run, args=args, kwargs=kwargs, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the loop to end and wait up to ``timeout`` s for it (a loop stuck in a call is left behind)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    @property
    def is_alive(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless stopped first; True when stopped (the loop should end)."""
        return self._stop.wait(seconds)

    def wait_until(self, ready: Callable[[], bool], poll_s: float = READY_POLL_S) -> bool:
        """Wait until ``ready()`` (e.g. a consumer subscribed); False when stopped first."""
        while not ready():
            if self._stop.wait(poll_s):
                return False
        return True

    def _run(self, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            self.target(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 - kept for the owner and logged, never silent
            self.error = err
            log.exception("background loop %s stopped", self.name)
