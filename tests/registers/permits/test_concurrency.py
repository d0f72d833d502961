"""Two moves of one ticket at once, on SQLite and PostgreSQL.

A move read its ticket without a lock. Two moves that overlapped (the alarm worker suspending
the work while the crew reports it complete; two people confirming the measures) both read
version *n* and both wrote *n + 1*: the second's history row broke
``uq_register_versions_record_version`` (an IntegrityError, a 500 through the API), and had
that constraint not been there the suspension would have been overwritten by the completion,
i.e. work reported done on a ticket an alarm had stopped. Every move now reads its ticket under
a lock (``Register.get_for_change``), so the second waits for the first and is judged on the
state the first left.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from registers.framework.models import RecordVersion
from registers.permits import service
from registers.permits.demo import ensure_crew
from registers.permits.models import Permit, PermitStatus, PermitStep
from registers.permits.workflow import InvalidTransition
from tests.registers.permits.conftest import START, TODAY
from tests.registers.permits.test_service import analyse, issue, plan
from tests.registers.test_framework_concurrency import _race

S = PermitStatus
AT_WORK = START + timedelta(minutes=30)


def _ticket(factory: sessionmaker[Session], *, working: bool) -> tuple[int, str]:
    """A hot-work ticket of the demo job, drafted or being worked; its id and area."""
    with factory.begin() as session:
        crew = ensure_crew(session=session, today=TODAY)
        permit = plan(session, crew)[0]
        if working:
            issue(session, crew, permit)
            assert analyse(session, permit, minutes_before_start=10)
            service.start(session=session, permit_id=permit.id, actor="welder", now=START)
        assert permit.area is not None
        return permit.id, permit.area


def _history(factory: sessionmaker[Session], permit_id: int) -> tuple[list[int], list[str]]:
    with factory() as session:
        versions = session.scalars(
            sa.select(RecordVersion.version)
            .where(RecordVersion.record_id == permit_id, RecordVersion.register == service.permits.name)
            .order_by(RecordVersion.version)
        )
        steps = session.scalars(
            sa.select(PermitStep.action).where(PermitStep.permit_id == permit_id).order_by(PermitStep.id)
        )
        return list(versions), list(steps)


def test_completion_racing_an_alarm_suspension_is_refused_on_the_suspended_ticket(
    factory: sessionmaker[Session],
) -> None:
    permit_id, area = _ticket(factory, working=True)

    def alarm(session: Session) -> Any:
        return service.suspend_for_alarm(session=session, area=area, alarm="GT-101 HH", now=AT_WORK)

    def complete(session: Session) -> Any:
        return service.complete(session=session, permit_id=permit_id, actor="welder", now=AT_WORK)

    errors = _race(factory, alarm, complete)

    assert errors[0] is None
    assert isinstance(errors[1], InvalidTransition), errors[1]  # a 409 saying why, not a 500
    with factory() as session:
        assert session.get_one(Permit, permit_id).status == S.SUSPENDED  # the alarm's stop stands
    versions, steps = _history(factory, permit_id)
    assert versions == list(range(1, len(versions) + 1))  # one history row per version, no gap
    assert steps[-1] == "中断作业"
    assert "完工" not in steps


def test_two_briefings_at_once_both_count(factory: sessionmaker[Session]) -> None:
    permit_id, _area = _ticket(factory, working=False)

    def brief(actor: str) -> Callable[[Session], Any]:
        return lambda session: service.brief(session=session, permit_id=permit_id, actor=actor, now=START)

    errors = _race(factory, brief("班长 甲"), brief("班长 乙"))

    assert errors == [None, None]
    with factory() as session:
        permit = session.get_one(Permit, permit_id)
        assert permit.briefed_by == "班长 乙"  # the second built on the first
    versions, steps = _history(factory, permit_id)
    assert versions == list(range(1, len(versions) + 1))
    assert steps.count("安全交底") == 2  # noqa: PLR2004


def test_the_alarm_hook_skips_a_ticket_finished_while_it_waited(factory: sessionmaker[Session]) -> None:
    """An alarm arriving just after completion suspends nothing and fails nothing."""
    permit_id, area = _ticket(factory, working=True)

    def complete(session: Session) -> Any:
        return service.complete(session=session, permit_id=permit_id, actor="welder", now=AT_WORK)

    suspended: list[Permit] = []

    def alarm(session: Session) -> Any:
        suspended.extend(service.suspend_for_alarm(session=session, area=area, alarm="GT-101 HH", now=AT_WORK))

    errors = _race(factory, complete, alarm)

    assert errors == [None, None]
    assert suspended == []
    with factory() as session:
        assert session.get_one(Permit, permit_id).status == S.COMPLETED


def test_the_stale_gas_check_skips_a_ticket_completed_while_it_waited(factory: sessionmaker[Session]) -> None:
    """The scheduler's check loads the working tickets first; the lock must give it the committed state."""
    permit_id, _area = _ticket(factory, working=True)
    with factory() as session:
        until = service.gas_fresh_until(session=session, permit=session.get_one(Permit, permit_id))
    assert until is not None
    stale = until + timedelta(minutes=1)

    def complete(session: Session) -> Any:
        return service.complete(session=session, permit_id=permit_id, actor="welder", now=stale)

    stopped: list[Permit] = []

    def check(session: Session) -> Any:
        stopped.extend(service.check_running(session=session, now=stale, actor="scheduler"))

    errors = _race(factory, complete, check)

    assert errors == [None, None]
    assert stopped == []
    with factory() as session:
        assert session.get_one(Permit, permit_id).status == S.COMPLETED
    versions, _steps = _history(factory, permit_id)
    assert versions == list(range(1, len(versions) + 1))
