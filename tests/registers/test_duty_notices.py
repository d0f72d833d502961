"""Overdue 包保 duties reach the safety manager on duty, once per missed period, over a real SMS gateway."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from connectors.notify import Channel, ChannelKind, SmsGatewayChannel
from registers.demo import load_demo
from registers.hazard_sources.duty_notices import notify_overdue_duties
from registers.hazard_sources.models import HazardSource, HazardSourceDuty
from registers.hazard_sources.schemas import DutyRole
from registers.notifications import service as notifications
from tests.connectors.test_notify import LocalHttpReceiver
from tests.registers.on_duty import safety_manager_on_duty
from twin.plant import load_plant

NOW = datetime(2026, 12, 3, 2, tzinfo=UTC)  # 10:00 in Shanghai, a Thursday


@pytest.fixture
def sms() -> Iterator[LocalHttpReceiver]:
    server = LocalHttpReceiver(default=(200, {"code": 0})).start()
    yield server
    server.stop()


def test_each_missed_duty_period_is_notified_once(session: Session, sms: LocalHttpReceiver) -> None:
    load_demo(session=session, plant=load_plant(), today=NOW.date())
    # The sources have been in the register for 40 days, and nobody recorded a duty since.
    session.execute(update(HazardSource).values(created_at=NOW - timedelta(days=40)))
    session.execute(update(HazardSourceDuty).values(deleted_at=NOW))
    channels: dict[ChannelKind, Channel] = {
        ChannelKind.SMS: SmsGatewayChannel(f"{sms.url}/sms", success_path="code", success_value=0)
    }
    notifier = notifications.Notifier(channels=channels, sleep=lambda _s: None)
    safety_manager_on_duty(session)
    try:
        notices = notify_overdue_duties(session=session, notifier=notifier, now=NOW)
        # Weekly operational duties: 5 whole weeks in 40 days; monthly technical: November.
        missed = {(n.check.source.code, n.check.rule.role) for n in notices}
        sources = {n.check.source.code for n in notices}
        assert sources and all((code, DutyRole.OPERATIONAL) in missed for code in sources)
        assert all((code, DutyRole.TECHNICAL) in missed for code in sources)
        assert all(n.recipients == ("王安全",) for n in notices)
        assert len(sms.requests) == len(notices)
        assert "实际 0 次，已逾期" in sms.requests[0].body.decode()

        assert notify_overdue_duties(session=session, notifier=notifier, now=NOW + timedelta(hours=1)) == []
        assert len(sms.requests) == len(notices)
        # A week later one more operational period per source has been missed, and only that is new.
        later = notify_overdue_duties(session=session, notifier=notifier, now=NOW + timedelta(days=7))
        assert {n.check.rule.role for n in later} == {DutyRole.OPERATIONAL}
        assert len(later) == len(sources)
    finally:
        for channel in channels.values():
            channel.close()
