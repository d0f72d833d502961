"""Excel (.xlsx) and CSV export of a register with Chinese headers, importable again as it is.

Columns: the register's editable fields under their Chinese labels (what import reads), then
record id, version, last change time (Beijing time: Excel has no time zones and the people
reading it are on site) and who made it; import skips those extra columns, so a safety
manager can export, correct in Excel and import the same file. List and object columns
(a hazard source's chemicals) are written as JSON text, which import reads back.

Text that Excel would take for a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR:
CSV/Excel injection) is neutralised: in .xlsx it is stored as a text cell with Excel's quote
prefix (the value itself unchanged, so it imports back as it was), in CSV it gets a leading
``'`` as the audit log's CSV does (import removes it again). Numbers are left alone.

``export_template`` is the import template: the same headers, no rows.

Example:
    >>> from registers.certificates.service import register
    >>> export_header(register)[:3]
    ['证照类型', '证照编号', '证照名称']
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any, get_args
from zoneinfo import ZoneInfo

from pydantic_core import to_jsonable_python

from registers.framework.importing import EXPORT_ONLY_LABELS, FORMULA_PREFIXES, is_formula_like
from registers.framework.service import Register

__all__ = [
    "FORMULA_PREFIXES",
    "MAX_EXPORT_ROWS",
    "export_csv",
    "export_header",
    "export_rows",
    "export_template",
    "export_xlsx",
    "is_formula_like",
]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MAX_EXPORT_ROWS = 100_000
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
#: Control characters XML 1.0 forbids (openpyxl's ``ILLEGAL_CHARACTERS_RE``; openpyxl itself is
#: imported only when a workbook is written: it costs half a second at start-up).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def _columns(register: Register[Any, Any, Any, Any]) -> list[tuple[str, str]]:
    fields = [(name, register.label(name)) for name in register.fields]
    return fields + list(EXPORT_ONLY_LABELS.items())


def export_header(register: Register[Any, Any, Any, Any]) -> list[str]:
    """The header row of an export (Chinese labels)."""
    return [label for _, label in _columns(register)]


def _value(value: Any) -> Any:
    if isinstance(value, str):
        # rows written by other paths (SQL, old imports) may hold characters XML 1.0 forbids
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None, microsecond=0)
    if isinstance(value, list | tuple | dict):
        # JSON, not "a; b": import reads JSON columns back, so export -> edit -> import round-trips
        text = json.dumps(to_jsonable_python(value), ensure_ascii=False, separators=(", ", ": "))
        return ILLEGAL_CHARACTERS_RE.sub("", text)
    return value


def export_rows(register: Register[Any, Any, Any, Any], records: Iterable[Any]) -> Iterable[list[Any]]:
    """Each record as a row of cell values in header order."""
    names = [name for name, _ in _columns(register)]
    for record in records:
        yield [_value(getattr(record, name)) for name in names]


def export_xlsx(register: Register[Any, Any, Any, Any], records: Iterable[Any]) -> bytes:
    """An .xlsx workbook with one sheet named after the register; bold, frozen header."""
    return _workbook(register, records, notes=False)


def export_template(register: Register[Any, Any, Any, Any]) -> bytes:
    """The import template: an export without rows, each header noting what the column takes.

    The headers are the export's, so a filled-in template and an edited export import alike.
    It has no example row: one left in by mistake would be imported as a record. Instead each
    header cell's comment says whether the column is required, what it means and, for a
    choice, the values allowed.
    """
    return _workbook(register, (), notes=True)


def _header_note(register: Register[Any, Any, Any, Any], name: str) -> str:
    info = register.create_schema.model_fields.get(name)
    if info is None:
        return "导出时填写，导入时忽略 / written by export, ignored by import"
    parts = ["必填 / required" if info.is_required() else "选填 / optional"]
    if info.description and info.description != register.label(name):
        parts.append(info.description)
    choices = [
        a for a in get_args(info.annotation) or (info.annotation,) if isinstance(a, type) and issubclass(a, Enum)
    ]
    if choices:
        parts.append("可选值 / allowed: " + " / ".join(str(member.value) for member in choices[0]))
    return "\n".join(parts)


def _workbook(register: Register[Any, Any, Any, Any], records: Iterable[Any], *, notes: bool) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=register.title[:31])  # Excel's sheet-name limit
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name, label in _columns(register):
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        if notes:
            cell.comment = Comment(_header_note(register, name), "SafeTwin", height=120, width=240)
        header.append(cell)
    sheet.append(header)
    for row in export_rows(register, records):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str) and is_formula_like(value):
                # openpyxl makes "=..." a formula cell; a text cell with the quote prefix stays
                # text in Excel, even when someone edits it, and reads back unchanged
                cell.data_type = "s"
                cell.quotePrefix = True
            elif isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_csv(register: Register[Any, Any, Any, Any], records: Iterable[Any]) -> bytes:
    """UTF-8 CSV with a BOM (without it Excel on Windows shows the Chinese headers as mojibake)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(export_header(register))
    for row in export_rows(register, records):
        writer.writerow([_csv_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value  # Excel shows it as text, not a formula (import strips the quote again)
    return value
