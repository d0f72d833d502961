"""Alarm handling API on a migrated SQLite file: list, act, dispose, attach, KPIs; errors are 4xx, never 500."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.auth import create_token, get_current_user
from api.routers.alarm_management import router
from api.settings import Settings
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from registers.alarms import service as alarms
from registers.db import make_engine, make_session_factory, migrate, utcnow
from registers.users import service as users

PASSWORD = "Chlorine-Tank-42"
RECORDS = "/api/v1/alarm-records"
ROLES = {"op": ["operator"], "boss": ["safety_manager"], "gov": ["regulator"]}


@dataclass
class Harness:
    client: TestClient
    factory: sessionmaker[Session]
    headers: dict[str, dict[str, str]]
    t0: datetime

    def event(
        self, tag: str, minutes_ago: float, state: str = "active", priority: str = "high", area: str = "tank_farm"
    ) -> int:
        ts = self.t0 - timedelta(minutes=minutes_ago)
        event = AlarmEvent(
            alarm_id=f"{tag}:H",
            source_kind="tag",
            source_id=tag,
            kind="H",
            priority=AlarmPriority(priority),
            state=AlarmState(state),
            ts=int(ts.timestamp() * 1000),
            value=1.7,
            limit=1.6,
            message=f"{tag} 高报",
        )
        with self.factory.begin() as session:
            alarm = alarms.record_event(session=session, event=event, area=area)
            assert alarm is not None
            return alarm.id

    def get(self, who: str, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers[who], **kw)

    def post(self, who: str, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers=self.headers[who], **kw)


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the three accounts, made once; each test gets a copy (argon2 is slow)."""
    path = tmp_path_factory.mktemp("alarm-api") / "template.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        for name, roles in ROLES.items():
            users.create_user(session=session, username=name, password=PASSWORD, roles=roles)
    engine.dispose()
    return path


@pytest.fixture
def harness(tmp_path: Path, template_db: Path) -> Iterator[Harness]:
    shutil.copy(template_db, tmp_path / "alarms.db")
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'alarms.db'}")
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    headers: dict[str, dict[str, str]] = {"nobody": {}}
    with factory() as session:
        for name in ROLES:
            user = users.get_by_username(session=session, username=name)
            assert user is not None
            headers[name] = {"Authorization": f"Bearer {create_token(settings, user)}"}
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(router, dependencies=[Depends(get_current_user)])  # as api/app.py mounts routers
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Harness(client=client, factory=factory, headers=headers, t0=utcnow().replace(microsecond=0))
    engine.dispose()


def test_list_filters_sorts_and_pages(harness: Harness):
    harness.event("PT-101", 30, priority="low")
    harness.event("TT-201", 20, priority="critical", area="reaction_unit")
    harness.event("LT-301", 10, priority="medium")
    response = harness.get("gov", RECORDS, params={"size": 2})
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["size"]) == (3, 1, 2)
    assert [a["tag"] for a in body["items"]] == ["LT-301", "TT-201"]
    first = body["items"][0]
    assert first["state"] == "unack_active" and first["state_label"] == "未确认-报警中"
    assert "ack" in first["allowed_actions"] and "shelve" in first["allowed_actions"]
    body = harness.get("op", RECORDS, params={"sort": "priority", "priority": ["critical", "low"]}).json()
    assert [a["tag"] for a in body["items"]] == ["TT-201", "PT-101"]
    body = harness.get("op", RECORDS, params={"area": "reaction_unit", "scope": "active"}).json()
    assert [a["tag"] for a in body["items"]] == ["TT-201"]
    start = (harness.t0 - timedelta(minutes=25)).isoformat()
    body = harness.get("op", RECORDS, params={"start": start, "tag": ["PT-101", "TT-201"]}).json()
    assert [a["tag"] for a in body["items"]] == ["TT-201"]
    assert harness.get("nobody", RECORDS).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "password"},
        {"state": "panic"},
        {"priority": "urgent"},
        {"page": 0},
        {"size": 10_000},
        {"scope": "everything"},
        {"start": "2026-11-28T08:00:00"},  # no time zone
        {"end": "yesterday"},
    ],
)
def test_bad_list_parameters_are_422(harness: Harness, params: dict[str, Any]):
    assert harness.get("op", RECORDS, params=params).status_code == 422


def test_acknowledge_then_illegal_second_ack_is_409_with_the_allowed_actions(harness: Harness):
    pk = harness.event("PT-101", 5)
    assert harness.post("gov", f"{RECORDS}/{pk}/ack").status_code == 403  # regulators only look
    response = harness.post("op", f"{RECORDS}/{pk}/ack", json={"comment": "已通知外操"})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "ack_active" and response.json()["acked_by"] == "op"
    again = harness.post("op", f"{RECORDS}/{pk}/ack")
    assert again.status_code == 409
    assert "shelve" in again.json()["detail"] and "已确认-报警中" in again.json()["detail"]
    detail = harness.get("gov", f"{RECORDS}/{pk}").json()
    assert [(t["trigger"], t["actor"], t["comment"]) for t in detail["transitions"]] == [
        ("process_active", "process", "PT-101 高报"),
        ("ack", "op", "已通知外操"),
    ]
    assert detail["transitions"][1]["trigger_label"] == "确认"


def test_unknown_record_is_404_everywhere(harness: Harness):
    assert harness.get("op", f"{RECORDS}/999").status_code == 404
    for path in ("ack", "unshelve", "comments", "disposal", "disposal/close"):
        assert harness.post("boss", f"{RECORDS}/999/{path}", json={"text": "x"}).status_code == 404, path
    assert harness.post("op", f"{RECORDS}/999/shelve", json={"minutes": 5, "reason": "x"}).status_code == 404
    assert harness.get("op", f"{RECORDS}/abc").status_code == 422


def test_shelve_and_unshelve(harness: Harness):
    pk = harness.event("PT-101", 5)
    for bad in (
        {"minutes": 30},  # no reason
        {"reason": "检修"},  # neither until nor minutes
        {"minutes": 30, "until": (harness.t0 + timedelta(hours=1)).isoformat(), "reason": "检修"},
        {"minutes": 24 * 60 + 1, "reason": "检修"},
        {"until": "2026-11-28T10:00:00", "reason": "检修"},  # naive
        {"until": (harness.t0 - timedelta(hours=1)).isoformat(), "reason": "检修"},  # past
    ):
        assert harness.post("op", f"{RECORDS}/{pk}/shelve", json=bad).status_code == 422, bad
    response = harness.post("op", f"{RECORDS}/{pk}/shelve", json={"minutes": 30, "reason": "仪表检修"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (
        body["state"] == "shelved"
        and body["shelve_reason"] == "仪表检修"
        and body["allowed_actions"]
        == [
            "remove_from_service",
            "shelve",
            "suppress",
            "unshelve",
        ]
    )
    assert harness.post("op", f"{RECORDS}/{pk}/ack").status_code == 409
    response = harness.post("op", f"{RECORDS}/{pk}/unshelve")
    assert response.status_code == 200 and response.json()["state"] == "unack_active"


def test_expired_shelf_is_not_listed_as_shelved(harness: Harness):
    pk = harness.event("PT-101", 5)
    until = utcnow() + timedelta(seconds=1)
    with harness.factory.begin() as session:
        alarm = alarms.get(session=session, alarm_pk=pk)
        alarms.shelve(
            session=session, alarm=alarm, actor="op", until=until, reason="短暂搁置", now=until - timedelta(seconds=2)
        )
    with harness.factory.begin() as session:  # the clock moves on past the shelf
        alarms.expire_shelving(session=session, now=until)
    body = harness.get("op", RECORDS).json()
    assert body["items"][0]["state"] == "unack_active"


def test_comments_disposal_and_closure_by_the_safety_manager(harness: Harness):
    pk = harness.event("PT-101", 10)
    assert harness.post("op", f"{RECORDS}/{pk}/comments", json={"text": ""}).status_code == 422
    response = harness.post("op", f"{RECORDS}/{pk}/comments", json={"text": "现场确认压力表读数一致"})
    assert response.status_code == 201 and response.json()["author"] == "op"
    assert harness.post("gov", f"{RECORDS}/{pk}/comments", json={"text": "x"}).status_code == 403
    response = harness.post(
        "op", f"{RECORDS}/{pk}/disposal", json={"cause": "进料阀开度过大", "measures": "关小进料阀"}
    )
    assert response.status_code == 200 and response.json()["status_label"] == "处置中"
    assert harness.post("op", f"{RECORDS}/{pk}/disposal/close").status_code == 403  # operators do not close
    blocked = harness.post("boss", f"{RECORDS}/{pk}/disposal/close")
    assert blocked.status_code == 409 and "仍在持续" in blocked.json()["detail"]
    harness.event("PT-101", 1, state="returned")
    response = harness.post("boss", f"{RECORDS}/{pk}/disposal/close", json={"note": "措施有效"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["closed_by"]) == ("closed", "boss")
    assert harness.post("op", f"{RECORDS}/{pk}/disposal", json={"cause": "改"}).status_code == 409
    detail = harness.get("op", f"{RECORDS}/{pk}").json()
    assert detail["disposal_status"] == "closed" and detail["disposal"]["measures"] == "关小进料阀"
    assert [c["text"] for c in detail["comments"]] == ["现场确认压力表读数一致"]


def test_attachments_upload_and_download(harness: Harness, tmp_path: Path):
    pk = harness.event("PT-101", 10)
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    response = harness.post("op", f"{RECORDS}/{pk}/attachments", files={"file": ("现场照片.jpg", photo, "image/jpeg")})
    assert response.status_code == 201, response.text
    meta = response.json()
    assert meta["filename"] == "现场照片.jpg" and meta["size"] == len(photo) and meta["uploaded_by"] == "op"
    assert list((tmp_path / "uploads").rglob(meta["sha256"]))  # stored under its hash, not its name
    download = harness.get("gov", f"{RECORDS}/{pk}/attachments/{meta['id']}")
    assert download.status_code == 200 and download.content == photo
    assert download.headers["content-type"] == "image/jpeg"
    assert harness.get("gov", f"{RECORDS}/{pk}/attachments/999").status_code == 404
    refused = harness.post(
        "op", f"{RECORDS}/{pk}/attachments", files={"file": ("run.exe", b"MZ", "application/x-msdownload")}
    )
    assert refused.status_code == 422 and ".pdf" in refused.json()["detail"]
    assert harness.post("op", f"{RECORDS}/{pk}/attachments").status_code == 422  # no file
    assert harness.get("op", f"{RECORDS}/{pk}").json()["attachments"][0]["sha256"] == meta["sha256"]


def test_kpis(harness: Harness):
    for i in range(12):
        harness.event(f"PT-{i:03d}", 30 - i * 0.5)
    response = harness.get("gov", "/api/v1/alarm-kpis")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["annunciated"] == 12 and body["positions"][0]["area"] == "tank_farm"
    assert body["hours"] == 24 and len(body["top10"]) == 10 and body["targets"]["peak_10min_max"] == 10
    assert body["floods"] and body["floods"][0]["annunciated"] >= 11
    now = datetime.now(UTC)
    params = {"start": now.isoformat(), "end": (now - timedelta(hours=1)).isoformat()}
    assert harness.get("gov", "/api/v1/alarm-kpis", params=params).status_code == 422
    assert harness.get("gov", "/api/v1/alarm-kpis", params={"start": "2026-11-28T08:00:00"}).status_code == 422


def test_active_alarms_are_the_registers_truth_shelved_hidden_unacknowledged_returns_kept(harness: Harness):
    from api.routers.alarms import router as live_alarms

    harness.client.app.include_router(live_alarms, dependencies=[Depends(get_current_user)])  # type: ignore[attr-defined]
    shelved = harness.event("PT-101", 5)
    harness.event("TT-201", 4, priority="critical")
    harness.event("LT-301", 3)
    harness.event("LT-301", 2, state="returned")  # returned, never acknowledged: still shown
    harness.event("FT-401", 2)
    harness.event("FT-401", 1, state="returned")
    ack = harness.get("op", RECORDS, params={"tag": ["FT-401"]}).json()["items"][0]["id"]
    assert harness.post("op", f"{RECORDS}/{ack}/ack", json={}).status_code == 200  # acknowledged and returned: normal
    assert (
        harness.post("op", f"{RECORDS}/{shelved}/shelve", json={"minutes": 30, "reason": "仪表检修"}).status_code == 200
    )
    body = harness.get("op", "/api/v1/alarms/active").json()
    assert [(a["source_id"], a["state"]) for a in body] == [("TT-201", "unack_active"), ("LT-301", "unack_rtn")]
    assert harness.get("nobody", "/api/v1/alarms/active").status_code == 401
