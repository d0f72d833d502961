"""The monthly 包保 reports: issued by the alarm worker's housekeeping, listed and downloaded through the API.

The production app (``create_app``) and the production housekeeping (``AlarmWorker.register_jobs``)
on one SQLite file: the worker runs its clock-driven jobs at a given instant, then a safety
manager lists the stored reports, opens one and downloads its Excel file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import delete, update

from api.alarm_worker import AlarmWorker
from api.app import create_app
from api.settings import Settings
from connectors.bus.memory import Bus
from registers.demo import load_demo
from registers.hazard_sources.models import HazardSource, HazardSourceDuty, HazardSourceReport
from registers.users import service as users
from twin.plant import load_plant

PASSWORD = "Monthly-Report-42"
NOW = datetime(2026, 12, 3, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp_path: Path = tmp_path_factory.mktemp("reports")
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    app = create_app(settings, start_runtime=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        factory = app.state.session_factory
        with factory.begin() as session:
            users.create_user(session=session, username="boss", password=PASSWORD, roles=["safety_manager"])
            load_demo(session=session, plant=load_plant(), today=NOW.date())
            session.execute(update(HazardSource).values(created_at=NOW - timedelta(days=40)))
            session.execute(update(HazardSourceDuty).values(deleted_at=NOW))
            session.execute(delete(HazardSourceReport))  # the demo issues its own months' reports
        worker = AlarmWorker(Bus(), factory, load_plant(), settings, housekeeping_s=3600)
        worker.register_jobs(now=NOW)
        worker.register_jobs(now=NOW + timedelta(hours=1))  # the next round issues nothing twice
        assert worker.errors == 0
        yield test_client


def auth(client: TestClient, username: str = "boss") -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_housekeeping_issues_the_ended_months_once(client: TestClient) -> None:
    listed = client.get("/api/v1/hazard-sources/periodic-reports", headers=auth(client))
    assert listed.status_code == 200, listed.text
    assert [r["period"] for r in listed.json()] == ["2026-11", "2026-10"]
    november = listed.json()[0]
    assert november["done"] == 0 and november["overdue"] == november["required"] > 0


def test_a_stored_report_opens_as_issued_and_downloads(client: TestClient) -> None:
    boss = auth(client)
    november = client.get("/api/v1/hazard-sources/periodic-reports", headers=boss).json()[0]
    detail = client.get(f"/api/v1/hazard-sources/periodic-reports/{november['id']}", headers=boss)
    assert detail.status_code == 200, detail.text
    report = detail.json()["report"]
    assert (report["first"], report["last"]) == ("2026-11-01", "2026-11-30")
    assert {row["code"] for row in report["rows"]} >= {"MHS-01"}
    assert report["overdue"][0]["state_label"] == "逾期未履职"
    # the same shape as the on-request report of the same month (nothing changed since)
    on_request = client.get(
        "/api/v1/hazard-sources/report", params={"first": "2026-11-01", "last": "2026-11-30"}, headers=boss
    ).json()
    assert on_request == report

    xlsx = client.get(f"/api/v1/hazard-sources/periodic-reports/{november['id']}/export", headers=boss)
    assert xlsx.status_code == 200, xlsx.text
    assert "2026-11" in xlsx.headers["content-disposition"]
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["考核汇总", "逾期未履职"]
    assert book["逾期未履职"].max_row == 1 + november["overdue"]


def test_unknown_report_and_no_token(client: TestClient) -> None:
    boss = auth(client)
    assert client.get("/api/v1/hazard-sources/periodic-reports/999999", headers=boss).status_code == 404
    assert client.get("/api/v1/hazard-sources/periodic-reports/0", headers=boss).status_code == 422
    assert client.get("/api/v1/hazard-sources/periodic-reports").status_code == 401
