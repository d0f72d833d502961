"""A field source stops sending: its tags go stale, ONE 通讯故障 alarm is raised, /health degrades; all clear after."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.conftest import start_live_app

pytestmark = pytest.mark.slow
TIMEOUT_S = 2.0


def wait_for(pred, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(what)


def test_a_silent_source_is_stale_alarmed_and_degraded_then_recovers(tmp_path):
    live, server = start_live_app(tmp_path, source_timeout_s=TIMEOUT_S)
    try:
        headers = {"Authorization": f"Bearer {live.token()}"}
        client = httpx.Client(base_url=live.base_url, headers=headers, timeout=10)
        health = lambda: client.get("/api/v1/health").json()  # noqa: E731
        wait_for(lambda: health()["readings_stored"] > 0 and health()["status"] == "ok", 30, "never healthy")
        n_tags = len(client.get("/api/v1/tags").json())

        assert client.post("/api/v1/sim/outages", json={"duration_s": 8}).status_code == 202
        started = time.time()
        comm = lambda: [a for a in client.get("/api/v1/alarms/active").json() if a["kind"] == "COMM"]  # noqa: E731
        raised = wait_for(comm, TIMEOUT_S + 4, "no 通讯故障 alarm within the timeout")
        assert time.time() - started < TIMEOUT_S + 4
        assert [(a["source_id"], a["source_kind"]) for a in raised] == [("opcua", "source")]  # one per source
        assert "通讯故障" in raised[0]["message"]
        body = health()
        assert body["status"] == "degraded" and any("通讯故障" in p for p in body["problems"])
        stale = [t for t in client.get("/api/v1/tags").json() if t["latest"] and t["latest"]["quality"] == "stale"]
        assert len(stale) == n_tags  # every tag of the silent source

        wait_for(lambda: health()["status"] == "ok", 20, "health never recovered")
        events = client.get("/api/v1/alarms", params={"limit": 10_000}).json()
        states = sorted((e["ts"], e["state"]) for e in events if e["kind"] == "COMM")
        assert [s for _, s in states] == ["active", "returned"]
        # returned but not yet acknowledged: the operator still sees it (ISA-18.2), as returned
        wait_for(lambda: [a["state"] for a in comm()] == ["unack_rtn"], 10, "the 通讯故障 alarm did not return")
        fresh = [t for t in client.get("/api/v1/tags").json() if t["latest"] and t["latest"]["quality"] != "stale"]
        assert len(fresh) > 0
    finally:
        server.stop()
