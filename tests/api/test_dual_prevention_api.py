"""Dual prevention, hidden hazards and inspection over HTTP: a round on the phone to a closed hazard, roles, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routers import dual_prevention, hidden_hazards, inspections
from api.routers.auth import router as auth_router
from api.settings import Settings
from models.investigation_schedule import LOCAL_TZ
from registers.db import make_engine, make_session_factory
from registers.users import service as users
from tests.db_fixtures import migrate_registers

PASSWORD = "Sphere-Tank-42"
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "dual-prevention-exchange.schema.json").read_text("utf-8"))
USERS = [
    ("boss", ["safety_manager"]),
    ("xun", ["inspector"]),
    ("zhao", ["inspector"]),
    ("gov", ["regulator"]),
    ("op", ["operator"]),
]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    migrate_registers(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        for name, roles in USERS:
            users.create_user(session=session, username=name, password=PASSWORD, display_name=name, roles=roles)
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(auth_router)
    for module in (dual_prevention, hidden_hazards, inspections):
        app.include_router(module.router)
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def auth(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def post(client: TestClient, url: str, body: dict[str, Any], who: dict[str, str], expect: int = 201) -> Any:
    response = client.post(url, json=body, headers=who)
    assert response.status_code == expect, response.text
    return response.json()


def build(client: TestClient, boss: dict[str, str]) -> dict[str, int]:
    """A red unit with a measure, a whole-day check schedule for zhao, two points on a daily route for xun."""
    midnight = datetime.now(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    obj = post(
        client,
        "/api/v1/dual-prevention/objects",
        {"code": "MHS-01", "name": "液化烃球罐区", "kind": "重大危险源", "area": "tank_farm"},
        boss,
    )
    unit = post(
        client,
        "/api/v1/dual-prevention/units",
        {"object_id": obj["id"], "name": "1# 球罐", "area": "tank_farm", "liable_person": "zhao"},
        boss,
    )
    event = post(
        client,
        "/api/v1/dual-prevention/events",
        {
            "unit_id": unit["id"],
            "name": "球罐泄漏火灾爆炸",
            "method": "LEC",
            "likelihood": 6,
            "exposure": 6,
            "consequence": 15,
        },
        boss,
    )
    assert (event["score"], event["risk_level"], event["colour"]) == (540, "重大风险", "red")
    measure = post(
        client,
        "/api/v1/dual-prevention/measures",
        {"event_id": event["id"], "classify1": "工程技术", "description": "可燃气体检测报警联锁"},
        boss,
    )
    post(
        client,
        "/api/v1/dual-prevention/schedules",
        {
            "measure_id": measure["id"],
            "content": "检查可燃气体探头",
            "cycle": 1,
            "cycle_unit": "天",
            "anchor": midnight.isoformat(),
            "work_start": "00:00:00",
            "work_end": "00:00:00",
            "assignee": "zhao",
        },
        boss,
    )
    points = [
        post(
            client,
            "/api/v1/inspection-points",
            {"code": f"P-{n}", "name": name, "area": "tank_farm", "unit_id": unit["id"], "tag_code": f"QR-{n}"},
            boss,
        )
        for n, name in ((1, "1#球罐压力表"), (2, "1#球罐液位计"))
    ]
    item = post(
        client,
        "/api/v1/inspection-items",
        {"point_id": points[0]["id"], "name": "压力", "unit": "MPa", "low": 0.2, "high": 1.6},
        boss,
    )
    route = post(
        client, "/api/v1/inspection-routes", {"name": "罐区巡检线", "point_ids": [p["id"] for p in points]}, boss
    )
    post(
        client,
        "/api/v1/inspection-plans",
        {
            "route_id": route["id"],
            "name": "罐区日巡检",
            "assignee": "xun",
            "cycle": 1,
            "cycle_unit": "天",
            "anchor": midnight.isoformat(),
            "work_start": "00:00:00",
            "work_end": "00:00:00",
        },
        boss,
    )
    return {"unit": unit["id"], "measure": measure["id"], "item": item["id"], "point": points[0]["id"]}


def test_an_inspection_round_on_the_phone_to_a_closed_hazard(client: TestClient) -> None:
    boss, xun, zhao = auth(client, "boss"), auth(client, "xun"), auth(client, "zhao")
    ids = build(client, boss)
    assert post(client, "/api/v1/inspections/rounds/generate", {}, boss, 200)["created"] == 1
    mine = client.get("/api/v1/inspections/rounds?mine=true", headers=xun).json()["items"]
    assert len(mine) == 1 and mine[0]["state"] == "待巡检"
    round_id = mine[0]["id"]
    page = client.get("/api/v1/inspections/mobile", headers=xun)
    assert page.status_code == 200 and "我的巡检任务" in page.text and "待巡检" in page.text

    assert post(client, f"/api/v1/inspections/rounds/{round_id}/check-in", {"code": "QR-1"}, zhao, 403)
    wrong = post(client, f"/api/v1/inspections/rounds/{round_id}/check-in", {"code": "QR-X"}, xun, 422)
    assert wrong["detail"] and "二维码" in json.dumps(wrong, ensure_ascii=False)
    post(client, f"/api/v1/inspections/rounds/{round_id}/check-in", {"code": "QR-1"}, xun)
    post(client, f"/api/v1/inspections/rounds/{round_id}/check-in", {"code": "QR-1"}, xun, 409)
    reading = post(
        client, f"/api/v1/inspections/rounds/{round_id}/readings", {"item_id": ids["item"], "value": 1.9}, xun
    )
    assert reading["in_range"] is False and reading["hazard_id"]
    done = post(client, f"/api/v1/inspections/rounds/{round_id}/finish", {}, xun, 200)
    assert done["state"] == "已完成" and len(done["missed_point_ids"]) == 1

    hazards = client.get("/api/v1/hidden-hazards", headers=boss).json()
    assert hazards["total"] == 1
    hazard = hazards["items"][0]
    assert (hazard["inspection_task_id"], hazard["inspection_point_id"], hazard["inspection_reading_id"]) == (
        round_id,
        ids["point"],
        reading["id"],
    )
    assert hazard["liable_person"] == "zhao" and hazard["state"] == "整改中"
    hid = hazard["id"]
    assert post(client, f"/api/v1/hidden-hazards/{hid}/accept", {"comment": "直接销号"}, boss, 409)
    assert (
        client.patch(f"/api/v1/hidden-hazards/{hid}", json={"state": "已验收"}, headers=boss).json()["state"]
        == "整改中"
    )
    assert post(client, f"/api/v1/hidden-hazards/{hid}/submit", {"note": "已泄压并校表"}, xun, 403)
    post(client, f"/api/v1/hidden-hazards/{hid}/submit", {"note": "已泄压并校表"}, zhao, 200)
    assert post(
        client, f"/api/v1/hidden-hazards/{hid}/accept", {"comment": "ok"}, zhao, 403
    )  # inspectors cannot approve
    closed = post(client, f"/api/v1/hidden-hazards/{hid}/accept", {"comment": "压力正常，同意销号"}, boss, 200)
    assert (closed["state"], closed["accepted_by"]) == ("已验收", "boss")
    history = client.get(f"/api/v1/hidden-hazards/{hid}/history", headers=boss).json()
    assert [h["action"] for h in history] == ["create", "提交验收", "验收通过"]
    coverage = client.get("/api/v1/inspections/coverage", headers=boss).json()
    assert coverage["readings_out_of_range"] == 0 or coverage["rounds"] == 0  # today's round has not ended yet


def test_check_tasks_only_the_assignee_completes_and_the_export_validates(client: TestClient) -> None:
    boss, zhao, xun, gov = auth(client, "boss"), auth(client, "zhao"), auth(client, "xun"), auth(client, "gov")
    build(client, boss)
    assert post(client, "/api/v1/dual-prevention/check-tasks/generate", {}, boss, 200)["created"] == 1
    task = client.get("/api/v1/dual-prevention/check-tasks?assignee=zhao", headers=zhao).json()["items"][0]
    assert post(
        client, f"/api/v1/dual-prevention/check-tasks/{task['id']}/complete", {"check_status": "正常"}, xun, 403
    )
    done = post(
        client,
        f"/api/v1/dual-prevention/check-tasks/{task['id']}/complete",
        {"check_status": "正常", "device": "IMEI-1"},
        zhao,
        200,
    )
    assert (done["state"], done["checked_by"], done["check_status"]) == ("已排查", "zhao", 0)
    assert post(
        client, f"/api/v1/dual-prevention/check-tasks/{task['id']}/complete", {"check_status": "正常"}, zhao, 409
    )

    risk_map = client.get("/api/v1/dual-prevention/risk-map", headers=gov).json()
    assert [(u["colour"], u["liable_person"]) for u in risk_map] == [("red", "zhao")]
    health = client.get("/api/v1/dual-prevention/health", headers=gov)
    assert health.status_code == 200

    assert client.get("/api/v1/dual-prevention/exchange/export", headers=xun).status_code == 403
    doc = client.get("/api/v1/dual-prevention/exchange/export", headers=gov).json()
    assert list(jsonschema_rs.validator_for(SCHEMA).iter_errors(doc)) == []
    assert len(doc["checkRecords"]) == 1 and doc["riskUnits"][0]["riskLevel"] == "0"
    assert post(client, "/api/v1/dual-prevention/exchange/enqueue", {}, gov, 403)
    assert (
        post(client, "/api/v1/dual-prevention/exchange/enqueue", {}, boss, 200)["queued"] == 5
    )  # unit, event, measure, schedule, record
    outbox = client.get("/api/v1/dual-prevention/exchange/outbox?state=pending", headers=gov).json()
    assert len(outbox) == 5 and {o["state"] for o in outbox} == {"pending"}


def test_bad_grading_input_is_a_422_naming_the_field(client: TestClient) -> None:
    boss = auth(client, "boss")
    ids = build(client, boss)
    bad = post(
        client,
        "/api/v1/dual-prevention/events",
        {"unit_id": ids["unit"], "name": "x", "method": "LS", "likelihood": 3},
        boss,
        422,
    )
    assert "severity" in json.dumps(bad)
    assert post(
        client, "/api/v1/inspection-items", {"point_id": ids["point"], "name": "x", "low": 5, "high": 1}, boss, 422
    )
    assert post(client, "/api/v1/inspection-routes", {"name": "r", "point_ids": [999999]}, boss, 422)
    future = (datetime.now(LOCAL_TZ) + timedelta(days=30)).isoformat()
    assert post(client, "/api/v1/dual-prevention/check-tasks/generate", {"until": future}, boss, 200)["created"] == 1
