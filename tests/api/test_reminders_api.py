"""Due-date reminders across registers, through the API: previewed, fired once, role-checked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from registers.catalog import all_registers, reminder_registers
from registers.certificates import service as certificates
from registers.certificates.schemas import CertificateCreate
from registers.users import service as users


def plant_today() -> date:
    """The plant's calendar, as reminders count; read per test, since a run can pass midnight in Shanghai."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(environment="test", data_dir=Path(tmp_path_factory.mktemp("reminders")))
    app = create_app(settings, start_runtime=False)
    with TestClient(app) as c:
        c.app_state = app.state  # type: ignore[attr-defined]
        yield c


def login(client: TestClient, username: str, password: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_catalog_finds_every_domain_and_the_ones_with_due_dates() -> None:
    names = {r.name for r in all_registers()}
    assert {"certificate", "hazard_source", "equipment"} <= names
    assert {r.name for r in reminder_registers()} >= {"certificate", "hazard_source"}
    assert all(r.due_dates for r in reminder_registers())


def test_expiring_certificate_is_previewed_then_fired_once(client: TestClient) -> None:
    state = client.app_state  # type: ignore[attr-defined]
    today = plant_today()
    expiry = today + timedelta(days=20)
    with state.session_factory() as session:
        data = CertificateCreate.model_validate(
            {
                "kind": "安全生产许可证",
                "number": "（苏）WH安许证字〔2026〕001",
                "holder": "示范化工有限公司",
                "issuer": "江苏省应急管理厅",
                "issue_date": today - timedelta(days=1000),
                "expiry_date": expiry,
            }
        )
        certificates.register.create(session=session, data=data, actor="test")
        users.create_user(session=session, username="viewer.li", password="Regul@tor2026", roles=("regulator",))
        session.commit()
    admin = login(client, "admin", state.demo_admin_password)
    preview = client.get("/api/v1/reminders", headers=admin)
    assert preview.status_code == 200
    mine = [r for r in preview.json() if r["register"] == "certificate"]
    # 20 days, or 19 where the plant's midnight fell between the record and the preview
    counted_on = {today, plant_today()}
    assert len(mine) == 1 and mine[0]["lead_days"] == 30
    assert mine[0]["days_left"] in {(expiry - day).days for day in counted_on}
    assert "到期" in mine[0]["message"]
    fired = client.post("/api/v1/reminders/run", headers=admin).json()
    assert any(r["register"] == "certificate" for r in fired["reminders"])
    again = client.post("/api/v1/reminders/run", headers=admin).json()
    assert not any(r["register"] == "certificate" for r in again["reminders"])  # once each
    regulator = login(client, "viewer.li", "Regul@tor2026")
    assert client.get("/api/v1/reminders", headers=regulator).status_code == 403
    assert client.get("/api/v1/reminders").status_code == 401
