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

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from kafka import KafkaConsumer

from api.kafka_live import KafkaLivePush
from connectors.bus.memory import Bus
from connectors.kafka.admin import topic_for
from models.contracts import ALARM_EVENT, AlarmEvent

logger = logging.getLogger(__name__)


class Recorder(Protocol):
    """What the feed needs of :class:`api.alarm_worker.AlarmWorker`."""

    recorded: int
    """Events recorded in the register so far (only successful transactions count)."""

    def handle(self, events: list[AlarmEvent], *, notify: bool = True) -> None:
        """Record the events (logging, not raising, a failed transaction), then notify."""


class RegisterUnavailable(RuntimeError):
    """The register did not take a batch; its offsets stay uncommitted and it is read again."""


def feed_group(prefix: str) -> str:
    """The consumer group every API replica of one deployment shares for the register."""
    return f"{prefix}-alarm-register"


def alarm_topics(prefix: str) -> dict[str, bool]:
    """Alarm topic -> whether its events are annunciated (notified); held ones are not."""
    return {topic_for(ALARM_EVENT, prefix): True, topic_for(ALARM_EVENT, prefix) + ".held": False}


class KafkaAlarmFeed(KafkaLivePush):
    """Records the alarm topics into the register, committing offsets only after the register did.

    Reuses :class:`~api.kafka_live.KafkaLivePush`'s consumer life cycle (reconnect with
    back-off, bad messages skipped and logged once, ``connected`` / ``last_error`` for
    ``/health``); what differs is the shared group, the earliest start and the commit.

    Args:
        recorder: The replica's alarm worker; a batch it did not record in full is not
            committed, and the consumer starts again from the last commit after a back-off.
        brokers: Kafka bootstrap addresses.
        prefix: Topic prefix of the deployment (``SAFETWIN_KAFKA_TOPIC_PREFIX``).
        consumer_config: Extra ``KafkaConsumer`` keyword arguments.
        poll_timeout_s: Longest wait in one poll; bounds how long :meth:`stop` takes.
    """

    def __init__(
        self,
        recorder: Recorder,
        brokers: list[str],
        *,
        prefix: str = "safetwin",
        consumer_config: Mapping[str, Any] | None = None,
        poll_timeout_s: float = 0.2,
    ) -> None:
        self.notify_of = alarm_topics(prefix)
        config = {"auto_offset_reset": "earliest", **dict(consumer_config or {})}
        super().__init__(
            Bus(),  # unused: events go to the register, not to live push
            brokers,
            stream="alarm-register",
            topics=dict.fromkeys(self.notify_of, ALARM_EVENT),
            group_id=feed_group(prefix),
            consumer_config=config,
            poll_timeout_s=poll_timeout_s,
        )
        self.recorder = recorder

    def _consume(self, consumer: KafkaConsumer) -> None:
        timeout_ms = max(1, int(self.poll_timeout_s * 1000))
        while not self._stop.is_set():
            batch = consumer.poll(timeout_ms=timeout_ms)
            for notify in (True, False):
                events = [
                    item
                    for tp, records in batch.items()
                    if self.notify_of.get(tp.topic) is notify
                    for record in records
                    for item in self._decode(ALARM_EVENT, record.value)
                    if isinstance(item, AlarmEvent)
                ]
                if events:
                    before = self.recorder.recorded
                    self.recorder.handle(events, notify=notify)
                    if self.recorder.recorded - before < len(events):
                        msg = f"the alarm register took {self.recorder.recorded - before} of {len(events)} events"
                        raise RegisterUnavailable(msg)
            if batch:
                consumer.commit()  # only after the register has the events: at-least-once
            self._assigned = bool(consumer.assignment())
            self._poll_ok = True
            self.last_error = None if self._assigned else "no alarm-topic partitions assigned yet"
