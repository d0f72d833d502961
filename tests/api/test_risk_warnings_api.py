"""Risk warnings end to end in embedded mode: risk flow -> bus -> register -> SMS -> ``/api/v1/risk/warnings``.

The real app runs its sensor and risk flows in threads (no simulator: the only inputs are the
drills this test posts). A rise of MHS-04 to orange opens one warning with its reasons and
sends one SMS through the real SMS channel to a local HTTP gateway, as the notification rule
and the duty roster say; operators acknowledge and report, the safety manager closes; a
regulator only reads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from models.channels import ChannelKind
from registers.notifications import service as notifications
from registers.notifications.schemas import NotifyRuleCreate, RosterEntryCreate
from registers.users import service as users
from tests.connectors.test_notify import LocalHttpReceiver

PASSWORD = "Risk-Warnings-42"


@pytest.fixture(scope="module")
def gateway() -> Iterator[LocalHttpReceiver]:
    server = LocalHttpReceiver(default=(200, {"code": 0})).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, gateway: LocalHttpReceiver) -> Iterator[TestClient]:
    data_dir: Path = tmp_path_factory.mktemp("risk_warnings_api")
    settings = Settings(environment="test", data_dir=data_dir, simulate=False, notify_sms_url=f"{gateway.url}/sms")
    app = create_app(settings)
    with TestClient(app) as test_client:
        with app.state.session_factory.begin() as session:
            for role in ("operator", "safety_manager", "regulator"):
                users.create_user(session=session, username=f"w_{role}", password=PASSWORD, roles=[role])
            rule = NotifyRuleCreate(
                name="反应区风险预警",
                areas=["reaction_unit"],
                roles=["shift_leader"],
                channels=[ChannelKind.SMS],
                min_priority="high",  # type: ignore[arg-type]
            )
            notifications.create_rule(session=session, data=rule, actor="test")
            entry = RosterEntryCreate(
                person="王班长",
                role="shift_leader",
                shift_start=clock(0),
                shift_end=clock(0),  # a 24-hour shift: on duty whenever the test runs
                addresses={ChannelKind.SMS: "13800000003"},
            )
            notifications.create_roster_entry(session=session, data=entry, actor="test")
        yield test_client


def auth(client: TestClient, role: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": f"w_{role}", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def poll(fetch: Any, done: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def hot_work(active: bool, ts: int) -> dict[str, Any]:
    return {
        "type": "special_work",
        "work_id": "DH-R-01",
        "work_type": "hot_work",
        "grade": "1",
        "area": "reaction_unit",
        "active": active,
        "ts": ts,
    }


def test_a_rise_to_orange_is_one_warning_notified_then_worked_through_the_closed_loop(
    client: TestClient, gateway: LocalHttpReceiver
) -> None:
    op, sm, reg = auth(client, "operator"), auth(client, "safety_manager"), auth(client, "regulator")

    def scores() -> dict[str, Any]:
        return {r["hazard_source_id"]: r for r in client.get("/api/v1/risk/scores", headers=op).json()}

    assert poll(scores, lambda rows: rows["MHS-04"]["level"] == "yellow")["MHS-04"]["level"] == "yellow"
    # inherent orange (MHS-01, MHS-03 by their grade) is not a warning
    assert client.get("/api/v1/risk/warnings", headers=op).json() == {"items": [], "total": 0}

    t0 = int(time.time() * 1000) + 1
    drill = client.post("/api/v1/risk/inputs", json=hot_work(True, t0), headers=auth(client, "safety_manager"))
    assert drill.status_code == 202, drill.text

    def warnings() -> dict[str, Any]:
        response = client.get("/api/v1/risk/warnings", params={"ongoing": True}, headers=reg)
        assert response.status_code == 200, response.text
        return response.json()

    page = poll(warnings, lambda p: p["total"] >= 1)
    assert page["total"] == 1
    warning = page["items"][0]
    assert (warning["hazard_source_id"], warning["from_level"], warning["to_level"]) == ("MHS-04", "yellow", "orange")
    assert warning["state"] == "raised" and warning["ongoing"] is True
    work = {"rule": "WORK.GRADE1", "label": "一级动火、吊装或盲板抽堵作业（固有一般及以下）", "points": 25.0}
    assert work in warning["contributions"]
    assert {c["rule"] for c in warning["contributions"]} == {"INH.GRADE", "INH.PROCESS", "WORK.GRADE1"}

    sms = poll(lambda: list(gateway.requests), lambda r: len(r) >= 1, timeout=10)
    assert len(sms) == 1
    text = sms[0].body.decode()
    assert "13800000003" in text and "较大风险" in text

    wid = warning["id"]
    assert client.post(f"/api/v1/risk/warnings/{wid}/acknowledge", headers=reg).status_code == 403
    assert client.post(f"/api/v1/risk/warnings/{wid}/close", headers=op).status_code == 403
    acked = client.post(f"/api/v1/risk/warnings/{wid}/acknowledge", headers=op)
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "dispatched" and "包保" in acked.json()["dispatched_to"]
    assert client.post(f"/api/v1/risk/warnings/{wid}/close", headers=sm).status_code == 409  # no report yet
    incomplete = client.post(f"/api/v1/risk/warnings/{wid}/report", json={"disposal": "已停止动火"}, headers=op)
    assert incomplete.status_code == 422
    assert {e["field"] for e in incomplete.json()["errors"]} == {"cause", "measures", "feedback"}
    report = {
        "disposal": "动火作业暂停，现场复测合格",
        "cause": "检修动火",
        "measures": "加密监护",
        "feedback": "handled",
    }
    assert client.post(f"/api/v1/risk/warnings/{wid}/report", json=report, headers=op).status_code == 200

    # the hot work ends: the risk falls back, the warning is cleared but waits for its sign-off
    client.post("/api/v1/risk/inputs", json=hot_work(False, t0 + 1), headers=sm)
    assert poll(warnings, lambda p: p["total"] == 0)["total"] == 0
    detail = client.get(f"/api/v1/risk/warnings/{wid}", headers=reg).json()
    assert detail["ongoing"] is False and detail["level"] == "yellow" and detail["state"] == "reported"
    closed = client.post(f"/api/v1/risk/warnings/{wid}/close", headers=sm)
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    journal = [
        (s["action"], s["actor"]) for s in client.get(f"/api/v1/risk/warnings/{wid}", headers=op).json()["steps"]
    ]
    assert journal == [
        ("raise", None),
        ("dispatch", "w_operator"),
        ("report", "w_operator"),
        ("clear", None),
        ("close", "w_safety_manager"),
    ]
    assert len(gateway.requests) == 1  # the fall and the handling notified nobody again


def test_unknown_warning_and_bad_filters(client: TestClient) -> None:
    op = auth(client, "operator")
    assert client.get("/api/v1/risk/warnings/2147483647", headers=op).status_code == 404
    assert client.get("/api/v1/risk/warnings/0", headers=op).status_code == 422
    bad = client.get("/api/v1/risk/warnings", params={"state": "lost", "limit": 0}, headers=op)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"query.state", "query.limit"}
