"""``GET {prefix}/import-template``: the import template a user fills in (issue 12).

Before it, 导入 offered only a file picker: a user who typed the list's column headers got
"未知列，请使用模板中的列名" for a template nobody could download. The template has exactly the
export's headers (so an export imports too), and a filled-in template imports.
"""

# ruff: noqa: F811 - the certificates API fixtures are imported, then requested by name
from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.api.test_certificates_api import BASE, LICENCE, Api, api, template  # noqa: F401 - fixtures

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _header(content: bytes) -> list[object]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [cell.value for cell in next(sheet.iter_rows(max_row=1))]


def test_template_has_the_export_headers(api: Api) -> None:
    response = api.client.get(f"{BASE}/import-template", headers=api.as_("safety_manager"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    exported = api.client.get(f"{BASE}/export", headers=api.as_("safety_manager"))
    assert _header(response.content) == _header(exported.content)
    assert _header(response.content)[:3] == ["证照类型", "证照编号", "证照名称"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert sheet.max_row == 1  # no example row that would import as data when left in
    notes = {cell.value: cell.comment.text for cell in sheet[1] if cell.comment is not None}
    assert "必填" in notes["证照类型"] and LICENCE in notes["证照类型"]  # required, and the allowed values


def test_template_is_for_those_who_may_import(api: Api) -> None:
    assert api.client.get(f"{BASE}/import-template").status_code == 401
    assert api.client.get(f"{BASE}/import-template", headers=api.as_("regulator")).status_code == 403


def test_a_filled_template_imports(api: Api) -> None:
    content = api.client.get(f"{BASE}/import-template", headers=api.as_("admin")).content
    book = load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    row = dict.fromkeys(header)
    row.update({"证照类型": LICENCE, "证照编号": "T-1", "持证单位": "南方化工", "有效期至": "2027-02-28"})
    sheet.append([row[h] for h in header])
    buffer = io.BytesIO()
    book.save(buffer)
    response = api.client.post(
        f"{BASE}/import", files={"file": ("模板.xlsx", buffer.getvalue(), XLSX)}, headers=api.as_("admin")
    )
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 1
    listed = api.client.get(BASE, params={"q": "T-1"}, headers=api.as_("admin")).json()["items"]
    assert [(r["number"], r["holder"], r["expiry_date"]) for r in listed] == [("T-1", "南方化工", "2027-02-28")]


def test_the_list_and_form_headers_import_too(api: Api) -> None:
    """A header written as the form titles the field (证照/报告名称) is that field, not an unknown column."""
    csv = f"证照类型,证照编号,证照/报告名称\n{LICENCE},L-1,安全生产许可证正本\n".encode()
    response = api.client.post(f"{BASE}/import", files={"file": ("a.csv", csv, "text/csv")}, headers=api.as_("admin"))
    assert response.status_code == 200, response.text
    listed = api.client.get(BASE, params={"q": "L-1"}, headers=api.as_("admin")).json()["items"]
    assert [r["name"] for r in listed] == ["安全生产许可证正本"]
