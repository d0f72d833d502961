"""Kafka topics recorded into a register by the API replicas of the distributed mode, at least once.

The alarm register (:mod:`api.alarm_feed`) and the risk-warning register
(:mod:`api.risk_warnings`) are fed the same way: every replica joins ONE consumer group per
register, so Kafka hands each partition to exactly one replica; that replica decodes a polled
batch, hands it to the register's recorder, and commits the offsets only once the register
took every item. A batch the register refused raises :class:`RegisterUnavailable`: the
consumer closes without committing and :class:`~api.kafka_live.KafkaLivePush`'s back-off loop
reads the batch again from the last commit. The recorders recognise a repeat, so a replay
after a crash changes nothing. Subclasses name only the topics, the contract and the group, and
say how a topic's items reach their recorder (:meth:`RegisterFeed._hand_over`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from kafka import KafkaConsumer

from api.kafka_live import KafkaLivePush
from connectors.bus.memory import Bus

__all__ = ["RegisterFeed", "RegisterUnavailable", "TakesBatches"]


class TakesBatches(Protocol):
    """What a feed needs of its recorder: a count of the items the register took."""

    recorded: int
    """Items the register took so far (only successful transactions count)."""


R = TypeVar("R", bound=TakesBatches)


class RegisterUnavailable(RuntimeError):
    """The register did not take a batch; its offsets stay uncommitted and it is read again."""


class RegisterFeed(KafkaLivePush, ABC, Generic[R]):
    """Records contract messages from Kafka topics into a register, committing after the register did.

    Reuses :class:`~api.kafka_live.KafkaLivePush`'s consumer life cycle (reconnect with
    back-off, bad messages skipped and logged once, ``metadata_max_age_ms`` of 5 s so topics
    created later are picked up, ``connected`` / ``last_error`` for ``/health``); what differs
    is the shared group, the earliest start (what was produced before any replica was up is
    recorded too) and the commit. A subclass names its :attr:`register`, :attr:`contract`,
    topics (:meth:`topics_for`) and group (:meth:`group_for`), and hands items over.

    Args:
        recorder: The replica's recorder; a batch it did not take in full is not committed,
            and the consumer starts again from the last commit after a back-off.
        brokers: Kafka bootstrap addresses.
        prefix: Topic prefix of the deployment (``SAFETWIN_KAFKA_TOPIC_PREFIX``).
        consumer_config: Extra ``KafkaConsumer`` keyword arguments.
        poll_timeout_s: Longest wait in one poll; bounds how long :meth:`stop` takes.
    """

    register: ClassVar[str]
    """The register's name in errors and in the (unused) bus stream name."""
    contract: ClassVar[type]
    """The message type recorded; anything else a topic carries is ignored."""

    def __init__(
        self,
        recorder: R,
        brokers: list[str],
        *,
        prefix: str = "safetwin",
        consumer_config: Mapping[str, Any] | None = None,
        poll_timeout_s: float = 0.5,
    ) -> None:
        self.prefix = prefix
        config = {"auto_offset_reset": "earliest", **dict(consumer_config or {})}
        super().__init__(
            Bus(),  # unused: items go to the register, not to live push
            brokers,
            stream=f"{self.register}-register",
            topics=self.topics_for(prefix),
            group_id=self.group_for(prefix),
            consumer_config=config,
            poll_timeout_s=poll_timeout_s,
        )
        self.recorder = recorder

    @staticmethod
    @abstractmethod
    def topics_for(prefix: str) -> dict[str, str]:
        """Topic -> contract stream name; items are handed over topic by topic, in this order."""

    @staticmethod
    @abstractmethod
    def group_for(prefix: str) -> str:
        """The consumer group every replica of the deployment shares for this register."""

    @abstractmethod
    def _hand_over(self, topic: str, items: list[Any]) -> None:
        """Give one topic's decoded items of a poll to the recorder (which counts what it took)."""

    def _consume(self, consumer: KafkaConsumer) -> None:
        timeout_ms = max(1, int(self.poll_timeout_s * 1000))
        while not self._loop.stopping:
            batch = consumer.poll(timeout_ms=timeout_ms)
            by_topic: dict[str, list[Any]] = {topic: [] for topic in self.topics}
            for tp, records in batch.items():
                name = self.topics.get(tp.topic)
                if name is None:
                    continue
                for record in records:
                    decoded = self._decode(name, record.value)
                    by_topic[tp.topic] += [item for item in decoded if isinstance(item, self.contract)]
            for topic, items in by_topic.items():
                if items:
                    before = self.recorder.recorded
                    self._hand_over(topic, items)
                    took = self.recorder.recorded - before
                    if took < len(items):
                        msg = f"the {self.register} register took {took} of {len(items)} {self.topics[topic]} messages"
                        raise RegisterUnavailable(msg)
            if batch:
                consumer.commit()  # only after the register has the items: at-least-once
            self._assigned = bool(consumer.assignment())
            self._poll_ok = True
            self.last_error = None if self._assigned else f"no {self.register}-topic partitions assigned yet"
