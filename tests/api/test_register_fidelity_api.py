"""Issue 12 through the real app: Chinese hazard-source input, 422s on their fields, one S/R path, blacklist.

The app is the production one (``create_app``), so the error shape is the one the web form
reads: ``{"detail": ..., "errors": [{"field", "message", "type"}]}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from registers.users import service as users

PASSWORD = "Chlorine-Tank-42"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module (start-up costs seconds); each test uses its own codes."""
    tmp_path: Path = tmp_path_factory.mktemp("fidelity")
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    app = create_app(settings, start_runtime=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        with app.state.session_factory.begin() as session:
            users.create_user(session=session, username="boss", password=PASSWORD, roles=["safety_manager"])
            users.create_user(session=session, username="op", password=PASSWORD, roles=["operator"])
        yield test_client


def auth(client: TestClient, username: str = "boss") -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def errors(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_two_chemicals_by_chinese_name_give_r_grade_and_the_worked_sum(client: TestClient) -> None:
    boss = auth(client)
    body = {
        "code": "MHS-09",
        "name": "液氯及液化气库",
        "unit_kind": "储存单元",
        "exposed_population": 60,
        "chemicals": [{"name": "液氯", "quantity_t": 30}, {"name": "LPG", "quantity_t": 100}],
    }
    created = client.post("/api/v1/hazard-sources", json=body, headers=boss)
    assert created.status_code == 201, created.text
    out = created.json()
    assert (out["unit_kind"], out["alpha"], out["s_value"], out["r_value"], out["grade_label"]) == (
        "storage",
        1.5,
        8.0,
        40.5,
        "三级",
    )
    assert "R = α·Σβq/Q = 1.5 × 27 = 40.5，三级" in out["explanation"]


@pytest.mark.parametrize(
    ("patch", "field", "text"),
    [
        ({"chemicals": [{"name": "氯", "quantity_t": 10, "critical_t": 50}]}, "chemicals.0", "不能改为 50 t"),
        ({"chemicals": [{"name": "液氯", "cas": "67-56-1", "quantity_t": 10}]}, "chemicals.0", "与填写的 CAS"),
        ({"chemicals": [{"name": "某溶剂", "quantity_t": 1}]}, "chemicals.0", "不在 GB 18218-2018 表1 中"),
        ({"alpha": 1.3}, "alpha", "不是表5的取值"),
        ({"unit_kind": "仓库"}, "unit_kind", ""),
    ],
)
def test_refusals_are_422_on_their_field(client: TestClient, patch: dict[str, Any], field: str, text: str) -> None:
    boss = auth(client)
    body = {
        "code": "MHS-11",
        "name": "液氯库",
        "unit_kind": "storage",
        "alpha": 1,
        "chemicals": [{"name": "氯", "quantity_t": 1}],
    }
    found = errors(client.post("/api/v1/hazard-sources", json={**body, **patch}, headers=boss))
    assert field in found, found
    assert text in found[field]


def test_patch_alpha_against_the_population_and_major_without_category(client: TestClient) -> None:
    boss = auth(client)
    body = {"code": "MHS-10", "name": "苯库", "unit_kind": "storage", "exposed_population": 10}
    created = client.post(
        "/api/v1/hazard-sources", json={**body, "chemicals": [{"name": "苯", "quantity_t": 20}]}, headers=boss
    )
    assert created.status_code == 201, created.text
    assert (created.json()["s_value"], created.json()["grade_label"]) == (0.4, "未构成")
    rid = created.json()["id"]
    found = errors(client.patch(f"/api/v1/hazard-sources/{rid}", json={"alpha": 2.0}, headers=boss))
    assert "α 按表5为 1.0" in found["alpha"]
    found = errors(
        client.patch(
            f"/api/v1/hazard-sources/{rid}", json={"chemicals": [{"name": "苯", "quantity_t": 60}]}, headers=boss
        )
    )
    assert "请为「苯」给出危险性类别" in found["chemicals"]
    fixed = client.patch(
        f"/api/v1/hazard-sources/{rid}",
        json={"chemicals": [{"name": "苯", "quantity_t": 60, "categories": ["W5.3"]}]},
        headers=boss,
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["r_value"], fixed.json()["grade_label"]) == (1.2, "四级")


def test_plant_route_shows_the_register_identification(client: TestClient) -> None:
    boss = auth(client)
    plant = client.get("/api/v1/plant", headers=boss).json()
    before = {h["id"]: (h["r_value"], h["grade_label"], h["identified_by"]) for h in plant["hazard_sources"]}
    assert before["MHS-03"] == (72.0, "二级", "plant")
    # the enterprise files MHS-03 with 100 t chlorine: the plant view follows the register, not a second sum
    body = {
        "code": "MHS-03",
        "name": "液氯库",
        "unit_kind": "storage",
        "alpha": 1.5,
        "chemicals": [{"name": "液氯", "quantity_t": 100}],
    }
    assert client.post("/api/v1/hazard-sources", json=body, headers=boss).status_code == 201
    plant = client.get("/api/v1/plant", headers=auth(client, "op")).json()
    after = {h["id"]: (h["r_value"], h["grade_label"], h["identified_by"]) for h in plant["hazard_sources"]}
    assert after["MHS-03"] == (120.0, "一级", "register")
    assert after["MHS-01"] == (72.0, "二级", "plant")


def test_blacklist_bypass_by_delete_and_re_create_is_closed(client: TestClient) -> None:
    boss = auth(client)
    created = client.post(
        "/api/v1/contractors", json={"credit_code": "91440101MA5TEST01X", "name": "华安检修"}, headers=boss
    )
    cid = created.json()["id"]
    admin_like = boss
    blacklisted = client.post(f"/api/v1/contractors/{cid}/blacklist", json={"reason": "无票动火"}, headers=admin_like)
    assert blacklisted.status_code == 200, blacklisted.text
    assert client.delete(f"/api/v1/contractors/{cid}", headers=boss).status_code in (200, 204)
    again = client.post(
        "/api/v1/contractors", json={"credit_code": "91440101ma5test01x", "name": "华安检修（新）"}, headers=boss
    )
    found = errors(again)
    assert "已列入黑名单" in found["credit_code"] and "无票动火" in found["credit_code"]


@pytest.mark.parametrize(
    ("prefix", "field", "label"),
    [
        ("/api/v1/hazard-sources", "exposed_population", "暴露人数"),
        ("/api/v1/hazard-source-duties", "performed_on", "履职日期"),
        ("/api/v1/chemicals", "cas", "CAS号"),
        ("/api/v1/contractors", "credit_code", "统一社会信用代码"),
        ("/api/v1/contractor-documents", "contractor_id", ""),
    ],
)
def test_form_schemas_carry_the_chinese_labels(client: TestClient, prefix: str, field: str, label: str) -> None:
    form = client.get(f"{prefix}/form-schema", headers=auth(client))
    assert form.status_code == 200, form.text
    body = form.json()
    assert field in body["create"]["properties"]
    assert label in body["labels"][field]
    if prefix == "/api/v1/hazard-sources":
        unit_kind = body["create"]["properties"]["unit_kind"]
        assert unit_kind["x-enum-labels"] == {"storage": "储存单元", "production": "生产单元"}
        assert body["create"]["properties"]["alpha"]["anyOf"][0]["enum"] == [2.0, 1.5, 1.2, 1.0, 0.5]
    if prefix.startswith("/api/v1/contractor"):  # the form follows the register's read permission
        assert client.get(f"{prefix}/form-schema", headers=auth(client, "op")).status_code == 403


def test_inventory_is_linked_to_the_chemicals_register(client: TestClient) -> None:
    boss = auth(client)
    msds = {
        "name": "氯",
        "cas": "7782-50-5",
        "hazard_classes": "加压气体；急性毒性-吸入，类别2",
        "gb18218_categories": "",
    }
    assert client.post("/api/v1/chemicals", json=msds, headers=boss).status_code == 201
    body = {
        "code": "MHS-12",
        "name": "液氯及甲醇",
        "unit_kind": "production",
        "alpha": 1,
        "chemicals": [{"name": "液氯", "quantity_t": 1}, {"name": "甲醇", "quantity_t": 1}],
    }
    created = client.post("/api/v1/hazard-sources", json=body, headers=boss)
    assert created.status_code == 201, created.text
    links = client.get(f"/api/v1/hazard-sources/{created.json()['id']}/msds", headers=auth(client, "op")).json()
    # 液氯 in the inventory is 氯 / 7782-50-5 in the chemicals register (same Table 1 row 12); 甲醇 has no MSDS yet
    assert [(x["name"], x["cas"], x["table_1_seq"], x["chemical_name"], x["has_msds"]) for x in links] == [
        ("液氯", "7782-50-5", 12, "氯", True),
        ("甲醇", "", 65, None, False),
    ]
    assert client.get("/api/v1/hazard-sources/999999/msds", headers=boss).status_code == 404
