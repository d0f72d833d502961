"""Many concurrent requests on routes that hold a database session never stall the API.

Before the request sessions were capped below the connection pool, 50+ concurrent requests
stalled uvicorn for the pool's timeout: every worker thread waited for a pooled connection
held by a request that waited for a worker thread, then answered 500 ``QueuePool limit``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.settings import Settings
from registers.users import service as users

PASSWORD = "Pool-Stall-42x"
CONCURRENT = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path, environment="test")
    app = create_app(settings, start_runtime=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "the API did not start"
        time.sleep(0.05)
    with app.state.session_factory.begin() as session:
        users.create_user(session=session, username="pool_sm", password=PASSWORD, roles=["safety_manager"])
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


async def _burst(base_url: str) -> tuple[list[int], float]:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:
        login = await client.post("/api/v1/auth/login", json={"username": "pool_sm", "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(
                client.post("/api/v1/certificates", json={"kind": "安全评价报告", "number": f"P-{i}"})
                if i % 4 == 0
                else client.get("/api/v1/certificates")
                for i in range(CONCURRENT)
            )
        )
        return [r.status_code for r in responses], time.perf_counter() - started


def test_many_concurrent_requests_complete_without_a_stall(base_url: str) -> None:
    statuses, elapsed = asyncio.run(_burst(base_url))
    assert sorted(set(statuses)) == [200, 201], statuses
    # a stall lasts the pool timeout (30 s) and ends in 500s; 120 requests take a few seconds
    assert elapsed < 25, f"{CONCURRENT} requests took {elapsed:.1f} s"
