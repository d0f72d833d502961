"""Routing over the duty roster and the escalation ladder: examples plus Hypothesis properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.channels import ChannelKind
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from models.notify_rules import (
    LOCAL_TZ,
    EscalationLevel,
    EscalationPolicy,
    NotifyRule,
    PendingAlarm,
    RosterEntry,
    at_least,
    default_policy,
    due_escalations,
    route,
)

AREAS = ("tank_farm", "reaction", "warehouse")
ROLES = ("operator", "shift_leader", "safety_manager")
T0 = datetime(2026, 11, 28, tzinfo=UTC)


def event(priority: AlarmPriority = AlarmPriority.HIGH, state: AlarmState = AlarmState.ACTIVE) -> AlarmEvent:
    return AlarmEvent(
        alarm_id="PT-101:HH",
        source_kind="tag",
        source_id="PT-101",
        kind="HH",
        priority=priority,
        state=state,
        ts=1,
    )


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


SMS_ONLY = (ChannelKind.SMS,)


def person(name: str, role: str = "operator", start: int = 8, end: int = 20, **kw: object) -> RosterEntry:
    addresses = kw.pop("addresses", {ChannelKind.SMS: "1380000" + name[-4:].rjust(4, "0")})
    return RosterEntry(
        person=name,
        role=role,
        shift_start=time(start),
        shift_end=time(end),
        addresses=addresses,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


# --- examples --------------------------------------------------------------------------------


def test_day_and_night_shift_hand_over_at_local_times() -> None:
    day = person("day1")
    night = person("night1", start=20, end=8)
    rule = NotifyRule(name="全厂", roles=frozenset({"operator"}), channels=SMS_ONLY)
    names = lambda now: [t.recipient.person for t in route(event(), [rule], [day, night], now)]  # noqa: E731
    assert names(local(2026, 11, 28, 7, 59)) == ["night1"]
    assert names(local(2026, 11, 28, 8, 0)) == ["day1"]
    assert names(local(2026, 11, 28, 19, 59)) == ["day1"]
    assert names(local(2026, 11, 28, 20, 0)) == ["night1"]


def test_dated_overnight_shift_ends_the_next_morning() -> None:
    night = person("night1", start=20, end=8, on_date=date(2026, 11, 28))
    assert not night.on_duty(local(2026, 11, 28, 7))  # the 27th's night, not this entry
    assert night.on_duty(local(2026, 11, 28, 21))
    assert night.on_duty(local(2026, 11, 29, 7, 59))
    assert not night.on_duty(local(2026, 11, 29, 8))
    assert not night.on_duty(local(2026, 11, 29, 21))


def test_equal_start_and_end_is_a_24_hour_shift() -> None:
    always = person("always", start=8, end=8)
    assert all(always.on_duty(T0 + timedelta(minutes=37 * i)) for i in range(100))


def test_area_priority_and_channel_address_filter_recipients() -> None:
    tank = person("tank", area="tank_farm", addresses={ChannelKind.SMS: "13800000001", ChannelKind.EMAIL: "t@p.cn"})
    reaction = person("reac", area="reaction")
    plantwide = person("all1", addresses={ChannelKind.EMAIL: "a@p.cn"})  # no phone
    rule = NotifyRule(
        name="储罐区高优先级",
        roles=frozenset({"operator"}),
        channels=(ChannelKind.SMS, ChannelKind.EMAIL),
        areas=frozenset({"tank_farm"}),
        min_priority=AlarmPriority.HIGH,
    )
    noon = local(2026, 11, 28, 12)
    got = [
        (t.recipient.person, t.channel, t.address)
        for t in route(event(), [rule], [tank, reaction, plantwide], noon, area="tank_farm")
    ]
    assert got == [
        ("tank", ChannelKind.SMS, "13800000001"),
        ("tank", ChannelKind.EMAIL, "t@p.cn"),
        ("all1", ChannelKind.EMAIL, "a@p.cn"),
    ]
    assert route(event(AlarmPriority.MEDIUM), [rule], [tank], noon, area="tank_farm") == []
    assert route(event(), [rule], [tank], noon, area="reaction") == []
    assert route(event(), [rule], [tank], noon, area=None) == []  # unknown area never matches an area rule


def test_returned_alarms_notify_only_where_asked() -> None:
    quiet = NotifyRule(name="a", roles=frozenset({"operator"}), channels=SMS_ONLY)
    loud = NotifyRule(name="b", roles=frozenset({"operator"}), channels=SMS_ONLY, notify_return=True)
    noon = local(2026, 11, 28, 12)
    returned = event(state=AlarmState.RETURNED)
    assert route(returned, [quiet], [person("op01")], noon) == []
    assert len(route(returned, [loud], [person("op01")], noon)) == 1


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        route(event(), [], [], datetime(2026, 11, 28, 12))  # noqa: DTZ001 - the point of the test


def test_policy_levels_must_rise() -> None:
    with pytest.raises(ValueError, match="rise strictly"):
        EscalationPolicy(
            levels=(
                EscalationLevel(2, timedelta(minutes=15), frozenset({"shift_leader"}), SMS_ONLY),
                EscalationLevel(3, timedelta(minutes=5), frozenset({"safety_manager"}), SMS_ONLY),
            )
        )


def test_late_job_fires_every_due_level_lowest_first() -> None:
    policy = default_policy(5, 15)
    alarm = PendingAlarm("PT-101:HH", T0, 1, AlarmPriority.HIGH)
    assert due_escalations([alarm], T0 + timedelta(minutes=4, seconds=59), policy) == []
    assert [e.level for e in due_escalations([alarm], T0 + timedelta(minutes=5), policy)] == [2]
    assert [e.level for e in due_escalations([alarm], T0 + timedelta(minutes=20), policy)] == [2, 3]
    done = PendingAlarm("PT-101:HH", T0, 2, AlarmPriority.HIGH, acknowledged=True)
    assert due_escalations([done], T0 + timedelta(hours=1), policy) == []


# --- properties ------------------------------------------------------------------------------


def oracle_on_duty(entry: RosterEntry, now: datetime) -> bool:
    """Independent check in local minutes of the day."""
    t_local = now.astimezone(LOCAL_TZ)
    minute = t_local.hour * 60 + t_local.minute + t_local.second / 60
    start = entry.shift_start.hour * 60 + entry.shift_start.minute
    end = entry.shift_end.hour * 60 + entry.shift_end.minute
    today, yesterday = t_local.date(), t_local.date() - timedelta(days=1)
    ok_today = entry.on_date in (None, today)
    ok_yesterday = entry.on_date in (None, yesterday)
    if start < end:
        return ok_today and start <= minute < end
    # overnight (or 24 h when equal): the part after start today, or before end from yesterday's shift
    return (ok_today and minute >= start) or (ok_yesterday and minute < end)


quarter_hours = st.integers(0, 95).map(lambda q: time(q // 4, (q % 4) * 15))
channels = st.sampled_from(list(ChannelKind))
roster_entries = st.builds(
    RosterEntry,
    person=st.sampled_from([f"p{i}" for i in range(8)]),
    role=st.sampled_from(ROLES),
    shift_start=quarter_hours,
    shift_end=quarter_hours,
    area=st.none() | st.sampled_from(AREAS),
    on_date=st.none() | st.dates(date(2026, 11, 26), date(2026, 11, 30)),
    addresses=st.dictionaries(channels, st.sampled_from(["13800000001", "x@p.cn", ""]), max_size=3),
)
rules = st.builds(
    NotifyRule,
    name=st.text(min_size=1, max_size=5),
    roles=st.frozensets(st.sampled_from(ROLES), min_size=1),
    channels=st.lists(channels, min_size=1, max_size=3, unique=True).map(tuple),
    areas=st.frozensets(st.sampled_from(AREAS), max_size=2),
    min_priority=st.sampled_from(list(AlarmPriority)),
    notify_return=st.booleans(),
    enabled=st.booleans(),
)
instants = st.datetimes(datetime(2026, 11, 26), datetime(2026, 12, 1), timezones=st.just(UTC))  # noqa: DTZ001


@settings(max_examples=300, deadline=None)
@given(
    roster=st.lists(roster_entries, max_size=12),
    rule_list=st.lists(rules, max_size=4),
    now=instants,
    priority=st.sampled_from(list(AlarmPriority)),
    state=st.sampled_from(list(AlarmState)),
    area=st.none() | st.sampled_from(AREAS),
)
def test_routing_notifies_only_people_on_shift_and_in_scope(
    roster: list[RosterEntry],
    rule_list: list[NotifyRule],
    now: datetime,
    priority: AlarmPriority,
    state: AlarmState,
    area: str | None,
) -> None:
    alarm = event(priority, state)
    targets = route(alarm, rule_list, roster, now, area=area)
    pairs = [(t.recipient.person, t.channel) for t in targets]
    assert len(pairs) == len(set(pairs))  # nobody gets the same alarm twice on one channel
    for target in targets:
        assert oracle_on_duty(target.recipient, now)  # nobody off shift is ever notified
        assert target.address  # a channel without an address is never chosen
        assert target.recipient.area in (None, area) or area is None
        matching = [
            r
            for r in rule_list
            if r.enabled
            and at_least(priority, r.min_priority)
            and (state is AlarmState.ACTIVE or r.notify_return)
            and (not r.areas or area in r.areas)
            and target.recipient.role in r.roles
            and target.channel in r.channels
        ]
        assert matching, "every target is justified by an enabled rule that matches"


@settings(max_examples=300, deadline=None)
@given(entry=roster_entries, now=instants)
def test_on_duty_agrees_with_the_minute_oracle(entry: RosterEntry, now: datetime) -> None:
    assert entry.on_duty(now) == oracle_on_duty(entry, now)


@st.composite
def policies(draw: st.DrawFn) -> EscalationPolicy:
    n = draw(st.integers(1, 4))
    delays = sorted(draw(st.lists(st.integers(1, 120), min_size=n, max_size=n, unique=True)))
    levels = tuple(
        EscalationLevel(i + 2, timedelta(minutes=d), frozenset({ROLES[min(i + 1, 2)]}), SMS_ONLY)
        for i, d in enumerate(delays)
    )
    return EscalationPolicy(levels=levels, min_priority=draw(st.sampled_from(list(AlarmPriority))))


@settings(max_examples=300, deadline=None)
@given(
    policy=policies(),
    gaps=st.lists(st.integers(0, 40 * 60), min_size=1, max_size=30),
    ack_after=st.none() | st.integers(0, 200 * 60),
    priority=st.sampled_from(list(AlarmPriority)),
)
def test_escalation_moves_up_once_per_level_and_stops_at_acknowledgement(
    policy: EscalationPolicy, gaps: list[int], ack_after: int | None, priority: AlarmPriority
) -> None:
    """Run the job at random moments; apply its escalations like the dispatcher does."""
    level, fired, now = 1, [], T0
    for gap in gaps:
        now += timedelta(seconds=gap)
        acknowledged = ack_after is not None and now >= T0 + timedelta(seconds=ack_after)
        due = due_escalations([PendingAlarm("A", T0, level, priority, acknowledged)], now, policy)
        if acknowledged:
            assert due == []
        for escalation in due:
            assert escalation.level > level  # never backwards, never the same level again
            assert now - T0 >= policy.level(escalation.level).after  # never early
            level = escalation.level
            fired.append(escalation.level)
    assert fired == sorted(set(fired))  # each level at most once, in order
    if not at_least(priority, policy.min_priority):
        assert fired == []
    elif ack_after is None:
        # every level whose delay passed before the last run has fired
        expected = [s.level for s in policy.levels if now - T0 >= s.after]
        assert fired == expected
