"""Parse DeepStream ``nvmsgconv`` payloads into ``video.detection`` messages.

Edge boxes run DeepStream (detector + tracker) and publish through ``nvmsgbroker`` to Kafka in
one of two schemas (``payload-type`` of nvmsgconv; RECIPES.md §5):

* **full** (``NVDS_PAYLOAD_DEEPSTREAM``, 0): one JSON per object: ``@timestamp``,
  ``sensor.id``, ``place``, ``object`` with the tracking ``id``, the ``bbox``
  (``topleftx/toplefty/bottomrightx/bottomrighty``) and one sub-object named after the
  object type (``vehicle``, ``person``, ``face``, or a custom model's class such as
  ``no_helmet``) that carries the ``confidence``; ``videoPath`` may name a snapshot/clip.
* **minimal** (``NVDS_PAYLOAD_DEEPSTREAM_MINIMAL``, 1): one JSON per frame: ``@timestamp``,
  ``sensorId`` and ``objects``, each a string
  ``trackingId|left|top|right|bottom|Type[|#|attr...|confidence][|#|embedding|v1,v2,...|]``.

:func:`parse_payload` takes the raw Kafka value and returns the detections it holds plus
dead letters (with the reason) for what cannot be used: malformed JSON, a schema that is
neither, a missing timestamp or sensor, a bad object string or box. One bad object in a
frame does not lose the others. It never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from models.contracts import VIDEO_DETECTION, DeadLetter, VideoDetection, dead_letter

RAW_KEEP: Final = 2048
_ANY: Final = msgspec.json.Decoder()
_NOT_TYPE_KEYS: Final = frozenset(
    {"id", "speed", "direction", "orientation", "bbox", "location", "coordinate", "pose", "signature",
     "maskoutline", "embedding"}
)  # fmt: skip
MAX_PIXELS: Final = 1 << 16


def _text(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        return raw[:RAW_KEEP].decode("utf-8", errors="replace")
    return raw[:RAW_KEEP]


def parse_time(value: Any) -> int:
    """RFC 3339 time of nvmsgconv (``2018-04-11T04:59:59.828Z``) -> epoch ms.

    Raises:
        ValueError: If it is not such a time.
    """
    if not isinstance(value, str) or not value:
        msg = f"@timestamp must be an RFC 3339 string, got {value!r}"
        raise ValueError(msg)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        msg = f"@timestamp {value!r} is not an RFC 3339 time"
        raise ValueError(msg) from err
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _box(left: Any, top: Any, right: Any, bottom: Any) -> tuple[int, int, int, int]:
    vals = []
    for v in (left, top, right, bottom):
        if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
            msg = f"bbox values must be numbers, got {v!r}"
            raise ValueError(msg)
        vals.append(round(v))
    x0, y0, x1, y1 = vals
    if not (0 <= x0 < x1 <= MAX_PIXELS and 0 <= y0 < y1 <= MAX_PIXELS):
        msg = f"bbox {vals} is not a box (need 0 <= left < right, 0 <= top < bottom)"
        raise ValueError(msg)
    return x0, y0, x1, y1


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        msg = f"confidence must be a number in [0, 1], got {value!r}"
        raise ValueError(msg)
    return float(value)


def label_of(kind: str) -> str:
    """DeepStream type name -> our label: lower case, spaces and dashes as underscores."""
    return kind.strip().lower().replace(" ", "_").replace("-", "_")


def _full(doc: Mapping[str, Any], ts: int) -> VideoDetection:
    sensor = doc.get("sensor")
    camera = sensor.get("id") if isinstance(sensor, dict) else None
    if not isinstance(camera, str) or not camera:
        msg = "full schema without sensor.id (no [sensorN] entry in the msgconv config?)"
        raise ValueError(msg)
    obj = doc.get("object")
    if not isinstance(obj, dict):
        msg = "full schema without an object"
        raise ValueError(msg)
    kinds = [k for k, v in obj.items() if k not in _NOT_TYPE_KEYS and isinstance(v, dict)]
    if len(kinds) != 1:
        msg = f"object must have exactly one type sub-object, found {kinds}"
        raise ValueError(msg)
    sub = obj[kinds[0]]
    bbox = obj.get("bbox")
    if not isinstance(bbox, dict):
        msg = "object without bbox"
        raise ValueError(msg)
    box = _box(bbox.get("topleftx"), bbox.get("toplefty"), bbox.get("bottomrightx"), bbox.get("bottomrighty"))
    place = doc.get("place")
    zone = place.get("id") if isinstance(place, dict) and isinstance(place.get("id"), str) else None
    track = obj.get("id")
    video = doc.get("videoPath")
    return VideoDetection(
        camera_id=camera,
        ts=ts,
        label=label_of(kinds[0]),
        confidence=_confidence(sub.get("confidence", 1.0)),
        bbox=box,
        track_id=str(track) if track not in (None, "", "-1") else None,
        zone_id=zone or None,
        snapshot_ref=video if isinstance(video, str) and video else None,
    )


def parse_object_string(camera: str, ts: int, text: Any) -> VideoDetection:
    """One object of the minimal schema.

    Raises:
        ValueError: If the string is not ``id|left|top|right|bottom|Type[...]``.
    """
    if not isinstance(text, str):
        msg = f"object must be a string, got {type(text).__name__}"
        raise ValueError(msg)
    parts = text.split("|")
    if len(parts) < 6 or not parts[5]:
        msg = f"object string {text[:200]!r} has fewer than the 6 fields id|left|top|right|bottom|Type"
        raise ValueError(msg)
    try:
        nums = [float(p) for p in parts[1:5]]
    except ValueError as err:
        msg = f"object string {text[:200]!r}: left|top|right|bottom must be numbers"
        raise ValueError(msg) from err
    box = _box(*nums)
    confidence = 1.0  # no secondary attributes: the edge already applied its threshold
    rest = parts[6:]
    if rest and rest[0] == "#":
        attrs = rest[1:]
        if "#" in attrs:
            attrs = attrs[: attrs.index("#")]  # an embedding follows
        attrs = [a for a in attrs if a != ""]
        if attrs:
            try:
                confidence = _confidence(float(attrs[-1]))
            except ValueError as err:
                msg = f"object string {text[:200]!r}: last attribute must be the confidence"
                raise ValueError(msg) from err
    track = parts[0].strip()
    return VideoDetection(
        camera_id=camera,
        ts=ts,
        label=label_of(parts[5]),
        confidence=confidence,
        bbox=box,
        track_id=track if track not in ("", "-1") else None,
    )


def parse_payload(raw: bytes | str, *, received_ms: int) -> tuple[list[VideoDetection], list[DeadLetter]]:
    """A Kafka value of an nvmsgbroker topic -> detections and dead letters. Never raises."""
    dead: list[DeadLetter] = []
    try:
        doc = _ANY.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as err:
        return [], [dead_letter(VIDEO_DETECTION, _text(raw), f"malformed JSON: {err}", ts=received_ms)]
    if not isinstance(doc, dict):
        return [], [dead_letter(VIDEO_DETECTION, _text(raw), "payload is not a JSON object", ts=received_ms)]
    if "objects" not in doc and "object" not in doc:
        reason = "neither DeepStream schema: no 'object' (full) nor 'objects' (minimal)"
        return [], [dead_letter(VIDEO_DETECTION, _text(raw), reason, ts=received_ms)]
    try:
        ts = parse_time(doc.get("@timestamp"))
    except ValueError as err:
        return [], [dead_letter(VIDEO_DETECTION, _text(raw), str(err), ts=received_ms)]
    if "object" in doc:
        try:
            return [_full(doc, ts)], []
        except ValueError as err:
            return [], [dead_letter(VIDEO_DETECTION, _text(raw), str(err), ts=received_ms)]
    camera = doc.get("sensorId")
    objects = doc.get("objects")
    if not isinstance(camera, str) or not camera:
        return [], [dead_letter(VIDEO_DETECTION, _text(raw), "minimal schema without sensorId", ts=received_ms)]
    if not isinstance(objects, list):
        return [], [dead_letter(VIDEO_DETECTION, _text(raw), "minimal schema: objects must be a list", ts=received_ms)]
    out: list[VideoDetection] = []
    for item in objects:
        try:
            out.append(parse_object_string(camera, ts, item))
        except ValueError as err:
            dead.append(
                dead_letter(
                    VIDEO_DETECTION, _text(repr(item) if not isinstance(item, str) else item), str(err), ts=received_ms
                )
            )
    return out, dead


def frame_seen(raw: bytes | str) -> tuple[str, int] | None:
    """``(camera, ts)`` of a minimal-schema frame (also an empty one), else ``None``.

    An empty frame matters: it says the camera is alive and saw nobody (absence from post).
    """
    try:
        doc = _ANY.decode(raw)
        if isinstance(doc, dict) and isinstance(doc.get("sensorId"), str) and "objects" in doc:
            return doc["sensorId"], parse_time(doc.get("@timestamp"))
        if isinstance(doc, dict) and isinstance(doc.get("sensor"), dict) and isinstance(doc["sensor"].get("id"), str):
            return doc["sensor"]["id"], parse_time(doc.get("@timestamp"))
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError):
        return None
    return None
