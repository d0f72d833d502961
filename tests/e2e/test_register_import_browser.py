"""Issue 12: 导入 is a dialog — template, file, check, the row errors, then 确认导入.

Drives Debian's chromium through Playwright against the full embedded app, as a safety manager
would on the people (人员) register: 导入 opens the dialog; 下载模板 downloads the .xlsx (with the
bearer token); two people are typed into it with openpyxl, one with a 学历 the ledger does not
know; choosing the file checks it on the server and shows that error at its spreadsheet row
with 确认导入 disabled; the fixed file checks clean, its rows are shown, 确认导入 writes them,
and they are in the list. Along the way the pager's 每页条数 select is labelled. Screenshots go
to artifacts/ (register-import-*.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser

from tests.e2e.browser_helpers import ARTIFACTS, DIST, desktop_page, open_register, sign_in, unlabelled
from tests.e2e.conftest import LiveApp

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def fill(template: Path, target: Path, rows: list[dict[str, object]]) -> Path:
    """The template with ``rows`` typed under its headers, saved as ``target``."""
    book = load_workbook(template)
    sheet = book.worksheets[0]
    header = [str(cell.value) for cell in sheet[1]]
    for row in rows:
        assert set(row) <= set(header), set(row) - set(header)
        sheet.append([row.get(h) for h in header])
    book.save(target)
    return target


def test_import_dialog_template_check_errors_fix_and_import(
    live_app: LiveApp, browser: Browser, tmp_path: Path
) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    ARTIFACTS.mkdir(exist_ok=True)
    page, errors = desktop_page(browser, accept_downloads=True)
    try:
        sign_in(page, live_app.base_url, live_app.admin_username, live_app.admin_password, "/#/registers/people")
        page.get_by_test_id("nav-menu").wait_for()
        table = open_register(page, "people")

        # one pager for every list, its page-size select named for a screen reader
        pager = page.get_by_test_id("register-pager")
        assert pager.get_by_label("每页条数").count() == 1
        assert "每页条数" in pager.inner_text()

        page.get_by_test_id("register-import").click()
        dialog = page.get_by_test_id("import-dialog")
        dialog.get_by_text("第一步：下载模板").wait_for()
        confirm = dialog.get_by_test_id("import-confirm")
        assert confirm.is_disabled()  # nothing checked yet
        assert dialog.get_by_label("第二步：选择填好的文件（.xlsx 或 .csv）").count() == 1  # the file input is labelled
        bare = [u for u in unlabelled(page) if "import-file" in u or "page-size" in u]
        assert not bare, bare

        with page.expect_download() as download_info:
            dialog.get_by_test_id("import-template").click()
        download = download_info.value
        assert download.suggested_filename == "人员导入模板.xlsx"
        template = tmp_path / "template.xlsx"
        download.save_as(template)
        header = [cell.value for cell in load_workbook(template).worksheets[0][1]]
        assert {"人员编号", "姓名", "学历"} <= set(header)

        good: dict[str, object] = {
            "人员编号": "IMP-001",
            "姓名": "导入甲",
            "部门": "反应车间",
            "学历": "本科",
            "主要负责人": False,
        }
        bad: dict[str, object] = {
            "人员编号": "IMP-002",
            "姓名": "导入乙",
            "部门": "储运车间",
            "学历": "小学",
        }  # not a 学历 of the ledger
        first = fill(template, tmp_path / "人员-有错.xlsx", [good, bad])
        dialog.get_by_test_id("register-import-file").set_input_files(first)

        report = dialog.get_by_test_id("import-errors")
        report.wait_for()
        rows = report.locator("tbody tr")
        assert rows.count() == 1
        cells = rows.first.locator("td").all_inner_texts()
        assert cells[0].strip() == "3" and cells[1].strip() == "学历"  # header is row 1, the bad person row 3
        assert "取值不在允许范围内" in cells[2]
        assert "未导入任何数据" in dialog.get_by_test_id("import-summary").inner_text()
        assert confirm.is_disabled()
        page.wait_for_timeout(400)  # the dialog fades in
        page.screenshot(path=str(ARTIFACTS / "register-import-errors.png"))

        fixed = fill(template, tmp_path / "人员-已改.xlsx", [good, {**bad, "学历": "大专"}])
        dialog.get_by_test_id("register-import-file").set_input_files(fixed)
        preview = dialog.get_by_test_id("import-preview-rows")
        preview.wait_for()
        summary = dialog.get_by_test_id("import-summary").inner_text()
        assert "检查通过" in summary and "将导入 2 行" in summary
        assert report.count() == 0
        text = preview.inner_text()
        assert "导入甲" in text and "导入乙" in text and "大专" in text and "学历" in text
        assert confirm.is_enabled()
        page.screenshot(path=str(ARTIFACTS / "register-import-preview.png"))

        # the check wrote nothing: the list does not have them yet
        page.get_by_test_id("register-search").fill("IMP-")
        page.get_by_test_id("register-search").press("Enter")
        table.locator(".el-table__empty-text").wait_for()

        confirm.click()
        page.locator(".el-message--success", has_text="导入成功：共导入 2 条人员记录").wait_for()
        dialog.wait_for(state="hidden")
        table.locator("tr.el-table__row", has_text="IMP-002").wait_for()
        listed = table.locator("tr.el-table__row").all_inner_texts()
        assert len(listed) == 2 and "导入甲" in listed[0] and "导入乙" in listed[1]
        page.screenshot(path=str(ARTIFACTS / "register-import-done.png"))
    finally:
        page.context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
