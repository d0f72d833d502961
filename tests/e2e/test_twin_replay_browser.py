"""The twin's time scrubber, names, cameras, sparklines and English switch in a real browser.

Drives Debian's chromium through Playwright against the full embedded app (simulator,
pipelines, store, API and the built web UI). An excursion from the simulator raises a real
alarm; the replay of the last 10 minutes, read back from the time-series store, must show
the reactor normal before the alarm's start and red after it, the people markers where the
stored positions put them, and a person's and a camera's stored alarms at their instants.
Colours are read through
``window.__safetwin`` (no pixel sampling); screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from models.contracts import AlarmEvent, AlarmPriority, AlarmState, VideoDetection
from tests.e2e.browser_helpers import CHROMIUM_ARGS, DIST, ConsoleWatch, login, unlabelled
from tests.e2e.conftest import LiveApp
from twin.scene import COLORS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALARM = "#ff3030"
CAMERA_EVENT = "#f5871f"
REACTOR, TAG = "R-401", "TT-401"
CAMERA = "CAM-01"
REPLAY_CAMERA = "CAM-02"
CAMERA_IDLE = "#4c5566"
PERSON = "#ff7a00"
HOLD_MS = 10_000  # a replayed person stays where last seen this long
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def color(page: Page, equipment: str) -> str:
    return str(page.evaluate("id => window.__safetwin.equipmentColor(id)", equipment))


def replay_state(page: Page) -> dict[str, Any]:
    return dict(page.evaluate("window.__safetwin.replayState()"))


def wait_loaded(page: Page) -> None:
    page.wait_for_function(
        "document.querySelector('[data-testid=scene-status]')?.dataset.state === 'loaded'", timeout=60_000
    )


def test_replay_names_cameras_sparklines_and_english(live_app: LiveApp, chromium_path: str) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `make web`")
    ARTIFACTS.mkdir(exist_ok=True)
    token = live_app.token()
    auth = {"Authorization": f"Bearer {token}"}
    base = live_app.base_url
    # a person the locators see is on the people register under that id (工号 = the locator's person id)
    walkers: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not walkers and time.monotonic() < deadline:
        walkers = httpx.get(f"{base}/api/v1/positioning/positions", params={"within_s": 120}, headers=auth).json()
        time.sleep(0.5)
    assert walkers, "nobody walks the demo plant"
    r = httpx.post(
        f"{base}/api/v1/people",
        json={"code": walkers[0]["person_id"], "name": "张三", "department": "储运车间"},
        headers=auth,
    )
    assert r.status_code in (200, 201), r.text
    # the video flow stores a detection of the LPG camera
    store = live_app.app.state.runtime.store
    now_ms = time.time_ns() // 1_000_000
    store.write_detections(
        [
            VideoDetection(
                camera_id=CAMERA,
                ts=now_ms,
                label="no_helmet",
                confidence=0.91,
                bbox=(10, 20, 110, 220),
                zone_id="Z-LPG",
                snapshot_ref="snap/cam01-0001.jpg",
            )
        ]
    )

    console = ConsoleWatch()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN", bypass_csp=True)
            console.attach(page)
            page.goto(f"{base}/")
            login(page, live_app.admin_username, live_app.admin_password)
            wait_loaded(page)
            assert page.get_by_test_id("page-title").inner_text() == "数字孪生"  # Chinese by default

            # a live alarm from the simulator recolours the reactor within 2 s of the register having it
            page.wait_for_function(
                "([id, red]) => window.__safetwin.equipmentColor(id) !== red", arg=[REACTOR, ALARM], timeout=90_000
            )
            r = httpx.post(
                f"{base}/api/v1/sim/excursions", json={"tag": TAG, "to": 99.0, "duration_s": 180}, headers=auth
            )
            assert r.status_code == 202, r.text
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                active = httpx.get(f"{base}/api/v1/alarms/active", headers=auth, timeout=10).json()
                if any(a["source_id"] == TAG for a in active):
                    break
                time.sleep(0.1)
            else:
                pytest.fail(f"the excursion on {TAG} raised no alarm")
            seen = time.monotonic()
            page.wait_for_function(
                "([id, red]) => window.__safetwin.equipmentColor(id) === red", arg=[REACTOR, ALARM], timeout=5_000
            )
            assert time.monotonic() - seen <= 2.0

            # the store has the alarm's start: the replay route and the page agree on it
            episode: dict[str, Any] | None = None
            deadline = time.monotonic() + 20
            while episode is None and time.monotonic() < deadline:
                body = httpx.get(f"{base}/api/v1/twin/replay", headers=auth, timeout=10).json()
                episode = next((e for e in body["episodes"] if e["tag"] == TAG and e["end"] is None), None)
                time.sleep(0.3)
            assert episode is not None, "the alarm never reached the store"
            assert episode["equipment"] == REACTOR
            start = int(episode["start"])

            # a stored man-down alarm of the walker and an alarm of another camera, a few seconds
            # long, at a moment the walker's positions are stored
            walker = walkers[0]["person_id"]
            now_ms = time.time_ns() // 1_000_000
            track = httpx.get(
                f"{base}/api/v1/positioning/positions/{walker}/track",
                params={"start": now_ms - 9 * 60_000, "end": now_ms},
                headers=auth,
            ).json()
            assert len(track) >= 8, f"too few stored fixes of {walker}: {len(track)}"
            f1 = track[len(track) // 4]
            t1 = int(f1["ts"]) + 1_000
            assert t1 + 1_000 < now_ms
            alarms: list[AlarmEvent] = []
            for kind, source in (("person", walker), ("camera", REPLAY_CAMERA)):
                for state_, at in ((AlarmState.ACTIVE, t1 - 2_000), (AlarmState.RETURNED, t1 + 1_000)):
                    alarms.append(
                        AlarmEvent(
                            alarm_id=f"{kind}:{source}.replay",
                            source_kind=kind,  # type: ignore[arg-type]
                            source_id=source,
                            kind="man_down" if kind == "person" else "intrusion",
                            priority=AlarmPriority.HIGH,
                            state=state_,
                            ts=at,
                        )
                    )
            store.write_alarms(alarms)

            # replay of the last 10 minutes
            page.get_by_test_id("replay-open").click()
            page.wait_for_function("window.__safetwin.replayState().start !== null", timeout=10_000)
            state = replay_state(page)
            assert state["mode"] == "replay"
            assert state["end"] - state["start"] == 10 * 60_000
            assert state["start"] < start <= state["end"]
            page.get_by_test_id("replay-badge").wait_for()
            # playing moves the scrubber forward
            t0 = replay_state(page)["at"]
            page.wait_for_function("at => window.__safetwin.replayState().at > at", arg=t0, timeout=5_000)

            # before the alarm's start the reactor is in its own colour, after it in the alarm colour
            page.evaluate("ms => window.__safetwin.replaySeek(ms)", start - 5_000)
            page.wait_for_function(
                "([id, c]) => window.__safetwin.equipmentColor(id) === c", arg=[REACTOR, COLORS["reactor"]]
            )
            assert REACTOR not in replay_state(page)["alarmed"]
            page.screenshot(path=str(ARTIFACTS / "twin-replay-before.png"))
            page.evaluate("ms => window.__safetwin.replaySeek(ms)", start + 1_000)
            page.wait_for_function("([id, c]) => window.__safetwin.equipmentColor(id) === c", arg=[REACTOR, ALARM])
            assert TAG in page.get_by_test_id("replay-alarms").inner_text()
            page.screenshot(path=str(ARTIFACTS / "twin-replay-after.png"))

            # the scrubber works by keyboard: Home goes to the window's start, End to its end
            handle = page.locator("[data-testid=replay-slider] [role=slider]")
            handle.focus()
            page.keyboard.press("Home")
            page.wait_for_function("s => window.__safetwin.replayState().at === s", arg=state["start"])
            if not any(
                e["equipment"] == REACTOR and e["start"] <= state["start"]
                for e in replay_state_episodes(base, auth, state)
            ):
                assert color(page, REACTOR) == COLORS["reactor"]
            page.keyboard.press("End")
            page.wait_for_function("e => window.__safetwin.replayState().at === e", arg=state["end"])
            assert color(page, REACTOR) == ALARM
            assert unlabelled(page) == []  # the window select and the rest of the page are named

            # people: at t1 the walker's marker is where a stored fix of the seconds before puts it,
            # in the alarm colour (man down), and the other camera shows its alarm
            page.evaluate("ms => window.__safetwin.replaySeek(ms)", t1)
            page.wait_for_function("id => window.__safetwin.replayState().peopleAlarmed.includes(id)", arg=walker)
            page.wait_for_function("([id, c]) => window.__safetwin.person(id)?.color === c", arg=[walker, ALARM])
            page.wait_for_function(
                "([id, c]) => window.__safetwin.cameraColor(id) === c", arg=[REPLAY_CAMERA, CAMERA_EVENT]
            )
            at1 = page.evaluate("id => window.__safetwin.person(id)", walker)
            near1 = {(f["x"], f["y"]) for f in track if t1 - HOLD_MS <= f["ts"] <= t1}
            assert (at1["x"], at1["y"]) in near1, f"{walker} at {at1}, stored near t1: {near1}"
            assert replay_state(page)["people"] >= 1
            assert f"person:{walker}" in replay_state(page)["sourceAlarms"]
            assert "该时刻人员" in page.get_by_test_id("replay-sources").inner_text()
            page.screenshot(path=str(ARTIFACTS / "twin-replay-people.png"))
            # later the alarm has returned and the walker is further on
            t2 = int(track[-1]["ts"]) - 1_000
            page.evaluate("ms => window.__safetwin.replaySeek(ms)", t2)
            page.wait_for_function("([id, c]) => window.__safetwin.person(id)?.color === c", arg=[walker, PERSON])
            page.wait_for_function(
                "([id, c]) => window.__safetwin.cameraColor(id) === c", arg=[REPLAY_CAMERA, CAMERA_IDLE]
            )
            at2 = page.evaluate("id => window.__safetwin.person(id)", walker)
            near2 = {(f["x"], f["y"]) for f in track if t2 - HOLD_MS <= f["ts"] <= t2}
            assert (at2["x"], at2["y"]) in near2, f"{walker} at {at2}, stored near t2: {near2}"
            assert walker not in replay_state(page)["peopleAlarmed"]

            # back to live: the register's state again
            page.get_by_test_id("replay-live").click()
            page.wait_for_function("window.__safetwin.replayState().mode === 'live'")
            page.wait_for_function("([id, red]) => window.__safetwin.equipmentColor(id) === red", arg=[REACTOR, ALARM])

            # the equipment panel carries sparklines of the reactor's tags
            pos = page.evaluate("id => window.__safetwin.screenPosition(id)", REACTOR)
            box = page.get_by_test_id("twin-canvas").bounding_box()
            assert pos is not None and box is not None
            page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
            page.get_by_test_id("equipment-card").wait_for(timeout=5_000)
            page.wait_for_function("tag => window.__safetwin.sparkPoints(tag) >= 5", arg=TAG, timeout=15_000)
            line = page.locator(f"[data-testid=spark-{TAG}] svg")
            assert int(line.get_attribute("data-points") or 0) >= 5
            assert line.locator("polyline").count() == 1

            # people markers carry their register names
            page.wait_for_function("window.__safetwin.personLabels().includes('张三')", timeout=30_000)

            # a camera with a fresh event is orange and its panel shows the latest event
            assert CAMERA in page.evaluate("window.__safetwin.cameraIds()")
            page.wait_for_function(
                "([id, c]) => window.__safetwin.cameraColor(id) === c", arg=[CAMERA, CAMERA_EVENT], timeout=15_000
            )
            pos = page.evaluate("id => window.__safetwin.screenPosition(id)", CAMERA)
            assert pos is not None
            page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
            card = page.get_by_test_id("camera-card")
            card.wait_for(timeout=5_000)
            page.wait_for_function(
                "document.querySelector('[data-testid=camera-latest]')?.textContent.includes('no_helmet')",
                timeout=10_000,
            )
            assert "球罐区1号摄像机" in card.inner_text()
            page.screenshot(path=str(ARTIFACTS / "twin-camera-card.png"))

            # English on request, kept across a reload; Chinese back with one click
            page.get_by_test_id("lang-switch").click()
            page.wait_for_function("document.querySelector('[data-testid=page-title]').textContent === 'Digital twin'")
            assert page.get_by_test_id("scene-status").inner_text() == "Loaded"
            assert page.get_by_test_id("nav-overview").inner_text().strip() == "Overview"
            page.reload()
            wait_loaded(page)
            assert page.get_by_test_id("page-title").inner_text() == "Digital twin"
            assert "Replay" in page.get_by_test_id("replay-open").inner_text()
            assert page.evaluate("document.documentElement.lang") == "en"
            page.screenshot(path=str(ARTIFACTS / "twin-english.png"))
            page.get_by_test_id("lang-switch").click()
            page.wait_for_function("document.querySelector('[data-testid=page-title]').textContent === '数字孪生'")
            assert page.get_by_test_id("scene-status").inner_text() == "已加载"
        finally:
            browser.close()
    assert not console.errors, f"errors in the page: {console.errors}"


def replay_state_episodes(base: str, auth: dict[str, str], state: dict[str, Any]) -> list[dict[str, Any]]:
    """The episodes of the page's replay window, as the route gives them."""
    params = {"start": state["start"], "end": state["end"]}
    return list(httpx.get(f"{base}/api/v1/twin/replay", params=params, headers=auth, timeout=10).json()["episodes"])
