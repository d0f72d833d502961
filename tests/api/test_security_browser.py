"""The web UI works under the Content-Security-Policy the API sends: no violation, no page error.

The other browser tests run with ``bypass_csp`` (Playwright's string predicates need eval,
which the policy forbids); this one keeps the policy on and only uses locators.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import LiveApp, start_live_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DIST = Path(__file__).resolve().parents[2] / "viz" / "web" / "dist" / "index.html"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    live, server = start_live_app(tmp_path_factory.mktemp("csp"))
    try:
        yield live
    finally:
        server.stop()


@pytest.mark.skipif(not DIST.exists(), reason="the web UI is not built (npm --prefix viz/web run build)")
def test_the_ui_runs_under_the_content_security_policy(live_app: LiveApp, chromium_path: str) -> None:
    violations: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            page.on("pageerror", lambda err: violations.append(str(err)))
            response = page.goto(f"{live_app.base_url}/")
            assert response is not None
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            page.get_by_test_id("login-username").fill(live_app.admin_username)
            page.get_by_test_id("login-password").fill(live_app.admin_password)
            page.get_by_test_id("login-submit").click()
            expect(page.get_by_test_id("scene-status")).to_have_attribute("data-state", "loaded", timeout=30_000)
            page.goto(f"{live_app.base_url}/alarms")
            page.wait_for_load_state("networkidle")
            page.goto(f"{live_app.base_url}/registers/certificates")
            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert not violations
