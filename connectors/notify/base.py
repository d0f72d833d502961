"""What every notification channel speaks: a message in, a delivery result out.

A channel is protocol I/O only (one HTTP POST, one SMTP conversation). It never raises out
of :meth:`Channel.send`: an alarm notification that fails must become a row in the delivery
log with the reason, and the dispatcher decides whether to try again. Retrying therefore does
not live here; a channel only says whether trying again could help (``retryable``).

Example:
    >>> r = DeliveryResult.failure(ChannelKind.SMS, "13800000000", "HTTP 500", status_code=500)
    >>> r.ok, r.retryable
    (False, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

from models.channels import CHANNEL_LABELS as CHANNEL_LABELS
from models.channels import ChannelKind as ChannelKind

RESPONSE_KEEP_CHARS: Final = 2000  # enough to read a gateway's error, small enough for a log row


@dataclass(frozen=True, slots=True)
class Notification:
    """One message for one recipient on one channel.

    Attributes:
        address: where it goes on that channel: a mobile number (SMS, and the person to @ in a
            WeCom/DingTalk group), an e-mail address, a Feishu ``open_id``; may be empty for a
            group robot that should mention nobody.
        title: short subject (e-mail subject, markdown heading).
        text: the body, plain text; robots in markdown mode get ``markdown`` when set.
        alarm_id: the alarm this is about, carried into templates and logs.
        markdown: optional markdown body for robots that render it.
    """

    address: str
    title: str
    text: str
    alarm_id: str = ""
    markdown: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What happened to one send attempt.

    ``retryable`` is False when trying again cannot help (a 4xx other than 408/429, a
    template or address the gateway refused), so the dispatcher does not hammer a gateway
    with a message it will never accept.
    """

    ok: bool
    channel: ChannelKind
    address: str
    status_code: int | None = None
    response: str = ""
    error: str | None = None
    retryable: bool = False
    elapsed_ms: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def success(
        cls,
        channel: ChannelKind,
        address: str,
        *,
        status_code: int | None = None,
        response: str = "",
        elapsed_ms: float = 0.0,
    ) -> DeliveryResult:
        """A delivered message."""
        return cls(
            ok=True,
            channel=channel,
            address=address,
            status_code=status_code,
            response=response[:RESPONSE_KEEP_CHARS],
            elapsed_ms=elapsed_ms,
        )

    @classmethod
    def failure(
        cls,
        channel: ChannelKind,
        address: str,
        error: str,
        *,
        status_code: int | None = None,
        response: str = "",
        retryable: bool = True,
        elapsed_ms: float = 0.0,
    ) -> DeliveryResult:
        """A failed attempt with the reason, kept for the delivery log."""
        return cls(
            ok=False,
            channel=channel,
            address=address,
            status_code=status_code,
            response=response[:RESPONSE_KEEP_CHARS],
            error=error[:RESPONSE_KEEP_CHARS],
            retryable=retryable,
            elapsed_ms=elapsed_ms,
        )


@runtime_checkable
class Channel(Protocol):
    """A way to deliver a :class:`Notification`; implementations never raise from ``send``."""

    @property
    def kind(self) -> ChannelKind:
        """Which kind of channel this is (used by routing and the delivery log)."""
        ...

    def send(self, message: Notification) -> DeliveryResult:
        """Deliver one message; failures come back as ``DeliveryResult(ok=False)``."""
        ...


def http_status_retryable(status_code: int) -> bool:
    """Whether an HTTP status is worth retrying: server errors, timeouts and rate limits."""
    return status_code >= 500 or status_code in (408, 425, 429)


def utf8_truncate(text: str, max_bytes: int, suffix: str = "…") -> str:
    """Cut ``text`` to at most ``max_bytes`` of UTF-8 without splitting a character.

    Robot APIs measure their limits in bytes (WeCom text: 2048), and a Chinese character is
    three bytes, so a character count would overflow them.

    Example:
        >>> utf8_truncate("液氯储罐区", 10)
        '液氯…'
    """
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max_bytes - len(suffix.encode("utf-8"))
    return data[: max(room, 0)].decode("utf-8", errors="ignore") + suffix


class Stopwatch:
    """Milliseconds since construction (monotonic), for ``elapsed_ms``."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    @property
    def ms(self) -> float:
        """Elapsed milliseconds."""
        return (time.perf_counter() - self._start) * 1000.0
