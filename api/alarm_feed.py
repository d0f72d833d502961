"""The alarm register of the distributed mode, fed from the flow's alarm topics.

In embedded mode the flow publishes alarm events on the in-process bus and the
:class:`~api.alarm_worker.AlarmWorker` of the one API process records them. In distributed mode
the flow runs elsewhere, so each API replica runs one :class:`KafkaAlarmFeed`: all replicas
share ONE consumer group (``<prefix>-alarm-register``), so Kafka hands every partition of
``<prefix>.alarm.event`` (and of the flood's ``.held`` topic) to exactly one replica, which
records the events in the register (and notifies, for the annunciated ones) before it commits
the offsets. A replica that dies between recording and committing makes the next owner record
those events again; ``registers.alarms.service.record_event`` recognises a repeat by the
journal's unique key, so the register changes once (a notification may be sent twice, never
zero times). The group starts at the earliest offset the first time, so alarms raised before
any replica was up are recorded too.

Example:
    >>> feed_group("safetwin")
    'safetwin-alarm-register'
"""

from __future__ import annotations

from typing import Any, Protocol

from api.register_feed import RegisterFeed, RegisterUnavailable
from connectors.kafka.admin import topic_for
from models.contracts import ALARM_EVENT, AlarmEvent

__all__ = ["KafkaAlarmFeed", "Recorder", "RegisterUnavailable", "alarm_topics", "feed_group"]


class Recorder(Protocol):
    """What the feed needs of :class:`api.alarm_worker.AlarmWorker`."""

    recorded: int
    """Events recorded in the register so far (only successful transactions count)."""

    def handle(self, events: list[AlarmEvent], *, notify: bool = True) -> None:
        """Record the events (logging, not raising, a failed transaction), then notify."""


def feed_group(prefix: str) -> str:
    """The consumer group every API replica of one deployment shares for the register."""
    return f"{prefix}-alarm-register"


def alarm_topics(prefix: str) -> dict[str, bool]:
    """Alarm topic -> whether its events are annunciated (notified); held ones are not."""
    return {topic_for(ALARM_EVENT, prefix): True, topic_for(ALARM_EVENT, prefix) + ".held": False}


class KafkaAlarmFeed(RegisterFeed[Recorder]):
    """Records the alarm topics into the register, committing offsets only after the register did.

    The annunciated topic's events are handed over first (and notified), then the held ones
    of the flood's ``.held`` topic (recorded without notifying); the consuming loop and the
    arguments are :class:`~api.register_feed.RegisterFeed`'s.
    """

    register = "alarm"
    contract = AlarmEvent
    group_for = staticmethod(feed_group)

    @staticmethod
    def topics_for(prefix: str) -> dict[str, str]:
        """Both alarm topics, the annunciated one first."""
        return dict.fromkeys(alarm_topics(prefix), ALARM_EVENT)

    def _hand_over(self, topic: str, items: list[Any]) -> None:
        self.recorder.handle(items, notify=alarm_topics(self.prefix)[topic])
