"""The user and role page (用户与角色, 三员分立) in Chromium, against the real app.

The security administrator lands on the user list (no plant rights), opens an account,
changes its roles, disables it and resets its password; the auditor sees the list read-only;
the system administrator has no such menu entry and gets live data over the WebSocket,
whose token now travels as a subprotocol instead of in the URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser_helpers import ARTIFACTS, DIST, chromium, sign_in
from tests.e2e.conftest import LiveApp, serve_live_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    yield from serve_live_app(tmp_path_factory.mktemp("users-ui"))


@pytest.fixture(scope="module")
def initial(live_app: LiveApp) -> dict[str, str]:
    text = (live_app.settings.data_dir / "initial-passwords.txt").read_text(encoding="utf-8")
    return dict(re.findall(r"^(\w+): (\S+)$", text, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    with chromium(chromium_path) as b:
        yield b


def _login(browser: Browser, live_app: LiveApp, username: str, password: str) -> Page:
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    sign_in(page, live_app.base_url, username, password)
    return page


@pytest.mark.skipif(not DIST.exists(), reason="the web UI is not built (npm --prefix viz/web run build)")
def test_security_admin_manages_accounts_in_the_ui(
    browser: Browser, live_app: LiveApp, initial: dict[str, str]
) -> None:
    page = _login(browser, live_app, "secadmin", initial["secadmin"])
    try:
        expect(page.get_by_test_id("users-page")).to_be_visible(timeout=30_000)  # home of a separated role
        expect(page).to_have_url(re.compile(r"#/users$"))
        table = page.get_by_test_id("users-table")
        for name in ("admin", "secadmin", "auditor"):
            expect(table).to_contain_text(name)

        page.get_by_test_id("user-create").click()
        page.get_by_test_id("user-form-username").fill("web.op")
        page.get_by_test_id("user-form-display-name").fill("王五")
        page.get_by_test_id("user-form-password").fill("Tank-Farm-Op-42")
        page.get_by_test_id("user-form-roles").click()
        page.get_by_role("option", name="中控操作员").click()
        page.keyboard.press("Escape")
        page.get_by_test_id("user-form-submit").click()
        row = table.locator("tr", has_text="web.op").first
        expect(row).to_contain_text("中控操作员")
        expect(row).to_contain_text("待改密")

        page.get_by_test_id("user-roles-web.op").click()
        page.get_by_test_id("user-roles-select").click()
        page.get_by_role("option", name="巡检人员").click()
        page.keyboard.press("Escape")
        page.get_by_test_id("user-roles-submit").click()
        expect(row).to_contain_text("巡检人员")

        page.get_by_test_id("user-toggle-web.op").click()
        page.get_by_role("button", name="停用").last.click()
        expect(page.get_by_test_id("user-state-web.op")).to_contain_text("已停用")
        refused = httpx.post(
            f"{live_app.base_url}/api/v1/auth/login", json={"username": "web.op", "password": "Tank-Farm-Op-42"}
        )
        assert refused.status_code == 403  # disabled

        page.get_by_test_id("user-toggle-web.op").click()
        page.get_by_role("button", name="启用").last.click()
        expect(page.get_by_test_id("user-state-web.op")).to_contain_text("正常")

        page.get_by_test_id("user-password-web.op").click()
        page.get_by_test_id("user-password-input").fill("Reset-Valve-Op-43")
        page.get_by_test_id("user-password-submit").click()
        expect(page.get_by_text("已重置密码：web.op")).to_be_visible()
        ok = httpx.post(
            f"{live_app.base_url}/api/v1/auth/login", json={"username": "web.op", "password": "Reset-Valve-Op-43"}
        )
        assert ok.status_code == 200 and ok.json()["user"]["must_change_password"] is True
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "users-view.png"))
    finally:
        page.close()


@pytest.mark.skipif(not DIST.exists(), reason="the web UI is not built (npm --prefix viz/web run build)")
def test_the_auditor_reads_the_list_only(browser: Browser, live_app: LiveApp, initial: dict[str, str]) -> None:
    page = _login(browser, live_app, "auditor", initial["auditor"])
    try:
        expect(page.get_by_test_id("users-readonly")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("users-table")).to_contain_text("secadmin")
        expect(page.get_by_test_id("user-create")).to_have_count(0)
    finally:
        page.close()


@pytest.mark.skipif(not DIST.exists(), reason="the web UI is not built (npm --prefix viz/web run build)")
def test_admin_has_no_user_menu_and_live_data_without_a_token_in_the_url(browser: Browser, live_app: LiveApp) -> None:
    page = _login(browser, live_app, live_app.admin_username, live_app.admin_password)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        expect(page.get_by_test_id("live-status")).to_have_text("实时连接正常", timeout=30_000)
        expect(page.get_by_test_id("nav-users")).to_have_count(0)
        assert sockets and all("token" not in url for url in sockets), sockets
        page.goto(f"{live_app.base_url}/#/users")
        expect(page).not_to_have_url(re.compile(r"#/users$"))  # the route refuses admin
    finally:
        page.close()


@pytest.mark.skipif(not DIST.exists(), reason="the web UI is not built (npm --prefix viz/web run build)")
def test_a_totp_account_signs_in_with_its_code(browser: Browser, live_app: LiveApp, initial: dict[str, str]) -> None:
    base = live_app.base_url
    sec = httpx.post(f"{base}/api/v1/auth/login", json={"username": "secadmin", "password": initial["secadmin"]})
    auth = {"Authorization": f"Bearer {sec.json()['access_token']}"}
    body = {"username": "web.mfa", "password": "Tank-Farm-Mfa-42", "roles": ["operator"], "must_change_password": False}
    assert httpx.post(f"{base}/api/v1/users", json=body, headers=auth).status_code == 201
    own = httpx.post(f"{base}/api/v1/auth/login", json={"username": "web.mfa", "password": "Tank-Farm-Mfa-42"})
    own_auth = {"Authorization": f"Bearer {own.json()['access_token']}"}
    totp = pyotp.TOTP(httpx.post(f"{base}/api/v1/auth/me/totp", headers=own_auth).json()["secret"])
    previous = totp.at(datetime.now(UTC) - timedelta(seconds=30))
    confirm = httpx.post(f"{base}/api/v1/auth/me/totp/confirm", json={"code": previous}, headers=own_auth)
    assert confirm.status_code == 204

    page = _login(browser, live_app, "web.mfa", "Tank-Farm-Mfa-42")
    try:
        expect(page.get_by_test_id("login-otp")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("login-error")).to_contain_text("动态口令")
        page.get_by_test_id("login-otp").fill(totp.now())
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("live-status")).to_be_visible(timeout=30_000)  # signed in, on the twin
    finally:
        page.close()


@pytest.mark.skipif(not DIST.exists(), reason="the web UI is not built (npm --prefix viz/web run build)")
def test_logging_out_in_the_ui_revokes_the_token_on_the_server(browser: Browser, live_app: LiveApp) -> None:
    """Issue 13: 退出 ends the session on the server, so a copied token stops working at once."""
    page = _login(browser, live_app, live_app.admin_username, live_app.admin_password)
    try:
        expect(page.get_by_test_id("logout")).to_be_visible(timeout=30_000)
        token = page.evaluate("localStorage.getItem('safetwin.token')")
        assert token, "signed in: the page holds a token"
        me = f"{live_app.base_url}/api/v1/auth/me"
        assert httpx.get(me, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        with page.expect_response(lambda r: r.url.endswith("/api/v1/auth/logout")) as answer:
            page.get_by_test_id("logout").click()
        assert answer.value.status == 204
        expect(page.get_by_test_id("login-username")).to_be_visible()
        assert page.evaluate("localStorage.getItem('safetwin.token')") is None
        refused = httpx.get(me, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401, refused.text
    finally:
        page.close()
