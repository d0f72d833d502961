"""What the browser tests share: chromium and its flags, pages, login, console watch, label audit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DIST = Path(__file__).resolve().parents[2] / "viz" / "web" / "dist" / "index.html"
SHOTS = Path("/tmp")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1600, "height": 900}

# Every visible form control must be named for a screen reader: a <label> (wrapping or for=),
# aria-label or aria-labelledby. Returns a short description of each one that is not.
UNLABELLED_JS = """
() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter((el) => {
    if (el.type === 'hidden') return false
    const r = el.getBoundingClientRect()
    const style = getComputedStyle(el)
    const shown = r.width > 0 && r.height > 0 && style.visibility !== 'hidden'
    // Element Plus hides the native radio/checkbox inside a visible <label>: audit those too
    const wrapped = el.closest('label') !== null
    return shown || (wrapped && (el.type === 'radio' || el.type === 'checkbox'))
  })
  .filter((el) => {
    const named = (el.labels && el.labels.length > 0 && Array.from(el.labels).some((l) => l.textContent.trim()))
      || (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').split(' ').some((id) => {
           const t = id && document.getElementById(id); return t && t.textContent.trim() })
    return !named
  })
  .map((el) => `${el.tagName.toLowerCase()}#${el.id}[${el.getAttribute('data-testid') || el.className}]`)
"""


@dataclass
class ConsoleWatch:
    """Uncaught page errors and console errors seen while a test drives a page."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        page.on("console", self._console)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console.error: {msg.text} @ {msg.location.get('url', '')}")


def login(page: Page, username: str, password: str) -> None:
    """Fill the login form the page was redirected to and submit it."""
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def sign_in(page: Page, base_url: str, username: str, password: str, path: str = "/") -> None:
    """Open ``path`` of the app (signed out, it shows the login form) and log in there."""
    page.goto(f"{base_url}{path}")
    login(page, username, password)


@contextmanager
def chromium(path: str) -> Iterator[Browser]:
    """Debian's chromium at ``path`` through Playwright, closed afterwards."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def desktop_page(browser: Browser, **context_options: Any) -> tuple[Page, list[str]]:
    """A zh-CN desktop page in a context of its own, and the list its uncaught errors go to.

    ``bypass_csp``: Playwright's string predicates need eval, which the app's CSP forbids
    (``tests/api/test_security_browser.py`` runs the app with the policy on).
    """
    options: dict[str, Any] = {"viewport": DESKTOP, "locale": "zh-CN", "bypass_csp": True} | context_options
    page = browser.new_context(**options).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    return page, errors


def unlabelled(page: Page) -> list[str]:
    """Visible form controls on the page without an accessible label."""
    return list(page.evaluate(UNLABELLED_JS))


# --- register pages (RegisterView) -----------------------------------------------------------


def open_register(page: Page, key: str) -> Locator:
    """Open a register from the menu; return its table once rows (or 暂无数据) and 新增 are shown."""
    page.get_by_test_id(f"nav-register-{key}").click()
    page.get_by_test_id(f"register-{key}").wait_for()
    table = page.get_by_test_id("register-table")
    table.locator("tr.el-table__row, .el-table__empty-text").first.wait_for()
    page.get_by_test_id("register-create").wait_for()  # the form answer arrived: this role may create
    return table


def options_of(page: Page, select: Locator, option: str) -> Locator:
    """The options of an Element Plus select that show ``option``, in that select's own list.

    The options live in a popper outside the form, one popper per select. Looking among every
    visible option could find another select's, closing but still on screen, which then
    vanishes under the click (seen with the rows of the chemical picker); the select's input
    names its own list (``aria-controls``).
    """
    listbox = select.locator("input").first.get_attribute("aria-controls")
    assert listbox, "the select's input names no list (aria-controls)"
    return page.locator(f"[id='{listbox}'] .el-select-dropdown__item", has_text=option)


def pick(page: Page, form: Locator, field: str, option: str) -> None:
    """Choose an option of an Element Plus select."""
    select = form.get_by_test_id(f"form-{field}")
    select.click()
    options_of(page, select, option).first.click()


def set_date(form: Locator, field: str, value: str) -> None:
    """Type a date into a form's date picker and confirm it."""
    box = form.get_by_test_id(f"form-item-{field}").locator("input")
    box.fill(value)
    box.press("Enter")


def save_and_find(page: Page, form: Locator, table: Locator, *, search: str, row_text: str) -> Locator:
    """Submit the form, search the register for the new record and return its row, as a user checks."""
    form.get_by_test_id("form-submit").click()
    form.wait_for(state="hidden")
    page.get_by_test_id("register-search").fill(search)
    page.get_by_test_id("register-search").press("Enter")
    row = table.locator("tr.el-table__row", has_text=row_text)
    row.wait_for()
    return row
