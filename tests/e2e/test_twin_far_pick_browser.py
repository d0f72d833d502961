"""Picking what the overview draws as far boxes, in a real browser, on a generated plant.

From the overview of a large plant most equipment is drawn as its bounding-box stand-in in
one merged mesh, and the hazard-source outlines as one merged mesh of kerbs; neither has an
object per item to raycast, so the page picks them by box. This drives Debian's chromium
through Playwright against the app serving a generated plant (``twin.generate``, as
``bench/twin_render.py`` builds it, but a few hundred pieces of equipment so it loads
quickly): a click on an item drawn as a box opens that item's panel, and a click on a kerb
opens the hazard source's panel. Screen positions come from ``window.__safetwin``, never
from hard-coded pixels; the clicks go through the real canvas. Screenshots go to
``artifacts/``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import FloatRect, Locator, Page

from tests.e2e.browser_helpers import ARTIFACTS, DIST, chromium, sign_in
from tests.e2e.conftest import LiveApp, serve_live_app
from twin.generate import generate_plant, write_plant
from twin.plant import Plant

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TAGS = 1000  # about 260 pieces of equipment in 22 areas, each area a hazard source
MARGIN_PX = 4  # a clicked point is at least this far outside every other item's box on screen

# the equipment drawn now: where it is on screen, the rectangle its box covers and how it is drawn
LAYOUT_JS = """() => window.__safetwin.equipmentIds().map((id) => {
  const p = window.__safetwin.screenPosition(id)
  return { id, x: p ? p.x : null, y: p ? p.y : null, box: window.__safetwin.screenBox(id),
           drawn: window.__safetwin.drawnAs(id) }
})"""
# what a click at (x, y) of the page lands on first: only points where the canvas itself is on top count
ON_CANVAS_JS = """([x, y]) => document.elementFromPoint(x, y)?.dataset?.testid === 'twin-webgl'"""


@pytest.fixture(scope="module")
def plant() -> Plant:
    return generate_plant(TAGS)


@pytest.fixture(scope="module")
def generated_app(tmp_path_factory: pytest.TempPathFactory, plant: Plant) -> Iterator[LiveApp]:
    """The app serving the generated plant; the simulator off: the page and its picking are under test."""
    data = tmp_path_factory.mktemp("generated")
    plant_file = write_plant(plant, data / "plant.json")
    yield from serve_live_app(data / "data", plant_file=plant_file, simulate=False)


def _clear(x: float, y: float, items: list[dict[str, Any]], skip: str | None = None) -> bool:
    """Whether (x, y) is outside the screen rectangle of every item but ``skip`` (nothing else can be hit there)."""
    m = MARGIN_PX
    return not any(
        o["box"] is not None
        and o["box"]["x0"] - m <= x <= o["box"]["x1"] + m
        and o["box"]["y0"] - m <= y <= o["box"]["y1"] + m
        for o in items
        if o["id"] != skip
    )


def _on_canvas(page: Page, box: FloatRect, x: float, y: float) -> bool:
    inside = 40 < x < box["width"] - 40 and 40 < y < box["height"] - 40
    return inside and bool(page.evaluate(ON_CANVAS_JS, [box["x"] + x, box["y"] + y]))


_TOPMOST_IN_CARD = """card => {
    // labels do not take the pointer (pointer-events: none); let them, to ask what is painted on top
    const style = document.createElement('style')
    style.textContent = '.twin-labels, .twin-labels * { pointer-events: auto !important; }'
    document.head.appendChild(style)
    const r = card.getBoundingClientRect()
    const over = []
    for (let i = 1; i < 8; i++)
      for (let j = 1; j < 8; j++) {
        const top = document.elementFromPoint(r.left + (r.width * i) / 8, r.top + (r.height * j) / 8)
        if (top && !card.contains(top)) over.push(top.textContent)
      }
    style.remove()
    return over
}"""


def _labels_over(card: Locator) -> list[str]:
    """What is painted over the card, sampled on a 7 x 7 grid (the texts of what covers it)."""
    covering: list[str] = card.evaluate(_TOPMOST_IN_CARD)
    return covering


def test_far_boxes_and_hazard_kerbs_answer_clicks(generated_app: LiveApp, plant: Plant, chromium_path: str) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `make web`")
    ARTIFACTS.mkdir(exist_ok=True)
    names = {e.id: e.name for e in plant.equipment}
    sources = {h.id: h.name for h in plant.hazard_sources}
    assert 200 <= len(names) <= 400, len(names)
    with chromium(chromium_path) as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN", bypass_csp=True)
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
        page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        sign_in(page, generated_app.base_url, generated_app.admin_username, generated_app.admin_password)
        page.wait_for_function(
            "document.querySelector('[data-testid=scene-status]')?.dataset.state === 'loaded'", timeout=60_000
        )
        page.wait_for_timeout(500)  # the start view settles (orbit damping)
        box = page.get_by_test_id("twin-canvas").bounding_box()
        assert box is not None

        # the overview draws most of the plant as far boxes
        layout: list[dict[str, Any]] = page.evaluate(LAYOUT_JS)
        assert {item["id"] for item in layout} == set(names)
        far = [item for item in layout if item["drawn"] == "box"]
        assert len(far) >= len(layout) // 2, f"only {len(far)} of {len(layout)} drawn as boxes from the overview"

        # a far box clear of its neighbours, near the middle of the view: a click opens its panel
        centre = (box["width"] / 2, box["height"] / 2)
        candidates = sorted(
            (
                item
                for item in far
                if item["x"] is not None
                and _clear(item["x"], item["y"], layout, skip=item["id"])
                and _on_canvas(page, box, item["x"], item["y"])
            ),
            key=lambda item: math.hypot(item["x"] - centre[0], item["y"] - centre[1]),
        )
        assert candidates, "no far box clear of its neighbours on the canvas"
        target = candidates[0]
        page.mouse.click(box["x"] + target["x"], box["y"] + target["y"])
        card = page.get_by_test_id("equipment-card")
        card.wait_for(timeout=5_000)
        text = card.inner_text()
        assert target["id"] in text and names[target["id"]] in text, (target, text)
        assert page.evaluate("id => window.__safetwin.drawnAs(id)", target["id"]) == "box"  # still a box when clicked
        page.screenshot(path=str(ARTIFACTS / "twin-far-pick-box.png"))
        covering = _labels_over(card)
        assert not covering, f"scene labels drawn over the equipment card: {covering[:5]}"
        card.get_by_role("button", name="关闭").click()
        card.wait_for(state="hidden", timeout=5_000)

        # a hazard source's kerb clear of every item on screen: a click opens the source's panel
        kerbs: list[tuple[float, str, float, float]] = []
        for source in sources:
            points = page.evaluate("id => window.__safetwin.hazardOutlinePoints(id)", source)
            assert len(points) == 4, (source, points)  # four kerbs round every source
            for p in points:
                if _clear(p["x"], p["y"], layout) and _on_canvas(page, box, p["x"], p["y"]):
                    kerbs.append((math.hypot(p["x"] - centre[0], p["y"] - centre[1]), source, p["x"], p["y"]))
        assert kerbs, "no hazard-source kerb clear of equipment on the canvas"
        _, source, x, y = min(kerbs)
        page.mouse.click(box["x"] + x, box["y"] + y)
        hazard = page.get_by_test_id("hazard-card")
        hazard.wait_for(timeout=5_000)
        text = hazard.inner_text()
        assert source in text and sources[source] in text, (source, text)
        assert not page.get_by_test_id("equipment-card").is_visible()
        page.screenshot(path=str(ARTIFACTS / "twin-far-pick-hazard.png"))
    assert not errors, f"errors in the page: {errors}"
