"""DeepStream payloads (hand-written from the nvmsgconv schema): parsed, or dead-lettered with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.deepstream.payload import frame_seen, parse_object_string, parse_payload, parse_time
from connectors.deepstream.probe import UNTRACKED, detections_of_frames, make_probe
from models.contracts import VIDEO_DETECTION

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "deepstream"
NOW = 1_900_000_000_000


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_full_schema_custom_class_with_snapshot() -> None:
    found, dead = parse_payload(load("full_person_no_helmet.json"), received_ms=NOW)
    assert dead == []
    (d,) = found
    assert (d.camera_id, d.label, d.confidence, d.bbox) == ("CAM-02", "no_helmet", 0.91, (585, 472, 642, 600))
    assert d.ts == parse_time("2025-03-17T17:46:40.120Z")
    assert d.track_id == "17"
    assert d.zone_id == "Z-RX"
    assert d.snapshot_ref == "snapshots/CAM-02/20250317T174640120.jpg"


def test_full_schema_vehicle() -> None:
    (d,), dead = parse_payload(load("full_vehicle.json"), received_ms=NOW)
    assert not dead
    assert (d.label, d.confidence, d.track_id, d.snapshot_ref) == ("vehicle", 0.82, "957", None)


def test_minimal_schema_frame_with_attributes_and_embedding() -> None:
    found, dead = parse_payload(load("minimal_frame.json"), received_ms=NOW)
    assert dead == []
    assert [(d.track_id, d.label, d.confidence) for d in found] == [
        ("3", "person", 0.93),
        ("4", "person", 0.88),
        ("9", "smoke", 1.0),
        ("12", "vehicle", 0.8),
        ("21", "person", 0.9),
    ]
    assert {d.camera_id for d in found} == {"CAM-01"}
    assert found[0].bbox == (100, 200, 140, 330)


def test_an_empty_frame_is_no_detection_but_a_frame_seen() -> None:
    raw = load("minimal_empty.json")
    assert parse_payload(raw, received_ms=NOW) == ([], [])
    assert frame_seen(raw) == ("CAM-CR", parse_time("2025-03-17T17:47:00.000Z"))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("malformed_truncated.json", "malformed JSON"),
        ("malformed_no_timestamp.json", "@timestamp must be an RFC 3339 string"),
        ("malformed_full_no_sensor.json", "without sensor.id"),
        ("malformed_unknown_schema.json", "neither DeepStream schema"),
    ],
)
def test_malformed_payloads_are_dead_lettered_with_the_reason(name: str, reason: str) -> None:
    found, dead = parse_payload(load(name), received_ms=NOW)
    assert found == []
    assert len(dead) == 1
    assert reason in dead[0].reason
    assert dead[0].stream == VIDEO_DETECTION and dead[0].ts == NOW and dead[0].raw


def test_one_bad_object_does_not_lose_the_frame() -> None:
    found, dead = parse_payload(load("malformed_bad_object.json"), received_ms=NOW)
    assert [d.track_id for d in found] == ["3"]
    reasons = [d.reason for d in dead]
    assert len(reasons) == 2
    assert "fewer than the 6 fields" in reasons[0]
    assert "is not a box" in reasons[1]


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_the_parser_never_raises(raw: bytes | str) -> None:
    found, dead = parse_payload(raw, received_ms=NOW)
    assert len(found) + len(dead) >= 0
    for d in dead:
        assert d.reason


@settings(max_examples=150, deadline=None)
@given(
    track=st.integers(0, 10**6),
    x0=st.integers(0, 1900),
    y0=st.integers(0, 1000),
    w=st.integers(1, 100),
    h=st.integers(1, 100),
    kind=st.sampled_from(["Person", "Vehicle", "no_helmet", "Fire", "Custom"]),
    conf=st.one_of(st.none(), st.floats(0, 1)),
)
def test_object_string_round_trip(track: int, x0: int, y0: int, w: int, h: int, kind: str, conf: float | None) -> None:
    text = f"{track}|{x0}|{y0}|{x0 + w}|{y0 + h}|{kind}"
    if conf is not None:
        text += f"|#|a|b|{conf!r}"
    d = parse_object_string("CAM", NOW, text)
    assert d.bbox == (x0, y0, x0 + w, y0 + h)
    assert d.label == kind.lower()
    assert d.track_id == str(track)
    assert d.confidence == pytest.approx(1.0 if conf is None else conf)


@dataclass
class _Rect:
    left: float
    top: float
    width: float
    height: float


@dataclass
class _Obj:
    object_id: int
    obj_label: str
    confidence: float
    rect_params: _Rect


@dataclass
class _Frame:
    source_id: int
    frame_num: int = 0


def test_probe_metadata_walk_to_detections() -> None:
    """The attributes pyds exposes (NvDsFrameMeta / NvDsObjectMeta) become detections."""
    frames = [
        (
            _Frame(0),
            [_Obj(5, "Person", 0.8, _Rect(10.4, 20.6, 30, 60)), _Obj(UNTRACKED, "fire", 0.2, _Rect(0, 0, 5, 5))],
        ),
        (_Frame(3), [_Obj(7, "no helmet", 0.9, _Rect(1, 2, 3, 4))]),
    ]
    out = detections_of_frames(frames, {0: "CAM-01"}, ts_ms=NOW, min_confidence=0.3)
    assert [(d.camera_id, d.label, d.track_id, d.bbox) for d in out] == [
        ("CAM-01", "person", "5", (10, 21, 40, 81)),
        ("source-3", "no_helmet", "7", (1, 2, 4, 6)),
    ]


def test_the_probe_needs_pyds_only_when_it_runs() -> None:
    probe = make_probe(lambda _: None, {0: "CAM-01"})  # building it needs nothing
    with pytest.raises(ModuleNotFoundError):
        probe(None, None, None)
