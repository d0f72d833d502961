"""The video flow through the production builder: recorded payloads in, detections, alarms and dead letters stored."""

from __future__ import annotations

from pathlib import Path

import msgspec
from bytewax.testing import TestingSink, TestingSource, run_main

from connectors.batches import AlarmBatch, RawRecord
from connectors.store.duckdb import DuckDBStore
from models.contracts import VideoDetection, encode
from models.video_rules import camera_rules
from pipelines.video.flow import DetectionStoreSink, build_flow
from pipelines.video.steps import DetectionBatch, VideoPlan

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "deepstream"
NOW = 1_900_000_000_000 + 10**9  # after every recorded frame


def _plan() -> VideoPlan:
    cams = camera_rules(
        [("CAM-01", "球罐区1号摄像机", "Z-LPG"), ("CAM-02", "氯化装置摄像机", "Z-RX")],
        {"Z-LPG": "flammable", "Z-RX": "restricted"},
    )
    return VideoPlan(cams)


def test_recorded_payloads_are_stored_or_dead_lettered(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "v.duckdb")
    store.init_schema()
    items = [RawRecord(p.read_bytes(), NOW) for p in sorted(FIXTURES.glob("*.json"))]
    out: list[object] = []
    run_main(
        build_flow(_plan(), TestingSource(items), [TestingSink(out), DetectionStoreSink(store)], clock=lambda: NOW)
    )
    stored = store.detections_between(0, NOW)
    # full x2 + minimal frame (5) + the good object of the frame with bad ones
    assert len(stored) == 8
    assert {d.zone_id for d in stored if d.camera_id == "CAM-01"} == {"Z-LPG"}  # the camera's zone
    dead = store.deadletters(50)
    assert len(dead) == 6  # 4 malformed payloads + 2 bad objects
    assert all(d.reason for d in dead)
    assert sum(len(m) for m in out if isinstance(m, DetectionBatch)) == 8
    store.close()


def test_a_fire_seen_twice_raises_one_alarm_with_the_snapshot() -> None:
    fire = [
        VideoDetection(camera_id="CAM-02", ts=1_900_000_000_000 + 500 * k, label="fire", confidence=0.8,
                       bbox=(10, 10, 50, 60), snapshot_ref=f"s3://snap/{k}.jpg")
        for k in range(4)
    ]  # fmt: skip
    out: list[object] = []
    items = [encode(f) for f in fire[:2]] + [msgspec.json.encode([msgspec.to_builtins(f) for f in fire[2:]])]
    run_main(build_flow(_plan(), TestingSource(items), [TestingSink(out)], clock=lambda: NOW))
    events = [e for m in out if isinstance(m, AlarmBatch) for e in m.annunciated]
    assert [(e.kind, e.source_id) for e in events] == [("VIDEO_FIRE", "CAM-02")]
    assert "s3://snap/1.jpg" in events[0].message
    assert sum(len(m) for m in out if isinstance(m, DetectionBatch)) == 4  # the array's two included
