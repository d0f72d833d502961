"""The embedded runtime's process: its connector hand-over lag on /health, its interpreter tuning.

``safetwin run`` owns its process (``Settings.own_process``): a 1 ms switch interval and the
start-up heap frozen out of full collections, whose 0.4-0.8 s pauses made a 10,000-tag plant's
scans late, and the youngest generation collected less often. An app sharing a process (tests,
notebooks) must leave all of it alone.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import YOUNG_GC_THRESHOLD
from api.runtime import GIL_SWITCH_INTERVAL_S
from tests.e2e.conftest import start_live_app


def wait_for(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out: {what}")


@pytest.fixture
def restore_interpreter() -> Iterator[None]:
    interval = sys.getswitchinterval()
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _health(base_url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base_url}/api/v1/health", timeout=10).json())


def test_health_reports_how_late_scans_reach_the_flow(tmp_path: Path, restore_interpreter: None) -> None:
    live, server = start_live_app(tmp_path, ingest="modbus", sim_interval_s=0.25)
    try:
        body = wait_for(  # PdM says "starting" until its first look for a model (slower in a fresh process)
            lambda: (h := _health(live.base_url))["scan_lag_p99_s"] is not None and h["pdm"] != "starting" and h,
            30,
            "no scan lag reported, or PdM still starting",
        )
        assert 0 <= body["scan_lag_p50_s"] <= body["scan_lag_p99_s"] < 5.0
        # a fresh install has no PdM model: health says so and stays ok
        assert body["pdm"] == "waiting for a model" and body["status"] == "ok"
        # shared process: neither the switch interval nor the collector is touched
        assert sys.getswitchinterval() != GIL_SWITCH_INTERVAL_S
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold()[0] != YOUNG_GC_THRESHOLD
    finally:
        server.stop()


def test_a_runtime_that_owns_its_process_tunes_the_interpreter(tmp_path: Path, restore_interpreter: None) -> None:
    live, server = start_live_app(tmp_path, ingest="modbus", sim_interval_s=0.25, own_process=True)
    try:
        wait_for(lambda: _health(live.base_url)["readings_stored"] > 0, 30, "no readings stored")
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
        # frozen once the first scans are stored: the start-up heap is out of full collections
        assert wait_for(gc.get_freeze_count, 15, "start-up heap never frozen") > 10_000
        # and the youngest generation collected less often (fewer passes over dying objects)
        assert wait_for(lambda: gc.get_threshold()[0] == YOUNG_GC_THRESHOLD, 15, "collector thresholds unchanged")
    finally:
        server.stop()
