"""The certificates API through a small app on a migrated SQLite file: every route, every role.

The app is assembled the way ``api/app.py`` does it (auth router public, the register router
behind ``get_current_user``), without the plant runtime.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from api.auth import create_token, get_current_user
from api.routers.auth import router as auth_router
from api.routers.certificates import router as certificates_router
from api.settings import Settings
from registers.db import make_engine, make_session_factory, migrate
from registers.permissions import RoleName, can
from registers.users import service as users

PASSWORD = "Chlorine-Tank-42"
BASE = "/api/v1/certificates"
LICENCE = "安全生产许可证"

# Who may do what with certificates, as the safety department signed it off.
EXPECTED: dict[str, set[str]] = {
    "read": {"admin", "safety_manager", "analyst", "regulator"},
    "export": {"admin", "safety_manager", "analyst", "regulator"},
    "create": {"admin", "safety_manager"},
    "update": {"admin", "safety_manager"},
    "delete": {"admin", "safety_manager"},
    "import": {"admin", "safety_manager"},
    "approve": {"admin", "safety_manager"},
}


@dataclass
class Api:
    client: TestClient
    factory: sessionmaker[Session]
    tokens: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def create(self, role: str = "safety_manager", **body: Any) -> dict[str, Any]:
        response = self.client.post(BASE, json={"kind": LICENCE, **body}, headers=self.as_(role))
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A migrated database with one user per role, made once: password hashing is slow by design."""
    folder = tmp_path_factory.mktemp("template")
    settings = Settings(environment="test", data_dir=folder, database_url=f"sqlite:///{folder / 'api.db'}")
    migrate(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    tokens = {}
    with make_session_factory(engine).begin() as session:
        for role in RoleName:
            user = users.create_user(session=session, username=role.value, password=PASSWORD, roles=[role.value])
            tokens[role.value] = create_token(settings, user)
        nobody = users.create_user(session=session, username="nobody", password=PASSWORD, roles=[])
        tokens["nobody"] = create_token(settings, nobody)
    engine.dispose()
    return folder / "api.db", tokens


@pytest.fixture
def api(tmp_path: Path, template: tuple[Path, dict[str, str]]) -> Iterator[Api]:
    database, tokens = template
    shutil.copy(database, tmp_path / "api.db")
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(auth_router)
    app.include_router(certificates_router, dependencies=[Depends(get_current_user)])
    with TestClient(app) as client:
        yield Api(client, factory, tokens)
    engine.dispose()


def test_the_policy_table_is_what_the_safety_department_signed() -> None:
    for action, allowed in EXPECTED.items():
        assert {r.value for r in RoleName if can([r.value], action, "certificate")} == allowed, action


def test_unauthenticated_is_401(api: Api) -> None:
    assert api.client.get(BASE).status_code == 401
    assert api.client.get(BASE, headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_crud_history_and_soft_delete(api: Api) -> None:
    created = api.create(number="A-1", holder="南方化工", expiry_date="2027-02-28")
    assert created["missing_labels"] == ["发证机关", "发证日期", "许可范围"]
    rid = created["id"]
    changed = api.client.patch(f"{BASE}/{rid}", json={"issuer": "省应急管理厅"}, headers=api.as_("admin"))
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    stale = api.client.patch(f"{BASE}/{rid}?expected_version=1", json={"issuer": "x"}, headers=api.as_("admin"))
    assert stale.status_code == 409
    history = api.client.get(f"{BASE}/{rid}/history", headers=api.as_("regulator")).json()
    assert [(h["version"], h["action"], h["actor"]) for h in history] == [
        (1, "create", "safety_manager"),
        (2, "update", "admin"),
    ]
    assert history[1]["changes"] == {
        "issuer": [None, "省应急管理厅"],
        "missing_fields": [["issuer", "issue_date", "scope"], ["issue_date", "scope"]],
    }
    assert api.client.delete(f"{BASE}/{rid}", headers=api.as_("admin")).status_code == 200
    assert api.client.get(f"{BASE}/{rid}", headers=api.as_("admin")).status_code == 404
    assert api.client.post(f"{BASE}/{rid}/restore", headers=api.as_("admin")).status_code == 200
    assert api.client.get(f"{BASE}/{rid}", headers=api.as_("admin")).json()["version"] == 4
    assert api.client.post(BASE, json={"kind": LICENCE, "number": "A-1"}, headers=api.as_("admin")).status_code == 409


def test_list_filter_sort_page_search(api: Api) -> None:
    for i in range(7):
        api.create(number=f"N-{i}", holder="北方石化" if i < 3 else "南方化工", expiry_date=f"2027-0{i + 1}-01")
    body = api.client.get(
        BASE, params={"holder": "南方化工", "sort": "-expiry_date", "size": 2, "page": 2}, headers=api.as_("analyst")
    ).json()
    assert body["total"] == 4
    assert [r["number"] for r in body["items"]] == ["N-4", "N-3"]
    found = api.client.get(BASE, params={"q": "北方", "expiry_date__gte": "2027-02-01"}, headers=api.as_("admin"))
    assert [r["number"] for r in found.json()["items"]] == ["N-1", "N-2"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"sort": "password"}, "sort"), ({"expiry_date__gte": "soon"}, "expiry_date__gte"), ({"size": 0}, "size")],
)
def test_bad_list_parameters_are_422(api: Api, params: dict[str, Any], field: str) -> None:
    response = api.client.get(BASE, params=params, headers=api.as_("admin"))
    assert response.status_code == 422
    assert field in response.text


def test_bad_bodies_and_unknown_ids(api: Api) -> None:
    admin = api.as_("admin")
    assert api.client.post(BASE, json={"number": "x"}, headers=admin).status_code == 422  # no kind
    assert api.client.post(BASE, json={"kind": "营业执照"}, headers=admin).status_code == 422
    assert api.client.post(BASE, json={"kind": LICENCE, "holder": "x" * 201}, headers=admin).status_code == 422
    assert api.client.get(f"{BASE}/999", headers=admin).status_code == 404
    assert api.client.get(f"{BASE}/99999999999", headers=admin).status_code == 422
    assert api.client.patch(f"{BASE}/999", json={}, headers=admin).status_code == 404
    rid = api.create()["id"]
    assert api.client.patch(f"{BASE}/{rid}", json={"kind": None}, headers=admin).status_code == 422


def test_import_reports_rows_and_writes_nothing_then_succeeds(api: Api) -> None:
    admin = api.as_("admin")
    bad = "证照类型,证照编号,有效期至\r\n安全生产许可证,I-1,2027-01-01\r\n安全生产许可证,I-2,明年\r\n".encode()
    response = api.client.post(f"{BASE}/import", files={"file": ("台账.csv", bad, "text/csv")}, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"row": 3, "column": "有效期至", "field": "expiry_date", "message": response.json()["errors"][0]["message"]}
    ]
    assert api.client.get(BASE, headers=admin).json()["total"] == 0
    good = bad.replace("明年".encode(), b"2028-01-01")
    response = api.client.post(f"{BASE}/import", files={"file": ("台账.csv", good, "text/csv")}, headers=admin)
    assert response.status_code == 200
    assert response.json() == {"register_name": "certificate", "rows": 2, "imported": 2, "errors": []}


def test_export_xlsx_and_csv(api: Api) -> None:
    api.create(number="E-1", holder="南方化工")
    response = api.client.get(f"{BASE}/export", headers=api.as_("regulator"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("证照类型", "证照编号", "证照名称")
    assert rows[1][:2] == (LICENCE, "E-1")
    csv_response = api.client.get(f"{BASE}/export", params={"format": "csv"}, headers=api.as_("analyst"))
    assert csv_response.content.decode("utf-8-sig").splitlines()[1].startswith(f"{LICENCE},E-1,")


def test_attachments_upload_list_download(api: Api, tmp_path: Path) -> None:
    rid = api.create()["id"]
    scan = b"%PDF-1.4\n" + "许可证正本".encode() * 50  # a PDF by its bytes: uploads are sniffed (issue 13)
    uploaded = api.client.post(
        f"{BASE}/{rid}/attachments", files={"file": ("许可证.pdf", scan, "application/pdf")}, headers=api.as_("admin")
    )
    assert uploaded.status_code == 201, uploaded.text
    attachment = uploaded.json()
    listed = api.client.get(f"{BASE}/{rid}/attachments", headers=api.as_("regulator")).json()
    assert [a["filename"] for a in listed] == ["许可证.pdf"]
    download = api.client.get(f"{BASE}/{rid}/attachments/{attachment['id']}", headers=api.as_("regulator"))
    assert download.content == scan
    assert download.headers["content-type"] == "application/pdf"
    assert (tmp_path / "uploads").is_dir()
    assert api.client.get(f"{BASE}/{rid}/attachments/999", headers=api.as_("admin")).status_code == 404


# --- role x action matrix over every route ---------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: Callable[[int, int], str]
    action: str
    kwargs: Callable[[str], dict[str, Any]] = lambda role: {}


ROUTES = [
    Route("GET", lambda r, a: BASE, "read"),
    Route("GET", lambda r, a: f"{BASE}/{r}", "read"),
    Route("GET", lambda r, a: f"{BASE}/{r}/history", "read"),
    Route("GET", lambda r, a: f"{BASE}/{r}/attachments", "read"),
    Route("GET", lambda r, a: f"{BASE}/{r}/attachments/{a}", "read"),
    Route("GET", lambda r, a: f"{BASE}/export", "export"),
    Route("GET", lambda r, a: f"{BASE}/import-template", "import"),
    Route("GET", lambda r, a: f"{BASE}/form-schema", "read"),
    Route("POST", lambda r, a: BASE, "create", lambda role: {"json": {"kind": LICENCE, "number": f"M-{role}"}}),
    Route("PATCH", lambda r, a: f"{BASE}/{r}", "update", lambda role: {"json": {"remarks": role}}),
    Route(
        "POST",
        lambda r, a: f"{BASE}/{r}/attachments",
        "update",
        lambda role: {"files": {"file": ("a.txt", role.encode(), "text/plain")}},
    ),
    Route("POST", lambda r, a: f"{BASE}/{r}/approve", "approve"),
    Route(
        "POST",
        lambda r, a: f"{BASE}/import/preview",
        "import",
        lambda role: {"files": {"file": ("a.csv", f"证照类型,证照编号\n{LICENCE},PRE-{role}\n".encode(), "text/csv")}},
    ),
    Route(
        "POST",
        lambda r, a: f"{BASE}/import",
        "import",
        lambda role: {"files": {"file": ("a.csv", f"证照类型,证照编号\n{LICENCE},IMP-{role}\n".encode(), "text/csv")}},
    ),
    Route("DELETE", lambda r, a: f"{BASE}/{r}", "delete"),
    Route("POST", lambda r, a: f"{BASE}/{r}/restore", "delete"),
]


def test_every_route_is_covered_by_the_matrix() -> None:
    declared = {(m, getattr(r, "path", "")) for r in certificates_router.routes for m in getattr(r, "methods", ())}
    covered = {(route.method, route.path(0, 0).replace("/0", "/{record_id}")) for route in ROUTES}
    covered = {
        (m, p.replace("{record_id}/attachments/{record_id}", "{record_id}/attachments/{attachment_id}"))
        for m, p in covered
    }
    assert declared == covered


@pytest.mark.parametrize("role", [*[r.value for r in RoleName], "nobody"])
def test_role_action_matrix(api: Api, role: str) -> None:
    record = api.create(number=f"R-{role}")
    upload = api.client.post(
        f"{BASE}/{record['id']}/attachments",
        files={"file": ("x.pdf", b"%PDF", "application/pdf")},
        headers=api.as_("admin"),
    )
    attachment_id = upload.json()["id"]
    for route in ROUTES:
        response = api.client.request(
            route.method, route.path(record["id"], attachment_id), headers=api.as_(role), **route.kwargs(role)
        )
        allowed = role in EXPECTED[route.action]
        where = f"{role} {route.method} {route.path(record['id'], attachment_id)}"
        if allowed:
            assert response.status_code < 400, f"{where}: {response.status_code} {response.text}"
        else:
            assert response.status_code == 403, f"{where}: {response.status_code}"
            assert "无权执行此操作" in response.json()["detail"]


# --- schemathesis: the OpenAPI schema of this router, fuzzed, never a 500 ----------------------

try:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
except ImportError:  # pragma: no cover - schemathesis is a dev dependency
    schemathesis = None  # type: ignore[assignment]


@pytest.fixture
def fuzz_app(tmp_path: Path, template: tuple[Path, dict[str, str]]) -> Iterator[tuple[FastAPI, str]]:
    database, tokens = template
    shutil.copy(database, tmp_path / "api.db")
    settings_ = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    engine = make_engine(settings_.resolved_database_url)
    app = FastAPI()
    app.state.settings = settings_
    app.state.session_factory = make_session_factory(engine)
    app.include_router(certificates_router, dependencies=[Depends(get_current_user)])
    with make_session_factory(engine).begin() as session:
        from registers.certificates.schemas import CertificateCreate
        from registers.certificates.service import register

        register.create(
            session=session, data=CertificateCreate.model_validate({"kind": LICENCE, "number": "F-1"}), actor="seed"
        )
    yield app, tokens["admin"]
    engine.dispose()


@pytest.mark.slow
@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_schemathesis_finds_no_server_error(fuzz_app: tuple[FastAPI, str]) -> None:
    """Every operation of the router, fuzzed from its OpenAPI schema: 4xx is fine, 5xx never.

    Hypothesis drives schemathesis strategies directly: the schemathesis pytest plugin does
    not run under pytest 9.
    """
    app, token = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    assert len(operations) == len(ROUTES)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error])

        fuzz()
