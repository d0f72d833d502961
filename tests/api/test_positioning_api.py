"""Positioning and video routes on the real app, with positions written by the production flow.

The app is built by ``create_app(start_runtime=False)``; the test owns the DuckDB store and
fills it through the positioning flow's own sink (``PositionStoreSink``), then reads it back
over HTTP as a user would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bytewax.testing import TestingSource, run_main
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime, positioning_plan
from api.settings import Settings
from connectors.store.duckdb import DuckDBStore
from models.contracts import LocationPosition, VideoDetection
from pipelines.positioning.flow import PositionStoreSink, build_flow
from twin.plant import load_plant

NOW = time.time_ns() // 1_000_000
T0 = NOW - 60_000
PEOPLE = {
    "W1": (20.0, 130.0),  # Z-LPG (flammable)
    "W2": (30.0, 130.0),  # Z-LPG
    "W3": (60.0, 95.0),  # Z-CL2 (liquid chlorine store, permit required)
    "W4": (95.0, 20.0),  # Z-MUSTER
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # "Latest" positions are the recent ones: date the data when the module's tests start,
    # not when the suite was collected (minutes earlier in a full run).
    global NOW, T0
    NOW = time.time_ns() // 1_000_000
    T0 = NOW - 60_000
    tmp = tmp_path_factory.mktemp("positioning-api")
    settings = Settings(environment="test", data_dir=tmp, web_dist=tmp / "no-web")
    plant = load_plant(settings.plant_file)
    runtime = Runtime(settings=settings, plant=plant)
    store = DuckDBStore(tmp / "ts.duckdb")
    store.init_schema()
    runtime.store = store
    batches = [
        [
            LocationPosition(person_id=p, tag_id=f"T-{p}", ts=T0 + 10_000 * k, x=x + k, y=y, accuracy_m=0.5)
            for p, (x, y) in PEOPLE.items()
        ]
        for k in range(4)
    ]
    run_main(build_flow(positioning_plan(plant, settings), TestingSource(batches), [PositionStoreSink(store)]))
    store.write_detections(
        [
            VideoDetection(camera_id="CAM-01", ts=NOW - 5000, label="smoking", confidence=0.8, bbox=(1, 2, 30, 40),
                           snapshot_ref="snap/1.jpg"),
            VideoDetection(camera_id="CAM-02", ts=NOW - 4000, label="person", confidence=0.9, bbox=(5, 5, 50, 90)),
        ]
    )  # fmt: skip
    app = create_app(settings, runtime=runtime, start_runtime=False)
    with TestClient(app) as c:
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": app.state.demo_admin_password})
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c
    store.close()


def test_latest_positions_with_zones(client: TestClient) -> None:
    r = client.get("/api/v1/positioning/positions")
    assert r.status_code == 200, r.text
    by_person = {p["person_id"]: p for p in r.json()}
    assert set(by_person) == set(PEOPLE)
    assert by_person["W1"]["zone_ids"] == ["Z-LPG"]
    assert by_person["W1"]["ts"] == T0 + 30_000


def test_track_replay_and_heatmap(client: TestClient) -> None:
    window = {"start": T0, "end": NOW}
    track = client.get("/api/v1/positioning/positions/W3/track", params=window).json()
    assert [p["ts"] for p in track] == [T0 + 10_000 * k for k in range(4)]
    frames = client.get("/api/v1/positioning/replay", params={**window, "step_ms": 20_000}).json()
    assert [f["ts"] for f in frames] == [T0, T0 + 20_000]
    assert all(len(f["positions"]) == 4 for f in frames)
    heat = client.get("/api/v1/positioning/heatmap", params={**window, "cell_m": 10}).json()
    assert sum(c["count"] for c in heat["cells"]) == 16
    assert {"ix": 9, "iy": 2, "x": 90.0, "y": 20.0, "count": 4} in heat["cells"]


def test_headcount_and_muster(client: TestClient) -> None:
    head = client.get("/api/v1/positioning/headcount").json()
    counts = {z["zone_id"]: z["count"] for z in head["zones"]}
    assert head["site"] == 4
    assert counts["Z-LPG"] == 2 and counts["Z-CL2"] == 1 and counts["Z-MUSTER"] == 1
    assert next(z for z in head["zones"] if z["zone_id"] == "Z-LPG")["max_people"] == 6
    muster = client.get("/api/v1/positioning/muster", params={"order_ts": T0}).json()
    assert sorted(p["person_id"] for p in muster["still_inside"]) == ["W1", "W2", "W3"]
    assert muster["mustered"] == 1


def test_zones_and_cameras_for_the_twin(client: TestClient) -> None:
    zones = {z["zone_id"]: z for z in client.get("/api/v1/positioning/zones").json()}
    assert zones["Z-CL2"]["permit_required"] and not zones["Z-LPG"]["permit_required"]
    cams = {c["camera_id"]: c for c in client.get("/api/v1/video/cameras").json()}
    assert cams["CAM-01"]["max_people"] == 6 and cams["CAM-01"]["zone_id"] == "Z-LPG"


def test_detections(client: TestClient) -> None:
    rows = client.get("/api/v1/video/detections").json()
    assert [(d["camera_id"], d["label"]) for d in rows] == [("CAM-02", "person"), ("CAM-01", "smoking")]
    only = client.get("/api/v1/video/detections", params={"camera_id": "CAM-01"}).json()
    assert only[0]["snapshot_ref"] == "snap/1.jpg"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/positioning/replay?start=2000&end=1000",
        "/api/v1/positioning/heatmap?start=0&end=999999999999",
        "/api/v1/positioning/positions/W1/track?start=5&end=5",
        "/api/v1/video/detections?start=2000&end=1000",
    ],
)
def test_bad_windows_are_422_with_the_field(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.end"


def test_needs_a_login(client: TestClient) -> None:
    r = client.get("/api/v1/positioning/positions", headers={"Authorization": ""})
    assert r.status_code == 401


def test_embedded_runtime_produces_positions_from_the_simulator(tmp_path: Path) -> None:
    """What ``safetwin run`` starts: simulated people -> positioning flow -> store."""
    settings = Settings(environment="test", data_dir=tmp_path, sim_interval_s=0.2, sim_people=5)
    runtime = Runtime(settings=settings, plant=load_plant(settings.plant_file))
    runtime.store = runtime.open_store()
    runtime.start_positioning_flow()

    async def walk() -> None:
        task = asyncio.create_task(runtime._simulate_people())
        await asyncio.sleep(1.5)
        task.cancel()

    asyncio.run(walk())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(runtime.store.latest_positions()) < 5:
        time.sleep(0.1)
    latest = runtime.store.latest_positions()
    runtime.bus.close()
    assert runtime._pos_thread is not None
    runtime._pos_thread.join(10)
    runtime.store.close()
    assert len(latest) == 5
    assert all(p.accuracy_m is not None and p.accuracy_m < 5 for p in latest)
