"""The registers' clock-driven duties run from the alarm worker's housekeeping, idempotently.

A real migrated SQLite register with the demo data: one round generates the next day's
investigation tasks from the demo schedules, a second round adds none, and a round past a
task's window marks it overdue. A failing job is counted and logged; the others still run.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.alarm_worker import AlarmWorker
from api.settings import Settings
from connectors.bus.memory import Bus
from registers.db import make_engine, make_session_factory, utcnow
from registers.demo import load_demo
from registers.dual_prevention.models import CheckTask
from registers.dual_prevention.workflow import TaskState
from tests.db_fixtures import migrate_registers
from twin.plant import load_plant


@pytest.fixture
def worker(tmp_path: Path) -> AlarmWorker:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrate_registers(url)
    factory = make_session_factory(make_engine(url))
    plant = load_plant()
    with factory() as session:
        load_demo(session=session, plant=plant)
        session.commit()
    return AlarmWorker(Bus(), factory, plant, Settings(environment="test", data_dir=tmp_path), housekeeping_s=3600)


def _tasks(worker: AlarmWorker) -> dict[str, int]:
    with worker.session_factory() as session:
        rows = session.execute(select(CheckTask.state, func.count()).group_by(CheckTask.state)).all()
    return {str(state): n for state, n in rows}


def test_housekeeping_generates_tasks_once_and_marks_missed_ones_overdue(worker: AlarmWorker) -> None:
    now = utcnow()
    worker.register_jobs(now)
    first = _tasks(worker)
    assert sum(first.values()) > 0, "the demo schedules gave no task for the next day"
    assert worker.errors == 0

    worker.register_jobs(now)
    assert _tasks(worker) == first, "a second round must add nothing"

    worker.register_jobs(now + timedelta(days=3))
    later = _tasks(worker)
    assert later.get(TaskState.OVERDUE, 0) > 0, later
    assert worker.errors == 0


def test_a_failing_job_is_counted_and_the_others_still_run(
    worker: AlarmWorker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from registers.permits import service as permits

    def broken(**_: object) -> list[object]:
        msg = "permit table unavailable"
        raise RuntimeError(msg)

    monkeypatch.setattr(permits, "expire_overdue", broken)
    worker.register_jobs(utcnow())
    assert worker.errors == 1
    assert "register job permits expire failed" in caplog.text
    assert sum(_tasks(worker).values()) > 0
