"""The web UI works under the Content-Security-Policy the API sends: no violation, no page error.

The other browser tests run with ``bypass_csp`` (Playwright's string predicates need eval,
which the policy forbids); this one keeps the policy on and only uses locators.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.browser_helpers import DIST, chromium, login
from tests.e2e.conftest import LiveApp, serve_live_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    yield from serve_live_app(tmp_path_factory.mktemp("csp"))


@pytest.mark.skipif(not DIST.exists(), reason="the web UI is not built (npm --prefix viz/web run build)")
def test_the_ui_runs_under_the_content_security_policy(live_app: LiveApp, chromium_path: str) -> None:
    violations: list[str] = []
    with chromium(chromium_path) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda err: violations.append(str(err)))
        response = page.goto(f"{live_app.base_url}/")
        assert response is not None
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        login(page, live_app.admin_username, live_app.admin_password)
        expect(page.get_by_test_id("scene-status")).to_have_attribute("data-state", "loaded", timeout=30_000)
        page.goto(f"{live_app.base_url}/alarms")
        page.wait_for_load_state("networkidle")
        page.goto(f"{live_app.base_url}/registers/certificates")
        page.wait_for_load_state("networkidle")
    assert not violations
