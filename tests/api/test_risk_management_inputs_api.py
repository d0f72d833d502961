"""Embedded mode wiring: a 重大隐患 written to the register turns its source red on ``/api/v1/risk/scores``.

The real app (no simulator) runs its risk flow and the management-status publisher
(:mod:`api.risk_management_inputs`, started with the risk warnings); nothing is posted to the
risk flow by hand: the only input is the hidden-hazard register row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from registers.db import utcnow
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.schemas import HazardCreate, HazardLevel
from registers.users import service as users

PASSWORD = "Risk-Management-42"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("risk_management_api")
    app = create_app(Settings(environment="test", data_dir=data_dir, simulate=False))
    with TestClient(app) as test_client:
        with app.state.session_factory.begin() as session:
            users.create_user(session=session, username="m_operator", password=PASSWORD, roles=["operator"])
        yield test_client


def scores(client: TestClient) -> dict[str, Any]:
    login = client.post("/api/v1/auth/login", json={"username": "m_operator", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return {r["hazard_source_id"]: r for r in client.get("/api/v1/risk/scores", headers=headers).json()}


def wait_for(client: TestClient, sid: str, level: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        row = scores(client).get(sid)
        if (row is not None and row["level"] == level) or time.monotonic() > deadline:
            return row or {}
        time.sleep(0.2)


@pytest.mark.slow
def test_a_major_hidden_hazard_in_the_register_turns_its_source_red(client: TestClient) -> None:
    assert wait_for(client, "MHS-02", "blue", 30)["level"] == "blue"
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        hh.report(
            session=session,
            data=HazardCreate(
                name="甲醇储罐区防火堤破损",
                level=HazardLevel.MAJOR,
                hazard_code="MHS-02",
                liable_person="赵强",
                deadline=utcnow().date() + timedelta(days=30),
            ),
            actor="safety",
        )
    row = wait_for(client, "MHS-02", "red", 45)  # the publisher counts every 15 s
    assert row["level"] == "red"
    assert {c["rule"]: c["points"] for c in row["contributions"]}["HID.MAJOR"] == 75.0
    assert scores(client)["MHS-01"]["level"] == "orange"  # a hazard filed on MHS-02 is not its neighbours'
