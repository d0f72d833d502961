"""Issue 12: every register in the menu has a create form generated from the API's schema.

Drives Debian's chromium through Playwright against the full embedded app. For each register
of the menu: its 新增 form opens, every field carries a Chinese label from the API, and
saving the empty form puts 必填项 under a required field (the 422 answer's field errors). Then
three records are entered the way a safety manager would: a certificate (enum select, date
picker) which is then 审核'd with the workflow button its role allows, a contractor, and a
training record whose 人员 is chosen with the searchable picker over the people register.
Screenshots go to /tmp (safetwin-forms-*.png) so a person can look at what the test saw.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser

from tests.e2e.browser_helpers import (
    DIST,
    SHOTS,
    desktop_page,
    open_register,
    options_of,
    pick,
    save_and_find,
    set_date,
    sign_in,
)
from tests.e2e.conftest import LiveApp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_register_form_and_three_records_created(live_app: LiveApp, browser: Browser) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    live_app.load_demo_registers()
    page, errors = desktop_page(browser)
    try:
        sign_in(page, live_app.base_url, live_app.admin_username, live_app.admin_password, "/#/registers/certificates")
        page.get_by_test_id("nav-menu").wait_for()

        keys = [
            str(k).removeprefix("nav-register-")
            for k in page.locator("[data-testid^=nav-register-]").evaluate_all("els => els.map(e => e.dataset.testid)")
        ]
        assert len(keys) >= 8 and {"certificates", "contractors", "training", "equipment"} <= set(keys)
        form = page.get_by_test_id("register-form")
        for key in keys:
            open_register(page, key)
            page.get_by_test_id("register-create").click()
            form.locator("[data-testid^=form-item-]").first.wait_for()
            items = form.locator("[data-testid^=form-item-]")
            labels = items.locator(":scope > .el-form-item__label").all_inner_texts()
            assert len(labels) == items.count() >= 2, key
            unlabelled = [t for t in labels if not t.strip() or re.fullmatch(r"[a-z_]+", t.strip())]
            assert not unlabelled, (key, labels)
            assert any(CJK.search(t) for t in labels), key
            # the empty form: the API's 422 puts 必填项 next to a required field, not in a banner
            form.get_by_test_id("form-submit").click()
            required_error = form.locator(".el-form-item.is-required .el-form-item__error").first
            required_error.wait_for()
            assert required_error.inner_text().strip(), key
            if key == "certificates":
                page.screenshot(path=str(SHOTS / "safetwin-forms-required.png"))
            form.get_by_role("button", name="取消").click()
            form.wait_for(state="hidden")

        # 证照与报告: enum select, date pickers, then the 审核 workflow button
        table = open_register(page, "certificates")
        page.get_by_test_id("register-create").click()
        pick(page, form, "kind", "危险化学品登记证")
        form.get_by_test_id("form-number").fill("440100-FORM-01")
        form.get_by_test_id("form-name").fill("危险化学品登记证（表单新增）")
        form.get_by_test_id("form-holder").fill("示范化工有限公司")
        set_date(form, "issue_date", "2025-01-02")
        set_date(form, "expiry_date", "2028-01-01")
        row = save_and_find(page, form, table, search="FORM-01", row_text="440100-FORM-01")
        assert "2028-01-01" in row.inner_text() and "危险化学品登记证" in row.inner_text()
        row.locator("[data-testid^=detail-]").click()
        page.get_by_test_id("action-approve").click()
        history = page.get_by_test_id("record-history")
        history.locator(".history-head", has_text="审核").wait_for()  # v2 审核, by the admin
        assert "审核人" in history.inner_text()  # the API's label, not approved_by
        assert live_app.admin_username in page.get_by_test_id("record-fields").inner_text()
        page.wait_for_timeout(400)  # the drawer slides in
        page.screenshot(path=str(SHOTS / "safetwin-forms-certificate-approved.png"))
        page.keyboard.press("Escape")
        history.wait_for(state="hidden")

        # 承包商: a new contractor (its code is upper-cased by the API)
        table = open_register(page, "contractors")
        page.get_by_test_id("register-create").click()
        form.get_by_test_id("form-credit_code").fill("91440101ma5form01x")
        form.get_by_test_id("form-name").fill("表单检修工程有限公司")
        form.get_by_test_id("form-contact_person").fill("周工")
        set_date(form, "admission_valid_until", "2027-06-30")
        row = save_and_find(page, form, table, search="表单检修", row_text="表单检修工程有限公司")
        assert "91440101MA5FORM01X" in row.inner_text() and "2027-06-30" in row.inner_text()
        page.screenshot(path=str(SHOTS / "safetwin-forms-contractor.png"))

        # 培训: the person is picked by name from the people register, not typed as an id
        table = open_register(page, "training")
        page.get_by_test_id("register-create").click()
        person = form.get_by_test_id("form-item-person_id")
        person.locator("input").fill("陈静")
        options_of(page, person, "陈静").first.click()
        pick(page, form, "training_type", "四新")
        form.get_by_test_id("form-title").fill("新型氯化反应釜操作培训")
        set_date(form, "trained_on", "2026-11-20")
        form.get_by_test_id("form-hours").fill("8")
        page.screenshot(path=str(SHOTS / "safetwin-forms-training-picker.png"))
        row = save_and_find(page, form, table, search="氯化反应釜", row_text="新型氯化反应釜操作培训")
        assert "陈静" in row.inner_text() and "2026-11-20" in row.inner_text()

        token = str(page.evaluate("localStorage.getItem('safetwin.token')"))
        headers = {"Authorization": f"Bearer {token}"}
        certificate = httpx.get(
            f"{live_app.base_url}/api/v1/certificates", params={"q": "FORM-01"}, headers=headers, timeout=5
        ).json()["items"][0]
        assert (certificate["kind"], certificate["issue_date"], certificate["approved_by"]) == (
            "危险化学品登记证",
            "2025-01-02",
            live_app.admin_username,
        )
    finally:
        page.context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
