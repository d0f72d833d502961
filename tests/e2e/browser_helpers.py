"""What the dashboard and phone browser tests share: chromium flags, login, console watch, label audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page

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
PHONE = {"width": 390, "height": 844}

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


def unlabelled(page: Page) -> list[str]:
    """Visible form controls on the page without an accessible label."""
    return list(page.evaluate(UNLABELLED_JS))
