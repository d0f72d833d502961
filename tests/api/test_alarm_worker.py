"""The embedded alarm worker: every event reaches the alarm register; held ones notify nobody."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from api.alarm_worker import AlarmWorker, area_lookup
from api.runtime import HELD_ALARM_STREAM
from api.settings import Settings
from connectors.bus.memory import Bus
from models.alarm_states import AlarmStatus
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from registers.alarms import service as alarms
from registers.db import make_engine, make_session_factory
from registers.notifications.models import NotificationDelivery
from tests.connectors.test_notify import LocalHttpReceiver
from tests.db_fixtures import migrate_registers
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
    migrate_registers(url)
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
    migrate_registers(url)
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


def _register_with_busy_timeout(url: str, busy_ms: int) -> sessionmaker[Session]:
    """The registers' own engine, but giving up on a lock after ``busy_ms`` (production waits 30 s)."""
    engine = make_engine(url)

    @sa_event.listens_for(engine, "connect")
    def _short_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_ms}")

    return make_session_factory(engine)


@pytest.mark.parametrize("busy_ms", [30_000, 200], ids=["waits-on-the-lock", "lock-outlasts-busy-timeout"])
def test_every_event_is_recorded_while_the_register_is_locked_for_10_s(tmp_path: Path, busy_ms: int) -> None:
    """Issue 13: during a 10 s write lock (a long migration, a backup) the worker used to log
    "recording N alarm events failed … database is locked" and drop them: returns to normal were
    in the store but the register kept the alarms active. Now it holds them until the lock goes."""
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    migrate_registers(url)
    factory = _register_with_busy_timeout(url, busy_ms)
    bus = Bus()
    worker = AlarmWorker(
        bus, factory, load_plant(), Settings(environment="test", data_dir=tmp_path), housekeeping_s=3600
    )
    worker.start()
    locker = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # no other connection may write (or, in WAL, commit) now
        locked_at = time.monotonic()
        tags = ["PT-101", "LT-102", "TT-103", "TT-401", "GT-201"]
        for i, tag in enumerate(tags):
            bus.publish("alarm.event", event(tag, 1_000 + i))
        time.sleep(2)
        bus.publish("alarm.event", _returned(event("PT-101", 5_000)))  # PT-101 back to normal, unacknowledged
        time.sleep(max(0.0, 10 - (time.monotonic() - locked_at)))
        assert worker.recorded == 0  # nothing could be written: the lock really held
        locker.execute("COMMIT")
        deadline = time.monotonic() + 15
        while worker.recorded < len(tags) + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        locker.close()
        worker.stop()
    assert worker.errors == 0
    if busy_ms < 1000:
        assert worker.retries > 0  # the lock outlasted the busy timeout: the worker retried
    with factory() as session:
        rows, total = alarms.list_alarms(session=session, query=alarms.AlarmQuery(scope="all"))
    states = {r.source_id: r.state for r in rows}
    assert total == len(tags), states
    assert set(states) == set(tags)
    assert states["PT-101"] == AlarmStatus.UNACK_RTN.value  # its return is recorded too


def _returned(active: AlarmEvent) -> AlarmEvent:
    return msgspec.structs.replace(active, state=AlarmState.RETURNED, value=0.1)
