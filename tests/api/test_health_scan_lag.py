"""``/health``'s scan lag: the last minute by default, or only the scans since a given time.

The latency bench reads it after warm-up; an OPC UA subscription's first notifications carry
each value's last change, seconds old, and must not count as the connector's lag then.
"""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.runtime import Runtime
from api.settings import Settings
from models.contracts import SensorReading

STALE_S = 8.0


def _scan(age_s: float) -> list[SensorReading]:
    ts = int((time.time() - age_s) * 1000)
    return [SensorReading(tag="PT-101", ts=ts, value=0.85), SensorReading(tag="LT-101", ts=ts, value=60.0)]


def _start_up_then_live(runtime: Runtime) -> float:
    """One start-up scan STALE_S old, then live scans; returns when the live ones began (epoch s)."""
    runtime.publish_readings(_scan(STALE_S))
    time.sleep(0.01)
    since = time.time()
    for _ in range(20):
        runtime.publish_readings(_scan(0.05))
    return since


def test_health_reports_the_lag_since_a_time_leaving_start_up_out(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, web_dist=tmp_path / "no-web")
    app = create_app(settings, start_runtime=False)
    with TestClient(app) as client:
        since = _start_up_then_live(app.state.runtime)

        minute = client.get("/api/v1/health").json()
        assert minute["scan_lag_p99_s"] >= STALE_S - 0.5  # the start-up scan is within the minute

        window = client.get("/api/v1/health", params={"since": since}).json()
        assert 0 < window["scan_lag_p50_s"] <= window["scan_lag_p99_s"] < 1.0

        later = client.get("/api/v1/health", params={"since": time.time() + 60}).json()
        assert later["scan_lag_p50_s"] is None and later["scan_lag_p99_s"] is None

        refused = client.get("/api/v1/health", params={"since": "-1"})
        assert refused.status_code == 422
        assert "since" in refused.text
