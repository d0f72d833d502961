"""Excel (.xlsx, openpyxl) and CSV import into a register: every error reported, nothing half-imported.

Enterprises keep their ledgers in Excel, so import must take their files as they are: column
headers in Chinese (the labels) or English (the field names), dates as Excel dates or text,
CSV saved by Excel as UTF-8 with BOM or as GBK. Every row is validated with the register's
create schema first and *all* problems are collected as ``(row, column, message)``; only when
there is none are the rows written, in one bulk insert inside a savepoint, so the database
never holds part of a file. A register whose ``create`` does more than insert the row (a
subclass: a work order's number, a calibration's due date carried to its valve, a lifecycle
event's status change) has each row written through that same ``create`` instead, so an
imported row gets exactly what the form would have given it.

Row numbers are the spreadsheet's own: the header is row 1, the first data row is row 2.

Example:
    >>> from registers.certificates.service import register
    >>> header_map(register, ["证照类型", "number", "Holder"])[0]
    {0: 'kind', 1: 'number', 2: 'holder'}
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import IO, Any, Final, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy import JSON, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registers.db import utcnow
from registers.framework.models import RecordVersion
from registers.framework.service import InvalidInput, Register, RegisterError

__all__ = [
    "EXPORT_ONLY_LABELS",
    "FORMULA_PREFIXES",
    "MAX_ROWS",
    "ImportFailed",
    "ImportReport",
    "RowError",
    "creates_with_hooks",
    "header_map",
    "import_file",
    "import_rows",
    "is_formula_like",
    "read_table",
]

MAX_ROWS = 100_000
WHOLE_ROW = "(整行)"

# Columns that export writes for people (id, version, ...) and import skips, so an exported
# file can be edited and imported again.
EXPORT_ONLY_LABELS: Mapping[str, str] = {
    "id": "记录ID",
    "version": "版本",
    "updated_at": "更新时间",
    "updated_by": "更新人",
}

#: What makes Excel (and LibreOffice) evaluate a cell's text as a formula (OWASP CSV injection);
#: export neutralises such text, import undoes what the CSV export added.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would evaluate ``text`` (a plain number such as ``-12.5`` it would not)."""
    return text.startswith(FORMULA_PREFIXES) and _PLAIN_NUMBER.fullmatch(text) is None


_ZH_MESSAGES: Mapping[str, str] = {
    "missing": "必填项为空",
    "string_too_long": "内容过长",
    "string_too_short": "内容过短",
    "date_from_datetime_parsing": "日期格式错误，应为 YYYY-MM-DD",
    "date_parsing": "日期格式错误，应为 YYYY-MM-DD",
    "date_type": "日期格式错误，应为 YYYY-MM-DD",
    "datetime_parsing": "时间格式错误",
    "int_parsing": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为 是/否",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "value_error": "取值无效",
    "list_type": '应为 JSON 列表，如 ["a", "b"]',
    "dict_type": '应为 JSON 对象，如 {"a": 1}',
}


@dataclass(frozen=True)
class RowError:
    """One problem in the file: spreadsheet row, column as headed in the file, field, message."""

    row: int
    column: str
    field: str | None
    message: str


@dataclass(frozen=True)
class ImportReport:
    """Outcome of an import: how many data rows were read and written, and every error."""

    register_name: str
    rows: int
    imported: int
    errors: tuple[RowError, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing was wrong and every row was written."""
        return not self.errors


class ImportFailed(RegisterError):
    """The file had errors; nothing was written. ``report`` lists them all."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(f"导入失败，共 {len(report.errors)} 处错误 / import failed with {len(report.errors)} errors")


# --- reading files ---------------------------------------------------------------------------


def read_table(content: bytes, filename: str) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """Header and ``(row_number, cells)`` of the first sheet of an .xlsx, or of a .csv.

    Raises:
        ValueError: unknown extension, unreadable file or no header row.
    """
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix in ("xlsx", "xlsm"):
        rows = _xlsx_rows(content)
    elif suffix == "csv":
        rows = _csv_rows(content)
    else:
        msg = f"不支持的文件类型 / unsupported file type {filename!r}: use .xlsx or .csv"
        raise ValueError(msg)
    try:
        _, header_cells = next(rows)
    except StopIteration:
        msg = "文件为空 / the file has no header row"
        raise ValueError(msg) from None
    header = ["" if c is None else str(c).strip() for c in header_cells]
    return header, rows


def _xlsx_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    """Rows of the first worksheet, read with openpyxl's workbook reader and a fast sheet parser."""
    from openpyxl.reader.excel import ExcelReader  # on first use: openpyxl is slow to import
    from openpyxl.styles.stylesheet import apply_stylesheet

    try:
        reader = ExcelReader(io.BytesIO(content), read_only=True, data_only=True)
        reader.read_manifest()
        reader.read_strings()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        targets = [rel.target for _sheet, rel in reader.parser.find_sheets() if "chartsheet" not in rel.Type]
    except Exception as err:  # openpyxl raises zipfile, KeyError, ValueError... on junk
        msg = f"无法读取 Excel 文件 / not a readable .xlsx file: {err}"
        raise ValueError(msg) from err
    if not targets:
        msg = "Excel 文件没有工作表 / the workbook has no worksheet"
        raise ValueError(msg)
    try:
        with reader.archive.open(targets[0]) as source:
            date_styles: set[int] = set(reader.wb._date_formats)  # type: ignore[attr-defined]
            yield from _sheet_rows(source, reader.shared_strings, date_styles, reader.wb.epoch)
    except (ET.ParseError, KeyError, IndexError, ValueError) as err:
        msg = f"无法读取 Excel 工作表 / broken worksheet: {err}"
        raise ValueError(msg) from err
    finally:
        reader.archive.close()


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_ROW, _CELL, _VALUE = _NS + "row", _NS + "c", _NS + "v"


def _column_index(ref: str) -> int:
    index = 0
    for ch in ref:
        if not ch.isalpha():
            break
        index = index * 26 + (ord(ch.upper()) - 64)
    return index - 1


def _sheet_rows(
    source: IO[bytes], shared: Sequence[Any], date_styles: set[int], epoch: datetime
) -> Iterator[tuple[int, list[Any]]]:
    """Rows of a worksheet part, parsed with the C XML parser.

    Why not ``iter_rows``: openpyxl builds a cell object per value and reads 10,000 ledger
    rows in about two seconds, which alone would miss the 5,000 rows/s import target. This
    reads the same XML (shared strings, inline strings, booleans, date styles from openpyxl's
    own workbook reader) several times faster; numbers stay text, as in a CSV.
    """
    from openpyxl.utils.datetime import from_excel

    number = 0
    cells: dict[int, Any] = {}
    next_column = 0
    for _event, element in ET.iterparse(source, events=("end",)):
        tag = element.tag
        if tag == _CELL:
            ref = element.get("r")
            column = _column_index(ref) if ref else next_column
            next_column = column + 1
            kind = element.get("t", "n")
            value_element = element.find(_VALUE)
            text = value_element.text if value_element is not None else None
            value: Any
            if kind == "s":
                value = shared[int(text)] if text is not None else None
            elif kind == "inlineStr":
                value = "".join(element.itertext())
            elif kind == "b":
                value = text == "1"
            elif text is None or kind in ("str", "e", "d"):
                value = text
            elif int(element.get("s", "0")) in date_styles:
                value = from_excel(float(text), epoch)
            else:
                value = text
            cells[column] = value
        elif tag == _ROW:
            r = element.get("r")
            number = int(r) if r else number + 1
            width = max(cells) + 1 if cells else 0
            yield number, [cells.get(i) for i in range(width)]
            cells, next_column = {}, 0
            element.clear()


def _csv_rows(content: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("gb18030", errors="replace")  # Excel on Chinese Windows saves GBK
    for number, values in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        # the export wrote "'=..." so Excel shows text, not a formula: the value is what follows
        yield number, [v[1:] if v[:1] == "'" and is_formula_like(v[1:]) else v for v in values]


# --- header and cells ------------------------------------------------------------------------


def _norm(text: str) -> str:
    return "".join(text.split()).replace("_", "").replace("（", "(").replace("）", ")").lower()


def header_map(register: Register[Any, Any, Any, Any], header: Sequence[str]) -> tuple[dict[int, str], list[RowError]]:
    """Map header cells to fields by Chinese label or English field name.

    Returns:
        ``{column_index: field}`` and the header's errors (unknown, repeated or missing
        required columns), all reported on row 1.
    """
    names: dict[str, str] = {}
    for name in register.fields:
        label = register.label(name)
        for alias in (name, name.replace("_", " "), label, f"{label}({name})"):
            names[_norm(alias)] = name
    # The form's title of a field (its schema description, e.g. 证照/报告名称) names it too,
    # unless it is another field's label or name.
    for name, info in register.create_schema.model_fields.items():
        if info.description:
            for alias in (info.description, info.description.split(" (")[0]):
                names.setdefault(_norm(alias), name)
    skip = {_norm(a) for k, v in EXPORT_ONLY_LABELS.items() for a in (k, v)}
    skip |= {_norm(register.label(n)) for n in register.data_fields if n not in register.fields}
    mapping: dict[int, str] = {}
    errors: list[RowError] = []
    for index, cell in enumerate(header):
        if not cell:
            continue
        text = str(cell)
        key = _norm(text)
        field_name = names.get(key)
        if field_name is None:
            if key not in skip:
                errors.append(RowError(1, text, None, "未知列，请使用模板中的列名 / unknown column"))
            continue
        if field_name in mapping.values():
            errors.append(RowError(1, text, field_name, "列重复 / column appears twice"))
            continue
        mapping[index] = field_name
    for name, info in register.create_schema.model_fields.items():
        if info.is_required() and name not in mapping.values():
            errors.append(RowError(1, register.label(name), name, "缺少必填列 / required column missing"))
    return mapping, errors


def _cell(value: Any) -> Any:
    """One cell as text (or None), so .xlsx and .csv validate identically with pydantic."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a certificate number typed into Excel comes back as 12345.0
    text = str(value).strip()
    return text or None


def _message(error: Mapping[str, Any]) -> str:
    zh = _ZH_MESSAGES.get(str(error.get("type", "")))
    msg = str(error.get("msg", ""))
    return f"{zh} / {msg}" if zh else msg


# --- import ----------------------------------------------------------------------------------


def import_file(
    register: Register[Any, Any, Any, Any],
    *,
    session: Session,
    content: bytes,
    filename: str,
    actor: str | None,
) -> ImportReport:
    """Import an .xlsx or .csv file into ``register``: all rows or none.

    Raises:
        ImportFailed: any header or row error (``err.report`` lists them all); nothing written.
    """
    try:
        header, rows = read_table(content, filename)
    except ValueError as err:
        raise ImportFailed(ImportReport(register.name, 0, 0, (RowError(1, "", None, str(err)),))) from err
    return import_rows(register, session=session, header=header, rows=rows, actor=actor)


def import_rows(
    register: Register[Any, Any, Any, Any],
    *,
    session: Session,
    header: Sequence[str],
    rows: Iterable[tuple[int, Sequence[Any]]],
    actor: str | None,
) -> ImportReport:
    """Validate every row with the create schema, then bulk-insert all of them, or raise.

    Args:
        register: the target register.
        session: the request's session; rows and history are flushed, not committed.
        header: header cells (labels or field names).
        rows: ``(row_number, cells)`` in header order; blank rows are skipped.
        actor: username recorded as creator and in history.

    Raises:
        ImportFailed: with every error found; the database is left as it was.
    """
    mapping, errors = header_map(register, header)
    if errors:
        raise ImportFailed(ImportReport(register.name, 0, 0, tuple(errors)))
    columns = {name: header[index] for index, name in mapping.items()}
    json_fields = _json_fields(register)
    bool_fields = _bool_fields(register.create_schema)
    numbers: list[int] = []
    raws: list[dict[str, Any]] = []
    for number, cells in rows:
        raw = {name: _cell(cells[index]) for index, name in mapping.items() if index < len(cells)}
        raw = {k: v for k, v in raw.items() if v is not None}
        if not raw:
            continue  # a blank line between blocks of a ledger is not an error
        for name in json_fields.intersection(raw):
            raw[name] = _json_cell(raw[name])
        for name in bool_fields.intersection(raw):
            raw[name] = _YES_NO.get(raw[name], raw[name])
        if len(raws) >= MAX_ROWS:
            errors.append(RowError(number, WHOLE_ROW, None, f"超过 {MAX_ROWS} 行，请分批导入 / too many rows"))
            break
        numbers.append(number)
        raws.append(raw)
    # One validation call for the whole file: the same per-row rules, a fraction of the overhead.
    adapter = _list_adapter(register.create_schema)
    kept = list(range(len(raws)))  # indexes of the rows the schema accepts
    try:
        items = adapter.validate_python(raws)
    except ValidationError as err:
        bad: set[int] = set()
        for e in err.errors():
            index = int(e["loc"][0])
            field_name = str(e["loc"][1]) if len(e["loc"]) > 1 else None
            column = columns.get(field_name, register.label(field_name)) if field_name else WHOLE_ROW
            errors.append(RowError(numbers[index], column, field_name, _message(e)))
            bad.add(index)
        # Rows validate independently: the others are checked against the database too, so
        # one import attempt reports every problem of the file, not only the schema's.
        kept = [i for i in kept if i not in bad]
        items = adapter.validate_python([raws[i] for i in kept])
    values: list[dict[str, Any]] = adapter.dump_python(items)
    good = [(numbers[i], v) for i, v in zip(kept, values, strict=True)]
    kept_items = [(numbers[i], item) for i, item in zip(kept, items, strict=True)]
    errors.extend(_unique_errors(register, session, good, columns))
    for index, problem in register.validate_rows(session, values):
        column = columns.get(problem.field, register.label(problem.field))
        errors.append(RowError(good[index][0], column, problem.field, problem.message))
    report = ImportReport(register.name, len(raws), 0, tuple(sorted(errors, key=lambda e: (e.row, e.column))))
    if errors:
        raise ImportFailed(report)
    if creates_with_hooks(register):
        _create_each(register, session, kept_items, columns, actor, report)
    else:
        _insert(register, session, values, actor, report)
    return ImportReport(register.name, len(raws), len(values))


def creates_with_hooks(register: Register[Any, Any, Any, Any]) -> bool:
    """Whether the register's ``create`` is its own (it fills in, numbers or updates more than the row)."""
    return type(register).create is not Register.create


def _create_each(
    register: Register[Any, Any, Any, Any],
    session: Session,
    items: Sequence[tuple[int, BaseModel]],
    columns: Mapping[str, str],
    actor: str | None,
    report: ImportReport,
) -> None:
    """Write each row through ``register.create``, all inside one savepoint: all rows or none.

    Rows are created in file order; a row its create refuses is tried again once the others
    are in, so a row may depend on a later one (an equipment node listed before its parent),
    as the file checks allow. What is still refused becomes a row error and the savepoint is
    rolled back. History says ``import``, as for a bulk-inserted row.

    Raises:
        ImportFailed: create refused a row (a rule only it knows); nothing is written.
    """
    savepoint = session.begin_nested()
    try:
        created, refused = _create_rows(register, session, items, actor)
    except BaseException:
        savepoint.rollback()  # an unexpected error: leave the session as it was, then let it through
        raise

    if refused:
        savepoint.rollback()
        errors = tuple(_create_error(register, number, err, columns) for number, _, err in refused)
        raise ImportFailed(ImportReport(register.name, report.rows, 0, errors))
    for start in range(0, len(created), 500):
        session.execute(
            update(RecordVersion)
            .where(
                RecordVersion.register == register.name,
                RecordVersion.record_id.in_(created[start : start + 500]),
                RecordVersion.version == 1,
                RecordVersion.action == "create",
            )
            .values(action="import")
        )
    savepoint.commit()


def _create_rows(
    register: Register[Any, Any, Any, Any],
    session: Session,
    items: Sequence[tuple[int, BaseModel]],
    actor: str | None,
) -> tuple[list[int], list[tuple[int, BaseModel, Exception]]]:
    """Create the rows in passes until a pass makes no progress: ids created, rows refused."""
    created: list[int] = []
    refused: list[tuple[int, BaseModel, Exception]] = []
    pending = list(items)
    while pending:
        refused = []
        for number, item in pending:
            try:
                with session.begin_nested():  # a refused row leaves nothing behind
                    record = register.create(session=session, data=item, actor=actor)
            except (RegisterError, DBAPIError) as err:
                refused.append((number, item, err))
            else:
                created.append(record.id)
        if len(refused) == len(pending):
            break  # no progress: what is left is refused for good
        pending = [(number, item) for number, item, _ in refused]
    return created, refused


def _create_error(
    register: Register[Any, Any, Any, Any], number: int, err: Exception, columns: Mapping[str, str]
) -> RowError:
    field_name = getattr(err, "field", None)
    if isinstance(err, InvalidInput):
        message = err.message
    elif isinstance(err, DBAPIError):
        reason = str(err.orig).strip().splitlines()[0] if err.orig is not None else type(err).__name__
        message = f"数据库拒绝写入 / the database refused the row: {reason}"
    else:
        message = str(err)
    column = columns.get(field_name, register.label(field_name)) if field_name else WHOLE_ROW
    return RowError(number, column, field_name, message)


def _json_fields(register: Register[Any, Any, Any, Any]) -> frozenset[str]:
    """Editable fields kept in JSON columns: export writes them as JSON text, import reads it back."""
    columns = {p.key: p for p in sa_inspect(register.model).column_attrs}
    return frozenset(n for n in register.fields if isinstance(columns[n].columns[0].type, JSON))


_YES_NO: Final[Mapping[Any, str]] = {
    "是": "true",
    "否": "false",
    "有": "true",
    "无": "false",
    "√": "true",
    "×": "false",
}
"""How a Chinese ledger writes yes and no (the template's 应为 是/否 asks for the first pair)."""


def _bool_fields(schema: type[BaseModel]) -> frozenset[str]:
    """Yes/no fields of a create schema (``bool`` or ``bool | None``)."""
    return frozenset(
        name
        for name, info in schema.model_fields.items()
        if info.annotation is bool or (bool in get_args(info.annotation) and type(None) in get_args(info.annotation))
    )


def _json_cell(value: Any) -> Any:
    """The list or object a JSON column's cell holds; text that is not JSON goes on to the schema."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # the schema then reports "应为 JSON 列表" on this row and column
    return value


_ADAPTERS: dict[type[BaseModel], TypeAdapter[list[Any]]] = {}


def _list_adapter(schema: type[BaseModel]) -> TypeAdapter[list[Any]]:
    """``TypeAdapter(list[schema])``, built once per schema (building one costs milliseconds)."""
    if schema not in _ADAPTERS:
        _ADAPTERS[schema] = TypeAdapter(list[schema])  # type: ignore[valid-type]
    return _ADAPTERS[schema]


def _unique_errors(
    register: Register[Any, Any, Any, Any],
    session: Session,
    valid: Sequence[tuple[int, Mapping[str, Any]]],
    columns: Mapping[str, str],
) -> list[RowError]:
    errors: list[RowError] = []
    for name in register.unique:
        column = columns.get(name, register.label(name))
        first_row: dict[Any, int] = {}
        for number, values in valid:
            value = values.get(name)
            if value is None:
                continue
            if value in first_row:
                errors.append(RowError(number, column, name, f"与第 {first_row[value]} 行重复 / duplicate in file"))
            else:
                first_row[value] = number
        existing = register.existing_values(session, name, first_row)
        for value, record_id in existing.items():
            errors.append(
                RowError(first_row[value], column, name, f"「{value}」已存在 (#{record_id}) / already registered")
            )
    return errors


def _insert(
    register: Register[Any, Any, Any, Any],
    session: Session,
    rows: Sequence[dict[str, Any]],
    actor: str | None,
    report: ImportReport,
) -> None:
    """One bulk INSERT ... RETURNING id for the rows, one for their history, inside a savepoint.

    Raises:
        ImportFailed: the database refused the rows (a constraint the checks above do not
            know of, e.g. one added by a later migration); the savepoint is rolled back, so
            nothing of the file is written, and the request gets a row error, not a 500.
    """
    if not rows:
        return
    try:
        _insert_rows(register, session, rows, actor)
    except DBAPIError as err:
        reason = str(err.orig).strip().splitlines()[0] if err.orig is not None else type(err).__name__
        message = f"数据库拒绝写入，未导入任何数据 / the database refused the rows, nothing was imported: {reason}"
        error = RowError(1, WHOLE_ROW, None, message)
        raise ImportFailed(ImportReport(register.name, report.rows, 0, (error,))) from err


def _insert_rows(
    register: Register[Any, Any, Any, Any], session: Session, rows: Sequence[dict[str, Any]], actor: str | None
) -> None:
    now = utcnow()
    model = register.model
    stamps = {"version": 1, "created_at": now, "updated_at": now, "created_by": actor, "updated_by": actor}
    params = []
    for values in rows:
        row = dict(values)
        row.update(register.derived_values(values))
        params.append(row)
    changes = [{k: [None, v] for k, v in row.items() if v is not None} for row in to_jsonable_python(params)]
    with session.begin_nested():
        # Core, not ORM, bulk insert: the same multi-row INSERT without per-row ORM bookkeeping.
        table = model.__table__
        ids = session.scalars(
            table.insert().returning(table.c.id, sort_by_parameter_order=True), [{**p, **stamps} for p in params]
        ).all()
        register.record_history_many(
            session,
            [
                {
                    "register": register.name,
                    "record_id": record_id,
                    "version": 1,
                    "action": "import",
                    "actor": actor,
                    "at": now,
                    "changes": change,
                }
                for record_id, change in zip(ids, changes, strict=True)
            ],
        )
