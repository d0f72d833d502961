"""The alarm console (报警管理) driven by the keyboard alone, in a real browser (issue 14).

A control-room operator works the alarm list without a mouse: Tab reaches the list (one tab
stop, the selected row), the arrow keys move the selection (``aria-selected`` and a roving
tabindex), Enter opens the detail, S and D open the shelve and disposal dialogs, Esc closes
each and gives focus back to the row, A acknowledges. Against the full embedded app: a forced
reactor excursion raises the alarm, the keys acknowledge it, and the register (read through the
API) names the user who did. Every form control shown on the way has a label; the page logs no
console error. On the twin page the alarm table's rows open with Enter as they do with a click.
Screenshots go to artifacts/ (alarm-console-*.png).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.browser_helpers import ARTIFACTS, DIST, ConsoleWatch, desktop_page, login, unlabelled
from tests.e2e.conftest import LiveApp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TAG, REACTOR = "TT-401", "R-401"
# two more alarms around it (high limits 35 and 30 °C), so the arrows have rows to move over
LATER, LAST = "TT-201", "TT-501"
ROWS = "[data-testid=alarm-records-table] .el-table__body-wrapper tr.el-table__row"
MAX_TABS = 60

# What has the focus, as the test needs to know it: a row of the alarm list (with its alarm's
# state testid and ARIA), or else a short description of the element.
FOCUSED_JS = """
() => {
  const el = document.activeElement
  const row = el && el.matches('tr.el-table__row') && el.closest('[data-testid=alarm-records-table]') ? el : null
  const state = row && row.querySelector('[data-testid^=alarm-state-]')
  return {
    row: !!row,
    alarm: state ? Number(state.dataset.testid.slice('alarm-state-'.length)) : null,
    selected: row ? row.getAttribute('aria-selected') : null,
    grid: row ? row.closest('table').getAttribute('role') : null,
    inTable: !!(el && el.closest('[data-testid=alarm-records-table]')),
    what: el ? `${el.tagName.toLowerCase()}.${el.className}` : 'none',
  }
}
"""


def focused(page: Page) -> dict[str, Any]:
    return dict(page.evaluate(FOCUSED_JS))


def fresh_unacked_alarm(
    base_url: str, token: str, since: float, tag: str = TAG, timeout_s: float = 20
) -> dict[str, Any]:
    """The alarm a forced excursion of ``tag`` raised: unacknowledged, ack allowed, raised after ``since``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{base_url}/api/v1/alarm-records",
            params={"scope": "active", "tag": tag, "sort": "-raised_at"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        r.raise_for_status()
        for item in r.json()["items"]:
            raised = datetime.fromisoformat(item["raised_at"].replace("Z", "+00:00")).timestamp()
            if item["state"].startswith("unack") and "ack" in item["allowed_actions"] and raised >= since - 1:
                return dict(item)
        time.sleep(0.3)
    pytest.fail(f"no unacknowledged {tag} alarm within {timeout_s} s of the excursion")


def press_until(page: Page, key: str, done: Callable[[dict[str, Any]], bool], limit: int, what: str) -> int:
    """Press ``key`` until ``done(focused(page))`` holds; the number of presses it took."""
    for n in range(limit + 1):
        if done(focused(page)):
            return n
        page.keyboard.press(key)
    pytest.fail(f"{what}: not reached after {limit} presses of {key}; focus is on {focused(page)['what']}")


def test_alarm_console_works_by_keyboard(live_app: LiveApp, browser: Browser) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    ARTIFACTS.mkdir(exist_ok=True)
    watch = ConsoleWatch()
    page, errors = desktop_page(browser)
    watch.attach(page)
    try:
        page.goto(f"{live_app.base_url}/#/alarms")
        page.get_by_test_id("login-username").wait_for()
        assert unlabelled(page) == [], "login form fields without a label"
        login(page, live_app.admin_username, live_app.admin_password)
        page.get_by_test_id("alarm-records-table").wait_for()
        page.get_by_test_id("alarm-kpis").wait_for()
        hint = page.get_by_test_id("alarm-kbd-hint")
        assert hint.is_visible()
        for key in ("↑", "↓", "Enter", "A", "Esc"):
            assert key in hint.inner_text(), f"the key hint does not mention {key}"

        token = str(page.evaluate("localStorage.getItem('safetwin.token')"))
        started = time.time()
        live_app.force_excursion(token, TAG, duration_s=120)
        alarm = fresh_unacked_alarm(live_app.base_url, token, started)
        live_app.force_excursion(token, LATER, to=37.0, duration_s=120)
        later = fresh_unacked_alarm(live_app.base_url, token, started, LATER)
        state = page.get_by_test_id(f"alarm-state-{alarm['id']}")
        state.wait_for(timeout=15_000)  # the live stream (or the 10 s poll) brings it in
        page.get_by_test_id(f"alarm-state-{later['id']}").wait_for(timeout=15_000)
        assert state.inner_text().strip().startswith("未确认")

        # Tab from the top of the page reaches the list: its selected row is the one tab stop
        page.evaluate("document.activeElement?.blur()")
        tabs = press_until(page, "Tab", lambda f: f["row"], MAX_TABS, "Tab into the alarm list")
        here = focused(page)
        assert here["selected"] == "true" and here["grid"] == "grid"
        assert page.locator(f"{ROWS}[tabindex='0']").count() == 1, "one row of the list is in the tab order"
        assert page.locator(f"{ROWS}[aria-selected='true']").count() == 1

        # arrows move the selection (and the focus) to the alarm the excursion raised
        page.keyboard.press("Home")
        first = focused(page)
        assert first["row"] and first["selected"] == "true"
        rows = page.locator(ROWS).count()
        assert rows >= 2
        press_until(page, "ArrowDown", lambda f: f["alarm"] == alarm["id"], rows, f"alarm {alarm['id']} by ArrowDown")
        # a step away and back: the selection follows the focus, one row at a time
        at = page.evaluate(f"() => [...document.querySelectorAll('{ROWS}')].indexOf(document.activeElement)")
        away, back = ("ArrowDown", "ArrowUp") if at < rows - 1 else ("ArrowUp", "ArrowDown")
        page.keyboard.press(away)
        moved = focused(page)
        assert moved["row"] and moved["alarm"] != alarm["id"] and moved["selected"] == "true"
        assert page.locator(f"{ROWS}[aria-selected='true']").count() == 1
        page.keyboard.press(back)
        assert focused(page)["alarm"] == alarm["id"]

        # a new alarm arrives on top: the list reloads, the selection and the focus stay on this alarm
        live_app.force_excursion(token, LAST, to=32.0, duration_s=120)
        last = fresh_unacked_alarm(live_app.base_url, token, started, LAST)
        page.get_by_test_id(f"alarm-state-{last['id']}").wait_for(timeout=15_000)
        assert page.locator(ROWS).count() == rows + 1
        assert focused(page)["alarm"] == alarm["id"] and focused(page)["selected"] == "true"
        selected = page.locator(f"{ROWS}[aria-selected='true']")
        assert selected.count() == 1 and selected.get_by_test_id(f"alarm-state-{alarm['id']}").count() == 1
        ring = page.evaluate("() => getComputedStyle(document.activeElement.children[1]).boxShadow")
        assert ring not in ("", "none"), "the focused row shows no focus ring"
        page.screenshot(path=str(ARTIFACTS / "alarm-console-keyboard-selected.png"))

        # Enter opens the detail; Esc closes it and the focus is back on the row
        page.keyboard.press("Enter")
        drawer = page.get_by_test_id("alarm-detail")
        drawer.get_by_text(alarm["message"]).first.wait_for()
        assert TAG in drawer.inner_text() and "未确认" in drawer.inner_text()
        page.wait_for_timeout(400)  # the drawer slides in
        page.screenshot(path=str(ARTIFACTS / "alarm-console-keyboard-detail.png"))
        page.keyboard.press("Escape")
        drawer.wait_for(state="hidden")
        page.wait_for_function("() => document.activeElement?.matches('tr.el-table__row')")
        assert focused(page)["alarm"] == alarm["id"]

        # S: the shelve dialog, its first field focused, every field labelled; Esc shelves nothing
        page.keyboard.press("s")
        shelve = page.get_by_test_id("shelve-dialog")
        shelve.get_by_test_id("shelve-reason").wait_for()
        page.wait_for_function("() => document.activeElement?.closest('[data-testid=shelve-dialog]') != null")
        assert unlabelled(page) == [], "shelve dialog fields without a label"
        page.screenshot(path=str(ARTIFACTS / "alarm-console-keyboard-shelve.png"))
        page.keyboard.press("Escape")
        shelve.wait_for(state="hidden")
        page.wait_for_function("() => document.activeElement?.matches('tr.el-table__row')")
        assert focused(page)["alarm"] == alarm["id"]

        # D: the disposal dialog, the same
        page.keyboard.press("d")
        disposal = page.get_by_test_id("disposal-dialog")
        disposal.get_by_test_id("disposal-cause").wait_for()
        page.wait_for_function("() => document.activeElement?.closest('[data-testid=disposal-dialog]') != null")
        assert unlabelled(page) == [], "disposal dialog fields without a label"
        page.keyboard.press("Escape")
        disposal.wait_for(state="hidden")
        page.wait_for_function("() => document.activeElement?.matches('tr.el-table__row')")
        assert focused(page)["alarm"] == alarm["id"]

        # A acknowledges the selected alarm, as the row's 确认 button does
        page.keyboard.press("a")
        page.wait_for_function(
            "id => { const s = document.querySelector(`[data-testid=alarm-state-${id}]`);"
            " return !s || !s.textContent.trim().startsWith('未确认') }",
            arg=alarm["id"],
            timeout=10_000,
        )
        after = httpx.get(
            f"{live_app.base_url}/api/v1/alarm-records/{alarm['id']}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        ).json()
        assert after["acked_by"] == live_app.admin_username
        assert after["acked_at"] is not None and "ack" not in after["allowed_actions"]
        assert page.get_by_test_id(f"ack-{alarm['id']}").count() == 0
        # the list reloaded; the operator's place in it did not move
        page.wait_for_function("() => document.activeElement?.matches('tr.el-table__row')")
        if state.count():
            assert focused(page)["alarm"] == alarm["id"]
        page.screenshot(path=str(ARTIFACTS / "alarm-console-keyboard-acked.png"))

        # Tab leaves the list in one step: the row's buttons are not extra stops
        page.keyboard.press("Tab")
        assert not focused(page)["inTable"], f"Tab stayed in the list: {focused(page)['what']}"
        page.keyboard.press("Shift+Tab")
        assert focused(page)["row"]
        assert unlabelled(page) == [], "alarm page fields without a label"

        # the twin's alarm table: each alarm is a stop that Enter opens, like a click on its row
        page.goto(f"{live_app.base_url}/#/")
        opener = page.get_by_test_id("alarm-table").get_by_role("button", name=TAG).first
        opener.wait_for(timeout=15_000)
        opener.focus()
        page.keyboard.press("Enter")
        card = page.get_by_test_id("equipment-card")
        card.wait_for()
        assert REACTOR in card.inner_text()
        page.screenshot(path=str(ARTIFACTS / "alarm-console-keyboard-twin.png"))
        print(f"Tab presses from the top of the alarm page to the list: {tabs}")
    finally:
        page.context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
    assert not watch.errors, f"console errors: {watch.errors}"
