"""Several API processes on one PostgreSQL run the registers' clock-driven duties once, not once each.

Every API process (``safetwin api --workers N``, and every replica) runs the alarm worker's
housekeeping and register jobs. Two processes on one round at the same moment both generated
the next day's investigation tasks, and one failed on their unique (schedule, slot). The 包保
SMS were already sent once (each notice is claimed by a unique row before it is sent); the
first test keeps that true. Here two alarm workers with engines of their own (as two
processes have) start a round together against a real PostgreSQL and a real HTTP SMS gateway
that takes 0.2 s per message, so the rounds overlap.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.alarm_worker import AlarmWorker
from api.settings import Settings
from connectors.bus.memory import Bus
from registers.db import claim_duty, make_engine, make_session_factory
from registers.dual_prevention import service as dual_prevention
from registers.dual_prevention.models import CheckTask
from registers.hazard_sources.duty_notices import missed_periods
from tests.connectors.test_notify import LocalHttpReceiver
from tests.registers.on_duty import SAFETY_MANAGER_PHONE, safety_manager_on_duty
from tests.registers.test_duty_reports import NOW, demo_without_duties
from twin.plant import load_plant

pytestmark = pytest.mark.integration


@pytest.fixture
def slow_sms() -> Iterator[LocalHttpReceiver]:
    server = LocalHttpReceiver(default=(200, {"code": 0}, 0.2)).start()
    yield server
    server.stop()


def _overdue_plant(url: str) -> int:
    """Demo registers whose sources went 40 days without a duty; the number of missed periods."""
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        demo_without_duties(session)
        safety_manager_on_duty(session)
        session.commit()
        missed = len(list(missed_periods(session=session, now=NOW)))
    factory.kw["bind"].dispose()
    return missed


def _api_process(url: str, sms_url: str, data_dir: Path) -> AlarmWorker:
    settings = Settings(environment="test", data_dir=data_dir, notify_sms_url=sms_url)
    return AlarmWorker(Bus(), make_session_factory(make_engine(url)), load_plant(), settings, housekeeping_s=3600)


def _rounds_together(processes: list[AlarmWorker]) -> None:
    together = threading.Barrier(len(processes))

    def one_round(worker: AlarmWorker) -> None:
        together.wait()
        worker.register_jobs(NOW)

    rounds = [threading.Thread(target=one_round, args=(w,)) for w in processes]
    for t in rounds:
        t.start()
    for t in rounds:
        t.join(120)


def test_two_api_processes_on_one_round_notify_each_missed_duty_once(
    postgres_database_url: str, slow_sms: LocalHttpReceiver, tmp_path: Path
) -> None:
    missed = _overdue_plant(postgres_database_url)
    assert missed > 0
    processes = [_api_process(postgres_database_url, f"{slow_sms.url}/sms", tmp_path / f"p{i}") for i in range(2)]
    with processes[0].session_factory() as session:  # so that no other job holds one process back
        dual_prevention.generate_tasks(session=session, until=NOW + timedelta(days=1))
        session.commit()

    _rounds_together(processes)

    to_manager = [r.body for r in slow_sms.requests if SAFETY_MANAGER_PHONE.encode() in r.body]
    twice = [body.decode()[:80] for body, n in Counter(to_manager).items() if n > 1]
    assert not twice, f"{len(twice)} messages sent twice, e.g. {twice[0]}"
    assert len(to_manager) == missed, "every missed period is notified in the round"
    assert [w.errors for w in processes] == [0, 0]

    # A later round of either process finds the work done and sends nothing more.
    sent = len(slow_sms.requests)
    processes[1].register_jobs(NOW + timedelta(minutes=1))
    assert len(slow_sms.requests) == sent


def test_two_api_processes_generate_the_next_days_tasks_without_a_failed_job(
    postgres_database_url: str, tmp_path: Path
) -> None:
    """Both generating the same slots at once broke their unique (schedule, slot) in one process."""
    _overdue_plant(postgres_database_url)
    processes = [_api_process(postgres_database_url, "", tmp_path / f"p{i}") for i in range(2)]
    _rounds_together(processes)
    assert [w.errors for w in processes] == [0, 0]
    with processes[0].session_factory() as session:
        assert session.scalar(select(func.count()).select_from(CheckTask))


def test_a_duty_another_process_is_running_is_skipped_not_waited_for(postgres_database_url: str) -> None:
    factory = make_session_factory(make_engine(postgres_database_url))
    with factory() as running, factory() as other:
        assert claim_duty(running, "包保 overdue duties")
        assert not claim_duty(other, "包保 overdue duties"), "a second process may not run the same duty"
        assert claim_duty(other, "permits expire"), "another duty is free"
        other.rollback()
        running.commit()  # the round ends: its claim goes with its transaction
        assert claim_duty(other, "包保 overdue duties")
    factory.kw["bind"].dispose()
