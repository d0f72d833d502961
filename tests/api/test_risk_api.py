"""``/api/v1/risk``: the real app with its embedded risk flow, fed over HTTP, read back with reasons.

No simulator runs (``simulate=False``), so the only inputs are the ones this test posts; the
sensor flow and the risk flow run in their threads exactly as in production's embedded mode.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from registers.users import service as users

PASSWORD = "Risk-Colours-42"
T0 = 1_780_000_000_000


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("risk_api")
    app = create_app(Settings(environment="test", data_dir=data_dir, simulate=False))
    with TestClient(app) as test_client:
        with app.state.session_factory.begin() as session:
            for role in ("admin", "operator", "regulator", "inspector"):
                users.create_user(session=session, username=f"r_{role}", password=PASSWORD, roles=[role])
        yield test_client


def auth(client: TestClient, role: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": f"r_{role}", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(client: TestClient, headers: dict[str, str], sid: str, level: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = {r["hazard_source_id"]: r for r in client.get("/api/v1/risk/scores", headers=headers).json()}
        if rows[sid]["level"] == level or time.monotonic() > deadline:
            return rows[sid]
        time.sleep(0.05)


def test_initial_scores_follow_the_grades(client: TestClient) -> None:
    headers = auth(client, "operator")
    row = wait_for(client, headers, "MHS-04", "yellow")
    assert row["level"] == "yellow" and row["level_label"] == "一般风险"
    labels = {c["rule"]: c["label"] for c in row["contributions"]}
    assert labels == {"INH.GRADE": "重大危险源级别（固有风险）", "INH.PROCESS": "涉及重点监管危险化工工艺"}


@pytest.mark.slow
def test_bypass_posted_over_http_changes_the_colour_with_reasons(client: TestClient) -> None:
    admin = auth(client, "admin")
    assert wait_for(client, admin, "MHS-04", "yellow")["level"] == "yellow"  # the initial scores are in
    t0 = int(time.time() * 1000) + 1  # after them, whenever this test runs
    body = {"type": "sis_bypass", "interlock_id": "SIS-R401", "hazard_source_id": "MHS-04", "bypassed": True}
    response = client.post("/api/v1/risk/inputs", json={**body, "ts": t0}, headers=admin)
    assert response.status_code == 202, response.text
    row = wait_for(client, admin, "MHS-04", "orange")
    assert row["level"] == "orange"
    assert {"rule": "SIS.BYPASS", "label": "安全仪表/联锁摘除或旁路", "points": 25.0} in row["contributions"]
    history = client.get("/api/v1/risk/scores/MHS-04/history", headers=admin).json()
    assert [h["level"] for h in history[:2]] == ["orange", "yellow"]
    client.post("/api/v1/risk/inputs", json={**body, "bypassed": False, "ts": t0 + 1}, headers=admin)
    assert wait_for(client, admin, "MHS-04", "yellow")["level"] == "yellow"


def test_bad_inputs_are_refused_per_field(client: TestClient) -> None:
    admin = auth(client, "admin")
    for body, field in [
        ({"type": "people_count", "area": "tank_farm", "count": -3, "ts": T0}, "count"),
        ({"type": "teleport", "ts": T0}, "type"),
        ({"type": "sis_bypass", "hazard_source_id": "MHS-01", "bypassed": True, "ts": T0}, "interlock_id"),
    ]:
        response = client.post("/api/v1/risk/inputs", json=body, headers=admin)
        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert errors and errors[0]["message"]
        if field != "type":
            assert errors[0]["field"] == field


def test_roles_and_unknown_source(client: TestClient) -> None:
    gov = auth(client, "regulator")
    assert client.get("/api/v1/risk/scores", headers=gov).status_code == 200
    assert client.get("/api/v1/risk/rules", headers=gov).json()["version"]
    body = {"type": "recompute", "ts": T0}
    assert client.post("/api/v1/risk/inputs", json=body, headers=gov).status_code == 403
    assert client.get("/api/v1/risk/scores", headers=auth(client, "inspector")).status_code == 403
    assert client.get("/api/v1/risk/scores/MHS-99/history", headers=gov).status_code == 404
    assert client.get("/api/v1/risk/scores").status_code == 401


def test_pdm_predictions_least_healthy_first(client: TestClient) -> None:
    from models.contracts import PdmPrediction

    op = auth(client, "operator")
    assert client.get("/api/v1/pdm/predictions", headers=op).json() == []
    store = client.app.state.runtime.store  # type: ignore[attr-defined]
    store.write_pdm(
        [],
        [
            PdmPrediction(asset_id="P-401", ts=T0, health=0.2, anomaly_score=0.8, rul_days=6.0, top_features=["rms"]),
            PdmPrediction(asset_id="C-1", ts=T0, health=0.9, anomaly_score=0.3, rul_days=27.0),
        ],
    )
    rows = client.get("/api/v1/pdm/predictions", headers=op).json()
    assert [r["asset_id"] for r in rows] == ["P-401", "C-1"] and rows[0]["top_features"] == ["rms"]
    assert client.get("/api/v1/pdm/predictions", headers=auth(client, "inspector")).status_code == 403
