"""Periodic 包保 reports issued on schedule and stored; missed duties escalated to the 主要负责人.

On SQLite and PostgreSQL (the ``session`` fixture), with the demo plant's four sources and a
real HTTP SMS gateway for the escalations.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from openpyxl import load_workbook
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from connectors.notify import Channel, ChannelKind, SmsGatewayChannel
from registers.db import Base
from registers.demo import load_demo
from registers.hazard_sources import reports
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.duty_notices import escalate_overdue_duties, notify_overdue_duties
from registers.hazard_sources.models import HazardSource, HazardSourceDuty, HazardSourceReport
from registers.hazard_sources.schemas import DutyCreate, DutyRole
from registers.notifications import service as notifications
from registers.notifications.schemas import RosterEntryCreate
from registers.people.models import Person
from tests.connectors.test_notify import LocalHttpReceiver
from tests.registers.on_duty import safety_manager_on_duty
from twin.plant import load_plant

NOW = datetime(2026, 12, 3, 2, tzinfo=UTC)  # 10:00 in Shanghai, a Thursday
PRINCIPAL = "王建国"  # the demo sources' 主要负责人


@pytest.fixture
def sms() -> Iterator[LocalHttpReceiver]:
    server = LocalHttpReceiver(default=(200, {"code": 0})).start()
    yield server
    server.stop()


def test_migration_matches_the_model(session: Session) -> None:
    context = MigrationContext.configure(session.connection(), opts={"compare_type": True})

    def about_reports(diff: object) -> bool:
        item = diff[0] if isinstance(diff, list) else diff
        assert isinstance(item, tuple)
        return any(
            part == "hazard_source_reports"
            or getattr(getattr(part, "table", None), "name", None) == "hazard_source_reports"
            or getattr(part, "name", None) == "hazard_source_reports"
            for part in item[1:]
        )

    assert [d for d in compare_metadata(context, Base.metadata) if about_reports(d)] == []


def demo_without_duties(session: Session, *, registered_days_ago: int = 40) -> None:
    """The demo sources, in the register for a while, nobody has recorded a duty and no report is issued yet."""
    load_demo(session=session, plant=load_plant(), today=NOW.date())
    session.execute(update(HazardSource).values(created_at=NOW - timedelta(days=registered_days_ago)))
    session.execute(update(HazardSourceDuty).values(deleted_at=NOW))
    session.execute(delete(HazardSourceReport))  # the demo issues its own months' reports
    session.flush()


def test_ended_months_are_issued_once_and_kept_as_issued(session: Session) -> None:
    demo_without_duties(session)  # registered on 24 October
    issued = reports.generate_due_reports(session=session, now=NOW)
    # October and November have ended and had sources; September had none yet
    assert [r.period for r in issued] == ["2026-10", "2026-11"]
    november = issued[1]
    assert (november.first, november.last) == (date(2026, 11, 1), date(2026, 11, 30))
    sources = session.scalar(select(func.count()).select_from(HazardSource).where(HazardSource.deleted_at.is_(None)))
    assert november.sources == sources == len(november.content["rows"])
    # November: 4 or 5 weekly operational periods and one monthly technical period per source, all missed
    assert november.done == 0 and november.overdue == november.required > 0
    roles = {c["role"] for c in november.content["overdue"]}
    assert roles == {DutyRole.TECHNICAL.value, DutyRole.OPERATIONAL.value}  # the quarter has not ended
    sheet = load_workbook(io.BytesIO(november.workbook))["考核汇总"]
    assert "2026-11-01 至 2026-11-30" in str(sheet["A1"].value)

    # the next rounds (same day, another replica, a day later) issue nothing new
    assert reports.generate_due_reports(session=session, now=NOW + timedelta(minutes=1)) == []
    assert reports.generate_due_reports(session=session, now=NOW + timedelta(days=1)) == []
    assert session.scalar(select(func.count()).select_from(HazardSourceReport)) == 2

    # a record filed late changes the on-request report, not the one issued on 1 December
    code = november.content["rows"][0]["code"]
    hazard_sources.duties.create(
        session=session,
        data=DutyCreate(
            hazard_source_code=code,
            role=DutyRole.TECHNICAL,
            person="李工",
            performed_on=date(2026, 11, 20),
            content="补录：检查液氯储罐区",
        ),
        actor="t",
    )
    fresh = hazard_sources.assessment_report(session=session, first=november.first, last=november.last)
    assert fresh.done == 1
    stored = reports.get_report(session=session, report_id=november.id)
    assert stored is not None and stored.done == 0 and stored.content["done"] == 0
    listed = reports.list_reports(session=session)
    assert [r.period for r in listed] == ["2026-11", "2026-10"]


def test_nothing_is_issued_before_any_source_exists(session: Session) -> None:
    assert reports.generate_due_reports(session=session, now=NOW) == []
    demo_without_duties(session, registered_days_ago=1)  # registered on 2 December
    assert reports.generate_due_reports(session=session, now=NOW) == []
    # January: December has ended with the sources in the register
    january = reports.generate_due_reports(session=session, now=datetime(2027, 1, 1, 1, tzinfo=UTC))
    assert [r.period for r in january] == ["2026-12"]


def test_due_months_cross_the_year() -> None:
    assert reports.due_months(date(2027, 1, 15), months=2) == [
        (date(2026, 11, 1), date(2026, 11, 30)),
        (date(2026, 12, 1), date(2026, 12, 31)),
    ]
    assert reports.due_months(date(2028, 3, 1), months=1) == [(date(2028, 2, 1), date(2028, 2, 29))]


def sms_notifier(sms: LocalHttpReceiver) -> tuple[notifications.Notifier, dict[ChannelKind, Channel]]:
    channels: dict[ChannelKind, Channel] = {
        ChannelKind.SMS: SmsGatewayChannel(f"{sms.url}/sms", success_path="code", success_value=0)
    }
    return notifications.Notifier(channels=channels, sleep=lambda _s: None), channels


def test_missed_duties_escalate_to_the_principal_after_a_week_once(session: Session, sms: LocalHttpReceiver) -> None:
    demo_without_duties(session)
    notifier, channels = sms_notifier(sms)
    safety_manager_on_duty(session)
    # the 主要负责人 is on the roster only for day shifts: escalation reaches him at any hour
    notifications.create_roster_entry(
        session=session,
        data=RosterEntryCreate(
            person=PRINCIPAL,
            role="manager",
            shift_start=time(8),
            shift_end=time(9),
            addresses={ChannelKind.SMS: "13900000009"},
        ),
        actor="t",
    )
    try:
        first = notify_overdue_duties(session=session, notifier=notifier, now=NOW)
        assert first and all(n.recipients == ("王安全",) for n in first)
        sent_first = len(sms.requests)

        escalated = escalate_overdue_duties(session=session, notifier=notifier, now=NOW)
        assert escalated, "periods missed more than a week ago are escalated"
        assert all((NOW.date() - n.check.last_day).days >= 7 for n in escalated)
        assert all(n.recipients == (PRINCIPAL,) for n in escalated)
        # the week that ended on Sunday 29 November is notified but not yet escalated
        recent = {(n.check.source.code, n.check.start) for n in first if n.check.last_day == date(2026, 11, 29)}
        assert recent and not recent & {(n.check.source.code, n.check.start) for n in escalated}
        bodies = [r.body.decode() for r in sms.requests[sent_first:]]
        assert len(bodies) == len(escalated)
        assert all("13900000009" in b and "升级" in b and "逾期已超过 7 天" in b for b in bodies)

        # once per missed period; a week later the week that ended on 29 November escalates too,
        assert escalate_overdue_duties(session=session, notifier=notifier, now=NOW + timedelta(hours=2)) == []
        later = escalate_overdue_duties(session=session, notifier=notifier, now=NOW + timedelta(days=7))
        assert {(n.check.source.code, n.check.start) for n in later} >= recent
        # and November's monthly technical duty (ended 30 November, 10 days before)
        assert {(n.check.rule.role, n.check.last_day) for n in later} == {
            (DutyRole.OPERATIONAL, date(2026, 11, 29)),
            (DutyRole.TECHNICAL, date(2026, 11, 30)),
        }
    finally:
        for channel in channels.values():
            channel.close()


def test_escalation_finds_the_principal_in_the_people_register(session: Session, sms: LocalHttpReceiver) -> None:
    demo_without_duties(session)
    notifier, channels = sms_notifier(sms)
    try:
        # nobody on the roster, the principal has no phone: the gap is logged, nothing is lost silently
        unrouted = escalate_overdue_duties(session=session, notifier=notifier, now=NOW, after_days=14)
        assert unrouted and all(n.recipients == () for n in unrouted)
        assert all((NOW.date() - n.check.last_day).days >= 14 for n in unrouted)
        assert sms.requests == []

        session.execute(update(Person).where(Person.name == PRINCIPAL).values(phone="13900000010"))
        # a shorter threshold escalates the periods the 14-day one left, now by the people register's phone
        found = escalate_overdue_duties(session=session, notifier=notifier, now=NOW, after_days=7)
        assert found and all(n.recipients == (PRINCIPAL,) for n in found)
        assert all(7 <= (NOW.date() - n.check.last_day).days for n in found)
        assert all("13900000010" in r.body.decode() for r in sms.requests)
    finally:
        for channel in channels.values():
            channel.close()
