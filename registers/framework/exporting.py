"""Excel (.xlsx) and CSV export of a register with Chinese headers, importable again as it is.

Columns: the register's editable fields under their Chinese labels (what import reads), then
record id, version, last change time (Beijing time: Excel has no time zones and the people
reading it are on site) and who made it; import skips those extra columns, so a safety
manager can export, correct in Excel and import the same file. List and object columns
(a hazard source's chemicals) are written as JSON text, which import reads back.

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
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_core import to_jsonable_python

from registers.framework.importing import EXPORT_ONLY_LABELS
from registers.framework.service import Register

__all__ = ["MAX_EXPORT_ROWS", "export_csv", "export_header", "export_rows", "export_xlsx"]

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
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=register.title[:31])  # Excel's sheet-name limit
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for label in export_header(register):
        cell = WriteOnlyCell(sheet, value=label)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in export_rows(register, records):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, datetime):
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
        writer.writerow(["" if v is None else v.isoformat(sep=" ") if isinstance(v, datetime) else v for v in row])
    return buffer.getvalue().encode("utf-8-sig")
