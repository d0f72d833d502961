"""Notification register on SQLite and PostgreSQL: roster, rules, dispatcher with retries, escalation.

Channels are the real ones, posting to a local HTTP receiver; only the clock is moved (the
``now`` argument) and the back-off sleep is recorded instead of slept.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.auth import create_token
from api.routers.notifications import router
from api.settings import Settings
from connectors.notify import Channel, ChannelKind, SmsGatewayChannel, WeComRobotChannel
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from models.notify_rules import LOCAL_TZ
from registers.db import Base, make_engine, make_session_factory
from registers.notifications import service as notifications
from registers.notifications.models import NotifiedAlarm
from registers.notifications.schemas import (
    NotifyRuleCreate,
    NotifyRuleUpdate,
    RosterEntryCreate,
    RosterEntryRead,
    RosterEntryUpdate,
)
from registers.users import service as users
from tests.connectors.test_notify import LocalHttpReceiver
from tests.db_fixtures import migrate_registers

NOON = datetime(2026, 11, 28, 12, tzinfo=LOCAL_TZ).astimezone(UTC)
MY_TABLES = {"notify_rules", "duty_roster", "notified_alarms", "notification_deliveries"}


@pytest.fixture
def sms() -> Iterator[LocalHttpReceiver]:
    server = LocalHttpReceiver(default=(200, {"code": 0})).start()
    yield server
    server.stop()


@pytest.fixture
def wecom() -> Iterator[LocalHttpReceiver]:
    server = LocalHttpReceiver().start()
    yield server
    server.stop()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def notifier(sms: LocalHttpReceiver, wecom: LocalHttpReceiver) -> Iterator[notifications.Notifier]:
    channels: dict[ChannelKind, Channel] = {
        ChannelKind.SMS: SmsGatewayChannel(f"{sms.url}/sms", success_path="code", success_value=0),
        ChannelKind.WECOM: WeComRobotChannel(f"{wecom.url}/cgi-bin/webhook/send?key=k1"),
    }
    yield notifications.Notifier(channels=channels, sleep=Sleeps(), area_of=lambda e: "tank_farm")
    for channel in channels.values():
        channel.close()


def alarm(ts: datetime = NOON, priority: AlarmPriority = AlarmPriority.HIGH, **kw: object) -> AlarmEvent:
    fields: dict[str, object] = {
        "alarm_id": "PT-101:HH",
        "source_kind": "tag",
        "source_id": "PT-101",
        "kind": "HH",
        "priority": priority,
        "state": AlarmState.ACTIVE,
        "ts": int(ts.timestamp() * 1000),
        "value": 1.82,
        "limit": 1.75,
        "message": "液氯储罐压力高高",
    }
    fields.update(kw)
    return AlarmEvent(**fields)  # type: ignore[arg-type]


def seed(session: Session) -> None:
    """A plant roster: day operator, shift leader, safety manager (day only), and one rule."""
    for person, role, start, end, addresses in (
        ("张三", "operator", 8, 20, {"sms": "13800000001"}),
        ("李四", "operator", 20, 8, {"sms": "13800000002"}),
        ("王班长", "shift_leader", 8, 8, {"sms": "13800000003", "wecom": "13800000003"}),
        ("赵安全", "safety_manager", 8, 18, {"sms": "13800000004"}),
    ):
        notifications.create_roster_entry(
            session=session,
            data=RosterEntryCreate(
                person=person,
                role=role,
                shift_start=time(start),
                shift_end=time(end),
                addresses=addresses,  # type: ignore[arg-type]
            ),
            actor="admin",
        )
    notifications.create_rule(
        session=session,
        data=NotifyRuleCreate(name="储罐区报警", areas=["tank_farm"], roles=["operator"], channels=["sms"]),  # type: ignore[list-item]
        actor="admin",
    )


def test_migration_matches_the_models(session: Session) -> None:
    context = MigrationContext.configure(session.connection())
    diffs = [d for d in compare_metadata(context, Base.metadata) if _table_of(d) in MY_TABLES]
    assert diffs == []


def _table_of(diff: object) -> str | None:
    """The table an Alembic diff is about: ("add_table", Table), ("add_index", Index), or a
    list of ("modify_type", schema, table_name, column_name, ...)."""
    item = diff[0] if isinstance(diff, list) else diff
    assert isinstance(item, tuple)
    for part in item[1:]:
        if isinstance(part, str) and part in MY_TABLES:
            return part
        table = getattr(part, "table", part)
        name = getattr(table, "name", None)
        if isinstance(name, str) and name in MY_TABLES:
            return name
    return None


def test_roster_and_rule_crud(session: Session) -> None:
    seed(session)
    rows, total = notifications.list_roster(session=session, role="operator")
    assert total == 2 and [r.person for r in rows] == ["张三", "李四"]
    entry = rows[0]
    notifications.update_roster_entry(
        session=session,
        entry=entry,
        data=RosterEntryUpdate(area="reaction", addresses={"email": "zs@plant.cn"}),
        actor="lead",  # type: ignore[dict-item]
    )
    assert (entry.area, entry.addresses, entry.updated_by) == ("reaction", {"email": "zs@plant.cn"}, "lead")
    notifications.update_roster_entry(session=session, entry=entry, data=RosterEntryUpdate(area=""))
    assert entry.area is None
    notifications.delete_roster_entry(session=session, entry=entry)
    assert notifications.list_roster(session=session)[1] == 3

    [rule] = notifications.list_rules(session=session)
    with pytest.raises(notifications.NameTaken):
        notifications.create_rule(
            session=session,
            data=NotifyRuleCreate(name="储罐区报警", roles=["operator"], channels=["sms"]),  # type: ignore[list-item]
        )
    notifications.update_rule(session=session, rule=rule, data=NotifyRuleUpdate(min_priority=AlarmPriority.CRITICAL))
    assert notifications.to_rule(rule).min_priority is AlarmPriority.CRITICAL
    with pytest.raises(notifications.NotFound):
        notifications.get_rule(session=session, rule_id=9999)


def test_bad_addresses_are_refused_with_a_field_message() -> None:
    with pytest.raises(ValidationError, match="mobile number"):
        RosterEntryCreate(
            person="x", role="operator", shift_start=time(8), shift_end=time(20), addresses={"sms": "abc"}
        )  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="e-mail"):
        RosterEntryCreate(
            person="x", role="operator", shift_start=time(8), shift_end=time(20), addresses={"email": "x"}
        )  # type: ignore[dict-item]
    with pytest.raises(ValidationError):
        NotifyRuleCreate(name="r", roles=["operator"], channels=["pager"])  # type: ignore[list-item]


def test_failing_gateway_is_retried_with_back_off_and_every_attempt_logged(
    session: Session, notifier: notifications.Notifier, sms: LocalHttpReceiver
) -> None:
    seed(session)
    sms.answers = [(500, {"error": "busy"}), (200, {"code": 0})]
    rows = notifications.dispatch(session=session, notifier=notifier, event=alarm(), now=NOON)

    assert [(r.recipient, r.channel, r.attempt, r.status, r.status_code) for r in rows] == [
        ("张三", "sms", 1, "failed", 500),
        ("张三", "sms", 2, "sent", 200),
    ]
    assert rows[0].error == "HTTP 500"
    assert notifier.sleep == [1.0]  # type: ignore[comparison-overlap]
    assert [r.json()["phone"] for r in sms.requests] == ["13800000001", "13800000001"]
    text = sms.requests[-1].json()["text"]
    assert "液氯储罐压力高高" in text and "2026-11-28 12:00:00" in text and "tank_farm" in text

    logged, total = notifications.list_deliveries(session=session, alarm_id="PT-101:HH")
    assert total == 2 and [r.attempt for r in logged] == [2, 1]  # newest first


def test_retries_stop_at_the_limit_and_at_permanent_errors(
    session: Session, notifier: notifications.Notifier, sms: LocalHttpReceiver
) -> None:
    seed(session)
    sms.default = (503, {"error": "down"})
    rows = notifications.dispatch(session=session, notifier=notifier, event=alarm(), now=NOON)
    assert [r.status for r in rows] == ["failed"] * 3
    assert notifier.sleep == [1.0, 2.0]  # type: ignore[comparison-overlap]

    sms.default = (400, {"error": "bad template"})
    rows = notifications.dispatch(
        session=session, notifier=notifier, event=alarm(NOON + timedelta(minutes=1)), now=NOON
    )
    assert [r.status for r in rows] == ["failed"]  # a 400 will not heal by retrying


def test_replayed_event_notifies_nobody_twice_and_gaps_are_logged(
    session: Session, notifier: notifications.Notifier, sms: LocalHttpReceiver
) -> None:
    seed(session)
    event = alarm()
    assert len(notifications.dispatch(session=session, notifier=notifier, event=event, now=NOON)) == 1
    assert notifications.dispatch(session=session, notifier=notifier, event=event, now=NOON) == []
    assert len(sms.requests) == 1

    # an alarm in an area no rule covers is logged as unrouted, not dropped
    [row] = notifications.dispatch(
        session=session,
        notifier=notifier,
        event=alarm(alarm_id="TT-201:H", source_id="TT-201"),
        area="warehouse",
        now=NOON,
    )
    assert (row.status, row.recipient, row.alarm_id) == ("unrouted", "", "TT-201:H")
    assert notifications.list_deliveries(session=session, status="unrouted")[1] == 1


def test_escalation_after_n_and_m_minutes_with_a_moved_clock(
    session: Session, notifier: notifications.Notifier, sms: LocalHttpReceiver, wecom: LocalHttpReceiver
) -> None:
    seed(session)
    acknowledged: set[str] = set()
    notifications.dispatch(session=session, notifier=notifier, event=alarm(), now=NOON)
    sms.requests.clear()

    def run(minutes: float) -> list[tuple[int, str, str]]:
        rows = notifications.escalate(
            session=session,
            notifier=notifier,
            is_acknowledged=acknowledged.__contains__,
            now=NOON + timedelta(minutes=minutes),
        )
        return [(r.level, r.recipient, r.channel) for r in rows if r.status == "sent"]

    assert run(4.9) == []
    assert run(5) == [(2, "王班长", "sms"), (2, "王班长", "wecom")]
    assert run(6) == []  # each level once
    assert run(15) == [(3, "赵安全", "sms")]
    assert run(60) == []

    [to_leader] = [r.json() for r in sms.requests if r.json()["phone"] == "13800000003"]
    assert "升级" in to_leader["text"] and "5 分钟" in to_leader["text"]
    assert wecom.requests[0].json()["text"]["mentioned_mobile_list"] == ["13800000003"]
    levels = {(r.level, r.recipient) for r in notifications.list_deliveries(session=session, alarm_id="PT-101:HH")[0]}
    assert levels == {(1, "张三"), (2, "王班长"), (3, "赵安全")}


def test_acknowledged_alarm_never_escalates_and_off_shift_level_is_logged(
    session: Session, notifier: notifications.Notifier
) -> None:
    seed(session)
    acknowledged = {"PT-101:HH"}
    notifications.dispatch(session=session, notifier=notifier, event=alarm(), now=NOON)
    rows = notifications.escalate(
        session=session, notifier=notifier, is_acknowledged=acknowledged.__contains__, now=NOON + timedelta(minutes=30)
    )
    assert rows == []
    tracked = session.query(NotifiedAlarm).one()
    assert tracked.resolved_at is not None and tracked.level == 1

    # at 19:00 local the safety manager (08-18) is off shift: level 3 reaches nobody, and says so
    evening = datetime(2026, 11, 28, 19, tzinfo=LOCAL_TZ).astimezone(UTC)
    notifications.dispatch(session=session, notifier=notifier, event=alarm(evening, alarm_id="LT-301:LL"), now=evening)
    rows = notifications.escalate(
        session=session, notifier=notifier, is_acknowledged=lambda _: False, now=evening + timedelta(minutes=16)
    )
    assert [(r.level, r.recipient, r.channel, r.status) for r in rows] == [
        (2, "王班长", "sms", "sent"),
        (2, "王班长", "wecom", "sent"),
        (3, "", "", "unrouted"),
    ]
    assert "赵安全" not in {
        r.recipient for r in notifications.list_deliveries(session=session, alarm_id="LT-301:LL")[0]
    }


def test_delivery_log_filters_and_pages(session: Session, notifier: notifications.Notifier) -> None:
    seed(session)
    for minute in range(5):
        notifications.dispatch(
            session=session, notifier=notifier, event=alarm(NOON + timedelta(minutes=minute)), now=NOON
        )
    page, total = notifications.list_deliveries(session=session, channel="sms", recipient="张三", limit=2, offset=2)
    assert total == 5 and len(page) == 2
    assert notifications.list_deliveries(session=session, status="failed")[1] == 0
    future = datetime.now(UTC) + timedelta(days=1)
    assert notifications.list_deliveries(session=session, since=future)[1] == 0


# --- HTTP routes (a tiny app with the router, SQLite) -------------------------------------------


def test_routes_edit_roster_and_read_the_delivery_log(tmp_path: Path, notifier: notifications.Notifier) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'n.db'}")
    migrate_registers(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        boss = users.create_user(
            session=session, username="boss", password="Chlorine-Tank-42", roles=["safety_manager"]
        )
        op = users.create_user(session=session, username="op", password="Chlorine-Tank-42", roles=["operator"])
        tokens = {u.username: {"Authorization": f"Bearer {create_token(settings, u)}"} for u in (boss, op)}
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(router)
    client = TestClient(app)

    entry = {
        "person": "张三",
        "role": "operator",
        "shift_start": "08:00",
        "shift_end": "20:00",
        "addresses": {"sms": "13800000001"},
    }
    created = client.post("/api/v1/notifications/roster", json=entry, headers=tokens["boss"])
    assert created.status_code == 201, created.text
    assert created.json()["person"] == "张三" and created.json()["addresses"] == {"sms": "13800000001"}
    assert client.post("/api/v1/notifications/roster", json=entry, headers=tokens["op"]).status_code == 403
    bad = client.post(
        "/api/v1/notifications/roster", json={**entry, "addresses": {"sms": "call me"}}, headers=tokens["boss"]
    )
    assert bad.status_code == 422 and "mobile number" in bad.text
    rule = {"name": "全厂", "roles": ["operator"], "channels": ["sms"]}
    assert client.post("/api/v1/notifications/rules", json=rule, headers=tokens["boss"]).status_code == 201
    assert client.post("/api/v1/notifications/rules", json=rule, headers=tokens["boss"]).status_code == 409
    assert client.patch("/api/v1/notifications/roster/999", json={}, headers=tokens["boss"]).status_code == 404

    with factory.begin() as session:
        notifications.dispatch(session=session, notifier=notifier, event=alarm(), now=NOON)
    page = client.get("/api/v1/notifications/deliveries", params={"status": "sent"}, headers=tokens["op"])
    assert page.status_code == 200, page.text
    assert page.json()["total"] == 1
    assert page.json()["items"][0] | {"sent_at": None, "elapsed_ms": None, "id": None} == {
        "id": None,
        "alarm_id": "PT-101:HH",
        "level": 1,
        "recipient": "张三",
        "role": "operator",
        "channel": "sms",
        "address": "13800000001",
        "attempt": 1,
        "status": "sent",
        "status_code": 200,
        "error": None,
        "response": '{"code": 0}',
        "title": "【高级报警】PT-101 HH",
        "sent_at": None,
        "elapsed_ms": None,
    }
    naive = client.get(
        "/api/v1/notifications/deliveries", params={"since": "2026-11-28T08:00:00"}, headers=tokens["op"]
    )
    assert naive.status_code == 422
    assert (
        client.get("/api/v1/notifications/deliveries", params={"channel": "pager"}, headers=tokens["op"]).status_code
        == 422
    )
    engine.dispose()


def test_shift_times_are_documented_as_the_wall_clock_times_the_api_sends() -> None:
    """OpenAPI said ``format: time`` (RFC 3339, with an offset) but the API sends ``08:00:00``.

    A client validating responses against the schema refused every roster line; the schema now
    says what is sent, and an offset is refused on update as it is on create.
    """
    for schema in (RosterEntryRead, RosterEntryCreate, RosterEntryUpdate):
        text = str(schema.model_json_schema())
        assert "'format': 'time'" not in text
    start = RosterEntryRead.model_json_schema()["properties"]["shift_start"]
    assert start["type"] == "string"
    assert "08:00:00" in start["examples"]
    with pytest.raises(ValidationError, match="不带时区"):
        RosterEntryUpdate.model_validate({"shift_start": "08:00:00+08:00"})
    assert RosterEntryUpdate.model_validate({"shift_end": "20:00"}).shift_end == time(20, 0)
