"""Shared fixtures: real external services, found by address, never mocked.

On a developer laptop a test whose service is absent is skipped with the reason. Under
``CI=true`` it fails instead: a green CI run that silently skipped is a defect.
Addresses come from the environment that ``.ci/run`` exports.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlparse

import pytest

pytest_plugins = ["tests.db_fixtures"]
"""The registers-database fixtures (``database_url``), kept apart so this file imports no register code."""

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(name: str, available: bool, how: str) -> None:
    """Skip (laptop) or fail (CI) a test whose external service is missing."""
    if available:
        return
    msg = f"{name} is not available: {how}"
    if IN_CI:
        pytest.fail(f"CI=true requires {name}. {msg}")
    pytest.skip(msg)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    """An unused local TCP port for an in-process server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def kafka_brokers() -> list[str]:
    """Bootstrap address of a real Apache Kafka broker (``SAFETWIN_TEST_KAFKA``)."""
    addr = os.environ.get("SAFETWIN_TEST_KAFKA", "127.0.0.1:9092")
    host, _, port = addr.partition(":")
    require_service("Kafka", port_open(host, int(port or 9092)), f"no broker at {addr} (set SAFETWIN_TEST_KAFKA)")
    return [addr]


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """URL of a real MQTT broker such as Mosquitto (``SAFETWIN_TEST_MQTT``)."""
    url = os.environ.get("SAFETWIN_TEST_MQTT", "mqtt://127.0.0.1:1883")
    u = urlparse(url)
    require_service("MQTT", port_open(u.hostname or "127.0.0.1", u.port or 1883), f"no broker at {url}")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of a real PostgreSQL server (``SAFETWIN_TEST_POSTGRES``)."""
    url = os.environ.get("SAFETWIN_TEST_POSTGRES", "postgresql+psycopg://safetwin:safetwin@127.0.0.1:5432/safetwin")
    u = urlparse(url.replace("+psycopg", ""))
    require_service(
        "PostgreSQL", port_open(u.hostname or "127.0.0.1", u.port or 5432), f"no server at {u.hostname}:{u.port}"
    )
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium binary for Playwright (never a downloaded browser)."""
    path = os.environ.get("SAFETWIN_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
    require_service("chromium", os.path.exists(path), "install Debian's chromium package")
    return path


@pytest.fixture
def tcp_port() -> Iterator[int]:
    """A free local port."""
    yield free_port()


@pytest.fixture
async def no_leaks(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks or threads (e.g. paho's network loop) behind.

    A test module may set ``LEAK_GRACE_S`` (default 2 s): how long stopping may take.
    """
    grace_s: float = getattr(request.module, "LEAK_GRACE_S", 2.0)
    tasks = asyncio.all_tasks()
    threads = set(threading.enumerate())
    yield
    for _ in range(round(grace_s / 0.02)):
        leaked = [t for t in asyncio.all_tasks() - tasks if t is not asyncio.current_task() and not t.done()]
        extra = [t for t in set(threading.enumerate()) - threads if not t.name.startswith("asyncio_")]
        if not leaked and not extra:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"leaked tasks {leaked} / threads {extra}")
