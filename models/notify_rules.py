"""Who hears about an alarm, and when it escalates: pure routing over the duty roster (值班值守).

Routing answers "whom do we tell, on which channel" for one alarm event from three things:
the rules (area, minimum priority, roster roles, channels), the duty roster (person, role,
area, shift in Asia/Shanghai local time, channel addresses) and the time. Two promises hold
whatever the data (they are property-tested):

* nobody off shift is ever notified: a person is chosen only while ``now`` lies inside one
  of their shifts, overnight shifts included;
* escalation only moves up: an unacknowledged alarm goes to level 2 (e.g. 值班长 shift leader)
  after N minutes, to level 3 (安全管理人员 safety manager) after M minutes; each level fires
  once, and an acknowledged alarm never escalates.

Times are aware datetimes (UTC inside); shifts are local wall-clock times because that is how
a 值班表 is written. Nothing here does I/O, so the dispatcher in ``registers.notifications``
can be tested against a moved clock.

Example:
    >>> from datetime import UTC, datetime, time
    >>> from models.contracts import AlarmEvent, AlarmPriority, AlarmState
    >>> zhang = RosterEntry(person="张三", role="operator", shift_start=time(8), shift_end=time(20),
    ...                     addresses={ChannelKind.SMS: "13800000001"})
    >>> rule = NotifyRule(name="全厂", roles=frozenset({"operator"}), channels=(ChannelKind.SMS,))
    >>> event = AlarmEvent(alarm_id="PT-101:HH", source_kind="tag", source_id="PT-101", kind="HH",
    ...                    priority=AlarmPriority.HIGH, state=AlarmState.ACTIVE, ts=1)
    >>> noon = datetime(2026, 11, 28, 4, tzinfo=UTC)  # 12:00 in Shanghai
    >>> [(t.recipient.person, t.channel.value) for t in route(event, [rule], [zhang], noon)]
    [('张三', 'sms')]
    >>> route(event, [rule], [zhang], datetime(2026, 11, 28, 14, tzinfo=UTC))  # 22:00: off shift
    []
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from models.channels import ChannelKind
from models.contracts import AlarmEvent, AlarmPriority, AlarmState

LOCAL_TZ: Final = ZoneInfo("Asia/Shanghai")

PRIORITY_RANK: Final[Mapping[AlarmPriority, int]] = {
    AlarmPriority.LOW: 1,
    AlarmPriority.MEDIUM: 2,
    AlarmPriority.HIGH: 3,
    AlarmPriority.CRITICAL: 4,
}

PRIORITY_LABELS: Final[Mapping[AlarmPriority, str]] = {
    AlarmPriority.CRITICAL: "紧急",
    AlarmPriority.HIGH: "高",
    AlarmPriority.MEDIUM: "中",
    AlarmPriority.LOW: "低",
}


def at_least(priority: AlarmPriority, minimum: AlarmPriority) -> bool:
    """Whether ``priority`` is as urgent as ``minimum`` or more.

    Example:
        >>> at_least(AlarmPriority.CRITICAL, AlarmPriority.HIGH), at_least(AlarmPriority.LOW, AlarmPriority.HIGH)
        (True, False)
    """
    return PRIORITY_RANK[priority] >= PRIORITY_RANK[minimum]


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        msg = f"naive datetime {now!r} refused: pass an aware time (UTC inside SafeTwin)"
        raise ValueError(msg)
    return now


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One line of the duty roster (值班表): who is on duty, where, when, and how to reach them.

    Attributes:
        person: the person's name (姓名) or account name.
        role: duty role, e.g. ``operator`` (操作员), ``shift_leader`` (值班长),
            ``safety_manager`` (安全管理人员).
        shift_start: local (Asia/Shanghai) start of the shift.
        shift_end: local end; at or before ``shift_start`` means the shift runs overnight
            (20:00-08:00); equal start and end means a full 24-hour shift.
        area: plant area id the person covers; ``None`` covers every area.
        on_date: local date the shift starts on; ``None`` repeats the shift daily.
        addresses: channel -> address (mobile, e-mail, Feishu open_id); a channel without an
            address cannot reach this person.
        entry_id: the register row id, carried through for the delivery log.
    """

    person: str
    role: str
    shift_start: time
    shift_end: time
    area: str | None = None
    on_date: date | None = None
    addresses: Mapping[ChannelKind, str] = field(default_factory=dict)
    entry_id: int | None = None

    def shift_windows(self, around: datetime) -> list[tuple[datetime, datetime]]:
        """The shift's [start, end) instants that could contain ``around`` (aware, local tz)."""
        local_day = _aware(around).astimezone(LOCAL_TZ).date()
        windows = []
        for day in (local_day - timedelta(days=1), local_day):
            if self.on_date is not None and day != self.on_date:
                continue
            start = datetime.combine(day, self.shift_start, tzinfo=LOCAL_TZ)
            end_day = day if self.shift_end > self.shift_start else day + timedelta(days=1)
            windows.append((start, datetime.combine(end_day, self.shift_end, tzinfo=LOCAL_TZ)))
        return windows

    def on_duty(self, now: datetime) -> bool:
        """Whether ``now`` lies inside one of this entry's shifts.

        Example:
            >>> from datetime import UTC
            >>> night = RosterEntry(person="李四", role="operator", shift_start=time(20), shift_end=time(8))
            >>> night.on_duty(datetime(2026, 11, 28, 19, tzinfo=UTC))  # 03:00 local
            True
            >>> night.on_duty(datetime(2026, 11, 28, 4, tzinfo=UTC))  # 12:00 local
            False
        """
        return any(start <= now < end for start, end in self.shift_windows(now))

    def covers(self, area: str | None) -> bool:
        """Whether this person covers ``area`` (an entry without area covers all)."""
        return self.area is None or area is None or self.area == area


@dataclass(frozen=True, slots=True)
class NotifyRule:
    """A routing rule (通知规则): which alarms go to which roster roles on which channels.

    Attributes:
        name: shown in the rule list and the delivery log.
        roles: roster roles to notify (level 1).
        channels: channels to use, in order of preference; each person is sent on every
            listed channel they have an address for.
        areas: areas this rule applies to; empty means every area.
        min_priority: the least urgent priority that is notified.
        notify_return: also tell them when the alarm returns to normal (恢复通知).
        enabled: a disabled rule routes nothing.
    """

    name: str
    roles: frozenset[str]
    channels: tuple[ChannelKind, ...]
    areas: frozenset[str] = frozenset()
    min_priority: AlarmPriority = AlarmPriority.LOW
    notify_return: bool = False
    enabled: bool = True

    def matches(self, event: AlarmEvent, area: str | None) -> bool:
        """Whether this rule applies to ``event`` raised in ``area``."""
        if not self.enabled or not at_least(event.priority, self.min_priority):
            return False
        if event.state is AlarmState.RETURNED and not self.notify_return:
            return False
        return not self.areas or (area is not None and area in self.areas)


class Target(NamedTuple):
    """One delivery to make: a person on duty and a channel they can be reached on."""

    recipient: RosterEntry
    channel: ChannelKind

    @property
    def address(self) -> str:
        """The recipient's address on this channel."""
        return self.recipient.addresses[self.channel]


def on_duty(
    roster: Iterable[RosterEntry], now: datetime, *, area: str | None, roles: Iterable[str]
) -> list[RosterEntry]:
    """Roster entries with one of ``roles`` that cover ``area`` and are on shift at ``now``."""
    wanted = frozenset(roles)
    return [e for e in roster if e.role in wanted and e.covers(area) and e.on_duty(now)]


def targets_for(
    people: Iterable[RosterEntry], channels: Sequence[ChannelKind], seen: set[tuple[str, ChannelKind]] | None = None
) -> list[Target]:
    """Every (person, channel) pair a person has an address for, each pair once."""
    seen = set() if seen is None else seen
    out = []
    for person in people:
        for channel in channels:
            if not person.addresses.get(channel):
                continue
            key = (person.person, channel)
            if key in seen:
                continue
            seen.add(key)
            out.append(Target(person, channel))
    return out


def route(
    alarm_event: AlarmEvent,
    rules: Iterable[NotifyRule],
    roster: Iterable[RosterEntry],
    now: datetime,
    *,
    area: str | None = None,
) -> list[Target]:
    """Level-1 recipients of an alarm event: matching rules x people on duty x their channels.

    Args:
        alarm_event: the alarm change (``ACTIVE`` raises notify; ``RETURNED`` only where a rule
            asks for return notices).
        rules: routing rules.
        roster: the duty roster.
        now: aware time of routing (the dispatcher's clock, not the event time, so a replayed
            old event goes to whoever is on duty now).
        area: the plant area the alarm's source belongs to; rules limited to areas never match
            an alarm of unknown area.

    Returns:
        Targets in rule order, each (person, channel) once.
    """
    _aware(now)
    roster = list(roster)
    seen: set[tuple[str, ChannelKind]] = set()
    out: list[Target] = []
    for rule in rules:
        if rule.matches(alarm_event, area):
            out += targets_for(on_duty(roster, now, area=area, roles=rule.roles), rule.channels, seen)
    return out


# --- escalation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """One step of the escalation ladder (升级).

    Attributes:
        level: 2, 3, ... (level 1 is the first notification made by routing).
        after: how long the alarm must stay unacknowledged, counted from when it was raised.
        roles: roster roles notified at this level.
        channels: channels used at this level.
        label: Chinese label shown in messages, e.g. ``值班长``.
    """

    level: int
    after: timedelta
    roles: frozenset[str]
    channels: tuple[ChannelKind, ...]
    label: str = ""


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """The escalation ladder; levels must rise strictly in both number and delay.

    Attributes:
        levels: levels 2.. in order.
        min_priority: less urgent alarms never escalate (a low-priority alarm waits for the
            operator; flooding the safety manager with them is how escalations get ignored).
    """

    levels: tuple[EscalationLevel, ...]
    min_priority: AlarmPriority = AlarmPriority.LOW

    def __post_init__(self) -> None:
        previous_level, previous_after = 1, timedelta(0)
        for step in self.levels:
            if step.level <= previous_level or step.after <= previous_after:
                msg = (
                    f"escalation level {step.level} after {step.after} must come after level "
                    f"{previous_level} at {previous_after}: levels and delays must rise strictly"
                )
                raise ValueError(msg)
            previous_level, previous_after = step.level, step.after

    def level(self, number: int) -> EscalationLevel:
        """The level with this number."""
        for step in self.levels:
            if step.level == number:
                return step
        msg = f"no escalation level {number}"
        raise KeyError(msg)


def default_policy(level2_after_min: float = 5, level3_after_min: float = 15) -> EscalationPolicy:
    """Operator → 值班长 (shift leader) after N minutes → 安全管理人员 (safety manager) after M minutes."""
    all_channels = (ChannelKind.SMS, ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.FEISHU, ChannelKind.EMAIL)
    return EscalationPolicy(
        levels=(
            EscalationLevel(
                2, timedelta(minutes=level2_after_min), frozenset({"shift_leader"}), all_channels, "值班长"
            ),
            EscalationLevel(
                3, timedelta(minutes=level3_after_min), frozenset({"safety_manager"}), all_channels, "安全管理人员"
            ),
        )
    )


@dataclass(frozen=True, slots=True)
class PendingAlarm:
    """An alarm that was notified and is not yet known to be acknowledged.

    Attributes:
        alarm_id: the alarm.
        raised_at: when it was raised (aware).
        level: the highest level already notified (1 after the first notification).
        priority: its priority.
        acknowledged: whether an operator has acknowledged it (确认).
    """

    alarm_id: str
    raised_at: datetime
    level: int
    priority: AlarmPriority
    acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class Escalation:
    """One level that is due for one alarm."""

    alarm_id: str
    level: int
    overdue: timedelta  # how long the alarm has been unacknowledged


def due_escalations(pending: Iterable[PendingAlarm], now: datetime, policy: EscalationPolicy) -> list[Escalation]:
    """Levels that have come due since each alarm's last notified level.

    When the job ran late and several levels are due at once, every one of them fires, lowest
    first, so the shift leader hears about an alarm the safety manager is being called for.

    Args:
        pending: alarms with the level already notified.
        now: aware current time.
        policy: the escalation ladder.

    Returns:
        Escalations ordered by alarm then level; none for acknowledged alarms, alarms below the
        policy's priority, or levels at or below the one already notified.
    """
    _aware(now)
    out = []
    for alarm in pending:
        if alarm.acknowledged or not at_least(alarm.priority, policy.min_priority):
            continue
        waited = now - alarm.raised_at
        out += [
            Escalation(alarm.alarm_id, step.level, waited)
            for step in policy.levels
            if step.level > alarm.level and waited >= step.after
        ]
    return out
