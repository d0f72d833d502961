"""The big-screen overview (总览) and the trend comparison (趋势对比) in a real browser.

Debian's chromium through Playwright against the full embedded app (simulator, pipeline, API,
built web UI). A forced reactor excursion raises an alarm; the overview's active-alarm count and
its per-priority split must come to equal what the alarm API lists, and every hazard source must
show a risk card. The trend page compares two tags on one time axis and zooms with the mouse
wheel. No console errors, every form control labelled. Screenshots go to /tmp.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.e2e.browser_helpers import CHROMIUM_ARGS, DIST, SHOTS, ConsoleWatch, login, unlabelled
from tests.e2e.conftest import LiveApp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TAG = "TT-401"


def _get(live_app: LiveApp, token: str, path: str, **params: Any) -> Any:
    r = httpx.get(f"{live_app.base_url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    r.raise_for_status()
    return r.json()


def _page_counts(page: Page) -> tuple[int, dict[str, int]]:
    total = int(page.get_by_test_id("overview-alarm-total").inner_text())
    split = {}
    for p in ("critical", "high", "medium", "low"):
        split[p] = int(page.get_by_test_id(f"overview-alarm-{p}").locator("b").inner_text())
    return total, split


def test_overview_matches_the_alarm_api_and_trends_zoom(live_app: LiveApp, chromium_path: str) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    live_app.load_demo_registers()
    token = live_app.token()
    watch = ConsoleWatch()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN").new_page()
            watch.attach(page)
            page.goto(f"{live_app.base_url}/#/overview")
            login(page, live_app.admin_username, live_app.admin_password)
            page.get_by_test_id("overview-alarm-total").wait_for()
            assert page.get_by_test_id("page-title").inner_text() == "总览"

            # every major hazard source has its card; the colour follows the risk API
            scores = _get(live_app, token, "/api/v1/risk/scores")
            assert len(scores) >= 4
            for s in scores:
                page.get_by_test_id(f"risk-{s['hazard_source_id']}").wait_for()

            # an excursion raises an alarm; the overview catches up with the register
            live_app.force_excursion(token, TAG)
            deadline = time.monotonic() + 20
            seen: list[tuple[int, int]] = []
            while True:
                active = _get(live_app, token, "/api/v1/alarms/active")
                total, split = _page_counts(page)
                seen.append((total, len(active)))
                want = Counter(a["priority"] for a in active)
                if active and any(a["source_id"] == TAG for a in active) and total == len(active):
                    assert split == {p: want.get(p, 0) for p in split}, (split, want)
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"the overview never showed the API's active-alarm count: (page, api) {seen[-5:]}")
                page.wait_for_timeout(500)
            unacked = sum(1 for a in active if not a["acknowledged"])
            page.wait_for_function(
                "n => document.querySelector('[data-testid=overview-alarm-unacked]')?.textContent.trim() === String(n)",
                arg=unacked,
                timeout=10_000,
            )
            # people on site: the tile follows the positioning API (people walk, so poll until equal)
            deadline = time.monotonic() + 15
            while int(page.get_by_test_id("overview-people-site").inner_text()) != (
                site := _get(live_app, token, "/api/v1/positioning/headcount")["site"]
            ):
                if time.monotonic() > deadline:
                    pytest.fail(f"people on site never matched the API ({site})")
                page.wait_for_timeout(500)
            page.get_by_test_id("alarm-kpis").wait_for()
            page.wait_for_timeout(300)
            page.screenshot(path=str(SHOTS / "safetwin-overview.png"), full_page=True)

            # trends: two tags, zoom with the wheel, the shown span narrows
            page.goto(f"{live_app.base_url}/#/trends?tags={TAG},PT-101&window=900000")
            chart = page.get_by_test_id("trend-multi-chart")
            chart.locator("canvas").first.wait_for()
            page.wait_for_function(
                "() => ['TT-401', 'PT-101'].every(t => parseInt("
                "document.querySelector(`[data-testid=trend-count-${t}]`)?.textContent.split('：')[1] ?? '0') > 0)",
                timeout=15_000,
            )
            assert page.get_by_test_id("trend-zoom").get_attribute("data-zoom") == "0.0-100.0"
            box = chart.bounding_box()
            assert box is not None
            # zoom in where the data is: the plant started seconds ago, so at the right-hand end
            page.mouse.move(box["x"] + box["width"] * 0.93, box["y"] + box["height"] / 2)
            for _ in range(3):
                page.mouse.wheel(0, -300)
                page.wait_for_timeout(150)
            page.wait_for_function(
                "() => document.querySelector('[data-testid=trend-zoom]').dataset.zoom !== '0.0-100.0'", timeout=5000
            )
            shown = str(page.get_by_test_id("trend-zoom").get_attribute("data-zoom"))
            start, end = (float(x) for x in shown.split("-"))
            assert 0 < end - start < 100
            assert "tags=TT-401%2CPT-101" in page.url or "tags=TT-401,PT-101" in page.url
            page.screenshot(path=str(SHOTS / "safetwin-trends-zoomed.png"))
            page.get_by_test_id("trend-reset-zoom").click()
            page.wait_for_function(
                "() => document.querySelector('[data-testid=trend-zoom]').dataset.zoom === '0.0-100.0'", timeout=5000
            )
            assert unlabelled(page) == []
        finally:
            browser.close()
    assert not watch.errors, watch.errors
