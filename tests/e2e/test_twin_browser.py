"""The twin page in a real browser: log in, load the GLB, see an alarm turn the reactor red.

Drives Debian's chromium through Playwright against the full embedded app (simulator,
pipeline, API and the built web UI). Colours are read through ``window.__safetwin`` rather
than by sampling pixels, so the check does not depend on the GPU or on the camera.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.e2e.browser_helpers import CHROMIUM_ARGS, DIST, sign_in
from tests.e2e.conftest import LiveApp
from twin.scene import COLORS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALARM = "#ff3030"
REACTOR, TAG = "R-401", "TT-401"


def color(page: Page, equipment: str) -> str:
    return str(page.evaluate("id => window.__safetwin.equipmentColor(id)", equipment))


def test_excursion_turns_the_reactor_red(live_app: LiveApp, chromium_path: str, tmp_path: Path) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            # bypass_csp: the app runs under a CSP without eval; Playwright's string predicates need eval
            page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN", bypass_csp=True)
            page.on("pageerror", lambda err: errors.append(str(err)))

            sign_in(page, live_app.base_url, live_app.admin_username, live_app.admin_password)

            page.wait_for_function(
                "document.querySelector('[data-testid=scene-status]')?.dataset.state === 'loaded'", timeout=30_000
            )
            assert page.get_by_test_id("scene-status").inner_text() == "已加载"
            assert page.evaluate("window.__safetwin.loaded") is True
            # the simulator's own schedule may have the reactor in alarm right now: wait it out
            page.wait_for_function(
                "([id, red]) => window.__safetwin.equipmentColor(id) !== red", arg=[REACTOR, ALARM], timeout=60_000
            )
            normal = color(page, REACTOR)
            assert re.fullmatch(r"#[0-9a-f]{6}", normal)
            assert normal == COLORS["reactor"]
            assert color(page, "NO-SUCH-EQUIPMENT") == ""

            token = page.evaluate("localStorage.getItem('safetwin.token')")
            assert token, "the login page did not store the token"
            live_app.force_excursion(token, TAG, duration_s=30)

            page.wait_for_function(
                "([id, red]) => window.__safetwin.equipmentColor(id) === red", arg=[REACTOR, ALARM], timeout=15_000
            )
            assert REACTOR in page.evaluate("window.__safetwin.alarmedEquipment()")
            assert int(page.get_by_test_id("alarm-count").inner_text()) >= 1
            assert color(page, "T-201") == COLORS["tank"]  # only the reactor's alarm colours it

            shot = tmp_path / "twin-alarm.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    assert not errors, f"uncaught errors in the page: {errors}"
