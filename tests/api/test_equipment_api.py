"""The equipment API over HTTP: tree, one-file view, workflows, imports, errors and the role × action matrix."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routers import equipment
from api.routers.auth import router as auth_router
from api.settings import Settings
from registers.db import make_engine, make_session_factory
from registers.equipment.demo import load_equipment_demo
from registers.permissions import RoleName, can
from registers.users import service as users
from tests.db_fixtures import migrate_registers
from twin.plant import DEMO_PLANT, load_plant

PASSWORD = "Sphere-Valve-42"
ROLES = [role.value for role in RoleName]
R401 = "DEMO.REACTION_UNIT.R-401"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("equipment-api")
    settings = Settings(environment="test", data_dir=tmp, database_url=f"sqlite:///{tmp / 'api.db'}")
    migrate_registers(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        for role in ROLES:
            users.create_user(session=session, username=role, password=PASSWORD, display_name=role, roles=[role])
        users.create_user(session=session, username="op2", password=PASSWORD, display_name="op2", roles=["operator"])
        load_equipment_demo(session=session, plant=load_plant(DEMO_PLANT))
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(auth_router)
    app.include_router(equipment.router)
    with TestClient(app) as test_client:
        test_client.headers.update(auth(test_client, "admin"))
        yield test_client
    engine.dispose()


def auth(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(scope="module")
def headers(client: TestClient) -> dict[str, dict[str, str]]:
    return {name: auth(client, name) for name in [*ROLES, "op2"]}


def test_tree_and_one_file_view(client: TestClient) -> None:
    tree = client.get("/api/v1/equipment/tree").json()
    assert [n["code"] for n in tree] == ["DEMO"]
    units = {u["code"]: u for u in tree[0]["children"]}
    assert [e["plant_id"] for e in units["DEMO.TANK_FARM"]["children"]] == ["T-201", "T-202", "V-101", "V-102", "V-301"]
    file = client.get(f"/api/v1/equipment/files/{R401}")
    assert file.status_code == 200, file.text
    body = file.json()
    assert body["equipment"]["special_kind"] == "压力容器"
    assert [p["code"] for p in body["path"]] == ["DEMO", "DEMO.REACTION_UNIT"]
    assert len(body["interlocks"]) == 3 and body["bypasses"][0]["overrun"] is False
    assert client.get("/api/v1/equipment/files/DEMO.NOPE").status_code == 422  # bad code
    missing = client.get("/api/v1/equipment/files/DEMO.TANK_FARM.V-999")
    assert missing.status_code == 422 and "不存在" in missing.text


def test_create_errors_are_422_and_409_naming_the_problem(client: TestClient) -> None:
    bad = client.post("/api/v1/equipment", json={"code": "DEMO.tank", "name": "x"})
    assert bad.status_code == 422 and "装置编码段" in bad.text
    orphan = client.post("/api/v1/equipment", json={"code": "DEMO.NEW_UNIT.V-900", "name": "x"})
    assert orphan.status_code == 422 and "DEMO.NEW_UNIT" in orphan.text
    dup = client.post("/api/v1/equipment", json={"code": R401, "name": "x"})
    assert dup.status_code == 409
    assert client.get("/api/v1/equipment/999999").status_code == 404
    r401 = client.get("/api/v1/equipment", params={"plant_id": "R-401"}).json()["items"][0]
    refused = client.delete(f"/api/v1/equipment/{r401['id']}")
    assert refused.status_code == 422 and "下级节点" in refused.text


def test_reminders_preview(client: TestClient) -> None:
    at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    reminders = client.get("/api/v1/equipment/reminders", params={"at": at}).json()
    assert {r["field"] for r in reminders} == {"next_inspection_due", "next_calibration_due"}


def test_bypass_workflow_over_http(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    request = client.post(
        "/api/v1/sis-bypasses",
        json={
            "interlock_code": "SIS-102-01",
            "reason": "PT-102 变送器校验",
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=4)).isoformat(),
        },
        headers=headers["operator"],
    )
    assert request.status_code == 201, request.text
    bypass_id = request.json()["id"]
    base = f"/api/v1/sis-bypasses/{bypass_id}"
    assert client.post(f"{base}/start", headers=headers["operator"]).status_code == 409
    assert client.post(f"{base}/approve", headers=headers["operator"]).status_code == 403  # no approve right
    approved = client.post(f"{base}/approve", json={"note": "同意，做好监护"}, headers=headers["safety_manager"])
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert client.post(f"{base}/start", headers=headers["op2"]).json()["state"] == "active"
    closed = client.post(f"{base}/close", headers=headers["op2"]).json()
    assert closed["state"] == "restored" and closed["overrun"] is False
    assert client.get("/api/v1/sis-bypasses/overrun").json() == []
    history = client.get(f"{base}/history").json()
    assert [h["action"] for h in history] == ["create", "approve", "start", "close"]


def test_requester_may_not_approve_own_bypass(client: TestClient) -> None:
    start = datetime.now(UTC)
    created = client.post(
        "/api/v1/sis-bypasses",
        json={
            "interlock_code": "SIS-301-01",
            "reason": "AT-301 标定",
            "planned_start": start.isoformat(),
            "planned_end": (start + timedelta(hours=1)).isoformat(),
        },
    ).json()
    refused = client.post(f"/api/v1/sis-bypasses/{created['id']}/approve")
    assert refused.status_code == 403 and "申请人不能审批" in refused.text
    assert client.post(f"/api/v1/sis-bypasses/{created['id']}/cancel").json()["state"] == "cancelled"
    naive = client.post(
        "/api/v1/sis-bypasses",
        json={
            "interlock_code": "SIS-301-01",
            "reason": "x",
            "planned_start": "2026-01-01T00:00",
            "planned_end": "2026-01-01T01:00",
        },
    )
    assert naive.status_code == 422


def test_work_order_workflow_over_http(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    created = client.post(
        "/api/v1/work-orders",
        json={"equipment_code": "DEMO.REACTION_UNIT.P-401", "title": "进料泵振动偏高"},
        headers=headers["operator"],
    )
    assert created.status_code == 201, created.text
    base = f"/api/v1/work-orders/{created.json()['id']}"
    assert client.post(f"{base}/assign", json={}, headers=headers["pdm_engineer"]).status_code == 422
    assert (
        client.post(f"{base}/assign", json={"assignee": "inspector"}, headers=headers["pdm_engineer"]).status_code
        == 200
    )
    assert client.post(f"{base}/start", headers=headers["inspector"]).json()["state"] == "in_progress"
    done = client.post(f"{base}/complete", json={"note": "更换轴承"}, headers=headers["inspector"]).json()
    assert done["state"] == "done" and done["result"] == "更换轴承"
    assert client.post(f"{base}/verify", headers=headers["inspector"]).status_code == 403  # no approve right
    assert client.post(f"{base}/verify", headers=headers["pdm_engineer"]).json()["state"] == "verified"
    assert client.post(f"{base}/close", headers=headers["pdm_engineer"]).json()["state"] == "closed"
    assert client.post(f"{base}/cancel", headers=headers["pdm_engineer"]).status_code == 409
    assert client.post("/api/v1/work-orders/999999/start").status_code == 404
    assert client.post("/api/v1/work-orders/import", files={"file": ("a.csv", b"x")}).status_code == 405


def test_tree_import_reports_rows_and_writes_nothing(client: TestClient) -> None:
    csv_bad = "设备编码,名称\nDEMO.TANK_FARM.V-401,新储罐\nDEMO.OTHER.V-402,孤儿\n".encode()
    bad = client.post("/api/v1/equipment/import", files={"file": ("tree.csv", io.BytesIO(csv_bad), "text/csv")})
    assert bad.status_code == 422
    assert [(e["row"], e["column"]) for e in bad.json()["errors"]] == [(3, "设备编码")]
    assert client.get("/api/v1/equipment", params={"code": "DEMO.TANK_FARM.V-401"}).json()["total"] == 0
    csv_good = "设备编码,名称\nDEMO.TANK_FARM.V-401,新储罐\n".encode()
    good = client.post("/api/v1/equipment/import", files={"file": ("tree.csv", io.BytesIO(csv_good), "text/csv")})
    assert good.status_code == 200 and good.json()["imported"] == 1


def test_unauthenticated_requests_are_refused(client: TestClient) -> None:
    for path in ("/api/v1/equipment", "/api/v1/equipment/tree", "/api/v1/work-orders", "/api/v1/sis-bypasses/overrun"):
        assert client.get(path, headers={"Authorization": ""}).status_code == 401


# (method, path, resource, action, body) for one route of each kind; ids point at demo records.
MATRIX = [
    ("GET", "/api/v1/equipment", "equipment", "read", None),
    ("GET", "/api/v1/equipment/tree", "equipment", "read", None),
    ("GET", f"/api/v1/equipment/files/{R401}", "equipment", "read", None),
    ("GET", "/api/v1/equipment/export?format=csv", "equipment", "export", None),
    ("POST", "/api/v1/equipment", "equipment", "create", {"code": "DEMO.ZZ", "name": "x"}),
    ("PATCH", "/api/v1/equipment/1", "equipment", "update", {"remarks": "x"}),
    ("DELETE", "/api/v1/equipment/999999", "equipment", "delete", None),
    ("POST", "/api/v1/equipment/import", "equipment", "import", "file"),
    ("GET", "/api/v1/safety-valve-calibrations", "equipment", "read", None),
    ("POST", "/api/v1/spare-parts", "equipment", "create", {"part_no": "X", "name": ""}),
    ("GET", "/api/v1/sis-interlocks/export", "equipment", "export", None),
    ("GET", "/api/v1/sis-bypasses", "sis_bypass", "read", None),
    ("POST", "/api/v1/sis-bypasses", "sis_bypass", "create", {}),
    ("POST", "/api/v1/sis-bypasses/999999/approve", "sis_bypass", "approve", None),
    ("POST", "/api/v1/sis-bypasses/999999/start", "sis_bypass", "update", None),
    ("GET", "/api/v1/work-orders", "work_order", "read", None),
    ("POST", "/api/v1/work-orders", "work_order", "create", {}),
    ("POST", "/api/v1/work-orders/999999/start", "work_order", "update", None),
    ("POST", "/api/v1/work-orders/999999/verify", "work_order", "approve", None),
    ("DELETE", "/api/v1/work-orders/999999", "work_order", "delete", None),
]


@pytest.mark.parametrize("role", ROLES)
def test_role_action_matrix(client: TestClient, headers: dict[str, dict[str, str]], role: str) -> None:
    """Every role gets 403 exactly where the permission table denies, and never a 500."""
    for method, path, resource, action, body in MATRIX:
        kwargs: dict[str, object] = {"headers": headers[role]}
        if body == "file":
            kwargs["files"] = {"file": ("x.csv", io.BytesIO("名称\n".encode()), "text/csv")}
        elif body is not None:
            kwargs["json"] = body
        response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        allowed = can([role], action, resource)
        assert response.status_code < 500, (role, path, response.text)
        assert (response.status_code != 403) is allowed, (role, method, path, response.status_code, response.text)


# --- schemathesis: every operation fuzzed from its OpenAPI schema, never a 500 ----------------

try:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
except ImportError:  # pragma: no cover - schemathesis is a dev dependency
    schemathesis = None  # type: ignore[assignment]


@pytest.mark.slow
@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    """4xx is fine, 5xx never (Hypothesis drives schemathesis: its pytest plugin does not run on pytest 9)."""
    settings_ = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'fuzz.db'}")
    migrate_registers(settings_.resolved_database_url)
    engine = make_engine(settings_.resolved_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        users.create_user(session=session, username="admin", password=PASSWORD, display_name="a", roles=["admin"])
        load_equipment_demo(session=session, plant=load_plant(DEMO_PLANT))
    app = FastAPI()
    app.state.settings = settings_
    app.state.session_factory = factory
    app.include_router(auth_router)
    app.include_router(equipment.router)
    with TestClient(app) as test_client:
        token = auth(test_client, "admin")["Authorization"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    assert len(operations) > 80
    for operation in operations:
        if operation.path.startswith("/api/v1/auth"):
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": token}, checks=[not_a_server_error])

        fuzz()
    engine.dispose()
