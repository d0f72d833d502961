"""The hazard source and process APIs: grading through HTTP, duties, assessment, report export, roles."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.routers import hazard_sources, process
from api.routers.auth import router as auth_router
from api.settings import Settings
from registers.db import make_engine, make_session_factory
from registers.demo import load_demo
from registers.users import service as users
from tests.db_fixtures import migrate_registers
from twin.plant import DEMO_PLANT, load_plant

PASSWORD = "Chlorine-Tank-42"
SOURCE = {
    "code": "MHS-03",
    "name": "液氯库",
    "unit_kind": "storage",
    "alpha": 1.5,
    "operational_person": "赵强",
    "chemicals": [{"name": "氯", "cas": "7782-50-5", "quantity_t": 60}],
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    migrate_registers(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        for name, roles in [("boss", ["safety_manager"]), ("op", ["operator"]), ("gov", ["regulator"])]:
            users.create_user(session=session, username=name, password=PASSWORD, display_name=name, roles=roles)
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(auth_router)
    app.include_router(hazard_sources.router)
    app.include_router(process.router)
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def auth(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_create_grade_and_regrade_over_http(client: TestClient) -> None:
    boss = auth(client, "boss")
    created = client.post("/api/v1/hazard-sources", json=SOURCE, headers=boss)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["s_value"], body["r_value"], body["grade"], body["is_major"]) == (12.0, 72.0, 2, True)
    assert body["chemicals"][0]["critical_t"] == 5.0 and body["chemicals"][0]["beta"] == 4.0

    patched = client.patch(
        f"/api/v1/hazard-sources/{body['id']}",
        json={"chemicals": [{"name": "氯", "cas": "7782-50-5", "quantity_t": 100}]},
        headers=boss,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["r_value"], patched.json()["grade"]) == (120.0, 1)
    history = client.get(f"/api/v1/hazard-sources/{body['id']}/history", headers=boss).json()
    assert [h["action"] for h in history] == ["create", "update"]
    assert client.get("/api/v1/hazard-sources?grade=1", headers=boss).json()["total"] == 1


def test_bad_input_is_422_with_the_reason(client: TestClient) -> None:
    boss = auth(client, "boss")
    unknown = {**SOURCE, "chemicals": [{"name": "某溶剂", "cas": "1330-20-7", "quantity_t": 10}]}
    response = client.post("/api/v1/hazard-sources", json=unknown, headers=boss)
    assert response.status_code == 422
    assert "表1" in response.text
    duty = {
        "hazard_source_code": "MHS-99",
        "role": "operational",
        "person": "赵强",
        "performed_on": "2026-11-02",
        "content": "巡查",
    }
    response = client.post("/api/v1/hazard-source-duties", json=duty, headers=boss)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "hazard_source_code"]
    response = client.get("/api/v1/hazard-sources/assessment?first=2026-11-30&as_of=2026-11-01", headers=boss)
    assert response.status_code == 422
    response = client.post("/api/v1/chemicals", json={"name": "甲醇", "cas": "67561"}, headers=boss)
    assert response.status_code == 422


def test_duties_assessment_and_report_export(client: TestClient) -> None:
    boss, op = auth(client, "boss"), auth(client, "op")
    assert client.post("/api/v1/hazard-sources", json=SOURCE, headers=boss).status_code == 201
    duty = {
        "hazard_source_code": "MHS-03",
        "role": "operational",
        "person": "赵强",
        "performed_on": "2026-10-05",
        "content": "巡查",
    }
    assert client.post("/api/v1/hazard-source-duties", json=duty, headers=op).status_code == 201  # 操作负责人 records

    report = client.get("/api/v1/hazard-sources/report?first=2026-10-05&last=2026-10-25", headers=boss)
    assert report.status_code == 200, report.text
    (row,) = report.json()["rows"]
    operational = next(r for r in row["roles"] if r["role"] == "operational")
    assert (operational["required"], operational["done"], operational["overdue"]) == (3, 1, 2)
    assert [o["start"] for o in report.json()["overdue"]] == ["2026-10-12", "2026-10-19"]

    exported = client.get("/api/v1/hazard-sources/report/export?first=2026-10-05&last=2026-10-25", headers=boss)
    assert exported.status_code == 200
    workbook = load_workbook(io.BytesIO(exported.content))
    assert len(list(workbook["逾期未履职"].values)) == 3  # header + 2 overdue weeks

    today = date.today().isoformat()  # noqa: DTZ011 - the route's default is today's date
    online = client.get(f"/api/v1/hazard-sources/assessment?first={today}&overdue_only=true", headers=boss)
    assert online.status_code == 200
    assert online.json() == []  # registered today: nothing can be overdue yet


def test_roles(client: TestClient) -> None:
    boss, op, gov = auth(client, "boss"), auth(client, "op"), auth(client, "gov")
    assert client.post("/api/v1/hazard-sources", json=SOURCE, headers=op).status_code == 403
    assert client.post("/api/v1/hazard-sources", json=SOURCE, headers=gov).status_code == 403
    assert client.post("/api/v1/hazard-sources", json=SOURCE, headers=boss).status_code == 201
    assert client.get("/api/v1/hazard-sources", headers=gov).status_code == 200
    assert client.get("/api/v1/hazard-sources/report?first=2026-10-01&last=2026-10-31", headers=gov).status_code == 200
    assert client.get("/api/v1/hazardous-processes", headers=op).status_code == 200
    assert client.post("/api/v1/chemicals", json={"name": "甲醇", "cas": "67-56-1"}, headers=op).status_code == 403
    assert client.post("/api/v1/chemicals", json={"name": "甲醇", "cas": "67-56-1"}, headers=boss).status_code == 201
    assert client.get("/api/v1/hazard-sources").status_code == 401


def test_demo_data_through_the_api(client: TestClient) -> None:
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with factory.begin() as session:
        load_demo(session=session, plant=load_plant(DEMO_PLANT), today=date(2026, 11, 28))
    boss = auth(client, "boss")
    sources = client.get("/api/v1/hazard-sources?sort=code", headers=boss).json()["items"]
    assert [(s["code"], s["r_value"], s["grade"]) for s in sources] == [
        ("MHS-01", 72.0, 2),
        ("MHS-02", 9.6, 4),
        ("MHS-03", 72.0, 2),
        ("MHS-04", pytest.approx(7.29), 4),
    ]
    (chlorination,) = client.get("/api/v1/hazardous-processes", headers=boss).json()["items"]
    assert [p["tag"] for p in chlorination["key_parameters"]] == ["TT-401", "PT-401", "FT-401"]
    assert client.get("/api/v1/chemicals?cas=7782-50-5", headers=boss).json()["items"][0]["mac_mg_m3"] == 1.0
    exported = client.get("/api/v1/hazard-sources/export", headers=boss)
    assert exported.status_code == 200
