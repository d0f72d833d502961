"""The overview route (总览) on the real app: its counts are the registers' own answers, per role.

The app is ``create_app(start_runtime=False)`` on a migrated SQLite file with the demo registers
loaded; alarms are written through the alarm register's service the way the alarm worker writes
them. Every figure the big screen shows is checked against the route a user would open for the
detail (``/alarms/active``, ``/permits/open``, ``/hidden-hazards``), so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from registers.alarms import service as alarms
from registers.db import utcnow
from registers.demo import load_demo
from registers.users import service as users

PASSWORD = "Overview-Check-42"
OVERVIEW = "/api/v1/overview"
ROLES = {"op": "operator", "insp": "inspector", "sec": "security_admin", "gov": "regulator"}


class Client:
    def __init__(self, client: TestClient, tokens: dict[str, str], app: Any) -> None:
        self.client, self.tokens, self.app = client, tokens, app

    def get(self, who: str, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)

    def post(self, who: str, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)

    def alarm(self, tag: str, minutes_ago: float, priority: str, state: str = "active") -> int:
        ts = utcnow() - timedelta(minutes=minutes_ago)
        event = AlarmEvent(
            alarm_id=f"{tag}:H",
            source_kind="tag",
            source_id=tag,
            kind="H",
            priority=AlarmPriority(priority),
            state=AlarmState(state),
            ts=int(ts.timestamp() * 1000),
            value=2.0,
            limit=1.6,
            message=f"{tag} 高报",
        )
        with self.app.state.session_factory.begin() as session:
            row = alarms.record_event(session=session, event=event, area="tank_farm")
            assert row is not None
            return int(row.id)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    tmp = tmp_path_factory.mktemp("overview-api")
    settings = Settings(environment="test", data_dir=tmp, web_dist=tmp / "no-web")
    app = create_app(settings, start_runtime=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        with app.state.session_factory.begin() as session:
            load_demo(session=session, plant=app.state.plant)
            for name, role in ROLES.items():
                users.create_user(session=session, username=name, password=PASSWORD, roles=[role])
        tokens = {}
        for name, password in [("admin", app.state.demo_admin_password), *((n, PASSWORD) for n in ROLES)]:
            r = c.post("/api/v1/auth/login", json={"username": name, "password": password})
            assert r.status_code == 200, r.text
            tokens[name] = r.json()["access_token"]
        yield Client(c, tokens, app)


def test_alarm_counts_follow_the_register(api: Client) -> None:
    before = api.get("admin", OVERVIEW).json()["alarms"]
    assert before["total"] == len(api.get("admin", "/api/v1/alarms/active").json())
    api.alarm("PT-901", 6, "critical")
    api.alarm("TT-902", 5, "high")
    api.alarm("LT-903", 4, "high")
    api.alarm("LT-903", 3, "high", state="returned")  # back to normal, never acknowledged: still shown
    shelved = api.alarm("FT-904", 2, "medium")
    acked = api.alarm("FT-905", 2, "low")
    assert api.post("op", f"/api/v1/alarm-records/{acked}/ack", json={}).status_code == 200
    r = api.post("op", f"/api/v1/alarm-records/{shelved}/shelve", json={"minutes": 30, "reason": "仪表检修"})
    assert r.status_code == 200, r.text

    body = api.get("op", OVERVIEW).json()["alarms"]
    active = api.get("op", "/api/v1/alarms/active").json()
    assert body["total"] == len(active) == before["total"] + 4  # the shelved one is hidden
    for p in ("critical", "high", "medium", "low"):
        assert body["by_priority"][p] == sum(1 for a in active if a["priority"] == p), p
    assert body["by_priority"]["critical"] == before["by_priority"]["critical"] + 1
    assert body["by_priority"]["high"] == before["by_priority"]["high"] + 2
    assert body["by_priority"]["medium"] == before["by_priority"]["medium"]  # shelved
    assert body["unacknowledged"] == sum(1 for a in active if not a["acknowledged"])
    assert body["unacknowledged"] == before["unacknowledged"] + 3  # the low one is acknowledged


def test_registers_counts_match_their_routes(api: Client) -> None:
    body = api.get("admin", OVERVIEW).json()
    open_permits = api.get("admin", "/api/v1/permits/open").json()
    assert body["permits"]["total"] == len(open_permits)
    assert sorted(p["number"] for p in body["permits"]["items"]) == sorted(p["number"] for p in open_permits)[:20]

    hazards = api.get("admin", "/api/v1/hidden-hazards", params={"size": 500}).json()["items"]
    still_open = [h for h in hazards if h["state"] != "已验收"]
    assert body["hazards"]["open"] == len(still_open)
    assert body["hazards"]["major"] == sum(1 for h in still_open if h["level"] == "重大隐患")

    assert body["people"] == {"site": 0, "zones": body["people"]["zones"]}  # no positions without the flow
    assert {z["zone_id"] for z in body["people"]["zones"]} >= {"Z-LPG", "Z-CL2"}
    names = {s["hazard_source_id"] for s in body["risk"]}
    assert len(names) == len(api.get("admin", "/api/v1/risk/scores").json()) > 0
    assert body["inspections"]["overdue_rounds"] >= 0 and body["inspections"]["overdue_check_tasks"] is not None


def test_sections_follow_the_users_own_permissions(api: Client) -> None:
    inspector = api.get("insp", OVERVIEW).json()
    # an inspector reads alarms, permits, rounds and hazards, but not risk scores or positions
    assert inspector["risk"] is None and inspector["people"] is None
    assert inspector["alarms"] is not None and inspector["permits"] is not None and inspector["hazards"] is not None
    assert api.get("insp", "/api/v1/positioning/headcount").status_code == 403  # the same answer as the route
    regulator = api.get("gov", OVERVIEW).json()
    assert regulator["risk"] is not None and regulator["people"] is None and regulator["inspections"] is None
    assert api.get("sec", OVERVIEW).status_code == 403  # 三员分立: no plant data for the account manager
    assert api.client.get(OVERVIEW).status_code == 401
