"""History comparison, rollups and statistics routes on the real app with a DuckDB store.

The app is built by ``create_app(start_runtime=False)`` (no simulator, no flow); the test owns
the store, fills it with readings and alarms of the demo plant's tags, and mounts the history
router the way api/app.py mounts the others (behind authentication).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import get_current_user
from api.routers import history
from api.runtime import Runtime
from api.settings import Settings
from connectors.store.duckdb import DuckDBStore
from models.contracts import AlarmEvent, AlarmPriority, AlarmState, SensorReading
from twin.plant import load_plant

T0 = 1_750_000_020_000  # a whole minute
HOUR = 3_600_000


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("history-api")
    settings = Settings(environment="test", data_dir=tmp, web_dist=tmp / "no-web")
    runtime = Runtime(settings=settings, plant=load_plant(settings.plant_file))
    store = DuckDBStore(tmp / "ts.duckdb")
    store.init_schema()
    runtime.store = store
    # Two hours at 1 Hz of PT-101 (H = 1.6 MPa) with an excursion above H for 100 s; LT-101 for the 2nd hour.
    store.write_readings(
        [SensorReading(tag="PT-101", ts=T0 + i * 1000, value=1.8 if 1000 <= i < 1100 else 0.85) for i in range(7200)]
    )
    store.write_readings([SensorReading(tag="LT-101", ts=T0 + HOUR + i * 1000, value=60.0) for i in range(3600)])
    store.write_alarms(
        [
            AlarmEvent(
                alarm_id="PT-101.H",
                source_kind="tag",
                source_id="PT-101",
                kind="high",
                priority=AlarmPriority.HIGH,
                state=state,
                ts=T0 + ts_s * 1000,
            )
            for state, ts_s in ((AlarmState.ACTIVE, 1000), (AlarmState.RETURNED, 1100))
        ]
    )
    app = create_app(settings, runtime=runtime, start_runtime=False)
    app.include_router(history.router, dependencies=[Depends(get_current_user)])
    with TestClient(app) as c:
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": app.state.demo_admin_password})
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c
    store.close()


def period(hours: int = 2) -> dict[str, int]:
    return {"start": T0, "end": T0 + hours * HOUR}


def test_compare_two_tags_on_one_axis(client: TestClient) -> None:
    r = client.get("/api/v1/history/compare", params={"tags": ["PT-101", "LT-101"], "points": 4, **period()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ts"] == [T0 + k * 30 * 60_000 for k in range(4)]
    pt, lt = body["series"]
    assert (pt["tag"], pt["unit"], lt["name"]) == ("PT-101", "MPa", "1#球罐液位")
    assert [p["count"] for p in pt["points"]] == [1800] * 4
    assert pt["points"][0]["max"] == 1.8
    assert lt["points"][:2] == [None, None]  # no data in the first hour
    assert [p["avg"] for p in lt["points"][2:]] == [60.0, 60.0]


def test_compare_csv_export(client: TestClient) -> None:
    r = client.get(
        "/api/v1/history/compare", params={"tags": ["PT-101", "LT-101"], "points": 2, "format": "csv", **period()}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["ts", "PT-101_avg", "PT-101_min", "PT-101_max", "LT-101_avg", "LT-101_min", "LT-101_max"]
    assert rows[1][0] == str(T0)
    assert rows[1][4:] == ["", "", ""]  # a missing bucket is empty, not zero
    assert rows[2][4:] == ["60.0", "60.0", "60.0"]


def test_compare_refuses_bad_input(client: TestClient) -> None:
    url = "/api/v1/history/compare"
    r = client.get(url, params={"tags": ["PT-101", "NOPE-1"], **period()})
    assert r.status_code == 404
    assert "NOPE-1" in r.json()["detail"]
    r = client.get(url, params={"tags": ["PT-101"], "start": T0, "end": T0})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.start"
    many = [t.tag for t in load_plant().tags][: history.MAX_COMPARE_TAGS + 1]
    r = client.get(url, params={"tags": many, **period()})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.tags"
    r = client.get(url, params={**period()})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.tags"
    r = client.get(url, params={"tags": ["PT-101"], "points": 0, **period()})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.points"


def test_tag_statistics(client: TestClient) -> None:
    r = client.get("/api/v1/statistics/tags", params={"tags": ["PT-101", "LT-101"], **period()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2
    lt, pt = body["items"]  # sorted by tag
    assert (pt["tag"], pt["count"], pt["max"], pt["limit"]) == ("PT-101", 7200, 1.8, 1.6)
    assert pt["above_limit_ms"] == 100_000
    assert (pt["in_alarm_ms"], pt["alarm_count"]) == (100_000, 1)
    assert (lt["count"], lt["above_limit_ms"], lt["alarm_count"]) == (3600, 0, 0)

    # Every plant tag by default, sorted and paged.
    r = client.get("/api/v1/statistics/tags", params={"sort": "-count", "limit": 2, **period()})
    body = r.json()
    assert body["total"] == len(load_plant().tags)
    assert [i["tag"] for i in body["items"]] == ["PT-101", "LT-101"]
    r = client.get("/api/v1/statistics/tags", params={"sort": "-count", "limit": 2, "offset": 1, **period()})
    assert r.json()["items"][0]["tag"] == "LT-101"
    r = client.get("/api/v1/statistics/tags", params={"sort": "bogus", **period()})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.sort"
    r = client.get("/api/v1/statistics/tags", params={"tags": ["X-1"], **period()})
    assert r.status_code == 404
    r = client.get("/api/v1/statistics/tags", params={"tags": ["PT-101"], "format": "csv", **period()})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:4] == ["tag", "name", "unit", "count"]
    assert rows[1][:4] == ["PT-101", "1#球罐压力", "MPa", "7200"]


def test_area_statistics(client: TestClient) -> None:
    plant = load_plant()
    r = client.get("/api/v1/statistics/areas", params=period())
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["area"] for i in items] == sorted(a.id for a in plant.areas)
    area_of_pt101 = plant.equipment_by_id(plant.tag("PT-101").equipment).area
    area = next(i for i in items if i["area"] == area_of_pt101)
    assert {"PT-101", "LT-101"} <= set(area["tags"])
    assert (area["count"], area["alarm_count"], area["in_alarm_ms"]) == (7200 + 3600, 1, 100_000)
    assert area["above_limit_ms"] == 100_000
    assert all(i["count"] == 0 for i in items if i["area"] != area_of_pt101)
    r = client.get("/api/v1/statistics/areas", params={"start": T0 + 1, "end": T0})
    assert r.status_code == 422


def test_rollups_route_pages_and_exports(client: TestClient) -> None:
    r = client.get("/api/v1/tags/PT-101/rollups", params={"interval": "1h", **period()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_offset"] is None
    # Buckets whose start lies in [start, end): T0 is 7 min past the hour, so the first whole hour
    # starts at T0 + 53 min and the last bucket holds the 7 min after the second hour.
    assert [i["ts"] for i in body["items"]] == [T0 + 53 * 60_000, T0 + 113 * 60_000]
    assert [i["count"] for i in body["items"]] == [3600, 420]

    r = client.get("/api/v1/tags/PT-101/rollups", params={"interval": "1m", "limit": 50, "offset": 60, **period()})
    body = r.json()
    assert len(body["items"]) == 50
    assert body["next_offset"] == 110
    assert body["items"][0]["ts"] == T0 + 60 * 60_000
    r = client.get("/api/v1/tags/PT-101/rollups", params={"interval": "1m", "format": "csv", "limit": 3, **period()})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["ts", "min", "max", "avg", "last", "count"]
    assert len(rows) == 4

    assert client.get("/api/v1/tags/NOPE/rollups", params=period()).status_code == 404
    r = client.get("/api/v1/tags/PT-101/rollups", params={"interval": "5m", **period()})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "query.interval"


def test_routes_need_login(client: TestClient) -> None:
    r = client.get("/api/v1/statistics/areas", params=period(), headers={"Authorization": ""})
    assert r.status_code == 401
