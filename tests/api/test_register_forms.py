"""Every register describes its create / edit form: ``GET {prefix}/form-schema`` (api/register_forms.py).

Through the production app, so the answer is what the web form is generated from: Chinese
labels for every editable field, references resolved to the register that keeps them, and
the caller's allowed actions (the workflow buttons a role sees).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from registers.users import service as users

PASSWORD = "Form-Schema-42"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module (start-up costs seconds)."""
    tmp_path: Path = tmp_path_factory.mktemp("forms")
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    app = create_app(settings, start_runtime=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        with app.state.session_factory.begin() as session:
            users.create_user(session=session, username="boss", password=PASSWORD, roles=["safety_manager"])
            users.create_user(session=session, username="analyst", password=PASSWORD, roles=["analyst"])
        yield test_client


def auth(client: TestClient, username: str = "boss") -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def form_prefixes(client: TestClient) -> list[str]:
    app = client.app
    return sorted(
        str(r.path).removesuffix("/form-schema")
        for r in iter_route_contexts(app.routes)  # type: ignore[attr-defined]
        if isinstance(r.original_route, APIRoute) and str(r.path).endswith("/form-schema")
    )


def test_every_register_has_a_form_with_chinese_labels(client: TestClient) -> None:
    prefixes = form_prefixes(client)
    # the eight registers of the menu and the workflow registers alike
    for expected in ("/api/v1/certificates", "/api/v1/equipment", "/api/v1/people", "/api/v1/training/records"):
        assert expected in prefixes
    assert len(prefixes) >= 30
    boss = auth(client)
    for prefix in prefixes:
        response = client.get(f"{prefix}/form-schema", headers=boss)
        assert response.status_code == 200, (prefix, response.text)
        body = response.json()
        assert CJK.search(body["title"]), prefix
        for name in body["create"]["properties"]:
            label = body["labels"][name]  # Chinese, or a unit symbol such as MAC(mg/m³); never the code name
            assert label != name and (CJK.search(label) or not label.isascii()), (prefix, name, label)


def test_references_name_the_register_that_keeps_them(client: TestClient) -> None:
    body = client.get("/api/v1/training/records/form-schema", headers=auth(client)).json()
    assert body["references"]["person_id"] == {"prefix": "/api/v1/people", "label_field": "name", "title": "人员"}
    people = client.get("/api/v1/people/form-schema", headers=auth(client)).json()
    assert people["references"]["contractor_id"]["prefix"] == "/api/v1/contractors"


def test_actions_follow_the_callers_roles(client: TestClient) -> None:
    boss = client.get("/api/v1/certificates/form-schema", headers=auth(client)).json()
    assert (boss["can_create"], boss["can_update"], boss["can_delete"]) == (True, True, True)
    assert {"name": "approve", "title": "审核证照 (与原件核对)"} in boss["actions"]
    reader = client.get("/api/v1/certificates/form-schema", headers=auth(client, "analyst"))
    assert reader.status_code == 200, reader.text
    body = reader.json()
    assert (body["can_create"], body["can_update"], body["actions"]) == (False, False, [])


def test_the_form_route_is_not_read_as_a_record_id(client: TestClient) -> None:
    """``/form-schema`` sits before each register's ``/{record_id}``, also behind the domain's own routes."""
    for prefix in ("/api/v1/people", "/api/v1/contractors", "/api/v1/equipment", "/api/v1/hazard-sources"):
        response = client.get(f"{prefix}/form-schema", headers=auth(client))
        assert response.status_code == 200, (prefix, response.text)
        assert "properties" in response.json()["create"]


def test_chemical_rows_offer_every_table_1_chemical_the_api_accepts(client: TestClient) -> None:
    """Issue 12: a hazard source's chemicals were text cells; the picker needs Table 1 by name, alias and CAS."""
    boss = auth(client)
    form = client.get("/api/v1/hazard-sources/form-schema", headers=boss).json()
    chemicals = form["choices"]["chemicals.name"]
    assert len(chemicals) == 85
    by_keyword = {k: c for c in chemicals for k in c["keywords"]}
    # what a Chinese ledger writes finds the row: 液氯 and its CAS, LPG's propane CAS, 天然气
    assert by_keyword["液氯"]["value"] == by_keyword["7782-50-5"]["value"] == "氯"
    assert by_keyword["液氯"]["fill"] == {"cas": "7782-50-5"}
    assert by_keyword["液氯"]["placeholders"] == {"critical_t": "表1：5", "beta": "查表：4"}
    assert by_keyword["74-98-6"]["value"] == by_keyword["LPG"]["value"] == "液化石油气"
    assert by_keyword["LPG"]["fill"] == {}  # three CAS numbers: none is filled in for the user
    assert by_keyword["天然气"]["value"] == "甲烷"
    categories = {c["value"] for c in form["choices"]["chemicals.categories"]}
    assert {"W2", "W5.3", "J1", "W11"} <= categories and len(categories) == 24
    # every offered name is accepted by the API as the chemical it says, with its Table 1 Q
    for index, choice in enumerate(chemicals):
        body = {
            "code": f"MHS-C{index:02d}",
            "name": f"表1第{index + 1}项试验单元",
            "unit_kind": "储存单元",
            "exposed_population": 0,
            "chemicals": [{"name": choice["value"], "quantity_t": 0.001}],
        }
        created = client.post("/api/v1/hazard-sources", json=body, headers=boss)
        assert created.status_code == 201, (choice["value"], created.text)
        stored = created.json()["chemicals"][0]
        assert f"临界量 {stored['critical_t']:g} t" in choice["hint"], choice
    # registers without rows of chemicals get no chemical options
    assert client.get("/api/v1/certificates/form-schema", headers=boss).json()["choices"] == {}
