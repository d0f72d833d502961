"""The latest and history routes of tags on the real app with a DuckDB store.

The history route hands FastAPI a ready JSON body (no per-bucket objects, no second
validation); these tests pin that body to exactly the bytes the ``dict[str, Any]`` response
model produced from :meth:`DuckDBStore.history` before, and the status codes to the old ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from api.settings import Settings
from connectors.store.duckdb import DuckDBStore
from models.contracts import Quality, SensorReading
from twin.plant import load_plant

T0 = 1_750_000_020_000
HOUR = 3_600_000


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, DuckDBStore]]:
    tmp = tmp_path_factory.mktemp("tags-api")
    settings = Settings(environment="test", data_dir=tmp, web_dist=tmp / "no-web")
    runtime = Runtime(settings=settings, plant=load_plant(settings.plant_file))
    store = DuckDBStore(tmp / "ts.duckdb")
    store.init_schema()
    runtime.store = store
    # Irregular values (thirds, large and tiny magnitudes) so float formatting is exercised.
    store.write_readings(
        [
            SensorReading(tag="PT-101", ts=T0 + i * 1000, value=(i % 7) / 3 + (1e17 if i % 500 == 0 else 0) + i * 1e-9)
            for i in range(2 * 3600)
        ]
    )
    store.write_readings([SensorReading(tag="LT-101", ts=T0, value=60.0, quality=Quality.BAD)])
    app = create_app(settings, runtime=runtime, start_runtime=False)
    with TestClient(app) as c:
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": app.state.demo_admin_password})
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c, store
    store.close()


def _old_body(store: DuckDBStore, tag: str, unit: str, start: int, end: int, points: int) -> bytes:
    """What the route answered when it returned a dict built from ``store.history`` (FastAPI encoding it)."""
    buckets = store.history(tag, start, end, points)
    content = {
        "tag": tag,
        "unit": unit,
        "start": start,
        "end": end,
        "points": [
            {"ts": b.ts, "min": b.min, "max": b.max, "avg": b.avg, "last": b.last, "count": b.count} for b in buckets
        ],
    }
    app = FastAPI()

    @app.get("/old")
    def old() -> dict[str, Any]:
        return content

    with TestClient(app) as client:
        return client.get("/old").content


@pytest.mark.parametrize(
    ("start", "end", "points"),
    [
        (T0, T0 + 2 * HOUR, 500),  # raw buckets
        (T0 + 123, T0 + 2 * HOUR - 7, 7),  # rollup buckets with raw edges
        (T0 - HOUR, T0 + 3 * HOUR, 1),
        (T0 + 5_000, T0 + 5_001, 10),  # one ms
        (T0 + 3 * HOUR, T0 + 4 * HOUR, 20),  # no data
    ],
)
def test_history_body_is_unchanged(setup: tuple[TestClient, DuckDBStore], start: int, end: int, points: int) -> None:
    client, store = setup
    r = client.get("/api/v1/tags/PT-101/history", params={"start": start, "end": end, "points": points})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.content == _old_body(store, "PT-101", "MPa", start, end, points)


def test_history_rows_match_history(setup: tuple[TestClient, DuckDBStore]) -> None:
    _, store = setup
    for points in (1, 7, 100, 500, 5000):
        rows = store.history_rows("PT-101", T0 - 10, T0 + 2 * HOUR + 10, points)
        assert [tuple(getattr(p, f) for f in ("ts", "min", "max", "avg", "last", "count")) for p in
                store.history("PT-101", T0 - 10, T0 + 2 * HOUR + 10, points)] == rows  # fmt: skip
        assert all(type(r[0]) is int and type(r[5]) is int for r in rows)


def test_history_errors_unchanged(setup: tuple[TestClient, DuckDBStore]) -> None:
    client, _ = setup
    url = "/api/v1/tags/PT-101/history"
    assert client.get(url, params={"start": T0, "end": T0}).status_code == 422
    assert client.get(url, params={"start": T0, "end": T0 + 401 * 86_400_000}).status_code == 422
    assert client.get(url, params={"points": 0}).status_code == 422
    assert client.get("/api/v1/tags/NOPE/history").status_code == 404
    default = client.get(url)  # last hour up to now: no data here
    assert default.status_code == 200
    body = default.json()
    assert body["end"] - body["start"] == HOUR
    assert body["points"] == []


def test_latest(setup: tuple[TestClient, DuckDBStore]) -> None:
    client, _ = setup
    r = client.get("/api/v1/tags/PT-101/latest")
    assert r.status_code == 200
    last = 2 * 3600 - 1
    value = (last % 7) / 3 + last * 1e-9
    # long past the source timeout: a good reading shows as stale, a bad one stays bad
    assert r.json() == {"tag": "PT-101", "ts": T0 + last * 1000, "value": value, "quality": "stale", "source": ""}
    assert client.get("/api/v1/tags/LT-101/latest").json()["quality"] == "bad"
    assert client.get("/api/v1/tags/NOPE/latest").status_code == 404
    assert client.get("/api/v1/tags/TT-101/latest").status_code == 404  # a known tag without readings
