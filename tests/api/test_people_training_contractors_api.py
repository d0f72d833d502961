"""People, training and contractors APIs through a small app on a migrated SQLite file.

Every role against every kind of route (read, export, create, update, delete, import,
approve, execute), plus 401/404/422, the compliance diagnosis, exam marking, QR and PDF.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader

from api.auth import create_token, get_current_user
from api.routers import contractors, people, training
from api.routers.auth import router as auth_router
from api.settings import Settings
from registers.db import make_engine, make_session_factory
from registers.permissions import RoleName, can
from registers.training import documents
from registers.users import service as users
from tests.db_fixtures import migrate_registers

PASSWORD = "Chlorine-Tank-42"
ROLES = [r.value for r in RoleName]

# What the safety department signed off, per resource (the table in registers/permissions.py).
EXPECTED: dict[str, dict[str, set[str]]] = {
    "person": {
        "read": {"admin", "safety_manager", "analyst", "regulator", "inspector"},
        "export": {"admin", "safety_manager", "analyst", "regulator"},
        "create": {"admin", "safety_manager"},
        "update": {"admin", "safety_manager"},
        "delete": {"admin", "safety_manager"},
        "import": {"admin", "safety_manager"},
    },
    "training": {
        "read": {"admin", "safety_manager", "analyst", "regulator", "operator", "inspector"},
        "export": {"admin", "safety_manager", "analyst", "regulator"},
        "create": {"admin", "safety_manager"},
        "approve": {"admin", "safety_manager"},
        "execute": {"admin", "safety_manager", "operator", "inspector"},
    },
    "contractor": {
        "read": {"admin", "safety_manager", "analyst", "regulator", "inspector"},
        "export": {"admin", "safety_manager", "analyst", "regulator"},
        "create": {"admin", "safety_manager"},
        "update": {"admin", "safety_manager"},
        "approve": {"admin", "safety_manager"},
    },
}


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def post(self, url: str, body: dict[str, Any], role: str = "safety_manager", status: int = 201) -> dict[str, Any]:
        response = self.client.post(url, json=body, headers=self.as_(role))
        assert response.status_code == status, response.text
        return dict(response.json())


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'api.db'}")
    migrate_registers(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    tokens = {}
    with factory.begin() as session:
        for role in ROLES:
            user = users.create_user(session=session, username=role, password=PASSWORD, roles=[role])
            tokens[role] = create_token(settings, user)
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(auth_router)
    for module in (people, training, contractors):
        app.include_router(module.router, dependencies=[Depends(get_current_user)])
    with TestClient(app) as client:
        yield Api(client, tokens)
    engine.dispose()


def test_the_policy_table_is_what_the_safety_department_signed() -> None:
    for resource, table in EXPECTED.items():
        for action, allowed in table.items():
            assert {r for r in ROLES if can([r], action, resource)} == allowed, (resource, action)


def test_unauthenticated_is_401(api: Api) -> None:
    for url in ("/api/v1/people", "/api/v1/people/compliance", "/api/v1/training/records", "/api/v1/contractors"):
        assert api.client.get(url).status_code == 401


# (resource, action, method, url template, body) — one real route per action and resource
ROUTES: list[tuple[str, str, str, str, dict[str, Any] | None]] = [
    ("person", "read", "GET", "/api/v1/people", None),
    ("person", "read", "GET", "/api/v1/people/compliance", None),
    ("person", "export", "GET", "/api/v1/people/export?format=csv", None),
    ("person", "create", "POST", "/api/v1/people", {"code": "X{n}", "name": "甲"}),
    ("person", "update", "PATCH", "/api/v1/people/{person}", {"phone": "1"}),
    ("person", "delete", "DELETE", "/api/v1/person-certificates/{cert}", None),
    ("training", "read", "GET", "/api/v1/training/people/{person}/file", None),
    ("training", "read", "GET", "/api/v1/training/people/{person}/qr.png", None),
    ("training", "export", "GET", "/api/v1/training/records/export?format=csv", None),
    (
        "training",
        "create",
        "POST",
        "/api/v1/training/courses",
        {"code": "K{n}", "title": "课", "training_type": "日常"},
    ),
    ("training", "execute", "POST", "/api/v1/training/exams/{exam}/submit", {"person_id": 0, "answers": {}}),
    ("training", "approve", "POST", "/api/v1/training/records/999999/renew-certificate", None),
    ("contractor", "read", "GET", "/api/v1/contractors/{contractor}/permit-check", None),
    ("contractor", "export", "GET", "/api/v1/contractors/export", None),
    ("contractor", "create", "POST", "/api/v1/contractors", {"credit_code": "CC{n}", "name": "某公司"}),
    ("contractor", "update", "PATCH", "/api/v1/contractors/{contractor}", {"phone": "2"}),
    ("contractor", "approve", "POST", "/api/v1/contractors/{contractor}/reject", {"reason": "资料不全"}),
]


def _fixture_ids(api: Api) -> dict[str, int]:
    person = api.post("/api/v1/people", {"code": "E1", "name": "何伟"})["id"]
    cert = api.post("/api/v1/person-certificates", {"person_id": person, "kind": "特种作业操作证"})["id"]
    q = api.post("/api/v1/training/questions", {"bank": "b", "kind": "判断", "stem": "?", "answer": "对"})["id"]
    exam = api.post("/api/v1/training/exams", {"title": "t", "training_type": "日常", "question_ids": [q]})["id"]
    contractor = api.post("/api/v1/contractors", {"credit_code": "C-0", "name": "华安"})["id"]
    return {"person": person, "cert": cert, "exam": exam, "contractor": contractor}


def test_role_action_matrix_on_real_routes(api: Api) -> None:
    ids = _fixture_ids(api)
    n = 0
    for role in ROLES:
        for resource, action, method, template, body in ROUTES:
            n += 1
            url = template.format(n=n, **ids)
            if body is not None:
                body = {k: (v.format(n=n) if isinstance(v, str) else v) for k, v in body.items()}
                if "person_id" in body:
                    body["person_id"] = ids["person"]
            response = api.client.request(method, url, json=body, headers=api.as_(role))
            allowed = can([role], action, resource)
            if not allowed:
                assert response.status_code == 403, (role, method, url, response.text)
            else:
                assert response.status_code not in (401, 403, 500), (role, method, url, response.text)
            if allowed and method == "POST" and url.endswith("/reject"):
                api.client.post(f"/api/v1/contractors/{ids['contractor']}/reapply", headers=api.as_("admin"))
            if allowed and method == "DELETE":
                api.client.post(f"/api/v1/person-certificates/{ids['cert']}/restore", headers=api.as_("admin"))


def test_404_and_422(api: Api) -> None:
    h = api.as_("admin")
    assert api.client.get("/api/v1/people/999", headers=h).status_code == 404
    assert api.client.get("/api/v1/training/people/999/file", headers=h).status_code == 404
    assert api.client.get("/api/v1/training/people/999/record.pdf", headers=h).status_code == 404
    assert api.client.post("/api/v1/contractors/999/enter", headers=h).status_code == 404
    bad = api.client.post("/api/v1/person-certificates", json={"person_id": 999, "kind": "安全资格证"}, headers=h)
    assert bad.status_code == 422 and "person_id" in bad.text
    assert api.client.post("/api/v1/people", json={"code": "", "name": "x"}, headers=h).status_code == 422
    assert api.client.get("/api/v1/people/compliance?employees=-1", headers=h).status_code == 422
    assert api.client.get("/api/v1/people/compliance?ruleset=nope", headers=h).status_code == 422
    wrong = api.client.post(
        "/api/v1/training/questions",
        json={"bank": "b", "kind": "单选", "stem": "?", "option_a": "x", "answer": "D"},
        headers=h,
    )
    assert wrong.status_code == 422 and "不在选项" in wrong.text
    cid = api.post("/api/v1/contractors", {"credit_code": "C1", "name": "某"}, role="admin")["id"]
    scores = api.client.post(
        f"/api/v1/contractors/{cid}/evaluate", json={"period": "Q4", "scores": {"x": 1}}, headers=h
    )
    assert scores.status_code == 422


def test_compliance_diagnosis_says_why(api: Api) -> None:
    api.post("/api/v1/people", {"code": "E1", "name": "刘安", "full_time_safety": True})
    body = api.client.get("/api/v1/people/compliance?employees=320&on=2026-11-28", headers=api.as_("regulator")).json()
    assert body["passed"] is False
    first = body["rules"][0]
    assert first["reason"] == "专职安全生产管理人员 1 人，要求 ≥ 7 人（从业人员 320 人，按 2% 计，至少 2 人）"
    assert body["rules"][3]["people"] == ["刘安"]  # no valid 安全资格证


def test_exam_paper_submit_file_qr_and_pdf(api: Api) -> None:
    pid = api.post("/api/v1/people", {"code": "E7", "name": "何伟"})["id"]
    q1 = api.post(
        "/api/v1/training/questions",
        {
            "bank": "b",
            "kind": "多选",
            "stem": "氯气泄漏?",
            "option_a": "呼吸器",
            "option_b": "顺风",
            "option_c": "碱液",
            "answer": "AC",
            "points": 4,
        },
    )["id"]
    q2 = api.post("/api/v1/training/questions", {"bank": "b", "kind": "判断", "stem": "甲醇易燃", "answer": "对"})["id"]
    exam = api.post("/api/v1/training/exams", {"title": "液氯考试", "training_type": "日常", "question_ids": [q1, q2]})[
        "id"
    ]
    paper = api.client.get(f"/api/v1/training/exams/{exam}/paper", headers=api.as_("operator")).json()
    assert "answer" not in paper["questions"][0] and paper["total"] == 5
    sheet = {"person_id": pid, "answers": {str(q1): ["C", "A"], str(q2): True}}
    marked = api.post(f"/api/v1/training/exams/{exam}/submit", sheet, role="operator")
    assert (marked["score"], marked["total"], marked["passed"]) == (5.0, 5.0, True)
    api.post(
        "/api/v1/training/records",
        {
            "person_id": pid,
            "training_type": "三级教育",
            "title": "厂级教育",
            "trained_on": "2026-11-01",
            "hours": 24,
            "level": "厂级",
        },
    )
    by_type = api.client.get("/api/v1/training/records?training_type=三级教育", headers=api.as_("analyst")).json()
    assert by_type["total"] == 1

    file = api.client.get(f"/api/v1/training/people/{pid}/file", headers=api.as_("regulator")).json()
    assert file["record_url"] == f"http://testserver/api/v1/training/people/{pid}/file"
    assert (file["total_hours"], len(file["attempts"])) == (24.0, 1)

    qr = api.client.get(f"/api/v1/training/people/{pid}/qr.png", headers=api.as_("regulator"))
    assert qr.headers["content-type"] == "image/png"
    expected = Image.open(io.BytesIO(documents.qr_png(file["record_url"])))
    assert Image.open(io.BytesIO(qr.content)).tobytes() == expected.tobytes()

    pdf = api.client.get(f"/api/v1/training/people/{pid}/record.pdf", headers=api.as_("regulator"))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "何伟" in text and "厂级教育" in text


def test_contractor_workflow_over_http(api: Api) -> None:
    cid = api.post("/api/v1/contractors", {"credit_code": "91440101MA5X", "name": "华安检修"})["id"]
    refused = api.client.post(
        f"/api/v1/contractors/{cid}/admit", json={"valid_until": "2099-01-01"}, headers=api.as_("admin")
    )
    assert refused.status_code == 409 and "资质证书" in refused.text
    for kind in ("资质证书", "安全管理协议"):
        api.post("/api/v1/contractor-documents", {"contractor_id": cid, "kind": kind, "expiry_date": "2099-01-01"})
    assert api.post(f"/api/v1/contractors/{cid}/admit", {"valid_until": "2099-01-01"}, status=200)["status"] == "已准入"
    api.post("/api/v1/people", {"code": "C1", "name": "吴刚", "category": "承包商人员", "contractor_id": cid})
    assert api.post(f"/api/v1/contractors/{cid}/enter", {}, status=200)["status"] == "已入场"
    check = api.client.get(f"/api/v1/contractors/{cid}/permit-check", headers=api.as_("inspector")).json()
    assert check["allowed"] is True
    assert api.post(f"/api/v1/contractors/{cid}/blacklist", {"reason": "无票动火"}, status=200)["status"] == "黑名单"
    check = api.client.get(f"/api/v1/contractors/{cid}/permit-check", headers=api.as_("inspector")).json()
    assert (check["allowed"], check["reason"]) == (False, "承包商「华安检修」已列入黑名单：无票动火")
    again = api.client.post(
        f"/api/v1/contractors/{cid}/admit", json={"valid_until": "2099-01-01"}, headers=api.as_("admin")
    )
    assert again.status_code == 409 and "黑名单" in again.text
    # status is not editable by PATCH: the workflow is the only way
    patched = api.client.patch(f"/api/v1/contractors/{cid}", json={"status": "已准入"}, headers=api.as_("admin"))
    assert patched.status_code == 200 and patched.json()["status"] == "黑名单"
    file = api.client.get(f"/api/v1/contractors/{cid}/file", headers=api.as_("regulator")).json()
    assert (
        file["allowed_events"] == ["解除黑名单"] and len(file["documents"]) == 2 and file["people"][0]["name"] == "吴刚"
    )
    history = api.client.get(f"/api/v1/contractors/{cid}/history", headers=api.as_("regulator")).json()
    assert [h["action"] for h in history] == ["create", "准入", "入场", "列入黑名单"]
