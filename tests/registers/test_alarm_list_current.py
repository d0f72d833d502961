"""``list_current``: the alarm list's one-query path answers exactly what expire-then-list did."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.orm import Session

from registers.alarms import service as alarms
from tests.registers.test_alarms import at, ev, record


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
]


def test_same_answer_as_list_alarms(session: Session) -> None:
    _fill(session)
    for query in QUERIES:
        items, total = alarms.list_current(session=session, query=query, now=at(100))
        want_items, want_total = alarms.list_alarms(session=session, query=query)
        assert (items, total) == (want_items, want_total), query
        assert [a.disposal.status if a.disposal else None for a in items] == [
            a.disposal.status if a.disposal else None for a in want_items
        ]


def test_due_shelf_is_expired_before_listing(session: Session) -> None:
    _fill(session)
    alarm = record(session, ev("PT-900", 60))
    assert alarm is not None
    alarms.shelve(session=session, alarm=alarm, actor="op1", until=at(600), reason="检修", now=at(61))
    active = alarms.AlarmQuery(scope="active", states=["shelved"])
    items, total = alarms.list_current(session=session, query=active, now=at(599))
    assert (items, total) == ([alarm], 1)  # not due yet: still shelved
    items, total = alarms.list_current(session=session, query=active, now=at(600))
    assert (items, total) == ([], 0)
    assert alarm.state == "unack_active"
    assert [t.trigger for t in alarm.transitions][-1] == "shelve_expired"
    items, _ = alarms.list_current(session=session, query=alarms.AlarmQuery(tags=["PT-900"]), now=at(601))
    assert items == [alarm]


def test_shelf_due_elsewhere_is_expired_even_when_not_listed(session: Session) -> None:
    _fill(session)
    alarm = record(session, ev("PT-901", 60, priority="low"))
    assert alarm is not None
    alarms.shelve(session=session, alarm=alarm, actor="op1", until=at(120), reason="检修", now=at(61))
    for page, size in itertools.product((1, 9), (2,)):
        query = alarms.AlarmQuery(priorities=["critical"], page=page, size=size)
        items, total = alarms.list_current(session=session, query=query, now=at(200))
        assert (items, total) == alarms.list_alarms(session=session, query=query)
    assert alarm.state == "unack_active"


def test_bad_sort_or_scope(session: Session) -> None:
    with pytest.raises(ValueError, match="sort"):
        alarms.list_current(session=session, query=alarms.AlarmQuery(sort="nope"))
    with pytest.raises(ValueError, match="scope"):
        alarms.list_current(session=session, query=alarms.AlarmQuery(scope="nope"))
