"""The twin's replay route on the real app with a DuckDB store: alarm episodes of a window.

The app is ``create_app(start_runtime=False)``; the test owns the store and writes alarm events
of the demo plant's tags the way the alarm flow writes them, then reads back what the time
scrubber colours equipment from.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from api.settings import Settings
from connectors.store.duckdb import DuckDBStore
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
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
        ]
    )
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
