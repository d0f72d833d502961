"""The embedded plant end to end: real servers, real flow, real DuckDB, real WebSocket."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import LiveApp
from twin.plant import load_plant

pytestmark = pytest.mark.slow
TAGS = load_plant().tag_names


def wait_for(pred, timeout: float, step: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


def test_health_is_public_and_everything_else_needs_a_token(live_app: LiveApp) -> None:
    r = httpx.get(f"{live_app.base_url}/api/v1/health")
    assert r.status_code == 200 and r.json()["tags"] == len(TAGS)
    assert httpx.get(f"{live_app.base_url}/api/v1/tags").status_code == 401
    assert httpx.get(f"{live_app.base_url}/api/v1/plant").status_code == 401


def test_every_tag_is_stored_and_latest_keeps_moving(live_app: LiveApp) -> None:
    """Every tag reaches the store and its latest value moves on.

    How fast (issue 2: every tag within 10 s of start, latest at least every 2 s) is a target,
    measured by ``bench/latency.py`` (``every_tag_s``), not by this test: a slow CI machine had
    not stored every tag at 10 s and failed a run that had nothing else wrong. The waits here
    only bound a hang.
    """
    store = live_app.app.state.runtime.store
    assert wait_for(lambda: set(store.latest()) >= set(TAGS), timeout=60), (
        f"never stored: {sorted(set(TAGS) - set(store.latest()))}"
    )
    headers = {"Authorization": f"Bearer {live_app.token()}"}
    with httpx.Client(base_url=live_app.base_url, headers=headers) as client:
        first = client.get("/api/v1/tags/PT-101/latest").json()
        moved = wait_for(lambda: client.get("/api/v1/tags/PT-101/latest").json()["ts"] > first["ts"], timeout=20)
        assert moved, "the latest value of PT-101 never moved on"
        assert client.get("/api/v1/tags/NOPE-1/latest").status_code == 404
        hist = client.get("/api/v1/tags/PT-101/history", params={"points": 5}).json()
        assert 1 <= len(hist["points"]) <= 5
        assert client.get("/api/v1/tags/PT-101/history", params={"points": 0}).status_code == 422


def test_excursion_raises_an_alarm_on_the_websocket(live_app: LiveApp) -> None:
    token = live_app.token()
    ws_url = live_app.base_url.replace("http", "ws") + f"/ws/live?token={token}"
    with connect(ws_url, open_timeout=5) as ws:
        r = httpx.post(
            f"{live_app.base_url}/api/v1/sim/excursions",
            json={"tag": "PT-401", "duration_s": 20},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 202
        deadline = time.time() + 10
        seen = []
        while time.time() < deadline:
            frame = json.loads(ws.recv(timeout=deadline - time.time()))
            if frame["stream"] == "alarm.event":
                seen += [a for a in frame["data"] if a["source_id"] == "PT-401" and a["state"] == "active"]
                if seen:
                    break
        assert seen, "no PT-401 alarm arrived on /ws/live within 10 s"
        assert seen[0]["kind"] in {"H", "HH"}
    # the alarm worker records it in the ISA-18.2 register, unacknowledged, for the operator
    headers = {"Authorization": f"Bearer {token}"}
    records = wait_for(
        lambda: httpx.get(
            f"{live_app.base_url}/api/v1/alarm-records", params={"scope": "active", "tag": "PT-401"}, headers=headers
        ).json()["items"],
        timeout=5,
    )
    assert records and records[0]["state"] == "unack_active" and "ack" in records[0]["allowed_actions"]


def test_websocket_refuses_a_missing_token(live_app: LiveApp) -> None:
    ws_url = live_app.base_url.replace("http", "ws") + "/ws/live"
    with pytest.raises(Exception), connect(ws_url, open_timeout=5) as ws:  # noqa: B017 - any refusal
        ws.recv(timeout=2)


def test_malformed_and_unknown_readings_become_deadletters(live_app: LiveApp) -> None:
    runtime = live_app.app.state.runtime
    runtime.bus.publish_many("ingest.sensor.reading", [b"{oops", b'{"tag":"GHOST-9","ts":1700000000000,"value":1}'])
    headers = {"Authorization": f"Bearer {live_app.token()}"}
    found = wait_for(
        lambda: [
            d
            for d in httpx.get(f"{live_app.base_url}/api/v1/alarms/deadletters", headers=headers).json()
            if "GHOST-9" in d["reason"] or "oops" in d["raw"]
        ],
        timeout=5,
    )
    assert len(found) == 2
    assert runtime.flow_alive, "bad input must never stop the flow"


def test_notebook_widget_loads_the_twin_over_http(live_app: LiveApp) -> None:
    from viz.notebook.twin_widget import TwinWidget

    widget = TwinWidget.from_api(live_app.base_url, live_app.token())
    assert "R-401" in widget.meshes and "V-101" in widget.meshes
