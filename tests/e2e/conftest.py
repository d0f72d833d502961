"""A real embedded plant on free ports: simulator, OPC UA/Modbus servers, flow, API, web UI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.server import BackgroundServer
from api.settings import Settings
from tests.conftest import free_port


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


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    live, server = start_live_app(tmp_path_factory.mktemp("plant"))
    try:
        yield live
    finally:
        server.stop()
