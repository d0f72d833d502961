"""WebSocket ``/ws/live``: pushes flagged readings and alarm events as they leave the flow.

Browsers cannot set headers on a WebSocket, so the token comes as ``?token=``; server logs
redact it (``api.security``), and the socket closes when the token expires or is revoked. Each frame is
one JSON object ``{"stream": "sensor.reading" | "alarm.event", "data": [...]}`` holding what
arrived since the last frame, so a burst costs one frame, not hundreds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import partial
from typing import Any

import msgspec
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status
from starlette.concurrency import run_in_threadpool

from api.auth import NOT_AUTHENTICATED, TOKEN_EXPIRED, token_claims_of
from api.runtime import LIVE_STREAM, Runtime
from models.contracts import stream_of

router = APIRouter(tags=["live 实时推送"])
log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
PUSHED = ("sensor.reading", "alarm.event")
BEARER_SUBPROTOCOL = "safetwin.bearer"


def frames(items: list[Any]) -> list[bytes]:
    """Group a batch by stream, alarms first (an operator needs those before values)."""
    by_stream: dict[str, list[Any]] = {}
    for item in items:
        by_stream.setdefault(stream_of(item), []).append(item)
    return [_encode({"stream": s, "data": by_stream[s]}) for s in reversed(PUSHED) if s in by_stream]


async def _pump(websocket: WebSocket, runtime: Runtime) -> None:
    """Forward the live stream to the socket until the bus closes or the client goes away."""
    sub = runtime.bus.subscribe_async(LIVE_STREAM)
    try:
        while True:
            items = await sub.aget_batch()
            if not items and sub.closed:
                break
            for frame in frames(items):
                await websocket.send_text(frame.decode())
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        runtime.bus.unsubscribe(sub)


async def _until_disconnect(websocket: WebSocket) -> None:
    """Return when the client leaves (or the server shuts down); incoming messages are ignored."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


@router.websocket("/ws/live")
async def live(websocket: WebSocket, token: str | None = None) -> None:
    """Authenticated live push of readings and alarms; closed (1008) when the token dies.

    The token is checked at connect, again every ``ws_recheck_s`` (a logout, password or role
    change ends the stream) and the socket is closed the moment the token expires, so a
    stolen or forgotten socket does not stream for ever (等保2.0 8.1.4 d).

    The token may come as the subprotocol pair ``["safetwin.bearer", <token>]``
    (``new WebSocket(url, ["safetwin.bearer", token])``), which keeps it out of the URL and
    so out of every proxy log; ``?token=`` still works and is redacted from our own logs.
    """
    app = websocket.app
    settings = app.state.settings
    offered = websocket.scope.get("subprotocols") or []
    subprotocol = None
    if BEARER_SUBPROTOCOL in offered:
        subprotocol = BEARER_SUBPROTOCOL
        token = next((p for p in offered if p != BEARER_SUBPROTOCOL), None)
    check = partial(token_claims_of, settings, app.state.session_factory, token)
    claims = await run_in_threadpool(check) if token else None
    if claims is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="invalid or missing token")
        return
    await websocket.accept(subprotocol=subprotocol)
    pump = asyncio.create_task(_pump(websocket, app.state.runtime))
    gone = asyncio.create_task(_until_disconnect(websocket))
    reason = ""
    try:
        while True:
            remaining = claims.exp - time.time()
            if remaining <= 0:
                reason = TOKEN_EXPIRED
                break
            timeout = min(settings.ws_recheck_s, remaining)
            await asyncio.wait({pump, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if pump.done() or gone.done():
                break
            if time.time() < claims.exp and await run_in_threadpool(check) is None:
                reason = NOT_AUTHENTICATED
                break
        if reason:
            log.info("closing /ws/live of %s: %s", claims.sub, "expired" if reason == TOKEN_EXPIRED else "revoked")
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason)
    finally:
        for task in (pump, gone):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
