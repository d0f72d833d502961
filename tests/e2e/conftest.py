"""What the end-to-end tests share.

A real embedded plant on free ports (simulator, OPC UA/Modbus servers, flow, API, web UI) as
``live_app``; against a real Kafka broker, a ``producer`` and topics under a prefix of the
test's own (:func:`kafka_prefix`), so tests never read each other's messages; a browser
(``browser``, see :mod:`tests.e2e.browser_helpers`). Modules outside ``tests/e2e`` import the
plain helpers (``serve_live_app``, ``kafka_producer``, ``kafka_prefix``, ``wait_until``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from playwright.sync_api import Browser

from api.app import create_app
from api.server import BackgroundServer
from api.settings import Settings
from connectors.kafka.admin import ensure_topics
from registers.demo import load_demo
from tests.conftest import free_port
from tests.e2e.browser_helpers import chromium
from twin.plant import load_plant


@dataclass
class LiveApp:
    base_url: str
    admin_username: str
    admin_password: str
    settings: Settings
    app: Any
    started_at: float

    def token(self) -> str:
        r = httpx.post(
            f"{self.base_url}/api/v1/auth/login",
            json={"username": self.admin_username, "password": self.admin_password},
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def load_demo_registers(self) -> None:
        """Fill the registers with the demo plant's records (hazard sources, people, certificates, ...)."""
        with self.app.state.session_factory() as session:
            load_demo(session=session, plant=load_plant())
            session.commit()

    def force_excursion(self, token: str, tag: str, *, to: float = 99.0, duration_s: int = 60) -> None:
        """Drive ``tag`` of the simulator to ``to`` for ``duration_s`` (its alarm follows)."""
        r = httpx.post(
            f"{self.base_url}/api/v1/sim/excursions",
            json={"tag": tag, "to": to, "duration_s": duration_s},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert r.status_code == 202, r.text


def start_live_app(data_dir: Path, **overrides: Any) -> tuple[LiveApp, BackgroundServer]:
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        port=free_port(),
        modbus_port=free_port(),
        opcua_port=free_port(),
        **overrides,
    )
    server = BackgroundServer(settings).start()
    app = server.app
    live = LiveApp(server.base_url, "admin", app.state.demo_admin_password, settings, app, server.started_at)
    return live, server


def serve_live_app(data_dir: Path, **overrides: Any) -> Iterator[LiveApp]:
    """A live app for a fixture to yield from; stopped when the fixture ends."""
    live, server = start_live_app(data_dir, **overrides)
    try:
        yield live
    finally:
        server.stop()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    yield from serve_live_app(tmp_path_factory.mktemp("plant"))


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """Debian's chromium, one per test module."""
    with chromium(chromium_path) as b:
        yield b


# --- Kafka -----------------------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, *, every_s: float = 0.1) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


@contextmanager
def kafka_producer(brokers: list[str]) -> Iterator[KafkaProducer]:
    """A producer that sends at once (``linger_ms=0``): tests wait on each send."""
    producer = KafkaProducer(bootstrap_servers=brokers, linger_ms=0)
    try:
        yield producer
    finally:
        producer.close(timeout=5)


def kafka_prefix(brokers: list[str], stem: str, topics: Callable[[str], Iterable[str]], partitions: int = 2) -> str:
    """A fresh topic prefix ``<stem><8 hex>`` with ``topics(prefix)`` created (``partitions`` each)."""
    prefix = f"{stem}{uuid.uuid4().hex[:8]}"
    ensure_topics(brokers, dict.fromkeys(topics(prefix), partitions))
    return prefix


@contextmanager
def distributed_client(data_dir: Path, brokers: list[str], prefix: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """``create_app`` in distributed mode on ``prefix``'s topics, and the admin's auth header for it."""
    settings = Settings(environment="test", data_dir=data_dir, kafka_brokers=brokers, kafka_topic_prefix=prefix)
    app = create_app(settings)
    with TestClient(app) as client:
        body = {"username": "admin", "password": app.state.demo_admin_password}
        token = client.post("/api/v1/auth/login", json=body).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def producer(kafka_brokers: list[str]) -> Iterator[KafkaProducer]:
    with kafka_producer(kafka_brokers) as p:
        yield p
