"""The phone pages (/m/...) on a 390 × 844 viewport in a real browser, end to end.

Debian's chromium through Playwright against the full embedded app. A safety manager's setup
(two points with QR codes, three check items, a daily route planned for the inspector) is made
through the API; then, on the phone:

* the inspector opens 我的任务, checks in at a point by its code, enters one value out of range
  and one in range, reports a hidden hazard with a photo and finishes the round; the API then
  shows the round done with its journal, the point not reached as missed, the hazard the reading
  raised and the reported one with its photo;
* the inspector, as analyst, enters a gas test on a ticket; the ticket's file lists it;
* an operator acknowledges an alarm raised by a forced excursion; the register records who.

No console errors; every form control has a label; no sideways scrolling at 390 px.
Screenshots go to /tmp.
"""

from __future__ import annotations

import struct
import time
import zlib
from datetime import datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from models.investigation_schedule import LOCAL_TZ
from registers.demo import load_demo
from registers.users import service as users
from tests.e2e.browser_helpers import CHROMIUM_ARGS, DIST, PHONE, SHOTS, ConsoleWatch, login, unlabelled
from tests.e2e.conftest import LiveApp
from twin.plant import load_plant

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "Phone-Round-2026"
INSPECTOR, OPERATOR = "xunjian", "zhongkong"
TAG = "TT-401"


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A real PNG (the attachment store sniffs the bytes): one flat colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Api:
    def __init__(self, live_app: LiveApp) -> None:
        self.base = live_app.base_url
        self.headers = {"Authorization": f"Bearer {live_app.token()}"}

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.base}{path}", params=params, headers=self.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: Any, expect: int = 201) -> Any:
        r = httpx.post(f"{self.base}{path}", json=body, headers=self.headers, timeout=10)
        assert r.status_code == expect, r.text
        return r.json()


def setup_round(api: Api) -> dict[str, Any]:
    """Two points, three items, a daily route for the inspector; the round pushed to the phone."""
    points = [
        api.post(
            "/api/v1/inspection-points",
            {"code": code, "name": name, "area": "tank_farm", "tag_code": f"QR-{code}"},
        )
        for code, name in (("E2E-P1", "1#球罐压力表"), ("E2E-P2", "1#球罐液位计"))
    ]
    pressure = api.post(
        "/api/v1/inspection-items",
        {"point_id": points[0]["id"], "name": "压力", "unit": "MPa", "low": 0.2, "high": 1.6},
    )
    temperature = api.post(
        "/api/v1/inspection-items",
        {"point_id": points[0]["id"], "name": "表体温度", "unit": "°C", "low": -10, "high": 45},
    )
    api.post(
        "/api/v1/inspection-items", {"point_id": points[1]["id"], "name": "液位", "unit": "%", "low": 15, "high": 85}
    )
    route = api.post("/api/v1/inspection-routes", {"name": "球罐区巡检线", "point_ids": [p["id"] for p in points]})
    midnight = datetime.now(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    api.post(
        "/api/v1/inspection-plans",
        {
            "route_id": route["id"],
            "name": "球罐区日巡检",
            "assignee": INSPECTOR,
            "cycle": 1,
            "cycle_unit": "天",
            "anchor": midnight.isoformat(),
            "work_start": "00:00:00",
            "work_end": "00:00:00",
        },
    )
    assert api.post("/api/v1/inspections/rounds/generate", {}, expect=200)["created"] >= 1
    rounds = api.get("/api/v1/inspections/rounds", state="待巡检")["items"]
    mine = [r for r in rounds if r["assignee"] == INSPECTOR and r["route_id"] == route["id"]]
    assert len(mine) == 1
    return {"round": mine[0]["id"], "points": points, "pressure": pressure["id"], "temperature": temperature["id"]}


def phone(browser: Browser, watch: ConsoleWatch) -> Page:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    watch.attach(page)
    return page


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px phone"


@pytest.fixture(scope="module")
def prepared(live_app: LiveApp) -> dict[str, Any]:
    with live_app.app.state.session_factory() as session:
        load_demo(session=session, plant=load_plant())
        users.create_user(
            session=session, username=INSPECTOR, password=PASSWORD, display_name="张巡检", roles=["inspector"]
        )
        users.create_user(
            session=session, username=OPERATOR, password=PASSWORD, display_name="李中控", roles=["operator"]
        )
        session.commit()
    api = Api(live_app)
    return {"api": api, **setup_round(api)}


def test_inspection_round_on_the_phone(live_app: LiveApp, chromium_path: str, prepared: dict[str, Any]) -> None:
    if not DIST.exists():
        pytest.fail("viz/web/dist is missing: run `npm ci && npm run build` in viz/web")
    api: Api = prepared["api"]
    round_id, p1, p2 = prepared["round"], prepared["points"][0], prepared["points"][1]
    pressure, temperature = prepared["pressure"], prepared["temperature"]
    watch = ConsoleWatch()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = phone(browser, watch)
            page.goto(f"{live_app.base_url}/#/m/tasks")
            login(page, INSPECTOR, PASSWORD)

            # 我的任务: the round pushed by the plan, still to do
            task = page.get_by_test_id(f"m-task-{round_id}")
            task.wait_for()
            assert page.get_by_test_id("page-title").inner_text() == "我的任务"
            assert page.get_by_test_id(f"m-task-state-{round_id}").inner_text() == "待巡检"
            no_sideways_scroll(page)
            page.screenshot(path=str(SHOTS / "safetwin-m-tasks.png"))
            task.click()

            # 巡检: both points listed, none reached
            page.get_by_test_id("m-point-E2E-P2").wait_for()
            assert page.get_by_test_id("m-round-progress").inner_text() == "0 / 2"
            assert page.get_by_test_id("m-point-state-E2E-P1").inner_text() == "未到位"

            # a photo of the code: decoded where the browser can, otherwise the page says to type it
            page.get_by_test_id("m-qr-image").set_input_files(
                files=[{"name": "qr.png", "mimeType": "image/png", "buffer": png()}]
            )
            hint = page.get_by_test_id("m-checkin").locator(".m-muted")
            page.wait_for_function(
                "el => /手动输入|重拍|已识别/.test(el.textContent)", arg=hint.element_handle(), timeout=5000
            )
            page.get_by_test_id("m-code").fill("QR-E2E-P1")
            page.get_by_test_id("m-checkin-submit").click()
            page.get_by_test_id("m-notice").get_by_text("已到位打卡：1#球罐压力表").wait_for()
            assert page.get_by_test_id("m-point-state-E2E-P1").inner_text() == "已到位"
            assert page.get_by_test_id("m-round-progress").inner_text() == "1 / 2"
            assert page.get_by_test_id("m-round-state").inner_text() == "巡检中"

            # values: the pressure out of its range raises a hazard on the server, the temperature is fine
            page.get_by_test_id(f"m-value-{pressure}").fill("1.9")
            page.get_by_test_id(f"m-submit-{pressure}").click()
            result = page.get_by_test_id(f"m-item-result-{pressure}")
            result.wait_for()
            assert "超限，已登记隐患 #" in result.inner_text()
            page.get_by_test_id(f"m-value-{temperature}").fill("25")
            page.get_by_test_id(f"m-note-{temperature}").fill("表体无结霜")
            page.get_by_test_id(f"m-submit-{temperature}").click()
            page.get_by_test_id(f"m-item-result-{temperature}").get_by_text("正常").wait_for()

            # report a hazard with a photo
            page.get_by_test_id("m-hazard-open").click()
            page.get_by_test_id("m-hazard-name").fill("1#球罐压力表表盘破损")
            page.get_by_test_id("m-hazard-point").select_option(str(p1["id"]))
            page.get_by_test_id("m-hazard-description").fill("表盘玻璃有裂纹，读数不清")
            page.get_by_test_id("m-hazard-photo").set_input_files(
                files=[{"name": "damage.png", "mimeType": "image/png", "buffer": png(16, 12)}]
            )
            assert unlabelled(page) == []
            no_sideways_scroll(page)
            page.get_by_test_id("m-hazard-submit").click()
            notice = page.get_by_test_id("m-notice")
            notice.get_by_text("照片已上传").wait_for()
            assert "已上报隐患 #" in notice.inner_text()
            page.screenshot(path=str(SHOTS / "safetwin-m-round.png"), full_page=True)

            # finish with one point not reached: the page warns first
            page.get_by_test_id("m-finish").click()
            assert "1 个点位未到位" in page.get_by_test_id("m-finish-warning").inner_text()
            page.get_by_test_id("m-finish").click()
            page.wait_for_function(
                "() => document.querySelector('[data-testid=m-round-state]')?.textContent.trim() === '已完成'"
            )
            assert "漏检 1 个点位" in page.get_by_test_id("m-notice").inner_text()
            page.screenshot(path=str(SHOTS / "safetwin-m-round-done.png"), full_page=True)
        finally:
            browser.close()

    # what the API now holds
    done = api.get(f"/api/v1/inspections/rounds/{round_id}")
    assert done["state"] == "已完成"
    assert done["missed_point_ids"] == [p2["id"]]
    steps = [(s["action"], s.get("point") or s.get("item"), s["by"]) for s in done["steps"]]
    assert ("到位打卡", "E2E-P1", INSPECTOR) in steps
    assert {s[1] for s in steps if s[0] == "录入读数"} == {"压力", "表体温度"}
    assert steps[-1][0] == "完成巡检"
    hazards = api.get("/api/v1/hidden-hazards", inspection_task_id=round_id)["items"]
    by_name = {h["name"]: h for h in hazards}
    assert set(by_name) == {"1#球罐压力表压力超限", "1#球罐压力表表盘破损"}
    reported = by_name["1#球罐压力表表盘破损"]
    assert reported["origin"] == "巡检" and reported["registrant"] == INSPECTOR
    assert reported["inspection_point_id"] == p1["id"]
    photos = api.get(f"/api/v1/hidden-hazards/{reported['id']}/attachments")
    assert [a["content_type"] for a in photos] == ["image/png"]
    assert not watch.errors, watch.errors


def test_gas_test_entry_and_alarm_acknowledgement_on_the_phone(
    live_app: LiveApp, chromium_path: str, prepared: dict[str, Any]
) -> None:
    api: Api = prepared["api"]
    permits = api.get("/api/v1/permits", size=100)["items"]
    ticket = next(p for p in permits if p["gas_required"] and p["status"] == "草稿")
    before = len(api.get(f"/api/v1/permits/{ticket['id']}/file")["analyses"])
    watch = ConsoleWatch()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            # the guardian's gas test
            page = phone(browser, watch)
            page.goto(f"{live_app.base_url}/#/m/permits")
            login(page, INSPECTOR, PASSWORD)
            card = page.get_by_test_id(f"m-permit-{ticket['id']}")
            card.wait_for()
            no_sideways_scroll(page)
            card.click()
            page.get_by_test_id("m-gas-form").wait_for()
            assert page.get_by_test_id("m-permit-status").inner_text() == "草稿"
            assert page.get_by_test_id("m-gas-analyst").input_value() == "张巡检"
            page.get_by_test_id("m-gas-point").fill("1#甲醇罐人孔")
            page.get_by_test_id("m-gas-value-0").fill("0.2")
            page.get_by_test_id("m-gas-value-1").fill("20.9")
            assert unlabelled(page) == []
            no_sideways_scroll(page)
            page.get_by_test_id("m-gas-submit").click()
            page.get_by_test_id("m-gas-result").wait_for()
            analyses = page.get_by_test_id("m-analyses").locator("[data-testid^=m-analysis-]")
            analyses.nth(before).wait_for()
            page.screenshot(path=str(SHOTS / "safetwin-m-gas-test.png"), full_page=True)
            recorded = api.get(f"/api/v1/permits/{ticket['id']}/file")["analyses"]
            assert len(recorded) == before + 1
            last = recorded[-1]
            assert last["analyst"] == "张巡检" and last["point"] == "1#甲醇罐人孔"
            assert [(r["substance"], r["value"], r["unit"]) for r in last["readings"]] == [
                ("甲烷", 0.2, "%LEL"),
                ("氧气", 20.9, "%VOL"),
            ]
            verdict = page.get_by_test_id("m-gas-result").inner_text()
            assert ("合格" in verdict) and (("不合格" in verdict) == (not last["passed"]))
            page.context.close()

            # the operator acknowledges an alarm on the phone
            started = time.time()
            api.post("/api/v1/sim/excursions", {"tag": TAG, "to": 99.0, "duration_s": 60}, expect=202)
            alarm = fresh_unacked_alarm(api, started)
            page = phone(browser, watch)
            page.goto(f"{live_app.base_url}/#/m/alarms")
            login(page, OPERATOR, PASSWORD)
            ack = page.get_by_test_id(f"m-ack-{alarm['id']}")
            ack.wait_for(timeout=15_000)
            state = page.get_by_test_id(f"m-alarm-state-{alarm['id']}")
            assert state.inner_text().strip() == "未确认-报警中"
            assert unlabelled(page) == []
            no_sideways_scroll(page)
            page.screenshot(path=str(SHOTS / "safetwin-m-alarms.png"), full_page=True)
            page.get_by_test_id(f"m-ack-comment-{alarm['id']}").fill("现场已确认，正在降温")
            ack.click()
            page.wait_for_function(
                "id => { const s = document.querySelector(`[data-testid=m-alarm-state-${id}]`);"
                " return !s || s.textContent.trim() !== '未确认-报警中' }",
                arg=alarm["id"],
                timeout=10_000,
            )
            assert ack.count() == 0
            page.screenshot(path=str(SHOTS / "safetwin-m-alarms-acked.png"), full_page=True)
        finally:
            browser.close()
    after = api.get(f"/api/v1/alarm-records/{alarm['id']}")
    assert after["acked_by"] == OPERATOR
    assert "ack" not in after["allowed_actions"]
    assert any(t["comment"] == "现场已确认，正在降温" for t in after["transitions"])
    assert not watch.errors, watch.errors


def fresh_unacked_alarm(api: Api, since: float, timeout_s: float = 15) -> dict[str, Any]:
    """The TT-401 alarm the forced excursion raised: active, unacknowledged, raised after ``since``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for item in api.get("/api/v1/alarm-records", scope="active", tag=TAG, sort="-raised_at")["items"]:
            raised = datetime.fromisoformat(item["raised_at"].replace("Z", "+00:00")).timestamp()
            if item["state"] == "unack_active" and "ack" in item["allowed_actions"] and raised >= since - 1:
                return dict(item)
        time.sleep(0.3)
    pytest.fail(f"no unacknowledged {TAG} alarm within {timeout_s} s of the excursion")
