"""``list_current_rows``: the alarm list's one-query path answers exactly what expire-then-list did."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from registers.alarms import service as alarms
from registers.alarms.models import Alarm
from registers.alarms.schemas import AlarmRead
from tests.registers.test_alarms import at, ev, record


def current(session: Session, query: alarms.AlarmQuery, now: datetime) -> tuple[list[AlarmRead], int]:
    """The list as the API answers it, from the rows of the one-query path."""
    rows, total = alarms.list_current_rows(session=session, query=query, now=now)
    return [AlarmRead.of_row(row) for row in rows], total


def read(items: list[Alarm]) -> list[AlarmRead]:
    return [AlarmRead.of(a) for a in items]


def _fill(session: Session) -> None:
    record(session, ev("PT-101", 0, priority="low"))
    record(session, ev("TT-201", 10, kind="HH", priority="critical"), area="reaction_unit")
    record(session, ev("LT-301", 20, kind="L", priority="medium"))
    done = record(session, ev("FT-401", 30, priority="high"))
    assert done is not None
    alarms.acknowledge(session=session, alarm=done, actor="op1", now=at(31))
    record(session, ev("FT-401", 40, "returned"))
    for i in range(6):
        record(session, ev(f"PT-5{i:02d}", 50 + i, priority="critical" if i % 2 else "high"))
    alarms.open_disposal(session=session, alarm=done, actor="op1", cause="c", measures="m", handler="op1")


QUERIES = [
    alarms.AlarmQuery(),
    alarms.AlarmQuery(scope="active", priorities=["high", "critical"], size=2, page=2),
    alarms.AlarmQuery(scope="history"),
    alarms.AlarmQuery(sort="priority", size=3),
    alarms.AlarmQuery(sort="-acked_at", size=4, page=3),
    alarms.AlarmQuery(areas=["reaction_unit"]),
    alarms.AlarmQuery(page=50, size=20),  # past the end: empty, total still right
    alarms.AlarmQuery(states=["nope"]),  # nothing matches
    # the shapes above again with other values: each call binds its own
    alarms.AlarmQuery(scope="active", priorities=["low", "medium"], size=2, page=1),
    alarms.AlarmQuery(areas=["elsewhere"]),
    alarms.AlarmQuery(tags=["PT-101", "TT-201", "FT-401"], start=at(5), end=at(45), sort="tag"),
    alarms.AlarmQuery(tags=["LT-301"], start=at(0), end=at(100), sort="tag"),
    alarms.AlarmQuery(states=["unack_active", "ack_rtn"], sort="-state", size=5, page=2),
]


def test_same_answer_as_list_alarms(session: Session) -> None:
    _fill(session)
    for query in QUERIES:
        items, total = current(session, query, at(100))
        want_items, want_total = alarms.list_alarms(session=session, query=query)
        assert (items, total) == (read(want_items), want_total), query
    assert "open" in {a.disposal_status for a in current(session, alarms.AlarmQuery(), at(100))[0]}


def test_due_shelf_is_expired_before_listing(session: Session) -> None:
    _fill(session)
    alarm = record(session, ev("PT-900", 60))
    assert alarm is not None
    alarms.shelve(session=session, alarm=alarm, actor="op1", until=at(600), reason="检修", now=at(61))
    active = alarms.AlarmQuery(scope="active", states=["shelved"])
    items, total = current(session, active, at(599))
    assert (items, total) == (read([alarm]), 1)  # not due yet: still shelved
    items, total = current(session, active, at(600))
    assert (items, total) == ([], 0)
    assert alarm.state == "unack_active"
    assert [t.trigger for t in alarm.transitions][-1] == "shelve_expired"
    items, _ = current(session, alarms.AlarmQuery(tags=["PT-900"]), at(601))
    assert items == read([alarm])


def test_shelf_due_elsewhere_is_expired_even_when_not_listed(session: Session) -> None:
    _fill(session)
    alarm = record(session, ev("PT-901", 60, priority="low"))
    assert alarm is not None
    alarms.shelve(session=session, alarm=alarm, actor="op1", until=at(120), reason="检修", now=at(61))
    for page, size in itertools.product((1, 9), (2,)):
        query = alarms.AlarmQuery(priorities=["critical"], page=page, size=size)
        items, total = current(session, query, at(200))
        want_items, want_total = alarms.list_alarms(session=session, query=query)
        assert (items, total) == (read(want_items), want_total)
    assert alarm.state == "unack_active"


def test_bad_sort_or_scope(session: Session) -> None:
    with pytest.raises(ValueError, match="sort"):
        alarms.list_current_rows(session=session, query=alarms.AlarmQuery(sort="nope"))
    with pytest.raises(ValueError, match="scope"):
        alarms.list_current_rows(session=session, query=alarms.AlarmQuery(scope="nope"))
