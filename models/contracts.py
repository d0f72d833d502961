"""Typed stream messages shared by every SafeTwin component (contract version 1).

These are the "small shared types" of ARCHITECTURE.md: every stream on the bus (in-process
queue or Kafka topic) carries one of these structs as JSON. They live at the bottom of the
import graph (``connectors``) so that connectors, models, pipelines and the API all speak the
same language without importing each other.

msgspec is used instead of pydantic on the hot path because decoding *and* validating a
reading is ~10x cheaper, which matters at 10k tags x 1 Hz on one core.

All times are UTC epoch milliseconds (``int``).

Example:
    >>> r = SensorReading(tag="TT-101", ts=1_700_000_000_000, value=21.5)
    >>> decode_message(SENSOR_READING, encode(r)) == r
    True
    >>> dl = decode_message(SENSOR_READING, b'{"tag": 1}')
    >>> isinstance(dl, DeadLetter), dl.stream
    (True, 'sensor.reading')
"""

from __future__ import annotations

import math
import time
from enum import StrEnum
from typing import Any, Final, Literal, TypeAlias

import msgspec

CONTRACT_VERSION: Final = 1

SENSOR_READING: Final = "sensor.reading"
LOCATION_RANGING: Final = "location.ranging"
LOCATION_POSITION: Final = "location.position"
VIDEO_DETECTION: Final = "video.detection"
ALARM_EVENT: Final = "alarm.event"
RISK_SCORE: Final = "risk.score"
PDM_PREDICTION: Final = "pdm.prediction"
DEADLETTER: Final = "deadletter"


class Quality(StrEnum):
    """Quality of a reading: the source's own verdict, later refined by the pipeline."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"
    OUT_OF_RANGE = "out_of_range"
    STALE = "stale"
    FLATLINE = "flatline"


class AlarmState(StrEnum):
    """Whether the alarm condition holds (ISA-18.2 refines this with acknowledgement)."""

    ACTIVE = "active"
    RETURNED = "returned"


class AlarmPriority(StrEnum):
    """Alarm priorities, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class RiskLevel(StrEnum):
    """The four risk colours (red = 重大, orange = 较大, yellow = 一般, blue = 低)."""

    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    BLUE = "blue"


class _Message(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Base of every stream message; ``key`` picks the Kafka partition and the store key."""

    @property
    def key(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


# Untracked by the garbage collector (gc=False; its fields are scalars, so it can be in no
# reference cycle): a 10,000-tag plant makes 10,000 a second, and tracked they drove the
# collections whose pauses made scans late. (A comment, not the docstring: the docstring is
# the published gateway schema's description.)
class SensorReading(_Message, frozen=True, kw_only=True, gc=False):
    """One value of one tag at one instant (stream ``sensor.reading``)."""

    tag: str
    ts: int
    value: float
    quality: Quality = Quality.GOOD
    source: str = ""

    @property
    def key(self) -> str:
        """The tag: readings of one tag stay ordered on one partition."""
        return self.tag


class Range(msgspec.Struct, frozen=True, kw_only=True):
    """Distance from a positioning tag to one anchor."""

    anchor_id: str
    distance_m: float


class LocationRanging(_Message, frozen=True, kw_only=True):
    """UWB/BLE ranging of one personnel tag (stream ``location.ranging``)."""

    tag_id: str
    ts: int
    ranges: list[Range]
    battery: float | None = None
    sos: bool = False

    @property
    def key(self) -> str:
        """The positioning tag."""
        return self.tag_id


class LocationPosition(_Message, frozen=True, kw_only=True):
    """A solved position of one person (stream ``location.position``)."""

    person_id: str
    tag_id: str
    ts: int
    x: float
    y: float
    z: float = 0.0
    floor: int = 0
    zone_ids: list[str] = msgspec.field(default_factory=list)
    accuracy_m: float | None = None

    @property
    def key(self) -> str:
        """The person."""
        return self.person_id


class VideoDetection(_Message, frozen=True, kw_only=True):
    """One object a camera's analytics saw (stream ``video.detection``)."""

    camera_id: str
    ts: int
    label: str
    confidence: float
    bbox: tuple[int, int, int, int]
    track_id: str | None = None
    zone_id: str | None = None
    snapshot_ref: str | None = None

    @property
    def key(self) -> str:
        """The camera."""
        return self.camera_id


class AlarmEvent(_Message, frozen=True, kw_only=True):
    """A change of an alarm (stream ``alarm.event``)."""

    alarm_id: str
    source_kind: Literal[
        "tag", "person", "camera", "hazard_source", "asset", "source"
    ]  # source: 通讯故障 of a data source
    source_id: str
    kind: str
    priority: AlarmPriority
    state: AlarmState
    ts: int
    value: float | None = None
    limit: float | None = None
    message: str = ""

    @property
    def key(self) -> str:
        """The alarm: all transitions of one alarm stay ordered."""
        return self.alarm_id


class Contribution(msgspec.Struct, frozen=True, kw_only=True):
    """One factor's share of a risk score."""

    factor: str
    value: float


class RiskScore(_Message, frozen=True, kw_only=True):
    """Real-time risk of a major hazard source (stream ``risk.score``)."""

    hazard_source_id: str
    ts: int
    level: RiskLevel
    score: float
    contributions: list[Contribution] = msgspec.field(default_factory=list)

    @property
    def key(self) -> str:
        """The hazard source."""
        return self.hazard_source_id


class PdmPrediction(_Message, frozen=True, kw_only=True):
    """Health and remaining useful life of an asset (stream ``pdm.prediction``)."""

    asset_id: str
    ts: int
    health: float
    anomaly_score: float
    rul_days: float | None = None
    top_features: list[str] = msgspec.field(default_factory=list)

    @property
    def key(self) -> str:
        """The asset."""
        return self.asset_id


class DeadLetter(_Message, frozen=True, kw_only=True):
    """A message that could not be used, kept with the reason so nothing is lost."""

    stream: str
    raw: str
    reason: str
    ts: int

    @property
    def key(self) -> str:
        """The stream the message came from."""
        return self.stream


Message: TypeAlias = (
    SensorReading
    | LocationRanging
    | LocationPosition
    | VideoDetection
    | AlarmEvent
    | RiskScore
    | PdmPrediction
    | DeadLetter
)

STREAM_TYPES: Final[dict[str, type[Any]]] = {
    SENSOR_READING: SensorReading,
    LOCATION_RANGING: LocationRanging,
    LOCATION_POSITION: LocationPosition,
    VIDEO_DETECTION: VideoDetection,
    ALARM_EVENT: AlarmEvent,
    RISK_SCORE: RiskScore,
    PDM_PREDICTION: PdmPrediction,
    DEADLETTER: DeadLetter,
}

_encoder = msgspec.json.Encoder()
_decoders: dict[str, msgspec.json.Decoder[Any]] = {name: msgspec.json.Decoder(tp) for name, tp in STREAM_TYPES.items()}
_reading_list_decoder = msgspec.json.Decoder(list[SensorReading])


def now_ms() -> int:
    """Current UTC time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def encode(message: msgspec.Struct) -> bytes:
    """Serialise a message to the JSON carried on the bus and in Kafka."""
    return _encoder.encode(message)


def to_builtins(message: msgspec.Struct) -> dict[str, Any]:
    """Plain-dict form for JSON responses and dataframes."""
    out: dict[str, Any] = msgspec.to_builtins(message)
    return out


def _raw_text(raw: bytes | str) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return raw


def _check(message: Any) -> str | None:
    """Semantic checks msgspec's type validation cannot express."""
    if isinstance(message, SensorReading):
        if not message.tag:
            return "tag must not be empty"
        if not math.isfinite(message.value):
            return f"value must be finite, got {message.value}"
        if message.ts <= 0:
            return f"ts must be a positive epoch-ms time, got {message.ts}"
    return None


def decode_message(stream: str, raw: bytes | str, *, received_ts: int | None = None) -> Any:
    """Parse one message of ``stream``; anything unusable becomes a :class:`DeadLetter`.

    The flow must never die on bad input, so this function never raises for bad payloads:
    it returns the typed message or a dead-letter record saying what was wrong.
    """
    decoder = _decoders.get(stream)
    ts = received_ts if received_ts is not None else now_ms()
    if decoder is None:
        return DeadLetter(stream=stream, raw=_raw_text(raw), reason=f"unknown stream {stream!r}", ts=ts)
    try:
        message = decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        return DeadLetter(stream=stream, raw=_raw_text(raw), reason=str(err), ts=ts)
    except UnicodeDecodeError as err:  # not msgspec's own errors, same verdict
        reason = f"payload is not valid UTF-8 ({err.reason} at byte {err.start})"
        return DeadLetter(stream=stream, raw=_raw_text(raw), reason=reason, ts=ts)
    except RecursionError:
        reason = "JSON nested too deeply to decode (more levels than the decoder allows)"
        return DeadLetter(stream=stream, raw=_raw_text(raw)[:1024], reason=reason, ts=ts)
    problem = _check(message)
    if problem is not None:
        return DeadLetter(stream=stream, raw=_raw_text(raw), reason=problem, ts=ts)
    return message


def decode_readings(raw: bytes | str) -> list[SensorReading]:
    """Decode a JSON array of readings in one call (batch transport on the hot path)."""
    return _reading_list_decoder.decode(raw)


def dead_letter(stream: str, raw: Any, reason: str, *, ts: int | None = None) -> DeadLetter:
    """Build a dead-letter record for anything (bytes, str or object) with a reason."""
    text = raw if isinstance(raw, str) else _raw_text(raw) if isinstance(raw, bytes) else repr(raw)
    return DeadLetter(stream=stream, raw=text, reason=reason, ts=ts if ts is not None else now_ms())


_STREAM_OF_TYPE: Final[dict[type[Any], str]] = {tp: name for name, tp in STREAM_TYPES.items()}


def stream_of(message: Any) -> str:
    """The stream a typed message belongs on (``sensor.reading`` for a SensorReading, ...)."""
    try:
        return _STREAM_OF_TYPE[type(message)]
    except KeyError as err:
        msg = f"{type(message).__name__} is not a stream message"
        raise TypeError(msg) from err
