"""Pure steps of the video-detection flow: DeepStream payloads -> detections -> alarms.

* :func:`parse` takes whatever the source delivered (a Kafka record of an nvmsgbroker topic in
  the full or minimal schema, our own ``video.detection`` JSON, structs, lists of them) and
  returns detections grouped by camera, the newest frame time per camera (an empty frame
  counts: the camera is alive and saw nobody) and dead letters with reasons. Never raises.
* :func:`split` keys a delivery by camera (the rules' state is per camera).
* :func:`judge` runs :mod:`models.video_rules` over one camera's detections.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from connectors.batches import AlarmBatch, RawRecord
from connectors.deepstream.payload import frame_seen, parse_payload
from models import video_rules as rules
from models.contracts import VIDEO_DETECTION, DeadLetter, VideoDetection, dead_letter, decode_message

RAW_KEEP: Final = 1024
MIN_TS_MS: Final = 946_684_800_000
_DETECTIONS: Final = msgspec.json.Decoder(list[VideoDetection])


@dataclass(frozen=True, eq=False)
class VideoPlan:
    """Cameras with their rules, the rule table and what the flow accepts."""

    cameras: Mapping[str, rules.CameraRule]
    table: rules.VideoRuleTable = field(default_factory=rules.VideoRuleTable)
    max_future_ms: int = 5 * 60_000
    max_payload_bytes: int = 1 << 20
    known_cameras_only: bool = False

    def camera(self, camera_id: str) -> rules.CameraRule:
        """The camera's rule (an unknown camera: label rules only, no mask)."""
        return self.cameras.get(camera_id) or rules.CameraRule(camera_id=camera_id)


@dataclass(frozen=True, eq=False)
class VideoInput:
    """One delivery: detections by camera, newest frame per camera, dead letters."""

    by_camera: Mapping[str, tuple[VideoDetection, ...]]
    frames: Mapping[str, int]
    dead: tuple[DeadLetter, ...] = ()
    received_ms: int = 0


@dataclass(frozen=True, eq=False)
class CameraBatch:
    """One camera's part of a delivery (dead letters travel with the first part)."""

    camera_id: str
    detections: tuple[VideoDetection, ...]
    frame_ts: int | None
    dead: tuple[DeadLetter, ...] = ()
    received_ms: int = 0


@dataclass(frozen=True, eq=False)
class DetectionBatch:
    """What the sinks get per camera and delivery: the detections and the dead letters."""

    detections: tuple[VideoDetection, ...]
    dead: tuple[DeadLetter, ...] = ()
    received_ms: int = 0

    def __len__(self) -> int:
        """Number of detections."""
        return len(self.detections)


def _text(raw: Any) -> str:
    if isinstance(raw, bytes | bytearray):
        return bytes(raw[:RAW_KEEP]).decode("utf-8", errors="replace")
    return raw[:RAW_KEEP] if isinstance(raw, str) else repr(raw)[:RAW_KEEP]


def parse(plan: VideoPlan, now_ms: int, item: Any) -> VideoInput:
    """Whatever a source delivered -> detections by camera + frames + dead letters."""
    found: list[VideoDetection] = []
    frames: dict[str, int] = {}
    dead: list[DeadLetter] = []
    try:
        _collect(plan, item, now_ms, found, frames, dead)
    except Exception as err:  # noqa: BLE001 - no input may stop the flow; the reason is kept
        found, frames = [], {}
        dead = [dead_letter(VIDEO_DETECTION, _text(item), f"could not parse: {type(err).__name__}: {err}", ts=now_ms)]
    by_camera: dict[str, list[VideoDetection]] = {}
    for d in found:
        problem = None
        if d.ts < MIN_TS_MS:
            problem = f"ts {d.ts} is before 2000-01-01"
        elif d.ts > now_ms + plan.max_future_ms:
            problem = f"ts {d.ts} is more than {plan.max_future_ms // 1000} s in the future (now {now_ms})"
        elif plan.known_cameras_only and d.camera_id not in plan.cameras:
            problem = f"unknown camera {d.camera_id!r}"
        if problem is not None:
            dead.append(dead_letter(VIDEO_DETECTION, msgspec.json.encode(d), problem, ts=now_ms))
            continue
        cam = plan.camera(d.camera_id)
        if d.zone_id is None and cam.zone_id is not None:
            d = replace_zone(d, cam.zone_id)
        by_camera.setdefault(d.camera_id, []).append(d)
        frames[d.camera_id] = max(frames.get(d.camera_id, d.ts), d.ts)
    frames = {c: t for c, t in frames.items() if MIN_TS_MS <= t <= now_ms + plan.max_future_ms}
    return VideoInput({c: tuple(v) for c, v in by_camera.items()}, frames, tuple(dead), now_ms)


def replace_zone(d: VideoDetection, zone_id: str) -> VideoDetection:
    """The detection stamped with the zone its camera watches."""
    return msgspec.structs.replace(d, zone_id=zone_id)


def _collect(
    plan: VideoPlan,
    item: Any,
    now_ms: int,
    found: list[VideoDetection],
    frames: dict[str, int],
    dead: list[DeadLetter],
) -> None:
    if isinstance(item, VideoDetection):
        found.append(item)
    elif isinstance(item, DeadLetter):
        dead.append(item)
    elif isinstance(item, RawRecord):
        _collect_json(plan, item.value, item.ts, found, frames, dead)
    elif isinstance(item, bytes | bytearray | memoryview | str):
        _collect_json(plan, bytes(item) if not isinstance(item, str) else item, now_ms, found, frames, dead)
    elif isinstance(item, list | tuple):
        for element in item:
            _collect(plan, element, now_ms, found, frames, dead)
    else:
        dead.append(
            dead_letter(VIDEO_DETECTION, _text(item), f"unsupported payload type {type(item).__name__}", ts=now_ms)
        )


def _collect_json(
    plan: VideoPlan,
    payload: bytes | str,
    now_ms: int,
    found: list[VideoDetection],
    frames: dict[str, int],
    dead: list[DeadLetter],
) -> None:
    size = len(payload.encode() if isinstance(payload, str) else payload)
    if size > plan.max_payload_bytes:
        reason = f"payload of {size:,} bytes exceeds the {plan.max_payload_bytes:,}-byte limit"
        dead.append(dead_letter(VIDEO_DETECTION, _text(payload), reason, ts=now_ms))
        return
    head = payload[:200] if isinstance(payload, str) else payload[:200].decode("utf-8", errors="replace")
    if '"camera_id"' in head:  # our own contract: one detection or an array of them
        if head.lstrip().startswith("["):
            try:
                found.extend(_DETECTIONS.decode(payload))
                return
            except (msgspec.DecodeError, msgspec.ValidationError) as err:
                dead.append(
                    dead_letter(VIDEO_DETECTION, _text(payload), f"not an array of detections: {err}", ts=now_ms)
                )
                return
        message = decode_message(VIDEO_DETECTION, payload, received_ts=now_ms)
        if isinstance(message, VideoDetection):
            found.append(message)
        else:
            dead.append(message)
        return
    detections, bad = parse_payload(payload, received_ms=now_ms)
    found.extend(detections)
    dead.extend(bad)
    seen = frame_seen(payload) if not detections else None
    if seen is not None:
        cam, ts = seen
        frames[cam] = max(frames.get(cam, ts), ts)


def split(batch: VideoInput) -> list[tuple[str, CameraBatch]]:
    """Key a delivery by camera; dead letters go with the first part (never dropped)."""
    cams = sorted(set(batch.by_camera) | set(batch.frames))
    if not cams:
        return [("", CameraBatch("", (), None, batch.dead, batch.received_ms))] if batch.dead else []
    out = []
    dead = batch.dead
    for c in cams:
        out.append((c, CameraBatch(c, batch.by_camera.get(c, ()), batch.frames.get(c), dead, batch.received_ms)))
        dead = ()
    return out


@dataclass(frozen=True, eq=False)
class Judged:
    """One camera's delivery after the rules."""

    detections: DetectionBatch
    alarms: AlarmBatch


def judge(
    plan: VideoPlan, state: rules.CameraState | None, batch: CameraBatch
) -> tuple[rules.CameraState | None, Judged]:
    """Run the video rules over one camera's detections."""
    if not batch.camera_id:
        return state, Judged(DetectionBatch((), batch.dead, batch.received_ms), AlarmBatch())
    new, events = rules.evaluate(plan.table, plan.camera(batch.camera_id), state, batch.detections, batch.frame_ts)
    return new, Judged(DetectionBatch(batch.detections, batch.dead, batch.received_ms), AlarmBatch(tuple(events)))
