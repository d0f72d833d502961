"""HTTP client of the data exchange: POST one record with its idempotency key; say whether a retry can help.

Protocol only, like the notification channels: :meth:`ExchangeClient.send` never raises; a
failure comes back as an :class:`ExchangeResult` with the reason and ``retryable``, and the
outbox (``registers.dual_prevention.exchange``) decides when to try again. The record's
``Idempotency-Key`` header is the same on every attempt, so a receiver that applied a record
whose answer was lost can recognise the retry and apply nothing twice.

No I/O happens in the constructor; the HTTP connection pool opens on the first send.

Example:
    >>> ExchangeResult.from_status(503, "busy").retryable, ExchangeResult.from_status(400, "bad").retryable
    (True, False)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

__all__ = ["IDEMPOTENCY_HEADER", "ExchangeClient", "ExchangeResult"]

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
_RETRYABLE_STATUS: Final = frozenset({408, 425, 429})
_KEEP: Final = 500


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    """What one attempt gave: accepted, or why not and whether retrying can help."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    retryable: bool = False
    elapsed_ms: float = 0.0

    @classmethod
    def from_status(cls, status_code: int, body: str = "", elapsed_ms: float = 0.0) -> ExchangeResult:
        """Classify an HTTP answer: 2xx accepted; 408/425/429 and 5xx worth retrying; other 4xx not."""
        if 200 <= status_code < 300:
            return cls(True, status_code, None, False, elapsed_ms)
        retryable = status_code >= 500 or status_code in _RETRYABLE_STATUS
        return cls(False, status_code, f"HTTP {status_code}: {body[:_KEEP]}", retryable, elapsed_ms)


class ExchangeClient:
    """Posts records to ``{base_url}/{kind}`` as JSON.

    Args:
        base_url: the platform's endpoint, e.g. ``https://park.example.cn/api/exchange``.
        token: bearer token, when the platform asks for one.
        timeout_s: per-request timeout; a timeout is a retryable failure.
        transport: an httpx transport (tests may pass a mounted ASGI app).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout_s
        self._transport = transport
        self._client: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
            self._client = httpx.Client(timeout=self._timeout, headers=headers, transport=self._transport)
        return self._client

    def send(self, *, kind: str, payload: Mapping[str, Any], idempotency_key: str) -> ExchangeResult:
        """POST one record; never raises."""
        started = time.perf_counter()
        try:
            response = self._http().post(
                f"{self.base_url}/{kind}", json=dict(payload), headers={IDEMPOTENCY_HEADER: idempotency_key}
            )
        except httpx.HTTPError as err:
            elapsed = (time.perf_counter() - started) * 1000
            return ExchangeResult(False, None, f"{type(err).__name__}: {err}"[:_KEEP], True, elapsed)
        elapsed = (time.perf_counter() - started) * 1000
        return ExchangeResult.from_status(response.status_code, response.text, elapsed)

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
