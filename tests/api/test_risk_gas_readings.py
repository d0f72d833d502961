"""Gas readings reach the embedded risk flow: a detector near its limit moves the score, not the colour.

The real app without simulator (``simulate=False``): readings go in through the runtime's
ingest path (what the connectors call), through the sensor flow (quality, alarms) and the
column-filtered gas tap into the risk flow; scores are read back over ``/api/v1/risk/scores``.

DOMAIN.md §3.3 raises the level by one for a first-level gas alarm; the rule table adds a
score-only factor ``GAS.NEAR`` for a detector at or above half of its first alarm limit with no
alarm yet (up to 12 points inside the colour band), which the alarm then replaces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from models.contracts import SensorReading
from registers.users import service as users

PASSWORD = "Gas-Near-Limit-42"
SOURCE = "MHS-01"  # LPG spheres; GT-101 (flammable gas, H 20 %LEL) sits on V-101


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("risk_gas")
    app = create_app(Settings(environment="test", data_dir=data_dir, simulate=False))
    with TestClient(app) as test_client:
        with app.state.session_factory.begin() as session:
            users.create_user(session=session, username="gas_op", password=PASSWORD, roles=["operator"])
        yield test_client


def headers(client: TestClient) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": "gas_op", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def score(client: TestClient, auth: dict[str, str]) -> dict[str, Any]:
    rows = {r["hazard_source_id"]: r for r in client.get("/api/v1/risk/scores", headers=auth).json()}
    return rows.get(SOURCE, {})


def wait_until(
    client: TestClient, auth: dict[str, str], ok: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    row = score(client, auth)
    while not (row and ok(row)) and time.monotonic() < deadline:
        time.sleep(0.05)
        row = score(client, auth)
    return row


def points(row: dict[str, Any]) -> dict[str, float]:
    return {c["rule"]: c["points"] for c in row.get("contributions", [])}


def gas(client: TestClient, value: float) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.publish_readings([SensorReading(tag="GT-101", ts=int(time.time() * 1000), value=value, source="test")])


def test_gas_near_its_limit_adds_points_and_an_alarm_raises_the_level(client: TestClient) -> None:
    auth = headers(client)
    before = wait_until(client, auth, lambda r: "INH.GRADE" in points(r))
    assert "GAS.NEAR" not in points(before), before

    gas(client, 15.0)  # 75 % of the 20 %LEL first alarm limit: no alarm, near it
    near = wait_until(client, auth, lambda r: "GAS.NEAR" in points(r))
    # share above the 50 % threshold: (0.75 - 0.5) / 0.5 = 0.5 of the rule's 12 points
    assert points(near)["GAS.NEAR"] == pytest.approx(6.0), near
    assert near["level"] == before["level"]  # score-only: the colour does not move
    assert near["score"] == pytest.approx(before["score"] + 6.0)
    assert "GAS.L1" not in points(near)

    gas(client, 2.0)  # back to normal: the factor goes
    back = wait_until(client, auth, lambda r: "GAS.NEAR" not in points(r))
    assert "GAS.NEAR" not in points(back) and back["score"] == pytest.approx(before["score"])

    gas(client, 25.0)  # above H: a first-level gas alarm, one level up, and no GAS.NEAR beside it
    alarmed = wait_until(client, auth, lambda r: "GAS.L1" in points(r))
    assert "GAS.L1" in points(alarmed), alarmed
    assert "GAS.NEAR" not in points(alarmed)
    order = ["blue", "yellow", "orange", "red"]
    assert order.index(alarmed["level"]) == min(3, order.index(before["level"]) + 1)
