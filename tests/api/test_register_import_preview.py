"""``POST {prefix}/import/preview``: the import dialog's check step (issue 12), on SQLite and PostgreSQL.

A user downloads the template, fills it in, and before anything is written sees either the
rows the import would write or every row error (row, column, message). The preview runs the
real import and rolls it back, so it judges the file exactly as 确认导入 will: the schema
(an unknown 学历), the references (a 承包商ID naming no contractor), uniqueness within the file
and against the database. Here on the people register, whose 学历 column is new in issue 12.
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
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.auth import create_token, get_current_user
from api.routers import people
from api.routers.auth import router as auth_router
from api.settings import Settings
from registers.db import make_engine, make_session_factory
from registers.framework.models import RecordVersion
from registers.people.models import Person
from registers.users import service as users

BASE = "/api/v1/people"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PASSWORD = "Chlorine-Tank-42"


@dataclass
class Api:
    client: TestClient
    factory: sessionmaker[Session]
    tokens: dict[str, str]

    def as_(self, role: str = "safety_manager") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def people_in_db(self) -> int:
        with self.factory() as session:
            return int(session.scalar(select(func.count()).select_from(Person)) or 0)

    def history_rows(self) -> int:
        with self.factory() as session:
            stmt = select(func.count()).select_from(RecordVersion).where(RecordVersion.register == "person")
            return int(session.scalar(stmt) or 0)

    def upload(self, route: str, content: bytes, role: str = "safety_manager") -> Any:
        files = {"file": ("人员导入.xlsx", content, XLSX)}
        return self.client.post(f"{BASE}/{route}", files=files, headers=self.as_(role))


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(environment="test", data_dir=tmp_path, database_url=database_url)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    tokens = {}
    with factory.begin() as session:
        for role in ("safety_manager", "regulator"):
            user = users.create_user(session=session, username=role, password=PASSWORD, roles=[role])
            tokens[role] = create_token(settings, user)
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(auth_router)
    app.include_router(people.router, dependencies=[Depends(get_current_user)])
    with TestClient(app) as client:
        yield Api(client, factory, tokens)
    engine.dispose()


def filled_template(api: Api, rows: list[dict[str, Any]]) -> bytes:
    """The downloaded template with ``rows`` typed under its headers, as a user fills it in Excel."""
    response = api.client.get(f"{BASE}/import-template", headers=api.as_())
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    header = [str(cell.value) for cell in sheet[1]]
    for row in rows:
        unknown = set(row) - set(header)
        assert not unknown, f"not in the template: {unknown}"
        sheet.append([row.get(h) for h in header])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


GOOD = {"人员编号": "E1", "姓名": "王建国", "主要负责人": True, "学历": "本科", "化学/化工/安全相关专业": True}
SECOND = {"人员编号": "E2", "姓名": "刘安", "专职安全管理人员": True, "学历": "大专"}


def test_template_and_form_carry_the_education_column(api: Api) -> None:
    content = filled_template(api, [])
    header = [cell.value for cell in load_workbook(io.BytesIO(content)).worksheets[0][1]]
    assert "学历" in header and "分管负责人" in header
    form = api.client.get(f"{BASE}/form-schema", headers=api.as_()).json()
    assert form["labels"]["education"] == "学历"
    schema = form["create"]
    education = schema["properties"]["education"]
    options = education["anyOf"][0] if "anyOf" in education else education
    enum = options.get("enum") or schema["$defs"][options["$ref"].rsplit("/", 1)[-1]]["enum"]
    assert enum == ["初中及以下", "高中/中专/技校", "大专", "本科", "研究生"]


def test_preview_of_a_bad_file_lists_every_row_error_and_writes_nothing(api: Api) -> None:
    bad = {"人员编号": "E3", "姓名": "何伟", "学历": "小学"}  # not a 学历 the ledger knows
    orphan = {"人员编号": "E4", "姓名": "吴刚", "人员类别": "承包商人员", "承包商ID": 999}  # no such contractor
    twice = {"人员编号": "E1", "姓名": "重名"}  # E1 again, in the same file
    content = filled_template(api, [GOOD, bad, orphan, twice])

    response = api.upload("import/preview", content)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["ok"], body["rows"], body["importable"], body["sample"]) == (False, 4, 0, [])
    found = [(e["row"], e["column"]) for e in body["errors"]]
    assert found == [(3, "学历"), (4, "承包商ID"), (5, "人员编号")]  # header is row 1, GOOD is row 2
    messages = {e["column"]: e["message"] for e in body["errors"]}
    assert "取值不在允许范围内" in messages["学历"]
    assert "999" in messages["承包商ID"] and "不存在" in messages["承包商ID"]
    assert "与第 2 行重复" in messages["人员编号"]
    assert (api.people_in_db(), api.history_rows()) == (0, 0)

    # the import itself reports the very same errors (the preview is the import, rolled back)
    imported = api.upload("import", content)
    assert imported.status_code == 422
    assert [(e["row"], e["column"], e["message"]) for e in imported.json()["errors"]] == [
        (e["row"], e["column"], e["message"]) for e in body["errors"]
    ]


def test_a_clean_preview_writes_nothing_then_the_import_writes(api: Api) -> None:
    content = filled_template(api, [GOOD, SECOND])

    first = api.upload("import/preview", content).json()
    again = api.upload("import/preview", content).json()  # nothing was left behind by the first
    for body in (first, again):
        assert (body["ok"], body["rows"], body["importable"], body["errors"]) == (True, 2, 2, [])
        assert [(r["code"], r["name"], r["education"]) for r in body["sample"]] == [
            ("E1", "王建国", "本科"),
            ("E2", "刘安", "大专"),
        ]
        assert body["sample"][0]["principal"] is True and body["sample"][0]["related_major"] is True
    assert {c["field"]: c["label"] for c in first["columns"]}["education"] == "学历"
    assert (api.people_in_db(), api.history_rows()) == (0, 0)

    response = api.upload("import", content)
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 2
    listed = api.client.get(BASE, params={"sort": "code"}, headers=api.as_("regulator")).json()["items"]
    assert [(p["code"], p["education"]) for p in listed] == [("E1", "本科"), ("E2", "大专")]
    assert api.history_rows() == 2

    # once in, the same file previews as duplicates of the stored rows: the database is consulted
    after = api.upload("import/preview", content).json()
    assert after["ok"] is False
    assert [(e["row"], e["column"]) for e in after["errors"]] == [(2, "人员编号"), (3, "人员编号")]
    assert all("已存在" in e["message"] for e in after["errors"])
    assert api.people_in_db() == 2


def test_preview_is_for_those_who_may_import(api: Api) -> None:
    content = filled_template(api, [GOOD])
    assert api.client.post(f"{BASE}/import/preview", files={"file": ("a.xlsx", content, XLSX)}).status_code == 401
    assert api.upload("import/preview", content, role="regulator").status_code == 403
    assert api.people_in_db() == 0


def test_preview_of_an_unreadable_file_is_an_error_row_not_a_500(api: Api) -> None:
    response = api.client.post(
        f"{BASE}/import/preview", files={"file": ("notes.txt", b"hello", "text/plain")}, headers=api.as_()
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False and "不支持的文件类型" in body["errors"][0]["message"]
