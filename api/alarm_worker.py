"""Background worker of the embedded mode: alarm events into the alarm register, notifications.

The dataflow publishes ``alarm.event`` on the bus; this worker records every event in the
ISA-18.2 alarm register (idempotent, so a replay changes nothing), hands it to the notifier
(routing by area, priority and duty roster), and every ``housekeeping_s`` returns expired
shelves and runs the escalation job. It runs in its own thread because channel sends and
database writes block; one session and one commit per batch keeps it cheap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from api.background import BackgroundLoop
from api.runtime import HELD_ALARM_STREAM, operator_positions
from api.settings import Settings
from connectors.bus.memory import Bus, Subscription
from connectors.notify.base import Channel
from connectors.notify.email import EmailChannel
from connectors.notify.http import DingTalkRobotChannel, FeishuRobotChannel, SmsGatewayChannel, WeComRobotChannel
from models.alarm_flood import FLOOD
from models.alarm_states import AlarmStatus, is_unacknowledged
from models.channels import ChannelKind
from models.contracts import ALARM_EVENT, AlarmEvent, AlarmState
from registers.alarms import service as alarms
from registers.catalog import reminder_registers
from registers.db import claim_duty, utcnow
from registers.dual_prevention import service as dual_prevention
from registers.framework.reminders import due_reminders
from registers.hazard_sources import duty_notices
from registers.hazard_sources import reports as duty_reports
from registers.hidden_hazards import scheduled as hazards_scheduled
from registers.notifications import service as notifications
from registers.permits import service as permits
from twin.plant import Plant

log = logging.getLogger(__name__)
RECORD_CHUNK = 100
"""Alarm events recorded per registers transaction."""
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0
"""Back-off of the retries while the alarm register is locked or away (doubling up to this)."""


def channels_from_settings(settings: Settings) -> dict[ChannelKind, Channel]:
    """The notification channels whose address is configured."""
    out: dict[ChannelKind, Channel] = {}
    s = settings
    if s.notify_sms_url:
        out[ChannelKind.SMS] = SmsGatewayChannel(s.notify_sms_url, body_template=s.notify_sms_template)
    if s.notify_wecom_url:
        out[ChannelKind.WECOM] = WeComRobotChannel(s.notify_wecom_url)
    if s.notify_dingtalk_url:
        out[ChannelKind.DINGTALK] = DingTalkRobotChannel(s.notify_dingtalk_url, secret=s.notify_dingtalk_secret)
    if s.notify_feishu_url:
        out[ChannelKind.FEISHU] = FeishuRobotChannel(s.notify_feishu_url, secret=s.notify_feishu_secret)
    if s.smtp_host:
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        out[ChannelKind.EMAIL] = EmailChannel(
            s.smtp_host,
            s.smtp_port,
            sender=s.smtp_sender,
            username=s.smtp_username,
            password=password,
            starttls=s.smtp_starttls,
        )
    return out


def area_lookup(plant: Plant) -> Callable[[AlarmEvent], str | None]:
    """Plant area of an alarm's source (tag -> equipment -> area; a flood summary names its area)."""
    by_tag = operator_positions(plant)

    def area_of(event: AlarmEvent) -> str | None:
        if event.kind == FLOOD:
            return event.source_id
        return by_tag.get(event.source_id)

    return area_of


class AlarmWorker:
    """Consumes ``alarm.event`` from the bus until stopped."""

    def __init__(
        self,
        bus: Bus,
        session_factory: sessionmaker[Session],
        plant: Plant,
        settings: Settings,
        *,
        housekeeping_s: float = 30.0,
    ) -> None:
        self.bus = bus
        self.session_factory = session_factory
        self.area_of = area_lookup(plant)
        self.notifier = notifications.Notifier(channels=channels_from_settings(settings), area_of=self.area_of)
        self.housekeeping_s = housekeeping_s
        self.duty_escalation_days = settings.duty_escalation_days
        self.recorded = 0
        self.retries = 0
        self.errors = 0
        self._loop = BackgroundLoop("alarm-worker", self._run)

    def start(self) -> None:
        """Subscribe now (so no event published from here on is missed) and start the thread."""
        sub = self.bus.subscribe(ALARM_EVENT)
        held = self.bus.subscribe(HELD_ALARM_STREAM)
        self._loop.start(sub, held)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current batch and stop."""
        self._loop.stop(timeout)

    def _run(self, sub: Subscription, held: Subscription) -> None:
        next_housekeeping = time.monotonic() + self.housekeeping_s
        try:
            while not self._loop.stopping:
                batch = sub.get_batch(timeout=0.5)
                events = [e for e in batch if isinstance(e, AlarmEvent)]
                if events:
                    self.handle(events)
                held_back = [e for e in held.drain() if isinstance(e, AlarmEvent)]
                if held_back:  # during a flood: into the register, but nobody is called
                    self.handle(held_back, notify=False)
                if time.monotonic() >= next_housekeeping:
                    self.housekeeping()
                    next_housekeeping = time.monotonic() + self.housekeeping_s
                if sub.closed and not batch:
                    break
        finally:
            self.bus.unsubscribe(sub)
            self.bus.unsubscribe(held)

    def handle(self, events: list[AlarmEvent], *, notify: bool = True) -> None:
        """Record a batch of events, then notify; one transaction per chunk, errors logged not raised."""
        for start in range(0, len(events), RECORD_CHUNK):
            self._record(events[start : start + RECORD_CHUNK])
        self.suspend_permits(events)
        if not notify or not self.notifier.channels:
            return
        for event in events:
            try:
                with self.session_factory() as session:
                    notifications.dispatch(
                        session=session, notifier=self.notifier, event=event, area=self.area_of(event)
                    )
                    session.commit()
            except Exception:  # noqa: BLE001
                self.errors += 1
                log.exception("notifying alarm %s failed", event.alarm_id)

    def _record(self, chunk: list[AlarmEvent]) -> None:
        """Record ``chunk`` in one short transaction, waiting out a database that is locked or away.

        Short transactions: a burst of thousands of events (a device dropping out) must not
        hold the registers' write lock long enough to refuse a login. A locked or unreachable
        database (``OperationalError``: SQLite's lock outlasting its busy timeout, PostgreSQL
        restarting) is retried with back-off until it answers or the worker stops, because an
        event dropped here is an alarm the register never shows, or one that never returns to
        normal. Recording is idempotent, so a retry after an unclear commit doubles nothing.
        Any other error is the data's: the chunk is recorded event by event, so one bad event
        costs only itself.
        """
        delay = RETRY_FIRST_S
        while True:
            try:
                with self.session_factory() as session:
                    for event in chunk:
                        alarms.record_event(session=session, event=event, area=self.area_of(event))
                    session.commit()
                self.recorded += len(chunk)
                if delay > RETRY_FIRST_S:
                    log.warning("the alarm register answers again: %d alarm events recorded", len(chunk))
                return
            except OperationalError:
                if delay == RETRY_FIRST_S:
                    log.warning(
                        "the alarm register is locked or away; holding %d alarm events", len(chunk), exc_info=True
                    )
                self.retries += 1
                if self._loop.wait(delay):
                    self.errors += 1
                    log.error("stopped before the alarm register answered: %d alarm events not recorded", len(chunk))
                    return
                delay = min(delay * 2, RETRY_MAX_S)
            except Exception:  # noqa: BLE001 - the worker must outlive one bad event
                if len(chunk) > 1:
                    for event in chunk:
                        self._record([event])
                    return
                self.errors += 1
                log.exception("recording alarm event %s failed", chunk[0].alarm_id)
                return

    def suspend_permits(self, events: list[AlarmEvent]) -> None:
        """An active alarm stops the special work in its area (GB 30871); a failure here never stops alarms."""
        active = [e for e in events if e.state == AlarmState.ACTIVE]
        raised = sorted({(area, e.alarm_id) for e in active if (area := self.area_of(e))})
        if not raised:
            return
        try:
            with self.session_factory() as session:
                for area, alarm_id in raised:
                    permits.suspend_for_alarm(session=session, area=area, alarm=alarm_id)
                session.commit()
        except Exception:  # noqa: BLE001
            self.errors += 1
            log.exception("suspending permits for %d alarms failed", len(raised))

    def housekeeping(self) -> None:
        """Return expired shelves; escalate unacknowledged alarms; fire due-date reminders."""
        try:
            with self.session_factory() as session:
                if claim_duty(session, "alarm housekeeping"):  # else another API process is on it
                    self._alarm_housekeeping(session)
                    session.commit()
        except Exception:  # noqa: BLE001
            self.errors += 1
            log.exception("alarm housekeeping failed")
        self.register_jobs()

    def _alarm_housekeeping(self, session: Session) -> None:
        for reminder in due_reminders(reminder_registers(), session=session, now=utcnow()):
            log.warning("到期提醒 reminder: %s", reminder.message)
        alarms.expire_shelving(session=session)
        if self.notifier.channels:

            def acknowledged(alarm_id: str) -> bool:
                current = alarms.current(session=session, alarm_id=alarm_id)
                return current is None or not is_unacknowledged(AlarmStatus(current.state))

            notifications.escalate(session=session, notifier=self.notifier, is_acknowledged=acknowledged)

    def register_jobs(self, now: datetime | None = None) -> None:
        """The registers' clock-driven duties, each in its own transaction so one failure stops no other.

        Each duty is run by one API process at a time (:func:`registers.db.claim_duty`); one
        that another process is running is skipped this round.

        Special work (GB 30871): expire tickets past their validity, suspend running work whose
        gas analysis went stale, remind before it does. Dual prevention: generate the
        investigation tasks of the next day from their schedules, mark missed ones overdue,
        escalate hidden hazards past their rectification deadline. Major hazard sources: notify
        each missed 包保 duty period once, escalate it to the 主要负责人 when still missed
        ``settings.duty_escalation_days`` (7) days later, and issue each ended month's 包保
        assessment report once.
        """
        now = now or utcnow()
        jobs: list[tuple[str, Callable[[Session], object]]] = [
            ("permits expire", lambda s: permits.expire_overdue(session=s, now=now, actor="system")),
            ("permits gas check", lambda s: permits.check_running(session=s, now=now, actor="system")),
            ("permits gas reminders", lambda s: self._log_reminders(permits.gas_reminders(session=s, now=now))),
            ("investigation tasks", lambda s: dual_prevention.generate_tasks(session=s, until=now + timedelta(days=1))),
            ("investigation overdue", lambda s: dual_prevention.expire_tasks(session=s, now=now)),
            (
                "hidden hazards escalate",
                lambda s: hazards_scheduled.escalate_overdue(session=s, notifier=self.notifier, now=now),
            ),
            (
                "包保 overdue duties",
                lambda s: duty_notices.notify_overdue_duties(session=s, notifier=self.notifier, now=now),
            ),
            (
                "包保 escalation",
                lambda s: duty_notices.escalate_overdue_duties(
                    session=s, notifier=self.notifier, now=now, after_days=self.duty_escalation_days
                ),
            ),
            ("包保 monthly reports", lambda s: duty_reports.generate_due_reports(session=s, now=now)),
        ]
        for name, job in jobs:
            try:
                with self.session_factory() as session:
                    if not claim_duty(session, name):  # another API process is on it right now
                        continue
                    job(session)
                    session.commit()
            except Exception:  # noqa: BLE001 - the next job and the next round still run
                self.errors += 1
                log.exception("register job %s failed", name)

    @staticmethod
    def _log_reminders(reminders: list[permits.GasReminder]) -> None:
        for reminder in reminders:
            log.warning("气体分析即将过期 gas analysis goes stale: %s", reminder.message)
