"""The twin's replay route on the real app with a DuckDB store: alarms and people of a window.

The app is ``create_app(start_runtime=False)``; the test owns the store and writes alarm events
(of the demo plant's tags, and of people, cameras and assets) and positions the way the alarm
and positioning flows write them, then reads back what the time scrubber draws from.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from api.settings import Settings
from connectors.store.duckdb import DuckDBStore
from models.contracts import AlarmEvent, AlarmPriority, AlarmState, LocationPosition
from registers.users import service as users
from twin.plant import load_plant

T0 = 1_750_000_000_000
MIN = 60_000
URL = "/api/v1/twin/replay"


def event(tag: str, state: AlarmState, at_min: float, kind: str = "H") -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{tag}.{kind}",
        source_kind="tag",
        source_id=tag,
        kind=kind,
        priority=AlarmPriority.HIGH,
        state=state,
        ts=T0 + int(at_min * MIN),
    )


def source_event(kind: str, source: str, state: AlarmState, at_min: float, alarm: str) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{kind}:{source}.{alarm}",
        source_kind=kind,  # type: ignore[arg-type]
        source_id=source,
        kind=alarm,
        priority=AlarmPriority.HIGH,
        state=state,
        ts=T0 + int(at_min * MIN),
    )


def fix(person: str, at_s: float, x: float, y: float) -> LocationPosition:
    return LocationPosition(person_id=person, tag_id=f"T-{person}", ts=T0 + int(at_s * 1000), x=x, y=y, zone_ids=["Z1"])


# 张三 (P-1) walks east a metre a second for the first two minutes; P-2 stands still from 30 s.
WALK = [fix("P-1", s, 100.0 + s, 50.0) for s in range(0, 120, 2)]
STAND = [fix("P-2", s, 20.0, 30.0) for s in range(30, 120, 5)]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("twin-replay")
    settings = Settings(environment="test", data_dir=tmp, web_dist=tmp / "no-web")
    runtime = Runtime(settings=settings, plant=load_plant(settings.plant_file))
    store = DuckDBStore(tmp / "ts.duckdb")
    store.init_schema()
    runtime.store = store
    store.write_alarms(
        [
            event("TT-401", AlarmState.ACTIVE, 3),  # reactor: 3 min .. 5 min
            event("TT-401", AlarmState.RETURNED, 5),
            event("TT-401", AlarmState.ACTIVE, 8),  # and again from 8 min, never returned
            event("PT-101", AlarmState.ACTIVE, -30),  # sphere: active since before the window
            event("PT-101", AlarmState.RETURNED, 2),
            event("LT-101", AlarmState.ACTIVE, 20),  # after the window: not in it
            source_event("person", "P-1", AlarmState.ACTIVE, 1, "man_down"),  # P-1 down 1 .. 4 min
            source_event("person", "P-1", AlarmState.RETURNED, 4, "man_down"),
            source_event("camera", "CAM-01", AlarmState.ACTIVE, -90, "no_helmet"),  # since 1.5 h before
            source_event("asset", "P-401", AlarmState.ACTIVE, 6, "vibration"),  # an asset of the plant
            source_event("asset", "P-401", AlarmState.RETURNED, 7, "vibration"),
        ]
    )
    store.write_positions([*WALK, *STAND])
    app = create_app(settings, runtime=runtime, start_runtime=False)
    with TestClient(app) as c:
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": app.state.demo_admin_password})
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c
    store.close()


def test_episodes_of_a_ten_minute_window(client: TestClient) -> None:
    r = client.get(URL, params={"start": T0, "end": T0 + 10 * MIN})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"]) == (T0, T0 + 10 * MIN)
    plant = load_plant()
    equipment = {t.tag: t.equipment for t in plant.tags}
    assert body["episodes"] == [
        {"tag": "PT-101", "equipment": equipment["PT-101"], "start": T0, "end": T0 + 2 * MIN},
        {"tag": "TT-401", "equipment": "R-401", "start": T0 + 3 * MIN, "end": T0 + 5 * MIN},
        {"tag": "TT-401", "equipment": "R-401", "start": T0 + 8 * MIN, "end": None},  # still active at the end
    ]


def test_an_alarm_that_returned_at_the_window_end_has_an_end(client: TestClient) -> None:
    body = client.get(URL, params={"start": T0 + 4 * MIN, "end": T0 + 5 * MIN}).json()
    assert body["episodes"] == [{"tag": "TT-401", "equipment": "R-401", "start": T0 + 4 * MIN, "end": None}]
    body = client.get(URL, params={"start": T0 + 4 * MIN, "end": T0 + 6 * MIN}).json()
    assert body["episodes"] == [{"tag": "TT-401", "equipment": "R-401", "start": T0 + 4 * MIN, "end": T0 + 5 * MIN}]


def test_alarms_of_people_cameras_and_assets(client: TestClient) -> None:
    body = client.get(URL, params={"start": T0, "end": T0 + 10 * MIN}).json()
    assert body["source_episodes"] == [
        # raised 90 minutes before the window, never returned: it holds the whole window
        {
            "kind": "camera",
            "source_id": "CAM-01",
            "alarm_kind": "no_helmet",
            "equipment": None,
            "start": T0,
            "end": None,
        },
        {
            "kind": "person",
            "source_id": "P-1",
            "alarm_kind": "man_down",
            "equipment": None,
            "start": T0 + MIN,
            "end": T0 + 4 * MIN,
        },
        {
            "kind": "asset",
            "source_id": "P-401",
            "alarm_kind": "vibration",
            "equipment": "P-401",
            "start": T0 + 6 * MIN,
            "end": T0 + 7 * MIN,
        },
    ]
    # the tag episodes keep their shape: nothing of the other kinds leaks into them
    assert {e["tag"] for e in body["episodes"]} == {"PT-101", "TT-401"}


def test_people_where_they_were(client: TestClient) -> None:
    body = client.get(URL, params={"start": T0, "end": T0 + 2 * MIN}).json()
    people = body["people"]
    assert people["step_ms"] == 1000  # two minutes: a frame a second
    frames = {f["ts"]: {p["person_id"]: p for p in f["positions"]} for f in people["frames"]}
    # the frame ending at 61 s holds P-1's fix of 60 s: x = 160
    at = frames[T0 + 61_000]
    assert (at["P-1"]["x"], at["P-1"]["y"], at["P-1"]["ts"]) == (160.0, 50.0, T0 + 60_000)
    assert at["P-1"]["zone_ids"] == ["Z1"] and at["P-1"]["tag_id"] == "T-P-1"
    assert "P-2" not in frames[T0 + 1000]  # P-2 only arrives at 30 s
    assert frames[T0 + 31_000]["P-2"]["x"] == 20.0
    assert all(T0 < ts <= T0 + 2 * MIN for ts in frames)
    assert sum(len(f["positions"]) for f in people["frames"]) == len(WALK) + len(STAND)


def test_hours_of_people_are_sampled_not_read_whole(client: TestClient) -> None:
    body = client.get(URL, params={"start": T0 - 6 * 60 * MIN + 2 * MIN, "end": T0 + 2 * MIN}).json()
    people = body["people"]
    assert people["step_ms"] == 90_000 and people["sample_ms"] == 10_000  # 6 h in 240 frames
    assert len(people["frames"]) <= 240
    last = people["frames"][-1]
    assert last["ts"] == T0 + 2 * MIN
    # the last frame holds each person's last fix of the 10 s before it
    assert {p["person_id"]: p["x"] for p in last["positions"]} == {"P-1": 218.0, "P-2": 20.0}


def test_people_only_for_who_may_see_positions(client: TestClient) -> None:
    app = client.app
    with app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        users.create_user(session=session, username="replay_inspector", password="Replay-Check-42", roles=["inspector"])
    login = TestClient(app).post(
        "/api/v1/auth/login", json={"username": "replay_inspector", "password": "Replay-Check-42"}
    )
    assert login.status_code == 200, login.text
    r = TestClient(app).get(
        URL,
        params={"start": T0, "end": T0 + 2 * MIN},
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["people"] is None  # an inspector reads the twin, not where people are
    assert r.json()["source_episodes"]  # the alarms still show


def test_default_window_is_the_last_ten_minutes(client: TestClient) -> None:
    body = client.get(URL).json()
    assert body["end"] - body["start"] == 10 * MIN
    assert body["episodes"] == [  # both still active today
        {"tag": "LT-101", "equipment": "V-101", "start": body["start"], "end": None},
        {"tag": "TT-401", "equipment": "R-401", "start": body["start"], "end": None},
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": T0, "end": T0}, "end"),
        ({"start": T0 + MIN, "end": T0}, "end"),
        ({"start": T0, "end": T0 + 8 * 86_400_000}, "start"),
        ({"start": -1}, "start"),
        ({"end": "yesterday"}, "end"),
    ],
)
def test_bad_windows_are_refused_with_the_field(client: TestClient, params: dict[str, object], field: str) -> None:
    r = client.get(URL, params=params)
    assert r.status_code == 422, r.text
    assert field in r.text


def test_replay_needs_a_login(client: TestClient) -> None:
    assert TestClient(client.app).get(URL).status_code == 401


def test_people_names_for_the_markers(client: TestClient) -> None:
    r = client.post("/api/v1/people", json={"code": "TAG-0007", "name": "王五", "department": "储运车间"})
    assert r.status_code in (200, 201), r.text
    gone = client.post("/api/v1/people", json={"code": "TAG-0008", "name": "赵六", "status": "离岗"})
    assert gone.status_code in (200, 201), gone.text
    names = {p["code"]: p for p in client.get("/api/v1/twin/people").json()}
    assert names["TAG-0007"]["name"] == "王五" and names["TAG-0007"]["department"] == "储运车间"
    assert "TAG-0008" not in names  # someone who left is not put on a marker
