"""Topic naming and idempotent topic creation for the Kafka bus.

Topics are created explicitly (not by the broker's auto-create) so that partition counts are a
deliberate choice: the partition count bounds a stream's parallelism in Bytewax and cannot be
lowered later.

Example:
    >>> topic_for("sensor.reading")
    'safetwin.sensor.reading'
    >>> topic_for("alarm.event", prefix="plant-a")
    'plant-a.alarm.event'
"""

from __future__ import annotations

import logging
import re
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

logger = logging.getLogger(__name__)

# Kafka's own rule (kafka.common.internals.Topic): ASCII letters, digits, '.', '_', '-', <= 249.
_LEGAL_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


class KafkaAdminError(RuntimeError):
    """Topics could not be created or verified."""


def topic_for(stream: str, prefix: str = "safetwin") -> str:
    """Kafka topic that carries a contract stream: ``<prefix>.<stream>``.

    Args:
        stream: Contract stream name, e.g. ``"sensor.reading"``.
        prefix: Namespace shared by one deployment (several plants can share a cluster).

    Returns:
        The topic name.

    Raises:
        ValueError: If the result is not a legal Kafka topic name.
    """
    topic = f"{prefix}.{stream}" if prefix else stream
    if not _LEGAL_TOPIC.fullmatch(topic) or topic in {".", ".."}:
        msg = f"illegal Kafka topic name {topic!r} (use letters, digits, '.', '_', '-'; at most 249)"
        raise ValueError(msg)
    return topic


def ensure_topics(
    brokers: list[str],
    topics: dict[str, int],
    *,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
    admin_config: dict[str, Any] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet and wait until every partition has a leader.

    Existing topics are left as they are, even with a different partition count: changing a
    live topic's partitioning reshuffles keys and is an operator's decision, not a start-up
    side effect. A warning is logged instead.

    Args:
        brokers: Bootstrap addresses, ``host:port``.
        topics: Topic name -> number of partitions.
        replication_factor: Copies of each partition (1 on a single-node broker).
        timeout_s: Upper bound for creation and leader election.
        admin_config: Extra ``KafkaAdminClient`` keyword arguments (security).

    Returns:
        The names of the topics this call created (empty when all existed).

    Raises:
        KafkaAdminError: If the cluster is unreachable or refuses to create a topic.
    """
    if not topics:
        return []
    for name, partitions in topics.items():
        topic_for(name, prefix="")  # validates the name
        if partitions < 1:
            msg = f"topic {name!r} needs at least one partition, got {partitions}"
            raise ValueError(msg)
    timeout_ms = int(timeout_s * 1000)
    admin = _admin(brokers, admin_config)
    try:
        existing = {t["name"]: len(t.get("partitions") or []) for t in admin.describe_topics(list(topics))}
        existing = {name: n for name, n in existing.items() if n > 0}
        for name, n in existing.items():
            if n != topics[name]:
                logger.warning("kafka topic %s has %d partitions, wanted %d; left unchanged", name, n, topics[name])
        missing = {
            name: {"num_partitions": partitions, "replication_factor": replication_factor}
            for name, partitions in topics.items()
            if name not in existing
        }
        created: list[str] = []
        if missing:
            result = admin.create_topics(missing, timeout_ms=timeout_ms, raise_errors=False)
            for entry in result["topics"]:
                code = entry.get("error_code", 0)
                if code == 0:
                    created.append(entry["name"])
                elif code != TopicAlreadyExistsError.errno:  # a concurrent creator won the race
                    msg = f"cannot create Kafka topic {entry['name']!r}: error {code} {entry.get('error_message')}"
                    raise KafkaAdminError(msg)
        # Creation is acknowledged before the leaders are elected; wait so the first producer
        # or consumer does not see an empty partition list.
        admin.wait_for_topics(list(topics), timeout_ms=timeout_ms)
    except KafkaError as err:
        msg = f"cannot ensure Kafka topics {sorted(topics)} at {brokers}"
        raise KafkaAdminError(msg) from err
    finally:
        admin.close()
    if created:
        logger.info("created kafka topics %s", created)
    return created


def describe_partitions(
    brokers: list[str], topics: list[str], *, admin_config: dict[str, Any] | None = None
) -> dict[str, int]:
    """Partition count of each of ``topics`` that exists (absent topics are left out).

    Args:
        brokers: Bootstrap addresses, ``host:port``.
        topics: Topic names to look up.
        admin_config: Extra ``KafkaAdminClient`` keyword arguments (security, timeouts).

    Returns:
        Topic name -> number of partitions, for the topics that exist.

    Raises:
        KafkaAdminError: If the cluster is unreachable.
    """
    admin = _admin(brokers, admin_config)
    try:
        described = admin.describe_topics(list(topics))
    except KafkaError as err:
        msg = f"cannot describe Kafka topics {sorted(topics)} at {brokers}"
        raise KafkaAdminError(msg) from err
    finally:
        admin.close()
    counts = {t["name"]: len(t.get("partitions") or []) for t in described}
    return {name: n for name, n in counts.items() if n > 0}


def _admin(brokers: list[str], admin_config: dict[str, Any] | None) -> KafkaAdminClient:
    """An admin client, with an unreachable cluster translated to :class:`KafkaAdminError`."""
    config: dict[str, Any] = {"bootstrap_servers": list(brokers), "client_id": "safetwin-admin"}
    config.update(admin_config or {})
    try:
        return KafkaAdminClient(**config)
    except KafkaError as err:
        msg = f"cannot reach Kafka at {', '.join(brokers)}"
        raise KafkaAdminError(msg) from err
