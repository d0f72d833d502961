"""Each video rule raises its alarm (debounced, inside the zone mask) and returns when clear."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.contracts import AlarmState, VideoDetection
from models.video_rules import (
    ABSENCE,
    CROWD,
    LABEL_RULES,
    CameraRule,
    CameraState,
    VideoRuleTable,
    camera_rules,
    evaluate,
)

T0 = 1_900_000_000_000
TABLE = VideoRuleTable()
CAM = CameraRule(camera_id="CAM-02", name="氯化装置摄像机", zone_id="Z-RX")


def det(label: str, ts: int, *, conf: float = 0.9, box: tuple[int, int, int, int] = (100, 100, 140, 200),
        track: str = "1", snap: str | None = None) -> VideoDetection:  # fmt: skip
    return VideoDetection(
        camera_id="CAM-02", ts=ts, label=label, confidence=conf, bbox=box, track_id=track, snapshot_ref=snap
    )


def run(camera: CameraRule, frames: list[tuple[list[VideoDetection], int]]) -> list:  # type: ignore[type-arg]
    state: CameraState | None = None
    out = []
    for dets, ts in frames:
        state, events = evaluate(TABLE, camera, state, dets, ts)
        out += events
    return out


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("no_helmet", "VIDEO_NO_HELMET"),
        ("no_workwear", "VIDEO_NO_WORKWEAR"),
        ("no_harness", "VIDEO_NO_HARNESS"),
        ("smoking", "VIDEO_SMOKING"),
        ("phone", "VIDEO_PHONE"),
        ("fire", "VIDEO_FIRE"),
        ("smoke", "VIDEO_SMOKE"),
        ("leak", "VIDEO_LEAK"),
        ("sleeping", "VIDEO_SLEEPING"),
        ("person_on_vehicle", "VIDEO_PEOPLE_ON_VEHICLE"),
        ("speeding", "VIDEO_SPEEDING"),
    ],
)
def test_each_label_rule_raises_after_its_hits_and_returns_when_clear(label: str, kind: str) -> None:
    rule = LABEL_RULES[label]
    step = int(rule.window_s * 1000 / (rule.min_hits + 1))
    frames = [([det(label, T0 + step * k, snap=f"snap/{k}.jpg")], T0 + step * k) for k in range(rule.min_hits)]
    events = run(CAM, frames[:-1])
    assert events == []  # one hit short: nothing yet
    events = run(CAM, [*frames, ([], T0 + step * rule.min_hits + int(rule.clear_s * 1000) + 1)])
    assert [(e.kind, e.state) for e in events] == [(kind, AlarmState.ACTIVE), (kind, AlarmState.RETURNED)]
    raised = events[0]
    assert raised.source_kind == "camera" and raised.source_id == "CAM-02"
    assert f"snap/{rule.min_hits - 1}.jpg" in raised.message  # the evidence is kept with the alarm
    assert raised.priority == rule.priority


def test_model_class_aliases_map_to_rules() -> None:
    events = run(CAM, [([det("cigarette", T0 + 1000 * k)], T0 + 1000 * k) for k in range(3)])
    assert [e.kind for e in events] == ["VIDEO_SMOKING"]


def test_low_confidence_and_hits_spread_over_time_do_not_alarm() -> None:
    assert run(CAM, [([det("smoking", T0 + 1000 * k, conf=0.3)], T0 + 1000 * k) for k in range(5)]) == []
    assert run(CAM, [([det("smoking", T0 + 10_000 * k)], T0 + 10_000 * k) for k in range(5)]) == []


def test_zone_mask_ignores_detections_outside_it() -> None:
    masked = CameraRule(camera_id="CAM-02", mask=((0, 0), (500, 0), (500, 500), (0, 500)))
    outside = [([det("smoking", T0 + 1000 * k, box=(600, 100, 640, 300))], T0 + 1000 * k) for k in range(4)]
    inside = [([det("smoking", T0 + 1000 * k, box=(100, 100, 140, 300))], T0 + 1000 * k) for k in range(4)]
    assert run(masked, outside) == []
    assert [e.kind for e in run(masked, inside)] == ["VIDEO_SMOKING"]


def test_more_than_six_people_in_a_flammable_zone() -> None:
    cam = camera_rules([("CAM-01", "球罐区1号摄像机", "Z-LPG")], {"Z-LPG": "flammable"})["CAM-01"]
    assert cam.max_people == 6

    def frame(n: int, ts: int) -> list[VideoDetection]:
        return [det("person", ts, box=(50 * i, 100, 50 * i + 40, 200), track=str(i)) for i in range(n)]

    assert run(cam, [(frame(6, T0 + 1000 * k), T0 + 1000 * k) for k in range(5)]) == []
    events = run(cam, [(frame(7, T0 + 1000 * k), T0 + 1000 * k) for k in range(3)])
    assert [(e.kind, e.value) for e in events] == [(CROWD, 7.0)]


def test_absence_from_the_control_room_post() -> None:
    cam = camera_rules([("CAM-CR", "中控室摄像机", None)], {})["CAM-CR"]
    assert cam.post
    staffed = [([det("person", T0 + 60_000 * m)], T0 + 60_000 * m) for m in range(10)]
    assert run(cam, staffed) == []
    empty = [([det("person", T0)], T0)] + [([], T0 + 60_000 * m) for m in range(1, 7)]
    back = [([det("person", T0 + 420_000)], T0 + 420_000)]
    events = run(cam, empty + back)
    assert [(e.kind, e.state, e.ts - T0) for e in events] == [
        (ABSENCE, AlarmState.ACTIVE, 300_000),
        (ABSENCE, AlarmState.RETURNED, 420_000),
    ]


@settings(max_examples=60, deadline=None)
@given(
    frames=st.lists(
        st.tuples(
            st.integers(0, 20_000),
            st.lists(st.sampled_from(["person", "smoking", "fire", "phone", "cat", "no_helmet"]), max_size=8),
        ),
        max_size=30,
    )
)
def test_camera_alarm_events_alternate_per_alarm(frames: list[tuple[int, list[str]]]) -> None:
    cam = CameraRule(camera_id="CAM-02", post=True, max_people=3)
    state: CameraState | None = None
    last: dict[str, AlarmState] = {}
    ts = T0
    for gap, labels in frames:
        ts += gap
        dets = [det(label, ts, box=(10 * i, 10, 10 * i + 8, 40), track=str(i)) for i, label in enumerate(labels)]
        state, events = evaluate(TABLE, cam, state, dets, ts)
        for e in events:
            assert last.get(e.alarm_id, AlarmState.RETURNED) != e.state
            last[e.alarm_id] = e.state
        assert {a for a, s in last.items() if s == AlarmState.ACTIVE} == set(state.active)
