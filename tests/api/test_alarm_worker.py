"""The embedded alarm worker: every event reaches the alarm register; held ones notify nobody."""

from __future__ import annotations

import time
from pathlib import Path

from api.alarm_worker import AlarmWorker, area_lookup
from api.runtime import HELD_ALARM_STREAM
from api.settings import Settings
from connectors.bus.memory import Bus
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from registers.alarms import service as alarms
from registers.db import make_engine, make_session_factory, migrate
from registers.notifications.models import NotificationDelivery
from tests.connectors.test_notify import LocalHttpReceiver
from twin.plant import load_plant


def event(tag: str, ts: int, *, kind: str = "H", priority: AlarmPriority = AlarmPriority.MEDIUM) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{tag}:{kind}",
        source_kind="tag",
        source_id=tag,
        kind=kind,
        priority=priority,
        state=AlarmState.ACTIVE,
        ts=ts,
        value=1.0,
        limit=0.5,
        message=f"{tag} {kind}",
    )


def test_events_and_held_events_are_recorded_with_their_area(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrate(url)
    factory = make_session_factory(make_engine(url))
    bus = Bus()
    plant = load_plant()
    worker = AlarmWorker(bus, factory, plant, Settings(environment="test", data_dir=tmp_path), housekeeping_s=3600)
    worker.start()
    try:
        bus.publish("alarm.event", event("PT-101", 1_000))
        bus.publish(HELD_ALARM_STREAM, event("TT-401", 2_000))
        deadline = time.time() + 5
        while worker.recorded < 2 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert worker.recorded == 2 and worker.errors == 0
    with factory() as session:
        rows, total = alarms.list_alarms(session=session, query=alarms.AlarmQuery(scope="active"))
    assert total == 2
    assert {(r.source_id, r.area) for r in rows} == {("PT-101", "tank_farm"), ("TT-401", "reaction_unit")}


def test_a_flood_summary_is_filed_under_its_area() -> None:
    area_of = area_lookup(load_plant())
    summary = AlarmEvent(
        alarm_id="FLOOD:tank_farm",
        source_kind="asset",
        source_id="tank_farm",
        kind="FLOOD",
        priority=AlarmPriority.HIGH,
        state=AlarmState.ACTIVE,
        ts=1,
        message="flood",
    )
    assert area_of(summary) == "tank_farm"
    assert area_of(event("GT-201", 1)) == "tank_farm"


def test_held_events_notify_nobody_but_annunciated_ones_are_routed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    migrate(url)
    factory = make_session_factory(make_engine(url))
    robot = LocalHttpReceiver().start()
    try:
        settings = Settings(environment="test", data_dir=tmp_path, notify_wecom_url=f"{robot.url}/wecom?key=k")
        worker = AlarmWorker(Bus(), factory, load_plant(), settings, housekeeping_s=3600)
        assert list(worker.notifier.channels) == ["wecom"]
        worker.handle([event("PT-101", 1_000)], notify=False)
        with factory() as session:
            assert session.query(NotificationDelivery).count() == 0  # held back in a flood: nobody called
        worker.handle([event("PT-102", 2_000)])
        with factory() as session:
            # no duty roster in this database: the alarm is logged as reaching nobody, not dropped
            assert [d.status for d in session.query(NotificationDelivery)] == ["unrouted"]
    finally:
        robot.stop()
