"""MQTT publisher and subscriber for sensor readings (paho-mqtt 2.x).

Field gateways in small plants often push readings over MQTT instead of being polled. Each
reading travels as the contract JSON (:func:`models.contracts.encode`) on
``safetwin/{plant_id}/sensor/{tag}``, a gateway may batch several readings into one JSON
array, and Sparkplug-style gateways publish on ``spBv1.0/...`` (see
:mod:`connectors.mqtt.payloads`). The subscriber turns every payload into
:class:`~models.contracts.SensorReading` items or, when it cannot be used, a
:class:`~models.contracts.DeadLetter` with the reason, so one bad gateway never stops the
flow.

paho runs its network loop in a background thread (``loop_start``), so these classes are
plain synchronous objects: publishing only queues a message, and ``on_message`` is called on
paho's thread. Async callers bridge with ``loop.call_soon_threadsafe``. Nothing connects in
a constructor; ``connect()`` blocks until the broker has acknowledged the session (and the
subscription), so a test or a service knows it is really live.

Example:
    >>> broker = parse_mqtt_url("mqtt://127.0.0.1:1883")
    >>> broker.host, broker.port
    ('127.0.0.1', 1883)
    >>> sensor_topic("demo", "PT-101")
    'safetwin/demo/sensor/PT-101'
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import msgspec
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from connectors.mqtt.payloads import DEFAULT_MAX_PAYLOAD_BYTES, encode_sparkplug_json, sparkplug_topic
from connectors.mqtt.payloads import decode_payload as _decode_payload
from models.contracts import SENSOR_READING, DeadLetter, SensorReading, dead_letter, encode, now_ms

logger = logging.getLogger(__name__)

DEFAULT_PORT = 1883


class MqttError(ConnectionError):
    """The broker could not be reached, refused us, or did not answer in time."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and who we are to it, parsed from an ``mqtt://`` URL."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None


def parse_mqtt_url(url: str) -> BrokerAddress:
    """Parse ``mqtt://[user[:password]@]host[:port]`` (``tcp://`` is accepted as an alias).

    Raises:
        ValueError: Another scheme, or no host.
    """
    u = urlparse(url)
    if u.scheme not in ("mqtt", "tcp"):
        msg = f"unsupported MQTT URL scheme {u.scheme!r} in {url!r}: use mqtt://host:port"
        raise ValueError(msg)
    if not u.hostname:
        msg = f"MQTT URL {url!r} has no host"
        raise ValueError(msg)
    return BrokerAddress(
        host=u.hostname,
        port=u.port or DEFAULT_PORT,
        username=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password else None,
    )


def sensor_topic(plant_id: str, tag: str) -> str:
    """The topic one tag's readings are published on."""
    return f"safetwin/{plant_id}/sensor/{tag}"


def _new_client(address: BrokerAddress, prefix: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{uuid.uuid4().hex[:12]}")
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    return client


class _Session:
    """Connection handling shared by publisher and subscriber: connect, wait for CONNACK, close."""

    _prefix = "safetwin"

    def __init__(self, url: str, *, keepalive: int = 30) -> None:
        self.url = url
        self.address = parse_mqtt_url(url)
        self.keepalive = keepalive
        self._client: mqtt.Client | None = None
        self._ready = threading.Event()
        self._refused: str | None = None

    @property
    def connected(self) -> bool:
        """Whether the broker session is up right now."""
        return self._client is not None and self._client.is_connected()

    def connect(self, timeout: float = 5.0) -> None:
        """Connect and wait until the broker is ready (blocking; call via ``asyncio.to_thread``).

        paho reconnects on its own afterwards (``reconnect_delay_set``), so a broker restart
        only costs the messages sent while it was down (QoS 0).

        Raises:
            MqttError: The broker is unreachable, refused the session, or was too slow.
        """
        if self._client is not None:
            return
        client = _new_client(self.address, self._prefix)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._setup(client)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        try:
            client.connect(self.address.host, self.address.port, keepalive=self.keepalive)
        except OSError as err:
            msg = f"cannot reach MQTT broker at {self.address.host}:{self.address.port}: {err}"
            raise MqttError(msg) from err
        self._client = client
        client.loop_start()
        if not self._ready.wait(timeout) or self._refused is not None:
            reason = self._refused or f"no answer within {timeout} s"
            self.close()
            msg = f"MQTT broker at {self.address.host}:{self.address.port} not ready: {reason}"
            raise MqttError(msg)

    def close(self) -> None:
        """Disconnect and stop paho's network thread (idempotent)."""
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        self._ready.clear()

    def _setup(self, client: mqtt.Client) -> None:
        """Hook for subclasses to attach callbacks before connecting."""

    def _on_connected(self, client: mqtt.Client) -> bool:
        """Hook run on every (re)connection; return True when the session is ready."""
        return True

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            self._ready.set()
            return
        self._refused = None
        if self._on_connected(client):
            self._ready.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if self._client is not None:
            logger.warning("MQTT connection to %s lost (%s); paho will reconnect", self.url, reason)


class MqttPublisher(_Session):
    """Publishes contract messages (QoS 0 by default: a newer reading supersedes a lost one).

    Args:
        url: ``mqtt://host:port`` of the broker.
        keepalive: Seconds between keep-alive pings.
    """

    _prefix = "safetwin-pub"

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False) -> None:
        """Queue one raw payload for sending (non-blocking).

        Raises:
            MqttError: Not connected (``connect()`` was not called or the session was closed).
        """
        client = self._client
        if client is None:
            msg = "MqttPublisher.publish() before connect()"
            raise MqttError(msg)
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            logger.warning("MQTT publish to %s failed: %s", topic, mqtt.error_string(info.rc))

    def publish_message(self, topic: str, message: msgspec.Struct, *, qos: int = 0) -> None:
        """Publish one contract message as its bus JSON."""
        self.publish(topic, encode(message), qos=qos)

    def publish_readings(self, plant_id: str, readings: list[SensorReading], *, qos: int = 0) -> None:
        """Publish each reading on its tag's topic (``safetwin/{plant_id}/sensor/{tag}``)."""
        for reading in readings:
            self.publish(sensor_topic(plant_id, reading.tag), encode(reading), qos=qos)

    def publish_batch(self, topic: str, readings: list[SensorReading], *, qos: int = 0) -> None:
        """Publish readings as one JSON array on one topic (a gateway's scan cycle)."""
        self.publish(topic, encode_batch(readings), qos=qos)

    def publish_sparkplug(
        self,
        group: str,
        edge_node: str,
        device: str | None,
        readings: list[SensorReading],
        *,
        message_type: str = "DDATA",
        seq: int = 0,
        qos: int = 0,
    ) -> None:
        """Publish readings as one Sparkplug-like JSON payload on ``spBv1.0/{group}/{type}/{edge}[/{device}]``."""
        topic = sparkplug_topic(group, message_type, edge_node, device)
        self.publish(topic, encode_sparkplug_json(readings, timestamp=now_ms(), seq=seq), qos=qos)


def encode_batch(readings: list[SensorReading]) -> bytes:
    """A JSON array of contract readings (what :meth:`MqttPublisher.publish_batch` sends)."""
    return b"[" + b",".join(encode(r) for r in readings) + b"]"


class MqttSubscriber(_Session):
    """Receives readings from a topic (filter) and hands each one, parsed, to ``on_message``.

    A batch payload (JSON array) or a Sparkplug payload with several metrics calls
    ``on_message`` once per reading (or dead letter), in payload order. No payload can stop
    the subscription: whatever cannot be decoded (not UTF-8, nested too deeply, over
    ``max_payload_bytes``, anything the decoder trips on) is handed over as a dead letter
    with the reason and logged, and the next message is delivered as usual.

    Args:
        url: ``mqtt://host:port`` of the broker.
        topic: Topic or filter, e.g. ``safetwin/demo/sensor/#``.
        on_message: Called on paho's network thread with a reading or a dead letter; an
            exception it raises is logged, never allowed to kill the network thread.
        qos: Subscription QoS.
        keepalive: Seconds between keep-alive pings.
        max_payload_bytes: Largest payload decoded; a larger one becomes a dead letter
            holding only its first KiB and its size.
    """

    _prefix = "safetwin-sub"

    def __init__(
        self,
        url: str,
        topic: str,
        on_message: Callable[[SensorReading | DeadLetter], None],
        *,
        qos: int = 0,
        keepalive: int = 30,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    ) -> None:
        if max_payload_bytes <= 0:
            msg = f"max_payload_bytes must be positive, got {max_payload_bytes}"
            raise ValueError(msg)
        super().__init__(url, keepalive=keepalive)
        self.topic = topic
        self.max_payload_bytes = max_payload_bytes
        self.qos = qos
        self.on_message = on_message
        self._sub_mid: int | None = None

    def _setup(self, client: mqtt.Client) -> None:
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe

    def _on_connected(self, client: mqtt.Client) -> bool:
        # Subscribing on every connection restores the subscription after a broker restart.
        _rc, self._sub_mid = client.subscribe(self.topic, qos=self.qos)
        return False  # ready once the broker has acknowledged the subscription

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        failed = [r for r in reasons if getattr(r, "is_failure", False)]
        if failed:
            self._refused = f"subscription to {self.topic!r} refused: {failed[0]}"
        if mid == self._sub_mid:
            self._ready.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Runs on paho's network thread: an exception escaping here would end the thread and
        # with it the subscription, silently. Nothing may escape.
        payload = bytes(message.payload)
        try:
            items = _decode_payload(message.topic, payload, max_bytes=self.max_payload_bytes)
        except Exception as err:  # noqa: BLE001 - decode_payload never raises; this is the last line
            logger.exception("MQTT payload on %s could not be decoded", message.topic)
            items = [dead_letter(SENSOR_READING, payload[:1024], f"decoder failed: {type(err).__name__}: {err}")]
        for parsed in items:
            if isinstance(parsed, DeadLetter):
                logger.warning("MQTT payload on %s dead-lettered: %s", message.topic, parsed.reason[:200])
            try:
                self.on_message(parsed)
            except Exception:
                logger.exception("on_message callback failed for a message on %s", message.topic)
