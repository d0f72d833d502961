"""The stored monthly 包保 reports in a real browser: list, filter, sort, page, read one, download it.

Issue 12 asked for periodic 包保 reports generated on schedule and stored; they had an API
(`/api/v1/hazard-sources/periodic-reports`) but no page, so a safety manager could not find
them. Drives Debian's chromium through Playwright against the full embedded app after
``safetwin demo``'s data (which issues the two last ended months) plus a year of older months
issued the same way (no duty records then, so every duty of those months is overdue).
Before the data is loaded, an empty register is checked to say how to fill it. Screenshots go
to artifacts/ (reports-*.png, register-empty-hint.png).
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, Route

from registers.db import utcnow
from registers.hazard_sources import reports
from registers.hazard_sources.models import HazardSourceReport
from tests.e2e.browser_helpers import ARTIFACTS, DIST, ConsoleWatch, desktop_page, sign_in
from tests.e2e.conftest import LiveApp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MONTHS = 14  # two demo months and twelve older ones: two pages of twelve


def issue_older_months(live_app: LiveApp) -> None:
    """The months before the demo's, issued by the same function the worker uses."""
    now = utcnow()
    with live_app.app.state.session_factory() as session:
        stored = {r.period for r in session.query(HazardSourceReport)}
        for first, last in reports.due_months(now.date(), months=MONTHS):
            if first.strftime("%Y-%m") not in stored:
                session.add(reports.issue_report(session=session, first=first, last=last, now=now))
        session.commit()


def table_periods(page: Page) -> list[str]:
    rows = page.get_by_test_id("reports-table").locator(".el-table__body-wrapper tr.el-table__row")
    return [r.locator("td").first.inner_text().strip() for r in rows.all()]


def wait_first_period(page: Page, period: str) -> None:
    page.wait_for_function(
        "p => document.querySelector('[data-testid=reports-table] .el-table__body-wrapper tr.el-table__row td')"
        "?.innerText.trim() === p",
        arg=period,
    )


def test_monthly_reports_page(live_app: LiveApp, browser: Browser) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    ARTIFACTS.mkdir(exist_ok=True)
    watch = ConsoleWatch()
    page, errors = desktop_page(browser, accept_downloads=True)
    watch.attach(page)
    try:
        # before any data: an empty register says how to fill it (issue 12: "an empty register gives no hint").
        # The user's rights come from the form schema, which is held back here until the empty list has
        # answered: a hint shown before them would leave out 「新增」 for a user who may add (CI saw it once).
        held: list[Route] = []
        page.route("**/api/v1/certificates/form-schema", lambda route: held.append(route))
        admin = (live_app.admin_username, live_app.admin_password)
        with page.expect_response(lambda r: "/api/v1/certificates?" in r.url and r.request.method == "GET") as empty:
            sign_in(page, live_app.base_url, *admin, "/#/registers/certificates")
        assert empty.value.json()["total"] == 0
        page.get_by_test_id("nav-menu").wait_for()
        hint = page.get_by_test_id("register-empty-hint")
        page.wait_for_timeout(300)  # the list's answer has been rendered by now
        assert held, "the page never asked for the register's form schema"
        assert hint.count() == 0, "the empty-register hint was shown before the user's rights were known"
        for route in held:
            route.continue_()
        page.unroute("**/api/v1/certificates/form-schema")
        hint.wait_for()
        assert "新增" in hint.inner_text() and "导入" in hint.inner_text() and "导出 Excel" in hint.inner_text()
        assert "证照与报告暂无记录" in page.get_by_test_id("register-empty").inner_text()
        page.screenshot(path=str(ARTIFACTS / "register-empty-hint.png"))

        live_app.load_demo_registers()
        issue_older_months(live_app)
        headers = {"Authorization": f"Bearer {live_app.token()}"}
        url = f"{live_app.base_url}/api/v1/hazard-sources/periodic-reports"
        listed = httpx.get(url, headers=headers, timeout=10)
        listed.raise_for_status()
        stored = listed.json()
        assert len(stored) == MONTHS
        newest = stored[0]
        page.get_by_test_id("nav-duty-reports").click()  # the menu entry under 台账管理
        page.get_by_test_id("reports-page").wait_for()
        assert page.get_by_test_id("page-title").inner_text() == "包保考核报告"
        wait_first_period(page, newest["period"])

        # newest month first, twelve to a page, the total of all stored months
        periods = table_periods(page)
        assert periods == [r["period"] for r in stored[:12]]
        assert f"共 {MONTHS} 条" in page.get_by_test_id("reports-pager").inner_text()
        first_row = page.get_by_test_id("reports-table").locator("tr.el-table__row").first.inner_text()
        assert f"{newest['first']} 至 {newest['last']}" in first_row and str(newest["required"]) in first_row
        page.screenshot(path=str(ARTIFACTS / "reports-list.png"))

        # page 2: the two oldest months
        page.get_by_test_id("reports-pager").locator(".el-pager li", has_text="2").click()
        wait_first_period(page, stored[12]["period"])
        assert table_periods(page) == [r["period"] for r in stored[12:]]

        # sort by 逾期未履职, fewest first: the best-kept month leads
        page.get_by_test_id("reports-table").get_by_role("columnheader", name="逾期未履职").click()
        fewest = min(stored, key=lambda r: (r["overdue"], [-ord(c) for c in r["period"]]))
        wait_first_period(page, fewest["period"])
        assert page.get_by_test_id("reports-pager").locator(".el-pager li.is-active").inner_text() == "1"

        # filter: only months with an overdue duty
        page.get_by_test_id("reports-overdue-only").click()
        late = [r for r in stored if r["overdue"] > 0]
        page.get_by_test_id("reports-pager").get_by_text(f"共 {len(late)} 条").wait_for()
        assert set(table_periods(page)) <= {r["period"] for r in late}
        page.get_by_test_id("reports-overdue-only").click()
        page.get_by_test_id("reports-pager").get_by_text(f"共 {MONTHS} 条").wait_for()

        # one report as issued: per source and role, and the overdue duties
        url = f"{live_app.base_url}/api/v1/hazard-sources/periodic-reports/{newest['id']}"
        detail = httpx.get(url, headers=headers, timeout=10).json()
        page.get_by_test_id(f"report-detail-{newest['period']}").click()
        drawer = page.get_by_test_id("report-drawer")
        drawer.get_by_test_id("report-rows").locator("tr.el-table__row").first.wait_for()
        summary = drawer.get_by_test_id("report-summary").inner_text()
        assert f"应履职 {newest['required']} 次" in summary and f"逾期未履职 {newest['overdue']} 次" in summary
        rows = drawer.get_by_test_id("report-rows").locator("tr.el-table__row")
        assert rows.count() == len(detail["report"]["rows"]) == 4
        assert "MHS-01" in rows.first.inner_text() and "二级" in rows.first.inner_text()
        overdue_rows = drawer.get_by_test_id("report-overdue").locator("tr.el-table__row")
        if detail["report"]["overdue"]:
            assert overdue_rows.count() == len(detail["report"]["overdue"])
            first_late = detail["report"]["overdue"][0]
            assert first_late["hazard_source_code"] in overdue_rows.first.inner_text()
            assert "逾期未履职" in overdue_rows.first.inner_text()
        else:
            assert "本期无逾期未履职" in drawer.inner_text()
        page.wait_for_timeout(400)  # the drawer slides in
        page.screenshot(path=str(ARTIFACTS / "reports-detail.png"))

        # the Excel file is the stored one, byte for byte
        with page.expect_download() as dl:
            drawer.get_by_test_id("report-drawer-export").click()
        download = dl.value
        assert download.suggested_filename == f"重大危险源包保考核报告_{newest['period']}.xlsx"
        body = Path(download.path()).read_bytes()
        api_file = httpx.get(f"{url}/export", headers=headers, timeout=10)
        assert body == api_file.content
        sheet = load_workbook(io.BytesIO(body))["考核汇总"]
        assert f"{newest['first']} 至 {newest['last']}" in str(sheet["A1"].value)
    finally:
        page.context.close()
    assert not errors and not watch.errors, (errors, watch.errors)
