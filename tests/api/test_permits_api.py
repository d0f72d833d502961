"""Permits API end to end: hot work in a confined space, the PDF and its QR code, roles, and a
Hypothesis walk over random sequences of API calls that must never reach a forbidden state.

A small app on a migrated SQLite file (auth + permits routers, one user per role, the demo crew).
The request clock is the app's ``permit_clock`` so a test can let 70 minutes pass; alarms reach
the permits through the real ``AlarmWorker.handle`` with the demo plant's tag → area map.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import qrcode
import qrcode.constants
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.alarm_worker import AlarmWorker
from api.auth import create_token, get_current_user
from api.routers import permits
from api.routers.auth import router as auth_router
from api.settings import Settings
from connectors.bus.memory import Bus
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from models.permit_rules import PLANT_TZ, RULES, ApproverRole, WorkType, approver_roles
from registers.db import make_engine, make_session_factory
from registers.people.models import Person, PersonCertificate
from registers.permissions import RoleName
from registers.permits import service as permit_service
from registers.permits.demo import Crew, ensure_crew, hot_work_in_tank
from registers.permits.models import GasAnalysis, Permit, PermitStatus, PermitStep
from registers.users import service as users
from tests.db_fixtures import migrate_registers
from tests.registers.permits.conftest import START, TODAY
from twin.plant import load_plant

PASSWORD = "Hot-Work-Permit-42"
S = PermitStatus


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]
    clock: Clock
    crew: Crew
    factory: sessionmaker[Session]
    worker: AlarmWorker

    def call(self, method: str, url: str, body: Any = None, role: str = "safety_manager") -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        return self.client.request(method, url, json=body, headers=headers)

    def ok(self, method: str, url: str, body: Any = None, role: str = "safety_manager") -> Any:
        response = self.call(method, url, body, role)
        assert response.status_code in (200, 201), response.text
        return response.json()


def _make_api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    migrate_registers(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    tokens = {}
    with factory.begin() as session:
        for role in RoleName:
            user = users.create_user(session=session, username=role.value, password=PASSWORD, roles=[role.value])
            tokens[role.value] = create_token(settings, user)
        crew = ensure_crew(session=session, today=TODAY)
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    clock = Clock(START - timedelta(hours=2))
    app.state.permit_clock = clock
    app.include_router(auth_router)
    app.include_router(permits.router, dependencies=[Depends(get_current_user)])

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:  # as in api/app.py
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": "请求参数无效 / invalid request", "errors": errors})

    worker = AlarmWorker(Bus(), factory, load_plant(), settings)
    with TestClient(app) as client:
        yield Api(client, tokens, clock, crew, factory, worker)
    engine.dispose()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from _make_api(tmp_path)


@pytest.fixture(scope="module")
def api_for_property(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app for every Hypothesis example (a fresh job per example)."""
    yield from _make_api(tmp_path_factory.mktemp("permits-property"))


def plan_body(crew: Crew) -> dict[str, Any]:
    return hot_work_in_tank(crew, start=START).model_dump(mode="json")


def reading(kind: str, substance: str, value: float, unit: str) -> dict[str, Any]:
    return {"kind": kind, "substance": substance, "value": value, "unit": unit}


def gas(methane: float, at: datetime) -> dict[str, Any]:
    return {
        "analyst": "化验员 陈",
        "analyser": "GA-07",
        "sampled_at": at.isoformat(),
        "point": "T-101 罐内上/中/下部",
        "readings": [
            reading("可燃气体", "甲烷", methane, "%VOL"),
            reading("氧气", "氧气", 20.8, "%VOL"),
            reading("有毒气体", "硫化氢", 1.0, "mg/m3"),
        ],
    }


def alarm(tag: str) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{tag}:HH",
        source_kind="tag",
        source_id=tag,
        kind="HH",
        priority=AlarmPriority.HIGH,
        state=AlarmState.ACTIVE,
        ts=1,
        value=2.0,
        limit=1.0,
        message=f"{tag} 高高报警",
    )


def qr_matrix_in(image: Any, modules: int) -> list[list[bool]]:
    """Read the dark/light modules of a QR image by sampling each module's centre pixel."""
    gray = image.convert("L")
    size = gray.size[0] / modules
    return [
        [gray.getpixel((int((c + 0.5) * size), int((r + 0.5) * size))) < 128 for c in range(modules)]
        for r in range(modules)
    ]


def test_hot_work_in_a_confined_space_end_to_end(api: Api) -> None:
    crew, base = api.crew, "/api/v1/permits"
    job = api.ok("POST", f"{base}/jobs", plan_body(crew))
    hot, confined = job["permits"]
    assert (hot["work_type"], confined["work_type"]) == ("动火作业", "受限空间作业")
    assert hot["linked_numbers"] == [confined["number"]] and confined["linked_numbers"] == [hot["number"]]
    assert api.ok("GET", f"{base}/jobs/{job['id']}")["permits"][1]["id"] == confined["id"]
    ids = [hot["id"], confined["id"]]

    for pid in ids:
        api.ok("POST", f"{base}/{pid}/brief", {}, role="inspector")
        api.ok("POST", f"{base}/{pid}/submit")
    # approvals: 二级 hot work = unit head; confined space = unit head then safety department
    assert (
        api.call("POST", f"{base}/{hot['id']}/sign", {"approver_id": crew.unit_head}, role="inspector").status_code
        == 403
    )
    refused = api.call("POST", f"{base}/{confined['id']}/sign", {"approver_id": crew.safety})
    assert refused.status_code == 409 and "无此审批权限" in refused.json()["detail"]
    assert (
        api.ok("POST", f"{base}/{hot['id']}/sign", {"approver_id": crew.unit_head, "x": 11, "y": 19})["status"]
        == "已批准"
    )
    api.ok("POST", f"{base}/{confined['id']}/sign", {"approver_id": crew.unit_head, "opinion": "同意"})
    assert api.ok("POST", f"{base}/{confined['id']}/sign", {"approver_id": crew.safety})["status"] == "已批准"

    # a failing, then a passing gas test, 10 min before the start
    api.clock.now = START - timedelta(minutes=10)
    failing = api.ok("POST", f"{base}/{confined['id']}/gas-analyses", gas(0.8, api.clock.now), role="inspector")
    assert failing["passed"] is False and "0.8%(v/v) 超过 0.5%(v/v)" in failing["reasons"][0]
    api.clock.now = START
    blocked = api.call("POST", f"{base}/{confined['id']}/start", role="inspector")
    assert blocked.status_code == 409 and "不合格" in blocked.json()["detail"]
    for pid in ids:
        assert api.ok("POST", f"{base}/{pid}/gas-analyses", gas(0.2, START - timedelta(minutes=5)))["passed"]
        assert api.ok("POST", f"{base}/{pid}/start", role="inspector")["status"] == "作业中"
    assert {p["id"] for p in api.ok("GET", f"{base}/open?area=tank_farm")} == set(ids)

    # the confined-space analysis (08:55) is good for 2 h during entry: a reminder at 10:45, once
    api.clock.now = START + timedelta(minutes=106)
    checks = api.ok("POST", f"{base}/checks/run", role="inspector")
    assert checks["reminders"] == [f"作业票 {confined['number']} 的气体分析将于 10:55 过期，请及时复测"]
    assert api.ok("POST", f"{base}/checks/run")["reminders"] == []

    # an alarm in the tank farm stops both tickets (the real alarm worker, PT-101 → tank_farm)
    with pytest.MonkeyPatch.context() as patch:  # the worker stamps the plant clock; here, the test's
        patch.setattr(permit_service, "utcnow", api.clock)
        api.worker.handle([alarm("PT-101")])
    assert api.worker.errors == 0
    for pid in ids:
        file = api.ok("GET", f"{base}/{pid}/file")
        assert file["permit"]["status"] == "已中断" and "PT-101:HH" in file["permit"]["suspend_reason"]
    suspended_at = datetime.fromisoformat(api.ok("GET", f"{base}/{confined['id']}")["suspended_at"])

    # 70 min later: longer than the 60 min the confined space allows → re-analysis first
    api.clock.now = suspended_at + timedelta(minutes=70)
    stale = api.call("POST", f"{base}/{confined['id']}/resume", role="inspector")
    assert stale.status_code == 409 and "中断超过 60 min" in stale.json()["detail"]
    for pid in ids:
        api.ok("POST", f"{base}/{pid}/gas-analyses", gas(0.1, api.clock.now - timedelta(minutes=2)))
        assert api.ok("POST", f"{base}/{pid}/resume", role="inspector")["status"] == "作业中"

    # completion, acceptance, closure
    api.clock.now += timedelta(hours=2)
    premature = api.call("POST", f"{base}/{hot['id']}/accept", {"acceptor_id": crew.unit_head})
    assert premature.status_code == 409  # no closing without completion and acceptance
    for pid in ids:
        api.ok("POST", f"{base}/{pid}/complete", role="inspector")
        closed = api.ok("POST", f"{base}/{pid}/accept", {"acceptor_id": crew.unit_head, "opinion": "现场清理完毕"})
        assert closed["status"] == "已验收关闭" and closed["accepted_by"] == "车间主任 赵军"
    steps = [s["action"] for s in api.ok("GET", f"{base}/{confined['id']}/file")["steps"]]
    assert steps == [
        "申请",
        "安全交底",
        "提交审批",
        "审批",
        "签发",
        "开始作业",
        "中断作业",
        "恢复作业",
        "完工",
        "验收关闭",
    ]
    assert api.ok("GET", f"{base}/statistics?by=status")["counts"] == {"已验收关闭": 2}

    # the PDF: parsed back, fields and QR code
    response = api.call("GET", f"{base}/{confined['id']}/permit.pdf", role="regulator")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = "".join(page.extract_text() for page in reader.pages)
    url = f"http://testserver/api/v1/permits/{confined['id']}/file"
    for expected in (
        "受限空间安全作业票",
        confined["number"],
        hot["number"],  # 关联作业票编号
        "监护人 王海",
        "焊工 李强",
        "车间主任 赵军",  # signer and acceptor
        "安全部 钱敏",
        "验收关闭",
        "合格",
        "不合格",
        url,
    ):
        assert expected in text, (expected, text)
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 1
    # No QR decoder is installed: the code is read module by module and compared with the
    # matrix qrcode builds for the ticket's URL (same payload ⇔ same matrix at fixed settings).
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    expected_matrix = code.get_matrix()
    assert qr_matrix_in(images[0].image, len(expected_matrix)) == expected_matrix


def test_bad_input_is_a_422_naming_the_field(api: Api) -> None:
    body = plan_body(api.crew)
    cases = [
        ({**body, "planned_start": "2026-12-02T09:00:00"}, "planned_start"),  # no time zone
        ({**body, "tickets": [{"work_type": "焊接"}]}, "tickets.0.work_type"),
        ({**body, "tickets": [{"work_type": "动火作业", "grade": "三级"}]}, "tickets.0.grade"),
        ({**body, "planned_end": body["planned_start"]}, "planned_end"),
        ({**body, "worker_ids": [999_999]}, "worker_ids"),
        ({**body, "tickets": [{"work_type": "高处作业", "height_m": 1.5}]}, "tickets.0.height_m"),
    ]
    for payload, field in cases:
        response = api.call("POST", "/api/v1/permits/jobs", payload)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.text
    permit_id = api.ok("POST", "/api/v1/permits/jobs", body)["permits"][0]["id"]
    future = gas(0.1, api.clock.now + timedelta(hours=1))
    response = api.call("POST", f"/api/v1/permits/{permit_id}/gas-analyses", future)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "sampled_at"
    assert api.call("GET", "/api/v1/permits/statistics?by=password").status_code == 422
    assert api.call("GET", "/api/v1/permits/999999/file").status_code == 404


def test_roles(api: Api) -> None:
    body = plan_body(api.crew)
    assert api.call("POST", "/api/v1/permits/jobs", body, role="operator").status_code == 403
    assert api.call("POST", "/api/v1/permits/jobs", body, role="regulator").status_code == 403
    permit_id = api.ok("POST", "/api/v1/permits/jobs", body)["permits"][0]["id"]
    assert api.call("GET", f"/api/v1/permits/{permit_id}", role="regulator").status_code == 200
    assert api.call("POST", f"/api/v1/permits/{permit_id}/brief", {}, role="operator").status_code == 403
    reason = {"reason": "x"}
    assert api.call("POST", f"/api/v1/permits/{permit_id}/reject", reason, role="inspector").status_code == 403
    assert api.call("GET", "/api/v1/permits/export?format=csv", role="analyst").status_code == 200
    assert api.client.get("/api/v1/permits").status_code == 401
    # a ticket is never created, edited or deleted outside its workflow
    assert api.call("POST", "/api/v1/permits", {}).status_code == 405
    assert api.call("PATCH", f"/api/v1/permits/{permit_id}", {}).status_code == 405
    assert api.call("DELETE", f"/api/v1/permits/{permit_id}").status_code == 405


# --- no sequence of API calls reaches a forbidden state ------------------------------------------

USUAL_ORDER = ("brief", "submit", "sign", "gas", "start", "suspend", "gas", "resume", "complete", "accept")
ACTIONS = (
    "brief",
    "submit",
    "sign",
    "reject",
    "revise",
    "gas",
    "start",
    "suspend",
    "resume",
    "complete",
    "accept",
    "cancel",
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A job (worker, guardian, hot-work grade) and a sequence of calls with people and time steps."""
    people = ["welder", "lapsed_welder", "untrained", "guardian", "unit_head", "safety", "principal"]
    steps = draw(
        st.lists(
            st.tuples(
                st.one_of(st.none(), st.none(), st.none(), st.sampled_from(ACTIONS)),  # None: the usual next step
                st.sampled_from(["right"] * 6 + people),  # who signs / accepts ("right": who should)
                st.sampled_from([0.0, 0.2, 0.2, 0.6]),  # methane % (v/v) of an analysis
                st.sampled_from([0, 0, 0, 5, 5, 25, 40, 70, 150]),  # minutes that pass first
            ),
            min_size=14,
            max_size=36,
        )
    )
    return {
        "worker": draw(st.sampled_from(["welder"] * 4 + ["lapsed_welder", "untrained"])),
        "guardian": draw(st.sampled_from(["guardian"] * 5 + ["untrained"])),
        "grade": draw(st.sampled_from(["特级", "一级", "二级"])),
        "confined": draw(st.booleans()),
        "steps": steps,
    }


def _check_invariants(session: Session, job_ids: list[int]) -> None:
    """What must hold for every ticket, whatever was called."""
    for permit in session.scalars(select(Permit).where(Permit.id.in_(job_ids))):
        steps = list(
            session.scalars(select(PermitStep).where(PermitStep.permit_id == permit.id).order_by(PermitStep.id))
        )
        template = RULES.approval_template(WorkType(permit.work_type), permit.managed_grade)
        level = 0
        for step in steps:
            if step.action in ("提交审批", "驳回"):
                level = 0
            if step.action in ("审批", "签发"):
                person = session.get(Person, step.person_id)
                assert person is not None
                roles = approver_roles(
                    principal=person.principal, full_time_safety=person.full_time_safety, position=person.position
                )
                assert roles & set(template[level].roles), "approval by a role the template does not allow"
                level += 1
                assert (step.action == "签发") == (level == len(template))
            if step.action in ("开始作业", "恢复作业"):
                assert step.from_status in ("已批准", "已中断")
                assert any(s.action == "签发" for s in steps if s.id < step.id), "work on a ticket never issued"
                if permit.gas_required:
                    latest = session.scalar(
                        select(GasAnalysis)
                        .where(GasAnalysis.permit_id == permit.id, GasAnalysis.recorded_at <= step.at)
                        .order_by(GasAnalysis.sampled_at.desc(), GasAnalysis.id.desc())
                        .limit(1)
                    )
                    assert latest is not None and latest.passed, "work without a passing gas analysis"
                    age = step.at - latest.sampled_at
                    assert age >= timedelta(0), "an analysis from the future"
                    if step.action == "开始作业":
                        assert age <= timedelta(minutes=30), "work started on a stale gas analysis"
                    elif permit.work_type == "受限空间作业":
                        assert age <= timedelta(minutes=120), "entry resumed on a stale gas analysis"
                    else:
                        assert _day(latest.sampled_at) == _day(step.at), "hot work resumed on another day's analysis"
                for pid in permit.worker_ids:
                    certs = session.scalars(select(PersonCertificate).where(PersonCertificate.person_id == pid))
                    valid = [
                        c
                        for c in certs
                        if c.kind == "特种作业操作证"
                        and "焊接" in (c.category or "")
                        and (c.expiry_date is None or c.expiry_date >= _day(permit.valid_until))
                    ]
                    assert permit.work_type != "动火作业" or valid, "hot work by a person without a valid certificate"
        if permit.status == S.CLOSED:
            assert steps[-1].action == "验收关闭" and steps[-1].from_status == "已完工" and permit.accepted_by
        if permit.status == S.WORKING:
            assert permit.briefed_at is not None
            if permit.gas_required:
                latest = session.scalar(
                    select(GasAnalysis.passed)
                    .where(GasAnalysis.permit_id == permit.id)
                    .order_by(GasAnalysis.sampled_at.desc(), GasAnalysis.id.desc())
                    .limit(1)
                )
                assert latest, "work going on after a failing analysis"


def _day(moment: datetime) -> date:
    return moment.astimezone(PLANT_TZ).date()


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(scenario=scenarios())
def test_no_sequence_of_calls_reaches_a_forbidden_state(api_for_property: Api, scenario: dict[str, Any]) -> None:
    api, crew = api_for_property, api_for_property.crew
    who = {
        "welder": crew.welder,
        "lapsed_welder": crew.lapsed_welder,
        "untrained": crew.untrained,
        "guardian": crew.guardian,
        "unit_head": crew.unit_head,
        "safety": crew.safety,
        "principal": crew.principal,
    }
    api.clock.now = START - timedelta(minutes=35)
    body = plan_body(crew)
    body["worker_ids"] = [who[scenario["worker"]]]
    body["guardian_id"] = who[scenario["guardian"]]
    body["planned_end"] = (START + timedelta(hours=7)).isoformat()
    body["tickets"] = [{"work_type": "动火作业", "grade": scenario["grade"]}]
    if scenario["confined"]:
        body["tickets"].append({"work_type": "受限空间作业"})
    created = api.ok("POST", "/api/v1/permits/jobs", body)["permits"]
    ids = [p["id"] for p in created]
    progress = dict.fromkeys(ids, 0)
    for index, (chosen, person, methane, minutes) in enumerate(scenario["steps"]):
        # A second more per call: two calls in the same instant (a failing analysis right after a
        # start) could not be ordered by the checks, which compare the times of steps and analyses.
        api.clock.now += timedelta(minutes=minutes, seconds=1)
        pid = ids[index % len(ids)]
        action = chosen or USUAL_ORDER[progress[pid] % len(USUAL_ORDER)]
        if person == "right":
            ticket = api.ok("GET", f"/api/v1/permits/{pid}")
            template = RULES.approval_template(WorkType(ticket["work_type"]), ticket["managed_grade"])
            level = template[min(ticket["approval_step"], len(template) - 1)]
            person = {ApproverRole.UNIT_HEAD: "unit_head", ApproverRole.SAFETY_DEPT: "safety"}.get(
                level.roles[0], "principal"
            )
        url = f"/api/v1/permits/{pid}"
        bodies: dict[str, Any] = {
            "brief": {},
            "sign": {"approver_id": who[person]},
            "accept": {"acceptor_id": who[person]},
            "gas": gas(methane, api.clock.now),
            "reject": {"reason": "资料不全"},
            "suspend": {"reason": "中断"},
            "cancel": {"reason": "作废"},
        }
        path = f"{url}/gas-analyses" if action == "gas" else f"{url}/{action}"
        response = api.call("POST", path, bodies.get(action))
        assert response.status_code in (200, 201, 409), response.text
        still_signing = action == "sign" and response.status_code == 200 and response.json()["status"] == "审批中"
        progress[pid] += chosen is None and response.status_code < 300 and not still_signing
        if chosen is None and response.status_code == 409 and action in ("start", "resume"):
            progress[pid] -= 1  # analyse again, then retry
    with api.factory() as session:
        _check_invariants(session, ids)
        for status in session.scalars(select(Permit.status).where(Permit.id.in_(ids))):
            event(f"a ticket ended {status}")
