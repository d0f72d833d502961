"""Alarm register on SQLite and PostgreSQL: ISA-18.2 states, idempotent recording, disposal, queries, KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.alarm_states import InvalidShelve, InvalidTransition
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from registers.alarms import service as alarms
from registers.alarms.models import Alarm, AlarmTransition
from registers.framework.attachments import LocalStorage

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(
    tag: str, seconds: float, state: str = "active", kind: str = "H", priority: str = "high", value: float = 1.7
) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{tag}:{kind}",
        source_kind="tag",
        source_id=tag,
        kind=kind,
        priority=AlarmPriority(priority),
        state=AlarmState(state),
        ts=int(at(seconds).timestamp() * 1000),
        value=value,
        limit=1.6,
        message=f"{tag} 压力高",
    )


def record(session: Session, event: AlarmEvent, area: str | None = "tank_farm") -> Alarm | None:
    return alarms.record_event(session=session, event=event, area=area)


def journal(alarm: Alarm) -> list[tuple[str, str, str, str]]:
    return [(t.trigger, t.from_state, t.to_state, t.actor) for t in alarm.transitions]


def test_raise_acknowledge_return_is_journalled_with_who_and_when(session: Session):
    alarm = record(session, ev("PT-101", 0))
    assert alarm is not None and alarm.state == "unack_active" and alarm.area == "tank_farm"
    alarms.acknowledge(session=session, alarm=alarm, actor="zhangsan", now=at(45))
    assert (alarm.state, alarm.acked_by, alarm.acked_at, alarm.ack_delay_s) == ("ack_active", "zhangsan", at(45), 45.0)
    assert record(session, ev("PT-101", 90, "returned")) is alarm
    assert alarm.state == "normal" and alarm.returned_at == at(90) and alarm.cleared_at == at(90)
    assert journal(alarm) == [
        ("process_active", "normal", "unack_active", "process"),
        ("ack", "unack_active", "ack_active", "zhangsan"),
        ("process_return", "ack_active", "normal", "process"),
    ]
    assert [t.at for t in alarm.transitions] == [at(0), at(45), at(90)]


def test_replayed_and_out_of_date_events_change_nothing(session: Session):
    events = [ev("PT-101", 0), ev("PT-101", 10, "returned"), ev("PT-101", 20), ev("TT-201", 5, kind="HH")]
    for event in events:
        record(session, event)
    before = session.scalar(select(func.count()).select_from(AlarmTransition))
    for event in events:  # at-least-once delivery: the whole stream again
        assert record(session, event) is None
    assert record(session, ev("PT-101", 15, "returned")) is None  # older than the newest event: stale
    assert session.scalar(select(func.count()).select_from(AlarmTransition)) == before == 4
    assert session.scalar(select(func.count()).select_from(Alarm)) == 2
    assert record(session, ev("LT-301", 0, "returned")) is None  # a return with nothing to return from


def test_unacknowledged_reactivation_stays_one_occurrence_and_chattering_is_flagged(session: Session):
    for i in range(3):
        alarm = record(session, ev("PT-101", i * 15))
        record(session, ev("PT-101", i * 15 + 5, "returned"))
    assert alarm is not None
    assert session.scalar(select(func.count()).select_from(Alarm)) == 1
    assert alarm.activation_count == 3 and alarm.chattering and alarm.state == "unack_rtn"
    alarms.acknowledge(session=session, alarm=alarm, actor="op1", now=at(60))
    assert alarm.state == "normal"
    newer = record(session, ev("PT-101", 600))
    assert newer is not None and newer.id != alarm.id and not newer.chattering
    with pytest.raises(alarms.NotCurrent):
        alarms.shelve(session=session, alarm=alarm, actor="op1", until=at(3600), reason="x", now=at(601))


def test_acknowledging_an_acknowledged_alarm_is_refused(session: Session):
    alarm = record(session, ev("PT-101", 0))
    assert alarm is not None
    alarms.acknowledge(session=session, alarm=alarm, actor="op1", now=at(1))
    with pytest.raises(InvalidTransition, match="shelve"):
        alarms.acknowledge(session=session, alarm=alarm, actor="op2", now=at(2))
    assert len(alarm.transitions) == 2


def test_shelved_alarm_tracks_the_process_and_comes_back_in_the_right_state(session: Session):
    alarm = record(session, ev("PT-101", 0))
    assert alarm is not None
    alarms.acknowledge(session=session, alarm=alarm, actor="op1", now=at(10))
    with pytest.raises(InvalidShelve):
        alarms.shelve(session=session, alarm=alarm, actor="op1", until=at(5), reason="past", now=at(20))
    alarms.shelve(session=session, alarm=alarm, actor="op1", until=at(3600), reason="仪表检修", now=at(20))
    assert (alarm.state, alarm.shelved_by, alarm.shelve_reason) == ("shelved", "op1", "仪表检修")
    record(session, ev("PT-101", 100, "returned"))  # condition clears and comes back, unseen
    record(session, ev("PT-101", 200))
    assert alarm.state == "shelved" and alarm.underlying_state == "unack_active"
    assert alarm.activation_count == 2
    assert alarms.unacknowledged_older_than(session=session, minutes=0, now=at(300)) == []  # hidden: no escalation
    assert alarms.expire_shelving(session=session, now=at(3599)) == []
    assert alarms.expire_shelving(session=session, now=at(3600)) == [alarm]
    assert alarm.state == "unack_active" and alarm.shelved_until is None and alarm.unacked_since == at(3600)
    assert journal(alarm)[-1] == ("shelve_expired", "shelved", "unack_active", "system")
    # escalation counts from when the operator could see it, not from when it was raised
    assert alarms.unacknowledged_older_than(session=session, minutes=5, now=at(3600 + 299)) == []
    assert alarms.unacknowledged_older_than(session=session, minutes=5, now=at(3600 + 300)) == [alarm]


def test_unshelve_before_time(session: Session):
    alarm = record(session, ev("PT-101", 0))
    assert alarm is not None
    alarms.shelve(session=session, alarm=alarm, actor="op1", until=at(600), reason="误报", now=at(1))
    record(session, ev("PT-101", 30, "returned"))
    alarms.unshelve(session=session, alarm=alarm, actor="op2", comment="恢复监视", now=at(60))
    assert alarm.state == "unack_rtn"
    with pytest.raises(InvalidTransition):
        alarms.unshelve(session=session, alarm=alarm, actor="op2", now=at(61))


def test_list_filters_sorts_and_pages(session: Session):
    record(session, ev("PT-101", 0, priority="low"))
    record(session, ev("TT-201", 10, kind="HH", priority="critical"), area="reaction_unit")
    record(session, ev("LT-301", 20, kind="L", priority="medium"))
    done = record(session, ev("FT-401", 30, priority="high"))
    assert done is not None
    alarms.acknowledge(session=session, alarm=done, actor="op1", now=at(31))
    record(session, ev("FT-401", 40, "returned"))

    def ids(**kw: object) -> list[str]:
        items, total = alarms.list_alarms(session=session, query=alarms.AlarmQuery(**kw))  # type: ignore[arg-type]
        return [a.source_id for a in items]

    assert ids() == ["FT-401", "LT-301", "TT-201", "PT-101"]
    assert ids(sort="priority") == ["TT-201", "FT-401", "LT-301", "PT-101"]
    assert ids(scope="active", sort="raised_at") == ["PT-101", "TT-201", "LT-301"]
    assert ids(scope="history") == ["FT-401"]
    assert ids(areas=["reaction_unit"]) == ["TT-201"]
    assert ids(priorities=["low", "medium"], sort="tag") == ["LT-301", "PT-101"]
    assert ids(states=["normal"]) == ["FT-401"]
    assert ids(tags=["PT-101"]) == ["PT-101"]
    assert ids(start=at(10), end=at(30)) == ["LT-301", "TT-201"]
    items, total = alarms.list_alarms(session=session, query=alarms.AlarmQuery(page=2, size=3))
    assert total == 4 and [a.source_id for a in items] == ["PT-101"]
    assert ids(sort="-acked_at")[0] == "FT-401"  # nulls last in both directions
    with pytest.raises(ValueError, match="sort"):
        ids(sort="password")


def test_disposal_closed_loop(session: Session):
    alarm = record(session, ev("PT-101", 0))
    assert alarm is not None
    with pytest.raises(alarms.DisposalConflict):
        alarms.close_disposal(session=session, alarm=alarm, actor="boss")
    disposal = alarms.open_disposal(session=session, alarm=alarm, actor="op1", cause="", measures="", now=at(60))
    assert (disposal.handler, disposal.status) == ("op1", "open")
    with pytest.raises(alarms.DisposalConflict, match="原因分析"):
        alarms.close_disposal(session=session, alarm=alarm, actor="boss")
    alarms.open_disposal(
        session=session, alarm=alarm, actor="op1", cause="调节阀卡涩", measures="切换旁路，联系仪表检修", handler="lisi"
    )
    with pytest.raises(alarms.DisposalConflict, match="仍在持续"):
        alarms.close_disposal(session=session, alarm=alarm, actor="boss")
    record(session, ev("PT-101", 120, "returned"))
    closed = alarms.close_disposal(session=session, alarm=alarm, actor="boss", note="已复核", now=at(300))
    assert (closed.status, closed.closed_by, closed.handler, closed.cause) == ("closed", "boss", "lisi", "调节阀卡涩")
    with pytest.raises(alarms.DisposalConflict, match="闭环"):
        alarms.open_disposal(session=session, alarm=alarm, actor="op1", cause="改口")
    alarms.comment(session=session, alarm=alarm, author="op1", text="交接班已说明")
    loaded = alarms.get_detail(session=session, alarm_pk=alarm.id)
    assert loaded.disposal is closed and [c.text for c in loaded.comments] == ["交接班已说明"]


def test_attachments_are_stored_by_hash_and_checked(session: Session, tmp_path: Path):
    alarm = record(session, ev("PT-101", 0))
    assert alarm is not None
    storage = LocalStorage(tmp_path / "uploads")
    photo = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    row = alarms.add_attachment(
        session=session,
        alarm=alarm,
        storage=storage,
        filename="../../现场 照片.png",
        content=photo,
        content_type="image/png",
        actor="op1",
    )
    assert row.filename == "现场_照片.png" and row.size == len(photo)
    assert storage.get(row.stored_path) == photo
    for name, content in [("x.exe", b"MZ"), ("empty.pdf", b"")]:
        with pytest.raises(alarms.AttachmentRefused):
            alarms.add_attachment(
                session=session,
                alarm=alarm,
                storage=storage,
                filename=name,
                content=content,
                content_type=None,
                actor="op1",
            )
    with pytest.raises(alarms.AttachmentRefused) as err:
        big = b"0" * (alarms.MAX_ATTACHMENT_BYTES + 1)
        alarms.add_attachment(
            session=session,
            alarm=alarm,
            storage=storage,
            filename="big.pdf",
            content=big,
            content_type=None,
            actor="op1",
        )
    assert err.value.too_large


def test_kpis_count_load_floods_chattering_standing_and_ack_time(session: Session):
    # a flood: 12 different alarms within 10 minutes in the tank farm
    for i in range(12):
        record(session, ev(f"PT-{i:03d}", 7200 + i * 30))
    # chattering: one alarm annunciates 4 times within a minute
    for i in range(4):
        record(session, ev("LT-301", 9000 + i * 10, kind="L"), area="reaction_unit")
        record(session, ev("LT-301", 9000 + i * 10 + 5, "returned", kind="L"), area="reaction_unit")
    # standing: active since a day and a half before the end, acknowledged after 2 minutes
    standing = record(session, ev("TT-999", -86_400, kind="HH"), area="reaction_unit")
    assert standing is not None
    alarms.acknowledge(session=session, alarm=standing, actor="op1", now=at(-86_400 + 120))
    # a shelved re-activation is not operator load
    shelved = record(session, ev("FT-401", 10_000), area="reaction_unit")
    assert shelved is not None
    alarms.shelve(session=session, alarm=shelved, actor="op1", until=at(13_000), reason="检修", now=at(10_001))
    record(session, ev("FT-401", 10_010, "returned"), area="reaction_unit")
    record(session, ev("FT-401", 10_020), area="reaction_unit")

    k = alarms.kpis(session=session, start=T0, end=at(4 * 3600), now=at(12 * 3600))
    assert k.annunciated == 12 + 4 + 1
    assert {p.area: (p.annunciated, p.peak_10min) for p in k.positions} == {
        "tank_farm": (12, 12),
        "reaction_unit": (5, 4),
    }
    assert k.peak_10min == 12 and k.per_hour_avg == round(17 / 4 / 2, 3)
    assert [(f.area, f.start, f.end, f.annunciated) for f in k.floods] == [("tank_farm", at(7200), at(7800), 12)]
    assert k.flood_time_share == round(600 / (4 * 3600), 4)
    assert k.top10[0].alarm_id == "LT-301:L" and k.top10[0].count == 4 and len(k.top10) == 10
    assert [(c.alarm_id, c.max_per_minute) for c in k.chattering] == [("LT-301:L", 4)]
    assert [s.alarm_id for s in k.standing] == ["TT-999:HH"]
    assert k.acked == 0  # acknowledged before the period
    whole = alarms.kpis(session=session, start=at(-2 * 86_400), end=at(4 * 3600), now=at(12 * 3600))
    assert whole.acked == 1 and whole.ack_median_s == 120.0
    assert whole.targets["peak_10min_max"] == 10
    with pytest.raises(ValueError, match="end"):
        alarms.kpis(session=session, start=T0, end=T0)
