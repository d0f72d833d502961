"""Alarm rules on camera detections: PPE, smoking, phone, fire, smoke, leak, posts, crowds.

Edge analytics (DeepStream) report what they see frame by frame; a single frame is a poor
reason to page someone (a hand in front of a face looks like a phone for 40 ms). Each rule
therefore **debounces**: it raises when its label was seen ``min_hits`` times within
``window_s`` and returns when it has not been seen for ``clear_s``. Only detections whose
feet point (bottom centre of the box) lies inside the camera's **zone mask** count, so a
smoker on the public road behind the fence does not raise the plant's alarm. The newest
snapshot reference is kept in the alarm's message as evidence.

Rules (version :data:`VERSION`):

* label rules (:data:`LABEL_RULES`): missing helmet / workwear / harness, smoking, phone,
  fire, smoke, leak, sleeping on post, people riding a goods vehicle, speeding vehicle;
  model class names map to our labels through :data:`ALIASES`.
* **离岗** absence: a post camera (control room) that has seen no person for ``absent_s``.
* **可燃区域聚集**: more than ``max_people`` (6 in flammable zones) people in one frame of a
  camera watching a flammable zone, in ``min_hits`` frames within ``window_s``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from models.contracts import AlarmEvent, AlarmPriority, AlarmState, VideoDetection
from models.position_rules import points_in_polygon

VERSION: Final = "video-rules-1"

ABSENCE: Final = "VIDEO_ABSENCE"
CROWD: Final = "VIDEO_CROWD"
PERSON: Final = "person"


@dataclass(frozen=True, slots=True)
class LabelRule:
    """How one detected label becomes an alarm."""

    kind: str
    name: str
    priority: AlarmPriority
    min_confidence: float = 0.5
    min_hits: int = 3
    window_s: float = 5.0
    clear_s: float = 30.0


LABEL_RULES: Final[dict[str, LabelRule]] = {
    "no_helmet": LabelRule("VIDEO_NO_HELMET", "未佩戴安全帽", AlarmPriority.MEDIUM),
    "no_workwear": LabelRule("VIDEO_NO_WORKWEAR", "未穿工作服", AlarmPriority.MEDIUM),
    "no_harness": LabelRule("VIDEO_NO_HARNESS", "高处作业未系安全带", AlarmPriority.HIGH),
    "smoking": LabelRule("VIDEO_SMOKING", "吸烟", AlarmPriority.HIGH),
    "phone": LabelRule("VIDEO_PHONE", "使用手机", AlarmPriority.MEDIUM),
    "fire": LabelRule("VIDEO_FIRE", "明火", AlarmPriority.CRITICAL, min_confidence=0.4, min_hits=2, window_s=3.0),
    "smoke": LabelRule("VIDEO_SMOKE", "烟雾", AlarmPriority.HIGH, min_confidence=0.4, min_hits=2, window_s=3.0),
    "leak": LabelRule("VIDEO_LEAK", "跑冒滴漏/泄漏", AlarmPriority.HIGH),
    "sleeping": LabelRule("VIDEO_SLEEPING", "睡岗", AlarmPriority.MEDIUM, min_hits=5, window_s=60.0),
    "person_on_vehicle": LabelRule("VIDEO_PEOPLE_ON_VEHICLE", "货车载人", AlarmPriority.HIGH),
    "speeding": LabelRule("VIDEO_SPEEDING", "车辆超速", AlarmPriority.MEDIUM, min_hits=2),
}
ALIASES: Final[dict[str, str]] = {
    "nohelmet": "no_helmet",
    "without_helmet": "no_helmet",
    "head": "no_helmet",
    "no_hardhat": "no_helmet",
    "no_vest": "no_workwear",
    "no_uniform": "no_workwear",
    "no_safety_belt": "no_harness",
    "cigarette": "smoking",
    "calling": "phone",
    "cellphone": "phone",
    "mobile_phone": "phone",
    "flame": "fire",
    "spill": "leak",
    "sleep": "sleeping",
    "pedestrian": PERSON,
}


@dataclass(frozen=True, slots=True)
class CameraRule:
    """What one camera watches.

    Attributes:
        camera_id: The camera (``sensor.id`` / ``sensorId`` of DeepStream).
        name: Display name.
        zone_id: The zone it watches.
        mask: Image polygon (pixels) of the watched zone; ``None``: the whole image.
        post: The camera watches a post that must be staffed (control room).
        max_people: More people than this in one frame is a crowd (flammable zones: 6).
    """

    camera_id: str
    name: str = ""
    zone_id: str | None = None
    mask: tuple[tuple[float, float], ...] | None = None
    post: bool = False
    max_people: int | None = None


@dataclass(frozen=True, slots=True)
class VideoRuleTable:
    """Thresholds beside the label rules."""

    labels: Mapping[str, LabelRule] = field(default_factory=lambda: dict(LABEL_RULES))
    absent_s: float = 300.0
    crowd_min_frames: int = 3
    crowd_window_s: float = 10.0
    crowd_clear_s: float = 30.0
    flammable_max_people: int = 6
    person_min_confidence: float = 0.4


@dataclass(frozen=True, slots=True)
class CameraState:
    """What the rules remember of one camera."""

    hits: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    last_hit: Mapping[str, int] = field(default_factory=dict)
    snapshot: Mapping[str, str] = field(default_factory=dict)
    active: Mapping[str, AlarmEvent] = field(default_factory=dict)
    last_person_ts: int | None = None
    first_ts: int | None = None
    newest_ts: int = 0


def canonical(label: str) -> str:
    """A model's class name -> our label."""
    return ALIASES.get(label, label)


def in_mask(camera: CameraRule, detections: Sequence[VideoDetection]) -> list[VideoDetection]:
    """The detections whose feet point lies inside the camera's zone mask."""
    if camera.mask is None or not detections:
        return list(detections)
    feet = np.asarray([((d.bbox[0] + d.bbox[2]) / 2.0, float(d.bbox[3])) for d in detections], np.float64)
    inside = points_in_polygon(feet, camera.mask)
    return [d for d, ok in zip(detections, inside.tolist(), strict=True) if ok]


def _alarm(
    camera: CameraRule, kind: str, priority: AlarmPriority, ts: int, message: str, value: float | None
) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{kind}:{camera.camera_id}",
        source_kind="camera",
        source_id=camera.camera_id,
        kind=kind,
        priority=priority,
        state=AlarmState.ACTIVE,
        ts=ts,
        value=value,
        message=message,
    )


def evaluate(
    table: VideoRuleTable,
    camera: CameraRule,
    state: CameraState | None,
    detections: Sequence[VideoDetection],
    frame_ts: int | None = None,
) -> tuple[CameraState, list[AlarmEvent]]:
    """Apply every rule to one camera's new detections (and frames seen empty).

    Args:
        table: Label rules and thresholds.
        camera: The camera's zone mask, post and crowd limit.
        state: Previous state (``None``: nothing seen yet).
        detections: This camera's detections of the delivery, any order.
        frame_ts: Newest frame time of the delivery (empty frames included): the clock of
            absence and of returns.
    """
    state = state or CameraState()
    hits = {k: list(v) for k, v in state.hits.items()}
    last_hit = dict(state.last_hit)
    snapshot = dict(state.snapshot)
    active = dict(state.active)
    now = max([state.newest_ts, frame_ts or 0, *(d.ts for d in detections)])
    first = state.first_ts if state.first_ts is not None else (now if now else None)
    last_person = state.last_person_ts
    events: list[AlarmEvent] = []
    seen = in_mask(camera, [d for d in detections if 0.0 <= d.confidence <= 1.0])
    per_frame: dict[int, int] = {}
    for d in sorted(seen, key=lambda x: x.ts):
        label = canonical(d.label)
        if label == PERSON and d.confidence >= table.person_min_confidence:
            last_person = d.ts if last_person is None else max(last_person, d.ts)
            per_frame[d.ts] = per_frame.get(d.ts, 0) + 1
        rule = table.labels.get(label)
        if rule is None or d.confidence < rule.min_confidence:
            continue
        window = [t for t in hits.get(rule.kind, []) if d.ts - t <= rule.window_s * 1000] + [d.ts]
        hits[rule.kind] = window[-max(rule.min_hits, 1) :]
        last_hit[rule.kind] = max(last_hit.get(rule.kind, d.ts), d.ts)
        if d.snapshot_ref:
            snapshot[rule.kind] = d.snapshot_ref
        aid = f"{rule.kind}:{camera.camera_id}"
        if len(window) >= rule.min_hits and aid not in active:
            evidence = f"（快照 {snapshot[rule.kind]}）" if rule.kind in snapshot else ""
            ev = _alarm(
                camera,
                rule.kind,
                rule.priority,
                d.ts,
                f"{camera.name or camera.camera_id} 检测到{rule.name}{evidence}",
                d.confidence,
            )
            active[aid] = ev
            events.append(ev)
    limit = camera.max_people
    if limit is not None:
        crowd_frames = [t for t, n in sorted(per_frame.items()) if n > limit]
        for t in crowd_frames:
            window = [x for x in hits.get(CROWD, []) if t - x <= table.crowd_window_s * 1000] + [t]
            hits[CROWD] = window[-table.crowd_min_frames :]
            last_hit[CROWD] = t
            aid = f"{CROWD}:{camera.camera_id}"
            if len(window) >= table.crowd_min_frames and aid not in active:
                msg = f"{camera.name or camera.camera_id} 可燃区域画面内 {per_frame[t]} 人，超过 {limit} 人"
                ev = _alarm(camera, CROWD, AlarmPriority.HIGH, t, msg, float(per_frame[t]))
                active[aid] = ev
                events.append(ev)
    if camera.post and first is not None:
        since = last_person if last_person is not None else first
        aid = f"{ABSENCE}:{camera.camera_id}"
        if now - since >= table.absent_s * 1000 and aid not in active:
            msg = f"{camera.name or camera.camera_id} 岗位 {int((now - since) / 1000)} 秒无人（离岗）"
            ev = _alarm(camera, ABSENCE, AlarmPriority.MEDIUM, now, msg, None)
            active[aid] = ev
            events.append(ev)
        elif aid in active and last_person is not None and now - last_person < table.absent_s * 1000:
            events.append(_returned(active.pop(aid), now))  # someone is back on post
    # Returns: a label not seen for its clear time.
    clear = {r.kind: r.clear_s for r in table.labels.values()} | {CROWD: table.crowd_clear_s}
    for aid in [a for a in active if not a.startswith(ABSENCE)]:
        kind = active[aid].kind
        if now - last_hit.get(kind, now) >= clear.get(kind, 30.0) * 1000:
            events.append(_returned(active.pop(aid), now))
    new = CameraState(
        hits={k: tuple(v) for k, v in hits.items()},
        last_hit=last_hit,
        snapshot=snapshot,
        active=active,
        last_person_ts=last_person,
        first_ts=first,
        newest_ts=now,
    )
    return new, events


def _returned(ev: AlarmEvent, ts: int) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=ev.alarm_id,
        source_kind=ev.source_kind,
        source_id=ev.source_id,
        kind=ev.kind,
        priority=ev.priority,
        state=AlarmState.RETURNED,
        ts=max(ts, ev.ts),
        message=f"{ev.message.split('（')[0]} 已恢复",
    )


def camera_rules(
    cameras: Sequence[tuple[str, str, str | None]], zone_kinds: Mapping[str, str], table: VideoRuleTable | None = None
) -> dict[str, CameraRule]:
    """Camera rules from a plant's ``(id, name, zone)`` cameras and zone kinds.

    A camera watching a flammable zone counts crowds (> 6); one watching the control room
    post (name containing 中控 or zone kind ``post``) checks absence.
    """
    t = table or VideoRuleTable()
    out = {}
    for cid, name, zone in cameras:
        kind = zone_kinds.get(zone or "", "")
        out[cid] = CameraRule(
            camera_id=cid,
            name=name,
            zone_id=zone,
            post=kind == "post" or "中控" in name,
            max_people=t.flammable_max_people if kind == "flammable" else None,
        )
    return out
