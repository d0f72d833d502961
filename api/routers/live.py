"""WebSocket ``/ws/live``: pushes flagged readings and alarm events as they leave the flow.

Browsers cannot set headers on a WebSocket, so the token comes as ``?token=``. Each frame is
one JSON object ``{"stream": "sensor.reading" | "alarm.event", "data": [...]}`` holding what
arrived since the last frame, so a burst costs one frame, not hundreds.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from api.auth import user_from_token
from api.runtime import LIVE_STREAM, Runtime
from models.contracts import stream_of

router = APIRouter(tags=["live 实时推送"])
log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode
PUSHED = ("sensor.reading", "alarm.event")


def frames(items: list[Any]) -> list[bytes]:
    """Group a batch by stream, alarms first (an operator needs those before values)."""
    by_stream: dict[str, list[Any]] = {}
    for item in items:
        by_stream.setdefault(stream_of(item), []).append(item)
    return [_encode({"stream": s, "data": by_stream[s]}) for s in reversed(PUSHED) if s in by_stream]


@router.websocket("/ws/live")
async def live(websocket: WebSocket, token: str | None = None) -> None:
    """Authenticated live push of readings and alarms."""
    app = websocket.app
    user = user_from_token(app.state.settings, app.state.session_factory, token) if token else None
    if user is None:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="invalid or missing token")
        return
    await websocket.accept()
    runtime: Runtime = app.state.runtime
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
