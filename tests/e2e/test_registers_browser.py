"""The management pages in a real browser: the 重大危险源 register and 报警管理.

Drives Debian's chromium through Playwright against the full embedded app (simulator,
pipeline, API and the built web UI): log in, read the demo hazard sources from the register
table (sorted, searched, exported and imported the way an operator would), then force a
reactor temperature excursion and acknowledge the alarm it raises from the alarm page.
Screenshots go to /tmp so a person can look at what the test saw.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, sync_playwright

from tests.e2e.browser_helpers import ARTIFACTS, CHROMIUM_ARGS, DIST, SHOTS, options_of, sign_in
from tests.e2e.conftest import LiveApp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TAG = "TT-401"


def choose_chemical(page: Page, form: Locator, row: int, *, typed: str, option: str, shot: str = "") -> None:
    """Type into a row's chemical picker and choose the option whose label starts with ``option``."""
    picker = form.get_by_test_id(f"form-chemicals-{row}-name")
    picker.click()
    picker.locator("input").fill(typed)
    choice = options_of(page, picker, option).first  # this row's list, not the row above's
    choice.wait_for()
    if shot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / shot))
    choice.click()


def table_rows(page: Page, testid: str) -> list[str]:
    """Visible body rows of an Element Plus table, one string per row (cells tab-separated)."""
    rows = page.get_by_test_id(testid).locator(".el-table__body-wrapper tr.el-table__row")
    return [r.inner_text().strip() for r in rows.all()]


def fresh_unacked_alarm(base_url: str, token: str, since: float, timeout_s: float = 15) -> dict[str, Any]:
    """The TT-401 alarm the forced excursion raised: active, unacknowledged, raised after ``since``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = httpx.get(
            f"{base_url}/api/v1/alarm-records",
            params={"scope": "active", "tag": TAG, "sort": "-raised_at"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        r.raise_for_status()
        for item in r.json()["items"]:
            raised = datetime.fromisoformat(item["raised_at"].replace("Z", "+00:00")).timestamp()
            if item["state"] == "unack_active" and "ack" in item["allowed_actions"] and raised >= since - 1:
                return dict(item)
        time.sleep(0.3)
    pytest.fail(f"no unacknowledged {TAG} alarm within {timeout_s} s of the excursion")


def test_registers_and_alarm_handling(live_app: LiveApp, chromium_path: str) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    live_app.load_demo_registers()
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1600, "height": 900}, locale="zh-CN", accept_downloads=True, bypass_csp=True
            )
            page = context.new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))

            sign_in(page, live_app.base_url, live_app.admin_username, live_app.admin_password)

            # the twin page now sits inside the layout: menu on the left, live state in the header
            page.get_by_test_id("nav-menu").wait_for()
            page.get_by_test_id("live-status").wait_for()
            page.get_by_test_id("twin-canvas").wait_for()
            token = str(page.evaluate("localStorage.getItem('safetwin.token')"))

            # 重大危险源: MHS-01 is a grade-2 (二级) source
            page.get_by_test_id("nav-register-hazard-sources").click()
            table = page.get_by_test_id("register-table")
            table.get_by_text("MHS-01").wait_for()
            assert page.get_by_test_id("page-title").inner_text() == "重大危险源"
            rows = table_rows(page, "register-table")
            assert len(rows) == 4
            mhs01 = next(r for r in rows if r.startswith("MHS-01"))
            assert "二级" in mhs01 and "液化石油气球罐区" in mhs01 and "罐区" in mhs01
            page.screenshot(path=str(SHOTS / "safetwin-registers-hazard-sources.png"))

            # sorting happens on the server: one click on 编号 turns the ascending order round
            table.get_by_role("columnheader", name="编号", exact=False).filter(has_not_text="备案").click()
            page.wait_for_function(
                "() => document.querySelector('[data-testid=register-table] .el-table__body-wrapper tr')"
                "?.innerText.startsWith('MHS-04')"
            )

            # search (q): one matching source
            page.get_by_test_id("register-search").fill("液氯")
            page.get_by_test_id("register-search").press("Enter")
            page.wait_for_function(
                "() => document.querySelectorAll("
                "'[data-testid=register-table] .el-table__body-wrapper tr.el-table__row').length === 1"
            )
            assert table_rows(page, "register-table")[0].startswith("MHS-03")

            # detail drawer with the version history
            first_id = page.get_by_test_id("register-table").locator("[data-testid^=detail-]").first
            first_id.click()
            history = page.get_by_test_id("record-history")
            history.wait_for()
            assert "新建" in history.inner_text()
            assert "液氯库" in page.get_by_test_id("record-fields").inner_text()
            history.scroll_into_view_if_needed()
            page.wait_for_timeout(400)  # let the drawer finish sliding in before the picture
            page.screenshot(path=str(SHOTS / "safetwin-registers-detail.png"))
            page.keyboard.press("Escape")
            history.wait_for(state="hidden")

            # export with the bearer token: a real spreadsheet arrives
            with page.expect_download() as dl:
                page.get_by_test_id("register-export-xlsx").click()
            download = dl.value
            assert download.suggested_filename == "重大危险源.xlsx"
            assert Path(download.path()).read_bytes()[:2] == b"PK"

            # a bad import file: checked in the import dialog, nothing imported, the row-by-row report
            page.get_by_test_id("register-import").click()
            page.get_by_test_id("register-import-file").set_input_files(
                files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": "编号,名称\nMHS-09,测试\n".encode()}]
            )
            report = page.get_by_test_id("import-dialog")
            report.get_by_text("未导入任何数据").wait_for()
            assert "缺少必填列" in page.get_by_test_id("import-errors").inner_text()
            assert page.get_by_test_id("import-confirm").is_disabled()
            page.wait_for_timeout(400)  # the dialog fades in
            page.screenshot(path=str(SHOTS / "safetwin-registers-import-errors.png"))
            report.get_by_role("button", name="取消").click()

            # 报警管理: force an excursion, see the alarm, acknowledge it from the page
            page.get_by_test_id("nav-alarms").click()
            page.get_by_test_id("alarm-records-table").wait_for()
            page.get_by_test_id("alarm-kpis").wait_for()
            started = time.time()
            live_app.force_excursion(token, TAG)
            alarm = fresh_unacked_alarm(live_app.base_url, token, started)
            ack = page.get_by_test_id(f"ack-{alarm['id']}")
            ack.wait_for(timeout=15_000)  # the live stream (or the 10 s poll) brings it in
            state = page.get_by_test_id(f"alarm-state-{alarm['id']}")
            assert state.inner_text().strip() == "未确认-报警中"
            assert page.get_by_test_id(f"shelve-{alarm['id']}").is_visible()
            page.screenshot(path=str(SHOTS / "safetwin-alarms-active.png"))

            ack.click()
            page.wait_for_function(
                "id => { const s = document.querySelector(`[data-testid=alarm-state-${id}]`);"
                " return !s || s.textContent.trim() !== '未确认-报警中' }",
                arg=alarm["id"],
                timeout=10_000,
            )
            assert ack.count() == 0, "the 确认 button stays only while the state allows it"
            if state.count():
                assert state.inner_text().strip() == "已确认-报警中"
            after = httpx.get(
                f"{live_app.base_url}/api/v1/alarm-records/{alarm['id']}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            ).json()
            assert after["acked_by"] == live_app.admin_username
            assert "ack" not in after["allowed_actions"]
            page.screenshot(path=str(SHOTS / "safetwin-alarms-acked.png"))
        finally:
            browser.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_hazard_source_form_create_field_error_and_edit(live_app: LiveApp, chromium_path: str) -> None:
    """Issue 12: a hazard source entered through the generated form, the way a safety manager writes it.

    The chemicals are rows of typed cells, not JSON text: 液氯 is found in the chemical picker by
    its common name (choosing it fills its CAS number and shows Table 1's Q), 液化石油气 by the
    CAS number of propane; quantities go into number cells. 储存单元, 60 people within 500 m
    (α 1.5 from Table 5): S = 30/5 + 100/50 = 8, R = 1.5 × (4·6 + 1.5·2) = 40.5 → 三级. A CAS that
    contradicts the name is shown under the chemicals field; editing 液氯 to 60 t gives R = 76.5 (二级)
    and the version history shows the change. Screenshots go to artifacts/ (register-form-*.png).
    """
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    live_app.load_demo_registers()
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(
                viewport={"width": 1600, "height": 900}, locale="zh-CN", bypass_csp=True
            ).new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))
            sign_in(
                page, live_app.base_url, live_app.admin_username, live_app.admin_password, "/#/registers/hazard-sources"
            )
            page.get_by_test_id("nav-register-hazard-sources").click()
            table = page.get_by_test_id("register-table")
            table.get_by_text("MHS-01").wait_for()

            page.get_by_test_id("register-create").click()
            form = page.get_by_test_id("register-form")
            form.get_by_test_id("form-code").wait_for()
            # labels come from the API's schema, in Chinese
            assert "暴露人数" in form.get_by_test_id("form-item-exposed_population").inner_text()
            form.get_by_test_id("form-code").fill("MHS-09")
            form.get_by_test_id("form-name").fill("液氯及液化气库")
            form.get_by_test_id("form-unit_kind").click()
            page.get_by_role("option", name="储存单元").click()
            form.get_by_test_id("form-exposed_population").fill("60")
            # the chemical picker: 液氯 (the name on the tank) is Table 1's 氯; its CAS and Q come with it
            choose_chemical(page, form, 0, typed="液氯", option="氯（液氯")
            assert form.get_by_test_id("form-chemicals-0-cas").input_value() == "7782-50-5"
            assert form.get_by_test_id("form-chemicals-0-critical_t").get_attribute("placeholder") == "表1：5"
            assert form.get_by_test_id("form-chemicals-0-quantity_t").get_attribute("type") == "number"
            form.get_by_test_id("form-chemicals-0-quantity_t").fill("30")
            form.get_by_test_id("form-chemicals-add").click()
            shot = "register-form-chemical-picker.png"
            choose_chemical(page, form, 1, typed="74-98-6", option="液化石油气（", shot=shot)
            assert form.get_by_test_id("form-chemicals-1-cas").input_value() == ""  # LPG has three: none is guessed
            form.get_by_test_id("form-chemicals-1-quantity_t").fill("100")
            form.get_by_test_id("form-chemicals-0-cas").fill("67-56-1")  # methanol's CAS: a typo
            form.get_by_test_id("form-submit").click()

            error = form.get_by_test_id("form-item-chemicals").locator(".el-form-item__error")
            error.wait_for()
            assert "第 1 行" in error.inner_text() and "与填写的 CAS 67-56-1 不符" in error.inner_text()
            page.screenshot(path=str(SHOTS / "safetwin-form-field-error.png"))
            page.screenshot(path=str(ARTIFACTS / "register-form-field-error.png"))

            form.get_by_test_id("form-chemicals-0-cas").fill("7782-50-5")
            form.get_by_test_id("form-submit").click()
            form.wait_for(state="hidden")
            row = table.locator("tr.el-table__row", has_text="MHS-09")
            row.wait_for()
            assert "三级" in row.inner_text() and "40.5" in row.inner_text()
            page.screenshot(path=str(SHOTS / "safetwin-form-created.png"))
            page.screenshot(path=str(ARTIFACTS / "register-form-created.png"))

            row.locator("[data-testid^=edit-]").click()
            form.get_by_test_id("form-chemicals-0-quantity_t").wait_for()
            assert form.get_by_test_id("form-chemicals-0-name").inner_text().strip() == "氯"
            assert form.get_by_test_id("form-chemicals-1-name").inner_text().strip() == "液化石油气"
            assert form.get_by_test_id("form-chemicals-0-quantity_t").input_value() == "30"
            form.get_by_test_id("form-chemicals-0-quantity_t").fill("60")
            form.get_by_test_id("form-submit").click()
            form.wait_for(state="hidden")
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=register-table] tr.el-table__row')]"
                ".some(r => r.innerText.includes('MHS-09') && r.innerText.includes('二级'))"
            )
            assert "76.5" in row.inner_text()

            row.locator("[data-testid^=detail-]").click()
            history = page.get_by_test_id("record-history")
            history.get_by_text("v2").wait_for()
            text = history.inner_text()
            assert "R值" in text and "40.5" in text and "76.5" in text
            page.wait_for_timeout(400)  # the drawer slides in
            page.screenshot(path=str(SHOTS / "safetwin-form-history.png"))
            page.screenshot(path=str(ARTIFACTS / "register-form-history.png"))

            token = str(page.evaluate("localStorage.getItem('safetwin.token')"))
            record = httpx.get(
                f"{live_app.base_url}/api/v1/hazard-sources?code=MHS-09",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            ).json()["items"][0]
            assert (record["grade_label"], record["unit_kind"], record["alpha"]) == ("二级", "storage", 1.5)
            # the rows arrived as the array the API validates: names as chosen, Q and β from the tables
            assert [(c["name"], c["cas"], c["quantity_t"], c["critical_t"]) for c in record["chemicals"]] == [
                ("氯", "7782-50-5", 60, 5),
                ("液化石油气", "", 100, 50),
            ]
            httpx.delete(
                f"{live_app.base_url}/api/v1/hazard-sources/{record['id']}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            ).raise_for_status()  # leave the demo's four sources as the other test expects them
        finally:
            browser.close()
    assert not errors, f"uncaught errors in the page: {errors}"
