"""The register framework through its first register (certificates), on SQLite and PostgreSQL.

CRUD with version history and soft delete; list with filter/sort/page/search; Excel and CSV
import that reports every bad row by row and column and writes nothing; export that imports
again; attachments on disk; due-date reminders with a moving clock.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from sqlalchemy.orm import Session

from models.compliance import CertificateKind
from registers.certificates.models import Certificate
from registers.certificates.schemas import CertificateCreate, CertificateUpdate
from registers.certificates.service import register
from registers.db import Base, make_engine
from registers.framework.attachments import (
    AttachmentTooLarge,
    LocalStorage,
    add_attachment,
    list_attachments,
    read_attachment,
    safe_filename,
)
from registers.framework.exporting import export_csv, export_header, export_xlsx
from registers.framework.importing import ImportFailed, import_file
from registers.framework.models import RecordVersion, ReminderSent
from registers.framework.reminders import applicable_lead, due_reminders, pending_reminders
from registers.framework.service import DuplicateValue, InvalidInput, InvalidQuery, RecordNotFound, VersionConflict
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.schemas import HazardSourceCreate
from registers.people import service as people
from registers.people.models import PersonCertificate
from registers.people.schemas import PersonCertificateCreate, PersonCreate

LICENCE = "安全生产许可证"
REGISTRATION = "危险化学品登记证"
T0 = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
HEADER = ["证照类型", "证照编号", "持证单位", "发证机关", "发证日期", "有效期至", "许可范围"]
FRAMEWORK_TABLES = {"register_versions", "register_attachments", "register_reminders", "certificates"}


def licence(number: str = "(粤)WH安许证字[2024]0001", **fields: Any) -> CertificateCreate:
    values: dict[str, Any] = {
        "kind": LICENCE,
        "number": number,
        "holder": "南方化工有限公司",
        "issuer": "广东省应急管理厅",
        "issue_date": date(2024, 3, 1),
        "expiry_date": date(2027, 2, 28),
        "scope": "危险化学品生产：甲醇、液氯",
    }
    values.update(fields)
    return CertificateCreate.model_validate(values)


def count(session: Session, model: type[Any] = Certificate) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


# --- schema ----------------------------------------------------------------------------------


def test_migration_creates_the_framework_tables_as_modelled(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()

    def table_of(entry: Any) -> str | None:
        item = entry[0] if isinstance(entry, list) else entry
        for part in item[1:]:
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(getattr(part, "table", None), "name", None)
            if table in FRAMEWORK_TABLES or name in FRAMEWORK_TABLES:
                return table or name
        return None

    assert [d for d in diff if table_of(d)] == []


# --- create / update / history / delete ------------------------------------------------------


def test_create_update_and_history_say_who_when_what(session: Session) -> None:
    record = register.create(session=session, data=licence(), actor="zhang.san")
    assert (record.version, record.created_by) == (1, "zhang.san")
    updated = register.update(
        session=session,
        record_id=record.id,
        data=CertificateUpdate(expiry_date=date(2030, 2, 28), holder="南方化工股份有限公司"),
        actor="li.si",
    )
    assert updated.version == 2
    assert updated.updated_by == "li.si"

    history = register.history(session=session, record_id=record.id)
    assert [(h.version, h.action, h.actor) for h in history] == [(1, "create", "zhang.san"), (2, "update", "li.si")]
    assert history[0].changes["number"] == [None, "(粤)WH安许证字[2024]0001"]
    assert history[1].changes == {
        "expiry_date": ["2027-02-28", "2030-02-28"],
        "holder": ["南方化工有限公司", "南方化工股份有限公司"],
    }
    assert history[1].at.tzinfo is not None


def test_an_update_that_changes_nothing_keeps_the_version(session: Session) -> None:
    record = register.create(session=session, data=licence(), actor="a")
    register.update(session=session, record_id=record.id, data=CertificateUpdate(holder="南方化工有限公司"), actor="b")
    assert record.version == 1
    assert len(register.history(session=session, record_id=record.id)) == 1


def test_stale_version_is_a_conflict(session: Session) -> None:
    record = register.create(session=session, data=licence(), actor="a")
    register.update(session=session, record_id=record.id, data=CertificateUpdate(scope="甲醇"), actor="a")
    with pytest.raises(VersionConflict):
        register.update(
            session=session, record_id=record.id, data=CertificateUpdate(scope="液氯"), actor="b", expected_version=1
        )


def test_null_for_a_required_column_is_refused(session: Session) -> None:
    record = register.create(session=session, data=licence(), actor="a")
    with pytest.raises(InvalidInput, match="kind"):
        register.update(session=session, record_id=record.id, data=CertificateUpdate(kind=None), actor="a")


def test_soft_delete_hides_and_restore_brings_back(session: Session) -> None:
    record = register.create(session=session, data=licence(), actor="a")
    register.soft_delete(session=session, record_id=record.id, actor="b")
    with pytest.raises(RecordNotFound):
        register.get(session=session, record_id=record.id)
    assert register.list(session=session).total == 0
    assert register.list(session=session, include_deleted=True).total == 1
    assert count(session) == 1  # still in the table

    register.restore(session=session, record_id=record.id, actor="c")
    assert register.get(session=session, record_id=record.id).deleted_at is None
    history = register.history(session=session, record_id=record.id)
    assert [(h.action, h.actor, h.version) for h in history] == [
        ("create", "a", 1),
        ("delete", "b", 2),
        ("restore", "c", 3),
    ]
    with pytest.raises(RecordNotFound):
        register.restore(session=session, record_id=record.id, actor="c")  # not deleted


def test_unique_number_among_live_records(session: Session) -> None:
    first = register.create(session=session, data=licence("A-1"), actor="a")
    with pytest.raises(DuplicateValue, match="A-1"):
        register.create(session=session, data=licence("A-1"), actor="a")
    register.soft_delete(session=session, record_id=first.id, actor="a")
    register.create(session=session, data=licence("A-1"), actor="a")  # the deleted one freed it
    with pytest.raises(DuplicateValue):
        register.restore(session=session, record_id=first.id, actor="a")


# --- list ------------------------------------------------------------------------------------


@pytest.fixture
def ledger(session: Session) -> list[Certificate]:
    records = []
    for i in range(23):
        kind = LICENCE if i % 2 == 0 else REGISTRATION
        holder = "北方石化" if i % 3 == 0 else "南方化工有限公司"
        expiry = date(2027, 1, 1) + timedelta(days=10 * i) if i != 5 else None
        data = licence(f"N-{i:03d}", kind=kind, holder=holder, expiry_date=expiry, issue_date=date(2024, 1, 1))
        records.append(register.create(session=session, data=data, actor="seed"))
    return records


def test_filter_by_kind_and_date_range(session: Session, ledger: list[Certificate]) -> None:
    page = register.list(session=session, filters={"kind": LICENCE}, size=100)
    assert page.total == 12
    assert {r.kind for r in page.items} == {LICENCE}
    page = register.list(
        session=session, filters={"expiry_date__gte": "2027-02-01", "expiry_date__lte": date(2027, 3, 2)}, size=100
    )
    assert sorted(r.number or "" for r in page.items) == ["N-004", "N-006"]  # N-005 has no expiry date
    assert register.list(session=session, filters={"is_complete": "false"}).total == 1


def test_sort_and_pages_cover_everything_once(session: Session, ledger: list[Certificate]) -> None:
    seen: list[str] = []
    for page_number in range(1, 6):
        page = register.list(session=session, sort="-expiry_date", page=page_number, size=5)
        assert page.total == 23
        seen.extend(r.number or "" for r in page.items)
    assert sorted(seen) == sorted(r.number or "" for r in ledger)
    assert seen[0] == "N-022"
    assert seen[-1] == "N-005"  # NULL last on both backends
    by_holder = register.list(session=session, sort="holder,-number", size=3).items
    assert [r.number for r in by_holder] == ["N-021", "N-018", "N-015"]


def test_search_every_word_in_any_searchable_field(session: Session, ledger: list[Certificate]) -> None:
    assert register.list(session=session, q="北方", size=100).total == 8
    assert register.list(session=session, q="北方 N-00", size=100).total == 4  # N-000, 003, 006, 009
    assert register.list(session=session, q="液氯", size=100).total == 23
    assert register.list(session=session, q="100%_", size=100).total == 0  # LIKE wildcards are literal


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"sort": "password"}, "sort"),
        ({"filters": {"password": "x"}}, "password"),
        ({"filters": {"expiry_date__gte": "next week"}}, "expiry_date__gte"),
        ({"filters": {"holder__gte": "a"}}, "holder__gte"),
        ({"page": 0}, "page"),
        ({"size": 501}, "size"),
    ],
)
def test_bad_list_parameters_name_the_parameter(session: Session, kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidQuery) as err:
        register.list(session=session, **kwargs)
    assert err.value.parameter == parameter


# --- import ----------------------------------------------------------------------------------


def ledger_rows(n: int, *, bad: bool) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [LICENCE, f"WH-{i:05d}", f"化工企业{i % 97}", "省应急管理厅", date(2024, 1, 1), date(2027, 1, 1), "甲醇"]
        for i in range(n)
    ]
    if bad:
        rows[1000][5] = "明年"  # spreadsheet row 1002: not a date
        rows[5000][0] = "营业执照"  # row 5002: not a kind this register keeps
        rows[9997][4], rows[9997][5] = date(2027, 1, 1), date(2026, 1, 1)  # row 9999: expires before issue
    return rows


def xlsx(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("台账")
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[Any]], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue().encode(encoding)


@pytest.fixture(scope="module")
def big_files() -> dict[str, bytes]:
    return {"bad": xlsx(HEADER, ledger_rows(10_000, bad=True)), "good": xlsx(HEADER, ledger_rows(10_000, bad=False))}


@pytest.mark.slow
def test_excel_import_reports_every_bad_row_and_writes_nothing(session: Session, big_files: dict[str, bytes]) -> None:
    with pytest.raises(ImportFailed) as failed:
        import_file(register, session=session, content=big_files["bad"], filename="证照台账.xlsx", actor="zhang.san")
    report = failed.value.report
    assert report.rows == 10_000
    assert report.imported == 0
    assert [(e.row, e.column, e.field) for e in report.errors] == [
        (1002, "有效期至", "expiry_date"),
        (5002, "证照类型", "kind"),
        (9999, "有效期至", "expiry_date"),
    ]
    assert "日期格式错误" in report.errors[0].message
    assert "有效期至不能早于发证日期" in report.errors[2].message
    assert count(session) == 0
    assert count(session, ReminderSent) == 0

    # the safety manager fixes the three rows and imports again: all of it lands
    fixed = import_file(
        register, session=session, content=big_files["good"], filename="证照台账.xlsx", actor="zhang.san"
    )
    assert (fixed.rows, fixed.imported, fixed.errors) == (10_000, 10_000, ())
    assert count(session) == 10_000
    sample = register.list(session=session, filters={"holder": "化工企业5"}, sort="number", size=1).items[0]
    assert (sample.number, sample.expiry_date, sample.created_by, sample.is_complete) == (
        "WH-00005",
        date(2027, 1, 1),
        "zhang.san",
        True,
    )
    history = register.history(session=session, record_id=sample.id)
    assert [(h.action, h.actor, h.changes["number"]) for h in history] == [("import", "zhang.san", [None, "WH-00005"])]


def test_csv_import_with_english_headers_and_gbk(session: Session) -> None:
    header = ["kind", "number", "holder", "expiry date", "issue_date"]
    rows = [[REGISTRATION, f"HX-{i}", "北方石化", "2028-06-30", "2025-07-01"] for i in range(50)]
    rows[7][3] = "2028-13-01"
    rows[20][0] = ""
    with pytest.raises(ImportFailed) as failed:
        import_file(register, session=session, content=csv_bytes(header, rows), filename="a.csv", actor="a")
    assert [(e.row, e.column) for e in failed.value.report.errors] == [(9, "expiry date"), (22, "kind")]
    assert count(session) == 0

    rows[7][3], rows[20][0] = "2028-12-01", REGISTRATION
    report = import_file(
        register, session=session, content=csv_bytes(header, rows, "gb18030"), filename="b.csv", actor="a"
    )
    assert report.imported == 50
    assert register.list(session=session, q="北方石化").total == 50


def test_header_problems_are_reported_on_row_one(session: Session) -> None:
    content = csv_bytes(["证照编号", "密码", "持证单位", "持证单位"], [["A", "x", "B", "C"]])
    with pytest.raises(ImportFailed) as failed:
        import_file(register, session=session, content=content, filename="a.csv", actor="a")
    assert {(e.row, e.column, e.message.split(" /")[0]) for e in failed.value.report.errors} == {
        (1, "密码", "未知列，请使用模板中的列名"),
        (1, "持证单位", "列重复"),
        (1, "证照类型", "缺少必填列"),
    }


def test_duplicate_numbers_in_the_file_and_in_the_register(session: Session) -> None:
    register.create(session=session, data=licence("A-1"), actor="a")
    rows = [[LICENCE, "A-1"], [LICENCE, "B-2"], [LICENCE, "B-2"]]
    with pytest.raises(ImportFailed) as failed:
        import_file(
            register, session=session, content=xlsx(["证照类型", "证照编号"], rows), filename="a.xlsx", actor="a"
        )
    assert [(e.row, e.column) for e in failed.value.report.errors] == [(2, "证照编号"), (4, "证照编号")]
    assert count(session) == 1


def test_unreadable_files_are_an_import_error(session: Session) -> None:
    for content, name in [(b"PK\x03\x04junk", "a.xlsx"), (b"", "a.csv"), (b"x", "a.pdf")]:
        with pytest.raises(ImportFailed) as failed:
            import_file(register, session=session, content=content, filename=name, actor="a")
        assert failed.value.report.errors[0].row == 1


# --- export ----------------------------------------------------------------------------------


def test_excel_and_csv_export_round_trip(session: Session, ledger: list[Certificate]) -> None:
    before = {r.number: register.snapshot(r) for r in ledger}
    records = list(session.scalars(register.query()))
    workbook = export_xlsx(register, records)
    sheet = load_workbook(io.BytesIO(workbook), read_only=True).worksheets[0]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header == export_header(register)
    assert header[:3] == ["证照类型", "证照编号", "证照名称"]
    table = export_csv(register, records)
    assert table.startswith("\ufeff".encode())

    for content, filename in [(workbook, "export.xlsx"), (table, "export.csv")]:
        for record in register.list(session=session, size=500).items:
            register.soft_delete(session=session, record_id=record.id, actor="a")
        report = import_file(register, session=session, content=content, filename=filename, actor="a")
        assert report.imported == len(ledger)
        after = {r.number: register.snapshot(r) for r in register.list(session=session, size=500).items}
        assert after == before


# --- attachments -----------------------------------------------------------------------------


def test_attachments_are_stored_once_by_hash_and_versioned(session: Session, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "uploads")
    record = register.create(session=session, data=licence(), actor="a")
    scan = b"%PDF-1.7 licence scan" * 100
    first = add_attachment(
        register,
        session=session,
        storage=storage,
        record_id=record.id,
        filename="../许可证 扫描件.pdf",
        content=scan,
        content_type="application/pdf",
        actor="zhang.san",
    )
    add_attachment(
        register,
        session=session,
        storage=storage,
        record_id=record.id,
        filename="copy.pdf",
        content=scan,
        content_type=None,
        actor="zhang.san",
    )
    assert first.filename == "许可证_扫描件.pdf"
    assert first.size == len(scan)
    assert [a.filename for a in list_attachments(register, session=session, record_id=record.id)] == [
        "许可证_扫描件.pdf",
        "copy.pdf",
    ]
    assert read_attachment(storage, first) == scan
    assert len([p for p in (tmp_path / "uploads").rglob("*") if p.is_file()]) == 1
    assert record.version == 3
    assert register.history(session=session, record_id=record.id)[-1].action == "attach"
    with pytest.raises(AttachmentTooLarge):
        add_attachment(
            register,
            session=session,
            storage=storage,
            record_id=record.id,
            filename="big.bin",
            content=b"x" * 11,
            content_type=None,
            actor="a",
            max_bytes=10,
        )
    (tmp_path / "uploads" / first.storage_key).write_bytes(b"tampered")
    with pytest.raises(ValueError, match="corrupted"):
        read_attachment(storage, first)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("a/b/c.pdf", "c.pdf"),
        ("..\\..\\x.xlsx", "x.xlsx"),
        ("\x00\n", "attachment"),
        ("报告 (终版).docx", "报告_(终版).docx"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


# --- reminders -------------------------------------------------------------------------------


def walk(session: Session, start: datetime, days: int) -> Iterator[tuple[int, Any]]:
    for day in range(days):
        for reminder in due_reminders([register], session=session, now=start + timedelta(days=day)):
            yield day, reminder


def test_reminders_fire_once_each_as_the_clock_moves(session: Session) -> None:
    today = T0.date()
    far = register.create(session=session, data=licence("FAR", expiry_date=today + timedelta(days=100)), actor="a")
    near = register.create(session=session, data=licence("NEAR", expiry_date=today + timedelta(days=20)), actor="a")
    lapsed = register.create(session=session, data=licence("LAPSED", expiry_date=today - timedelta(days=3)), actor="a")
    register.create(session=session, data=licence("CANCELLED", status="注销", expiry_date=today), actor="a")
    gone = register.create(session=session, data=licence("GONE", expiry_date=today + timedelta(days=5)), actor="a")
    register.soft_delete(session=session, record_id=gone.id, actor="a")
    register.create(session=session, data=licence("NO-DATE", expiry_date=None), actor="a")

    fired = [(day, r.record_id, r.lead_days) for day, r in walk(session, T0, 111)]
    assert fired == [
        (0, lapsed.id, 0),  # already expired: once, at once
        (0, near.id, 30),  # entered 20 days before expiry: the 30-day reminder only, not 90 as well
        (10, far.id, 90),
        (13, near.id, 7),
        (20, near.id, 0),
        (70, far.id, 30),
        (93, far.id, 7),
        (100, far.id, 0),
    ]
    # the same clock again, or any later one: nothing fires twice
    assert due_reminders([register], session=session, now=T0 + timedelta(days=110)) == []
    assert count(session, ReminderSent) == 8


def test_reminder_message_and_renewal(session: Session) -> None:
    record = register.create(session=session, data=licence("R-1", expiry_date=date(2027, 1, 31)), actor="a")
    (reminder,) = due_reminders([register], session=session, now=T0)
    assert reminder.message == "证照与报告「安全生产许可证 R-1」有效期将于 2027-01-31 到期，还剩 30 天"
    assert pending_reminders([register], session=session, now=T0) == []
    # renewed: a new expiry date is reminded about again
    register.update(
        session=session, record_id=record.id, data=CertificateUpdate(expiry_date=date(2027, 3, 31)), actor="a"
    )
    assert [r.lead_days for r in due_reminders([register], session=session, now=T0)] == [90]


def test_the_plant_calendar_decides_the_day(session: Session) -> None:
    register.create(session=session, data=licence("TZ", expiry_date=date(2027, 1, 9)), actor="a")
    # 2027-01-01 16:30 UTC is already 2027-01-02 00:30 in Beijing: 7 days left, the 7-day reminder
    # fires although the UTC date still says 8
    midnight = datetime(2027, 1, 1, 16, 0, tzinfo=UTC)
    assert [r.lead_days for r in due_reminders([register], session=session, now=midnight - timedelta(hours=1))] == [30]
    fired = due_reminders([register], session=session, now=midnight + timedelta(minutes=30))
    assert [(r.lead_days, r.days_left) for r in fired] == [(7, 7)]


@given(
    due_in=st.integers(-400, 400),
    steps=st.lists(st.integers(0, 60), min_size=1, max_size=30),
)
def test_leads_only_shrink_as_time_passes(due_in: int, steps: list[int]) -> None:
    start = date(2027, 1, 1)
    due = start + timedelta(days=due_in)
    leads = (90, 30, 7, 0)
    today, previous = start, None
    for step in steps:
        today += timedelta(days=step)
        lead = applicable_lead(due, today=today, lead_days=leads)
        if previous is not None:
            assert lead is not None
            assert lead <= previous
        if lead is not None:
            assert (due - today).days <= lead
            assert all((due - today).days > smaller for smaller in leads if smaller < lead)
            previous = lead


# --- create-time rules shared by create and import -------------------------------------------


def _person(session: Session, code: str) -> int:
    record = people.persons.create(session=session, data=PersonCreate(code=code, name=f"员工{code}"), actor="a")
    return record.id


def test_import_checks_references_like_create_and_writes_nothing(session: Session) -> None:
    """A certificate naming a missing or deleted person: a row error, not an IntegrityError (500)."""
    alive, gone = _person(session, "E001"), _person(session, "E002")
    people.persons.soft_delete(session=session, record_id=gone, actor="a")
    header = ["人员ID", "证书类型", "证书编号"]
    rows = [[alive, "特种作业操作证", "T-1"], [999_999, "特种作业操作证", "T-2"], [gone, "安全资格证", "T-3"]]
    for content, name in [(xlsx(header, rows), "证书.xlsx"), (csv_bytes(header, rows), "证书.csv")]:
        with pytest.raises(ImportFailed) as failed:
            import_file(people.certificates, session=session, content=content, filename=name, actor="a")
        errors = failed.value.report.errors
        assert [(e.row, e.column, e.field) for e in errors] == [(3, "人员ID", "person_id"), (4, "人员ID", "person_id")]
        assert "999999 不存在" in errors[0].message
        assert count(session, PersonCertificate) == 0
    # the form refuses the same row with the same words
    with pytest.raises(InvalidInput, match="不存在"):
        people.certificates.create(
            session=session, data=PersonCertificateCreate(person_id=gone, kind=CertificateKind.OTHER), actor="a"
        )
    # a schema error in one row does not hide a reference error in another
    rows[0][1] = "驾驶证"
    with pytest.raises(ImportFailed) as failed:
        import_file(people.certificates, session=session, content=xlsx(header, rows), filename="a.xlsx", actor="a")
    assert [(e.row, e.field) for e in failed.value.report.errors] == [(2, "kind"), (3, "person_id"), (4, "person_id")]

    rows[0][1], rows[1][0], rows[2][0] = "特种作业操作证", alive, alive
    report = import_file(people.certificates, session=session, content=xlsx(header, rows), filename="a.xlsx", actor="a")
    assert (report.imported, count(session, PersonCertificate)) == (3, 3)


def test_a_whole_record_check_runs_on_every_imported_row(session: Session) -> None:
    """``Register.check`` (e.g. a rule across two fields) refuses an imported row as it refuses a form."""

    def no_t_numbers(values: Any) -> None:
        if str(values.get("number") or "").startswith("T"):
            raise InvalidInput("number", "编号不能以 T 开头 / must not start with T")  # noqa: EM101 - the field name

    strict = dataclasses.replace(people.certificates, check=no_t_numbers)
    alive = _person(session, "E010")
    rows = [[alive, "其他", "A-1"], [alive, "其他", "T-9"]]
    with pytest.raises(ImportFailed) as failed:
        import_file(
            strict,
            session=session,
            content=csv_bytes(["人员ID", "证书类型", "证书编号"], rows),
            filename="a.csv",
            actor="a",
        )
    assert [(e.row, e.column, e.message) for e in failed.value.report.errors] == [
        (3, "证书编号", "编号不能以 T 开头 / must not start with T")
    ]
    assert count(session, PersonCertificate) == 0


def test_a_database_refusal_during_import_is_an_import_error(session: Session) -> None:
    """Safety net: a constraint the register does not declare (here: the foreign key, with the
    reference check left out of the declaration) fails the import cleanly, nothing half-written."""
    unchecked = dataclasses.replace(people.certificates, references={})
    alive = _person(session, "E020")
    rows = [[alive, "其他", "A-1"], [424_242, "其他", "A-2"]]
    with pytest.raises(ImportFailed) as failed:
        import_file(
            unchecked,
            session=session,
            content=xlsx(["人员ID", "证书类型", "证书编号"], rows),
            filename="a.xlsx",
            actor="a",
        )
    (error,) = failed.value.report.errors
    assert "数据库拒绝写入，未导入任何数据" in error.message
    assert count(session, PersonCertificate) == 0
    assert count(session, RecordVersion) == 1  # only the person's own creation: no orphan history
    session.flush()  # the session is still usable after the savepoint's rollback
    assert people.persons.get(session=session, record_id=alive).code == "E020"


def test_json_list_columns_export_as_json_and_import_back(session: Session) -> None:
    """Hazard sources keep their chemicals as a JSON list: export -> import gives the same sources."""
    chlorine = {"name": "氯", "cas": "7782-50-5", "quantity_t": 60}
    methanol = {"name": "甲醇", "cas": "67-56-1", "quantity_t": 3200}
    for code, chemicals in [("MHS-01", [chlorine]), ("MHS-02", [chlorine, {**methanol, "categories": ["W5.3"]}])]:
        hazard_sources.register.create(
            session=session,
            data=HazardSourceCreate.model_validate(
                {"code": code, "name": f"罐区{code}", "unit_kind": "storage", "chemicals": chemicals, "alpha": 1.5}
            ),
            actor="a",
        )
    records = list(session.scalars(hazard_sources.register.query()))
    before = {r.code: hazard_sources.register.snapshot(r) for r in records}
    workbook = export_xlsx(hazard_sources.register, records)
    sheet = load_workbook(io.BytesIO(workbook), read_only=True).worksheets[0]
    column = export_header(hazard_sources.register).index(hazard_sources.register.label("chemicals"))
    cell = [row[column] for row in sheet.iter_rows(min_row=2, values_only=True)][0]
    assert json.loads(str(cell))[0]["name"] == "氯"
    for content, filename in [(workbook, "危险源.xlsx"), (export_csv(hazard_sources.register, records), "危险源.csv")]:
        for record in hazard_sources.register.list(session=session).items:
            hazard_sources.register.soft_delete(session=session, record_id=record.id, actor="a")
        report = import_file(hazard_sources.register, session=session, content=content, filename=filename, actor="a")
        assert report.imported == 2
        after = {
            r.code: hazard_sources.register.snapshot(r) for r in hazard_sources.register.list(session=session).items
        }
        assert after == before


def test_a_json_cell_that_is_not_json_is_a_row_error(session: Session) -> None:
    header = [hazard_sources.register.label(n) for n in ("code", "name", "unit_kind", "chemicals", "alpha")]
    rows = [["MHS-07", "罐区", "storage", '[{"name": "氯", "quantity_t": 60', 1.5]]
    with pytest.raises(ImportFailed) as failed:
        import_file(hazard_sources.register, session=session, content=xlsx(header, rows), filename="a.xlsx", actor="a")
    (error,) = failed.value.report.errors
    assert (error.row, error.field) == (2, "chemicals")
    assert "JSON" in error.message
