"""MQTT payload formats: contract JSON (one reading or a batch) and Sparkplug-like JSON.

Gateways in the field publish in one of two shapes, told apart by the topic:

* **Contract JSON** on any topic (e.g. ``safetwin/{plant}/sensor/{tag}``): one
  :class:`~models.contracts.SensorReading` object, or a JSON array of them (a gateway
  that batches a scan cycle into one message). Each element of a batch is checked on its
  own, so one bad element becomes one dead letter and the rest still arrive.
* **Sparkplug B topic namespace** ``spBv1.0/{group}/{type}/{edge_node}[/{device}]`` with a
  JSON rendering of the Sparkplug payload::

      {"timestamp": 1700000000000, "seq": 3,
       "metrics": [{"name": "PT-101", "timestamp": 1700000000000, "value": 0.85, "quality": 192}]}

  ``DDATA``/``NDATA`` and the ``DBIRTH``/``NBIRTH`` certificates (which carry full values)
  become readings; commands, deaths and ``STATE`` carry no readings and yield nothing. The
  metric name is the tag. A metric's time is its own ``timestamp``, else the payload's, else
  the arrival time. ``quality`` (or ``properties.Quality.value`` as Ignition sends it) is a
  contract quality name or an OPC DA quality number (192 good, 64 uncertain, 0 bad).

  Real Sparkplug B payloads are protobuf (``org.eclipse.tahu.protobuf.Payload``); that
  encoding is not decoded here: a protobuf payload on an ``spBv1.0`` topic becomes a dead
  letter saying so. Metric aliases (names announced once in BIRTH and then omitted) are not
  resolved either: a metric without a name is a dead letter.

Nothing here raises for a bad payload: every unusable message or metric becomes a
:class:`~models.contracts.DeadLetter` with the reason and the raw text. That includes
payloads that are not UTF-8, JSON nested deeper than the decoder's recursion limit, and
payloads over a size limit (default :data:`DEFAULT_MAX_PAYLOAD_BYTES`), whose dead letter
keeps only the first :data:`DEAD_LETTER_RAW_BYTES` bytes and a note of the full size.

Example:
    >>> [r.value for r in decode_payload("safetwin/demo/sensor/PT-101",
    ...     b'[{"tag": "PT-101", "ts": 1700000000000, "value": 0.85}]')]
    [0.85]
    >>> topic = sparkplug_topic("plant1", "DDATA", "gw-1", "plc-3")
    >>> topic
    'spBv1.0/plant1/DDATA/gw-1/plc-3'
    >>> r, = decode_payload(topic, b'{"timestamp": 1700000000000, "metrics": [{"name": "TT-101", "value": 21.5}]}')
    >>> (r.tag, r.ts, r.value, r.source)
    ('TT-101', 1700000000000, 21.5, 'sparkplug/plant1/gw-1/plc-3')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from models.contracts import SENSOR_READING, DeadLetter, Quality, SensorReading, decode_message, now_ms

SPARKPLUG_NAMESPACE: Final = "spBv1.0"
SPARKPLUG_DATA_TYPES: Final = frozenset({"DDATA", "NDATA", "DBIRTH", "NBIRTH"})
"""Message types whose metrics carry values."""
SPARKPLUG_TYPES: Final = SPARKPLUG_DATA_TYPES | {"NDEATH", "DDEATH", "NCMD", "DCMD", "STATE"}
DEFAULT_MAX_PAYLOAD_BYTES: Final = 1 << 20
"""Largest payload decoded (1 MiB); a larger one is dead-lettered, truncated."""
DEAD_LETTER_RAW_BYTES: Final = 1024
"""How much of an oversized payload its dead letter keeps."""

_json_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class SparkplugTopic:
    """The parts of a Sparkplug B topic (``device`` is None for node-level messages)."""

    group: str
    message_type: str
    edge_node: str
    device: str | None = None

    @property
    def source(self) -> str:
        """``SensorReading.source`` of readings from this topic."""
        parts = [self.group, self.edge_node] + ([self.device] if self.device else [])
        return "sparkplug/" + "/".join(parts)


def sparkplug_topic(group: str, message_type: str, edge_node: str, device: str | None = None) -> str:
    """The Sparkplug B topic ``spBv1.0/{group}/{type}/{edge_node}[/{device}]``.

    Raises:
        ValueError: An unknown message type or an empty / wildcard-bearing element.
    """
    if message_type not in SPARKPLUG_TYPES:
        msg = f"unknown Sparkplug message type {message_type!r}, expected one of {sorted(SPARKPLUG_TYPES)}"
        raise ValueError(msg)
    parts = [group, edge_node] + ([device] if device is not None else [])
    for part in parts:
        if not part or any(c in part for c in "/+#"):
            msg = f"Sparkplug topic element {part!r} must be non-empty without '/', '+' or '#'"
            raise ValueError(msg)
    tail = f"/{device}" if device is not None else ""
    return f"{SPARKPLUG_NAMESPACE}/{group}/{message_type}/{edge_node}{tail}"


def parse_sparkplug_topic(topic: str) -> SparkplugTopic | None:
    """The parts of an ``spBv1.0/...`` topic; None for a topic outside that namespace.

    Raises:
        ValueError: An ``spBv1.0`` topic of the wrong shape.
    """
    parts = topic.split("/")
    if parts[0] != SPARKPLUG_NAMESPACE:
        return None
    if len(parts) not in (4, 5) or parts[2] not in SPARKPLUG_TYPES or not all(parts[1:]):
        msg = f"not a Sparkplug B topic: {topic!r} (expected spBv1.0/group/TYPE/edge_node[/device])"
        raise ValueError(msg)
    return SparkplugTopic(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw


def _dead(raw: bytes | str, reason: str, ts: int) -> DeadLetter:
    return DeadLetter(stream=SENSOR_READING, raw=_text(raw), reason=reason, ts=ts)


def decode_json_payload(payload: bytes | str, *, received_ts: int | None = None) -> list[SensorReading | DeadLetter]:
    """One contract reading, or a JSON array of them, to readings and dead letters."""
    ts = received_ts if received_ts is not None else now_ms()
    is_batch = payload.lstrip().startswith(b"[") if isinstance(payload, bytes) else payload.lstrip().startswith("[")
    if not is_batch:
        return [decode_message(SENSOR_READING, payload, received_ts=ts)]
    try:
        items = msgspec.json.decode(payload)
    except msgspec.DecodeError as err:
        return [_dead(payload, f"malformed JSON batch: {err}", ts)]
    if not items:
        return [_dead(payload, "empty batch: a JSON array with no readings", ts)]
    out: list[SensorReading | DeadLetter] = []
    for i, item in enumerate(items):
        parsed = decode_message(SENSOR_READING, _json_encoder.encode(item), received_ts=ts)
        if isinstance(parsed, DeadLetter):
            parsed = msgspec.structs.replace(parsed, reason=f"batch element {i}: {parsed.reason}")
        out.append(parsed)
    return out


def _quality(metric: dict[str, Any]) -> Quality | str:
    """A metric's quality, or the reason it cannot be understood."""
    value: Any = metric.get("quality")
    if value is None:
        props = metric.get("properties")
        if isinstance(props, dict) and isinstance(props.get("Quality"), dict):
            value = props["Quality"].get("value")
    if value is None:
        return Quality.GOOD
    if isinstance(value, str):
        try:
            return Quality(value.lower())
        except ValueError:
            return f"unknown quality {value!r}"
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFF:
        # OPC DA quality: the top two bits of the low byte are the status.
        return {0xC0: Quality.GOOD, 0x40: Quality.UNCERTAIN}.get(value & 0xC0, Quality.BAD)
    return f"quality must be a name or an OPC DA number, got {value!r}"


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def decode_sparkplug_json(
    topic: SparkplugTopic, payload: bytes | str, *, received_ts: int | None = None
) -> list[SensorReading | DeadLetter]:
    """The metrics of one Sparkplug-like JSON payload to readings (one per usable metric)."""
    ts = received_ts if received_ts is not None else now_ms()
    if topic.message_type not in SPARKPLUG_DATA_TYPES:
        return []
    where = f"Sparkplug {topic.message_type} from {topic.source.removeprefix('sparkplug/')}"
    try:
        body = msgspec.json.decode(payload)
    except msgspec.DecodeError as err:
        hint = " (protobuf Sparkplug B is not supported; publish the JSON rendering)" if _looks_binary(payload) else ""
        return [_dead(payload, f"{where}: malformed JSON{hint}: {err}", ts)]
    if not isinstance(body, dict) or not isinstance(body.get("metrics"), list):
        return [_dead(payload, f"{where}: payload must be an object with a 'metrics' list", ts)]
    payload_ts = _epoch_ms(body.get("timestamp")) or ts
    out: list[SensorReading | DeadLetter] = []
    for i, metric in enumerate(body["metrics"]):
        problem, reading = _metric(metric, topic, payload_ts)
        if reading is not None:
            out.append(reading)
        else:
            out.append(_dead(_json_encoder.encode(metric).decode(), f"{where}: metric {i}: {problem}", ts))
    return out


def _metric(metric: Any, topic: SparkplugTopic, default_ts: int) -> tuple[str, SensorReading | None]:
    if not isinstance(metric, dict):
        return "a metric must be an object", None
    name = metric.get("name")
    if not isinstance(name, str) or not name:
        if "alias" in metric:
            return "metric has only an alias; aliases are not resolved, send the name", None
        return "metric needs a non-empty 'name' (the tag)", None
    value = metric.get("value")
    if metric.get("is_null") or value is None:
        return f"{name}: metric has no value (null)", None
    if isinstance(value, bool):
        value = 1.0 if value else 0.0
    if not isinstance(value, int | float) or not math.isfinite(value):
        return f"{name}: value must be a finite number or a boolean, got {value!r}", None
    quality = _quality(metric)
    if not isinstance(quality, Quality):
        return f"{name}: {quality}", None
    ts = _epoch_ms(metric.get("timestamp")) or default_ts
    return "", SensorReading(tag=name, ts=ts, value=float(value), quality=quality, source=topic.source)


def _looks_binary(payload: bytes | str) -> bool:
    if isinstance(payload, str):
        return False
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return any(b < 0x09 for b in payload[:64])


def oversized_dead_letter(payload: bytes | str, limit: int, ts: int) -> DeadLetter:
    """The dead letter of a payload over ``limit`` bytes: its first KiB and its full size, never all of it."""
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    size = len(data)
    raw = data[:DEAD_LETTER_RAW_BYTES].decode("utf-8", errors="replace")
    if size > DEAD_LETTER_RAW_BYTES:
        raw += f"... [truncated: first {DEAD_LETTER_RAW_BYTES} of {size} bytes]"
    return DeadLetter(
        stream=SENSOR_READING, raw=raw, reason=f"payload of {size} bytes exceeds the {limit}-byte limit", ts=ts
    )


def _not_utf8(payload: bytes, err: UnicodeDecodeError, sparkplug: SparkplugTopic | None, ts: int) -> DeadLetter:
    reason = f"payload is not valid UTF-8 ({err.reason} at byte {err.start})"
    if sparkplug is not None:
        reason = (
            f"Sparkplug {sparkplug.message_type} from {sparkplug.source.removeprefix('sparkplug/')}: {reason}; "
            "protobuf Sparkplug B is not supported, publish the JSON rendering"
        )
    return _dead(payload, reason, ts)


def decode_payload(
    topic: str,
    payload: bytes | str,
    *,
    received_ts: int | None = None,
    max_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> list[SensorReading | DeadLetter]:
    r"""Decode one MQTT message by its topic: Sparkplug-like JSON on ``spBv1.0/...``, else contract JSON.

    Never raises: a payload over ``max_bytes``, one that is not UTF-8, JSON nested too
    deeply or anything else the decoder rejects becomes a dead letter with the reason.

    Example:
        >>> [d.reason for d in decode_payload("a/b", b'{"tag": "PT-1\xff"}')]
        ['payload is not valid UTF-8 (invalid start byte at byte 13)']
        >>> [d.reason for d in decode_payload("a/b", b"[" * 200_000)]
        ['JSON nested too deeply to decode (more levels than the decoder allows)']
    """
    ts = received_ts if received_ts is not None else now_ms()
    size = len(payload) if isinstance(payload, bytes) else len(payload.encode("utf-8"))
    if size > max_bytes:
        return [oversized_dead_letter(payload, max_bytes, ts)]
    try:
        sparkplug = parse_sparkplug_topic(topic)
    except ValueError as err:
        return [_dead(payload, str(err), ts)]
    if isinstance(payload, bytes):
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as err:
            return [_not_utf8(payload, err, sparkplug, ts)]
    try:
        if sparkplug is not None:
            return decode_sparkplug_json(sparkplug, payload, received_ts=ts)
        return decode_json_payload(payload, received_ts=ts)
    except RecursionError:
        return [_dead(payload, "JSON nested too deeply to decode (more levels than the decoder allows)", ts)]
    except Exception as err:  # noqa: BLE001 - no payload may escape as an exception
        return [_dead(payload, f"undecodable payload: {type(err).__name__}: {err}", ts)]


def encode_sparkplug_json(readings: list[SensorReading], *, timestamp: int | None = None, seq: int = 0) -> bytes:
    """The Sparkplug-like JSON payload of some readings (for gateways, the twin and tests)."""
    body = {
        "timestamp": timestamp if timestamp is not None else now_ms(),
        "seq": seq % 256,
        "metrics": [
            {"name": r.tag, "timestamp": r.ts, "dataType": "Double", "value": r.value, "quality": str(r.quality)}
            for r in readings
        ],
    }
    return _json_encoder.encode(body)
