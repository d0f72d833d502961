"""The twin's overlays in a real browser: alarm colour within 2 s, click panel, risk outlines, labels.

Drives Debian's chromium through Playwright against the full embedded app (simulator,
pipelines, API and the built web UI). Colours and counts are read through
``window.__safetwin`` (no pixel sampling, so the checks do not depend on the GPU); the click
goes through the real canvas at the reactor's projected position. Screenshots are written to
``artifacts/``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.e2e.browser_helpers import ARTIFACTS, CHROMIUM_ARGS, DIST, sign_in
from tests.e2e.conftest import LiveApp
from twin.plant import load_plant

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALARM = "#ff3030"
RISK_COLORS = {"red": "#e0262b", "orange": "#f5871f", "yellow": "#f2c80f", "blue": "#2f6fd6", None: "#8c98a4"}
REACTOR, TAG = "R-401", "TT-401"


def _login(page: Page, live_app: LiveApp) -> None:
    sign_in(page, live_app.base_url, live_app.admin_username, live_app.admin_password)
    page.wait_for_function(
        "document.querySelector('[data-testid=scene-status]')?.dataset.state === 'loaded'", timeout=30_000
    )


def test_twin_overlays(live_app: LiveApp, chromium_path: str) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    ARTIFACTS.mkdir(exist_ok=True)
    plant = load_plant()
    errors: list[str] = []
    token = live_app.token()
    auth = {"Authorization": f"Bearer {token}"}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN", bypass_csp=True)
            page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
            page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            _login(page, live_app)
            assert page.get_by_test_id("scene-status").inner_text() == "已加载"

            # zones and areas are named in Chinese on the ground, every zone of the demo included
            page.wait_for_function("window.__safetwin.placeLabels().length > 0")
            places = set(page.evaluate("window.__safetwin.placeLabels()"))
            assert {z.name for z in plant.zones} <= places, places
            assert {"罐区", "氯化反应装置"} <= places
            # labels are a level-of-detail pool, never one per item
            assert len(page.evaluate("window.__safetwin.labelled()")) <= 40
            # the start view fills the viewport: the plant's far corners project inside the canvas
            for eq in ("V-101", "WH-501", "CR-01"):
                pos = page.evaluate("id => window.__safetwin.screenPosition(id)", eq)
                assert pos is not None and 0 < pos["x"] < 1130 and 0 < pos["y"] < 900, (eq, pos)

            # every hazard source is outlined in the colour of its latest risk level (API = page)
            sources = {h.id for h in plant.hazard_sources}
            assert set(page.evaluate("window.__safetwin.hazardSources()")) == sources
            deadline = time.monotonic() + 30
            scores: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                scores = httpx.get(f"{live_app.base_url}/api/v1/risk/scores", headers=auth, timeout=10).json()
                if all(s["level"] is not None for s in scores):
                    break
                time.sleep(1)
            page.wait_for_function(
                "levels => Object.entries(levels).every(([id, l]) => window.__safetwin.hazardLevels()[id] === l)",
                arg={s["hazard_source_id"]: s["level"] for s in scores},
                timeout=15_000,
            )
            for s in scores:
                color = page.evaluate("id => window.__safetwin.hazardColor(id)", s["hazard_source_id"])
                assert color == RISK_COLORS[s["level"]], s

            # people walking the demo plant are drawn as markers
            page.wait_for_function("window.__safetwin.peopleCount() > 0", timeout=30_000)

            # an alarm from the simulator recolours the reactor within 2 s of the alarm register having it
            page.wait_for_function(
                "([id, red]) => window.__safetwin.equipmentColor(id) !== red", arg=[REACTOR, ALARM], timeout=60_000
            )
            live_app.force_excursion(token, TAG, duration_s=30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                active = httpx.get(f"{live_app.base_url}/api/v1/alarms/active", headers=auth, timeout=10).json()
                if any(a["source_id"] == TAG for a in active):
                    break
                time.sleep(0.1)
            else:
                pytest.fail(f"the simulator's excursion on {TAG} raised no alarm")
            seen = time.monotonic()
            page.wait_for_function(
                "([id, red]) => window.__safetwin.equipmentColor(id) === red", arg=[REACTOR, ALARM], timeout=5_000
            )
            assert time.monotonic() - seen <= 2.0
            assert REACTOR in page.evaluate("window.__safetwin.labelled()")  # an alarmed item always has its label

            # a click on the reactor in the canvas opens its panel
            pos = page.evaluate("id => window.__safetwin.screenPosition(id)", REACTOR)
            box = page.get_by_test_id("twin-canvas").bounding_box()
            assert pos is not None and box is not None
            page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
            card = page.get_by_test_id("equipment-card")
            card.wait_for(timeout=5_000)
            assert REACTOR in card.inner_text()
            assert "风险" in page.get_by_test_id("equipment-risk").inner_text()
            page.screenshot(path=str(ARTIFACTS / "twin-overlays.png"))

            # camera preset: fly to the reaction unit; the reactor is then nearer the centre and labelled
            page.get_by_test_id("area-preset").click()
            page.get_by_role("option", name="氯化反应装置").click()
            page.wait_for_timeout(1200)
            pos = page.evaluate("id => window.__safetwin.screenPosition(id)", REACTOR)
            assert pos is not None and 200 < pos["x"] < 1000, pos
            page.screenshot(path=str(ARTIFACTS / "twin-area-preset.png"))
        finally:
            browser.close()
    assert not errors, f"errors in the page: {errors}"
