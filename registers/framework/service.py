"""The :class:`Register`: one object per register that gives it its whole service.

Create/read/update/soft-delete, version history and list with filter/sort/page/search, over
any model with :class:`RegisterMixin`.

A register is described as data (model, schemas, which fields are searchable, sortable,
filterable, unique, which are due dates) instead of a subclass with overridden methods, so
every register behaves the same way and a new one is a declaration of ~15 lines. Import,
export, attachments, reminders and the router factory all take a :class:`Register`.

Services only ``flush()``; the caller (the request) commits once.

Example:
    >>> from registers.certificates.service import register as certificates
    >>> certificates.name, certificates.title
    ('certificate', '证照与报告')
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Annotated, Any, Generic, TypeVar, cast

from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python
from sqlalchemy import (
    Column,
    ColumnElement,
    Insert,
    Select,
    String,
    Table,
    Text,
    TypeDecorator,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import ColumnProperty, Session
from sqlalchemy.sql.elements import BindParameter, UnaryExpression

from registers.db import execute_together, fetch_rows, reads_outside_transaction, utcnow
from registers.framework.models import BOOKKEEPING_COLUMNS, RecordVersion, RegisterMixin
from registers.framework.schemas import PageRead

__all__ = [
    "DueDate",
    "DuplicateValue",
    "InvalidInput",
    "InvalidQuery",
    "Page",
    "RecordNotFound",
    "Register",
    "RegisterError",
    "VersionConflict",
    "jsonable",
]

M = TypeVar("M", bound=RegisterMixin)
C = TypeVar("C", bound=BaseModel)
U = TypeVar("U", bound=BaseModel)
R = TypeVar("R", bound=BaseModel)

RANGE_SUFFIXES = ("__gte", "__lte")
# Filter values the database can hold: 64-bit integers, time-zone-aware times.
_FILTER_TYPES: dict[type[Any], Any] = {
    int: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)],
    datetime: AwareDatetime,
}
_RANGE_TYPES = (date, datetime, int, float)
_PAGE_SHAPES = 256
"""How many list-page statements a register keeps (:attr:`Register._page_statements`)."""
# Built once: compiling an INSERT through the ORM on every change cost ~0.15 ms of CPU.
_HISTORY_INSERT: Insert = insert(cast(Table, RecordVersion.__table__))


_FILTER_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _filter_adapter(py_type: type[Any]) -> TypeAdapter[Any]:
    """The validator of a filter value; built once per type (a TypeAdapter is costly to build)."""
    adapter = _FILTER_ADAPTERS.get(py_type)
    if adapter is None:
        adapter = _FILTER_ADAPTERS[py_type] = TypeAdapter(_FILTER_TYPES.get(py_type, py_type))
    return adapter


# --- errors ----------------------------------------------------------------------------------


class RegisterError(Exception):
    """Base of the framework's domain errors; the router maps each subclass to one status code."""


class RecordNotFound(RegisterError, LookupError):
    """No (live) record with that id: 404."""

    def __init__(self, register: str, record_id: int) -> None:
        self.register, self.record_id = register, record_id
        super().__init__(f"记录不存在 / {register} #{record_id} not found")


class VersionConflict(RegisterError):
    """The record changed since the caller read it (optimistic lock): 409."""

    def __init__(self, register: str, record_id: int, expected: int, actual: int) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(
            f"记录已被他人修改，请刷新后重试 / {register} #{record_id} is at version {actual}, not {expected}"
        )


class DuplicateValue(RegisterError, ValueError):
    """A field declared unique already has this value in a live record: 409."""

    def __init__(self, field: str, label: str, value: Any, existing_id: int | None = None) -> None:
        self.field, self.label, self.value, self.existing_id = field, label, value, existing_id
        where = f" (#{existing_id})" if existing_id is not None else ""
        super().__init__(f"{label}「{value}」已存在{where} / duplicate {field} {value!r}")


class InvalidInput(RegisterError, ValueError):
    """A value the schema allowed but the register cannot store (e.g. null for a required column): 422."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


class InvalidQuery(RegisterError, ValueError):
    """Unknown or malformed sort, filter or paging parameter: 422 naming the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter, self.message = parameter, message
        super().__init__(f"{parameter}: {message}")


# --- small value types -----------------------------------------------------------------------


@dataclass(frozen=True)
class DueDate:
    """A date field that must be reminded about ``lead_days`` before it falls due.

    Attributes:
        field: name of a ``date`` column of the model, e.g. ``"expiry_date"``.
        lead_days: days before the date at which a reminder fires, e.g. ``(90, 30, 7, 0)``;
            0 fires on the due day (or at once if the date has passed).
        label: how the reminder names the date, e.g. ``"有效期"``; defaults to the field's label.
        applies: optional predicate on the record; ``False`` silences it (e.g. a revoked licence).
    """

    field: str
    lead_days: tuple[int, ...]
    label: str | None = None
    applies: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of a list: the records and the total that matched."""

    items: builtins.list[M]
    total: int
    page: int
    size: int


def jsonable(value: Any) -> Any:
    """A value as it is stored in history JSON (dates as ISO text, enums as their value)."""
    return to_jsonable_python(value)


# --- the register ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Register(Generic[M, C, U, R]):
    """A register (台账) described as data; its methods are the register's service.

    Attributes:
        name: machine name used in history, attachments and reminders, e.g. ``"certificate"``.
            Never rename it: it keys the shared tables.
        title: Chinese title for people, e.g. ``"证照与报告"``.
        model: SQLAlchemy model with :class:`RegisterMixin`.
        create_schema: pydantic ``XCreate``; its fields, in order, are the editable fields and
            the columns of import and export.
        update_schema: pydantic ``XUpdate``; fields left unset are left alone.
        read_schema: pydantic ``XRead`` with ``from_attributes=True``.
        labels: field -> Chinese column label (import accepts label or field name; export writes
            the label).
        searchable: text fields matched by ``q`` (every word must match one of them).
        sortable: fields allowed in ``sort``.
        filterable: fields allowed as filters (exact match; dates and numbers also ``__gte`` /
            ``__lte``).
        unique: fields no two live records may share (checked on create, update, restore and
            import; a soft-deleted record frees its value).
        due_dates: due-date fields for reminders.
        derive: computes derived columns from the field values (e.g. a completeness check); it
            runs on every create, update and imported row, so derived data is never stale.
        describe: short human name of a record for reminders and messages.
        default_sort: used when the caller gives none.
        max_page_size: upper bound of ``size``.
        references: id field -> model whose *live* row it must name, e.g.
            ``{"person_id": Person}``. Checked on create, update and every imported row, so a
            dangling id is a 422 (or an import row error) naming the field, never the
            database's IntegrityError (a 500) and never an orphan row where there is no
            foreign key; a soft-deleted parent counts as absent.
        check: whole-record rule beyond the schema (raises :class:`InvalidInput`); runs on
            create, on every imported row and on the merged record of an update.

    Create-time rules live in :meth:`validate_rows`, which ``create`` and import both call:
    a register that needs a database lookup of its own (a hazard-source code, an equipment
    code) overrides it, so an Excel file can never store what the form refuses.
    """

    name: str
    title: str
    model: type[M]
    create_schema: type[C]
    update_schema: type[U]
    read_schema: type[R]
    labels: Mapping[str, str] = field(default_factory=dict)
    searchable: tuple[str, ...] = ()
    sortable: tuple[str, ...] = ("id", "created_at", "updated_at")
    filterable: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    due_dates: tuple[DueDate, ...] = ()
    derive: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    describe: Callable[[M], str] | None = None
    default_sort: str = "-id"
    max_page_size: int = 500
    references: Mapping[str, type[RegisterMixin]] = field(default_factory=dict)
    check: Callable[[Mapping[str, Any]], None] | None = None

    def __post_init__(self) -> None:
        """Fail at import time, not at the first request, when a declaration names a wrong field."""
        columns = self._columns
        for kind, names in (
            ("searchable", self.searchable),
            ("sortable", self.sortable),
            ("filterable", self.filterable),
            ("unique", self.unique),
            ("due_dates", tuple(d.field for d in self.due_dates)),
            ("create_schema", tuple(self.create_schema.model_fields)),
            ("references", tuple(self.references)),
        ):
            unknown = [n for n in names if n not in columns]
            if unknown:
                msg = f"register {self.name!r}: {kind} names fields the model lacks: {unknown}"
                raise TypeError(msg)
        for name in self.searchable:
            if not isinstance(columns[name].columns[0].type, String | Text):
                msg = f"register {self.name!r}: searchable field {name!r} is not a text column"
                raise TypeError(msg)
        self.parse_sort(self.default_sort)

    # --- introspection ------------------------------------------------------------------------

    # The mapping is fixed once the model class exists: computed once, not on every request.
    @cached_property
    def _columns(self) -> dict[str, ColumnProperty[Any]]:
        return {p.key: p for p in sa_inspect(self.model).column_attrs}

    @cached_property
    def _table_columns(self) -> dict[str, Column[Any]]:
        return {key: cast(Column[Any], prop.columns[0]) for key, prop in self._columns.items()}

    @property
    def fields(self) -> tuple[str, ...]:
        """The editable fields, in the create schema's order (import / export columns)."""
        return tuple(self.create_schema.model_fields)

    @cached_property
    def data_fields(self) -> tuple[str, ...]:
        """Every model column except the bookkeeping ones: what history diffs."""
        return tuple(k for k in self._columns if k not in BOOKKEEPING_COLUMNS)

    def label(self, name: str) -> str:
        """Chinese label of a field, falling back to its name."""
        return self.labels.get(name, name)

    def python_type(self, name: str) -> type[Any]:
        """Python type of a column, for parsing filter values (decorated types by their impl)."""
        column_type = self._table_columns[name].type
        if isinstance(column_type, TypeDecorator):
            column_type = column_type.impl_instance
        try:
            python_type: type[Any] = column_type.python_type
            return python_type
        except NotImplementedError:
            return str

    def snapshot(self, record: M) -> dict[str, Any]:
        """The record's data fields as a plain dict (what history compares)."""
        return {name: getattr(record, name) for name in self.data_fields}

    def to_read(self, record: M) -> R:
        """The record as its read schema."""
        return self.read_schema.model_validate(record)

    def describe_record(self, record: M) -> str:
        """Short human name of a record, e.g. ``安全生产许可证 (粤)WH安许证字[2024]0001``."""
        return self.describe(record) if self.describe else f"{self.title} #{record.id}"

    # --- create / read / update / delete ------------------------------------------------------

    def create(self, *, session: Session, data: C, actor: str | None) -> M:
        """Add a record (version 1) and its first history entry.

        Raises:
            InvalidInput: a rule of :meth:`validate_rows` refuses it (e.g. an id naming no record).
            DuplicateValue: a unique field is taken.
        """
        values = data.model_dump()
        for _index, error in self.validate_rows(session, [values])[:1]:
            raise error
        self._check_unique(session, values, exclude_id=None)
        record = self.model(**values)
        self._apply_derived(record)
        record.version = 1
        record.created_by = record.updated_by = actor
        session.add(record)
        session.flush()
        changes = {k: [None, jsonable(v)] for k, v in self.snapshot(record).items() if v is not None}
        self.record_history(session, record, "create", actor, changes)
        return record

    def get(self, *, session: Session, record_id: int, include_deleted: bool = False) -> M:
        """The record with this id; soft-deleted ones only when asked.

        Raises:
            RecordNotFound: no such record, or it is deleted and ``include_deleted`` is false.
        """
        record = session.get(self.model, record_id)
        if record is None or (record.deleted_at is not None and not include_deleted):
            raise RecordNotFound(self.name, record_id)
        return record

    def get_read(self, *, session: Session, record_id: int) -> R:
        """A live record as its read schema: :meth:`get` then :meth:`to_read`, in fewer steps.

        Why: the API's record read only serialises the record, so when the read schema is
        plain columns it reads just those columns (no ORM instance, identity map or
        attribute instrumentation) and validates them into the same schema.

        Raises:
            RecordNotFound: no such record, or it is deleted.
        """
        if self._read_fields is None:
            return self.to_read(self.get(session=session, record_id=record_id))
        with reads_outside_transaction(session):  # one statement: no BEGIN/COMMIT of its own needed
            rows = fetch_rows(session, self._get_statement, {"record_id": record_id})  # flushes pending changes
        if not rows:
            raise RecordNotFound(self.name, record_id)
        values = dict(zip(self._read_fields, rows[0], strict=True))
        if values["deleted_at"] is not None:
            raise RecordNotFound(self.name, record_id)
        return self.read_schema.model_validate(values)

    def get_for_change(self, *, session: Session, record_id: int, include_deleted: bool = False) -> M:
        """The record, locked until the transaction ends, read as last committed.

        Why: every change bumps ``version`` and writes the history row of the new version.
        Two requests changing one record that both read version *n* wrote *n + 1* twice: the
        second history row broke ``uq_register_versions_record_version`` (a 500 under load)
        after silently overwriting the first change, and both passed an ``expected_version``
        check. Locked, the second waits for the first to commit and builds on its result.
        PostgreSQL locks the row (``SELECT ... FOR UPDATE``); SQLite has no row locks, so a
        no-op ``UPDATE`` takes its database write lock first (writers queue there anyway).

        Raises:
            RecordNotFound: as :meth:`get`.
        """
        if session.get_bind().dialect.name == "sqlite":
            table = self._table
            session.execute(
                update(table)
                .where(table.c.id == record_id)
                # both named so the column's onupdate default does not fire for a no-op
                .values(version=table.c.version, updated_at=table.c.updated_at)
            )
            record = session.get(self.model, record_id, populate_existing=True)
        else:
            record = session.execute(self._locked_statement, {"record_id": record_id}).unique().scalars().first()
        if record is None or (record.deleted_at is not None and not include_deleted):
            raise RecordNotFound(self.name, record_id)
        return record

    def each_for_change(self, *, session: Session, record_ids: Iterable[int]) -> Iterator[M]:
        """Each record of ``record_ids`` in turn, locked as :meth:`get_for_change` locks it.

        For jobs that pick their records with a plain query and then change them: one deleted
        since the query is passed over instead of failing the whole run. The caller judges
        each record again, as it is now, before changing it.
        """
        for record_id in record_ids:
            try:
                yield self.get_for_change(session=session, record_id=record_id)
            except RecordNotFound:
                continue

    def update(
        self,
        *,
        session: Session,
        record_id: int,
        data: U,
        actor: str | None,
        expected_version: int | None = None,
    ) -> M:
        """Change the fields set in ``data``; a real change bumps the version and is kept in history.

        Raises:
            RecordNotFound: unknown or deleted record.
            VersionConflict: ``expected_version`` is given and the record has moved on.
            DuplicateValue: a unique field would collide with another live record.
            InvalidInput: ``None`` for a field the register requires.
        """
        record = self.get_for_change(session=session, record_id=record_id)
        self._check_version(record, expected_version)
        values = data.model_dump(exclude_unset=True)
        for name, value in values.items():
            if value is None and not self._columns[name].columns[0].nullable:
                raise InvalidInput(name, f"{self.label(name)}不能为空 / may not be empty")
        # Only the references being changed: a record whose parent was deleted later stays editable.
        for _index, error in self._reference_errors(session, [values])[:1]:
            raise error
        before = self.snapshot(record)
        if self.check is not None:
            self.check({**before, **values})
        self._check_unique(session, values, exclude_id=record.id)
        for name, value in values.items():
            setattr(record, name, value)
        self._apply_derived(record)
        changes = _diff(before, self.snapshot(record))
        if not changes:
            return record
        record.version += 1
        record.updated_by = actor
        record.updated_at = utcnow()
        session.flush()
        self.record_history(session, record, "update", actor, changes)
        return record

    def soft_delete(
        self, *, session: Session, record_id: int, actor: str | None, expected_version: int | None = None
    ) -> M:
        """Hide a record (kept, restorable, in history as ``delete``)."""
        record = self.get_for_change(session=session, record_id=record_id)
        self._check_version(record, expected_version)
        now = utcnow()
        record.deleted_at, record.deleted_by = now, actor
        record.version += 1
        record.updated_by, record.updated_at = actor, now
        session.flush()
        self.record_history(session, record, "delete", actor, {"deleted_at": [None, jsonable(now)]})
        return record

    def restore(self, *, session: Session, record_id: int, actor: str | None) -> M:
        """Bring a soft-deleted record back (in history as ``restore``).

        Raises:
            RecordNotFound: no such record, or it is not deleted.
            DuplicateValue: a live record has taken one of its unique values meanwhile.
        """
        record = self.get_for_change(session=session, record_id=record_id, include_deleted=True)
        if record.deleted_at is None:
            raise RecordNotFound(self.name, record_id)
        self._check_unique(session, self.snapshot(record), exclude_id=record.id)
        deleted_at = record.deleted_at
        record.deleted_at = record.deleted_by = None
        record.version += 1
        record.updated_by, record.updated_at = actor, utcnow()
        session.flush()
        self.record_history(session, record, "restore", actor, {"deleted_at": [jsonable(deleted_at), None]})
        return record

    def history(self, *, session: Session, record_id: int) -> builtins.list[RecordVersion]:
        """Every change of a record, oldest first (deleted records included)."""
        self.get(session=session, record_id=record_id, include_deleted=True)
        stmt = (
            select(RecordVersion)
            .where(RecordVersion.register == self.name, RecordVersion.record_id == record_id)
            .order_by(RecordVersion.version, RecordVersion.id)
        )
        return builtins.list(session.scalars(stmt))

    # --- list ---------------------------------------------------------------------------------

    def query(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        sort: str | None = None,
        q: str | None = None,
        include_deleted: bool = False,
    ) -> Select[Any]:
        """The ``SELECT`` behind :meth:`list` and export (filtered, searched, ordered; not paged).

        Raises:
            InvalidQuery: unknown sort or filter field, or a filter value of the wrong type.
        """
        conditions = self._conditions(filters, q, include_deleted)
        return select(self.model).where(*conditions).order_by(*self.parse_sort(sort or self.default_sort))

    def _conditions(
        self, filters: Mapping[str, Any] | None, q: str | None, include_deleted: bool
    ) -> builtins.list[ColumnElement[bool]]:
        """The WHERE terms of :meth:`query`, in its order (the same errors raised first)."""
        conditions: builtins.list[ColumnElement[bool]] = []
        if not include_deleted:
            conditions.append(self._live)
        conditions += self._filter_conditions(filters or {})
        search = self._search_condition(q)
        if search is not None:
            conditions.append(search)
        return conditions

    def list(
        self,
        *,
        session: Session,
        filters: Mapping[str, Any] | None = None,
        sort: str | None = None,
        page: int = 1,
        size: int = 50,
        q: str | None = None,
        include_deleted: bool = False,
    ) -> Page[M]:
        """One page of records matching filters and search, in the given order.

        Args:
            session: the request's session.
            filters: ``{field: value}`` for exact matches, ``{field__gte: v}`` / ``{field__lte: v}``
                for ranges of dates and numbers; values may be strings (parsed to the column type).
            sort: comma-separated fields, ``-`` for descending, e.g. ``"-expiry_date,number"``;
                ties are broken by id so pages never overlap.
            page: 1-based page number.
            size: records per page, 1..``max_page_size``.
            q: free text; every whitespace-separated word must occur in some searchable field
                (case-insensitive substring, the same on SQLite and PostgreSQL).
            include_deleted: also list soft-deleted records.

        Raises:
            InvalidQuery: bad sort, filter or paging parameter.
        """
        self._check_paging(page, size)
        stmt = self.query(filters=filters, sort=sort, q=q, include_deleted=include_deleted)
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        items: builtins.list[M] = builtins.list(session.scalars(stmt.limit(size).offset((page - 1) * size)))
        return Page(items=items, total=total, page=page, size=size)

    def list_read(
        self,
        *,
        session: Session,
        filters: Mapping[str, Any] | None = None,
        sort: str | None = None,
        page: int = 1,
        size: int = 50,
        q: str | None = None,
        include_deleted: bool = False,
    ) -> PageRead[R]:
        """:meth:`list` as a page of the read schema (the API's list answer); same arguments and errors.

        Why: a list page only serialises its records, so when the read schema is plain columns
        the page is read as rows of just those columns (no ORM instances, identity map or
        attribute instrumentation, ~20 per page) and validated into the same schema at once.

        Raises:
            InvalidQuery: bad sort, filter or paging parameter.
        """
        page_schema = self._page_schema
        if self._read_fields is None:
            result = self.list(
                session=session, filters=filters, sort=sort, page=page, size=size, q=q, include_deleted=include_deleted
            )
            return cast(PageRead[R], page_schema(items=result.items, total=result.total, page=page, size=size))
        self._check_paging(page, size)
        terms = self._filter_terms(filters or {})
        patterns = self._search_patterns(q)
        order = sort or self.default_sort
        shape = (tuple((name, op) for name, op, _ in terms), len(patterns), include_deleted, order)
        statements = self._page_statements.get(shape)
        if statements is None:
            statements = self._build_page_statements(shape)
        params: dict[str, Any] = {f"filter_{i}": value for i, (_, _, value) in enumerate(terms)}
        params.update({f"word_{j}": pattern for j, pattern in enumerate(patterns)})
        params.update(page_size=size, page_offset=(page - 1) * size)
        total = 0
        with reads_outside_transaction(session):  # the page and its total are one statement
            rows = fetch_rows(session, statements[0], params)
            if rows:
                total = rows[0][-1]
            elif page > 1:  # past the last page: the total came with no row, so count on its own
                total = fetch_rows(session, statements[1], params)[0][0]
        names = self._read_fields
        items = [dict(zip(names, row[:-1], strict=True)) for row in rows]
        return cast(
            PageRead[R], page_schema.model_validate({"items": items, "total": total, "page": page, "size": size})
        )

    @cached_property
    def _page_statements(self) -> dict[tuple[Any, ...], tuple[Select[Any], Select[Any]]]:
        """:meth:`list_read`'s statements by the shape of the query, its values as parameters.

        Why: building the ``SELECT`` and its cache key for every page, then sending the count and
        the page as two statements, cost about as much CPU as the rest of the page. The shape
        is which filters (field and operator), how many search words, whether deleted records
        are in and the sort; the values are bound per call.
        """
        return {}

    def _build_page_statements(self, shape: tuple[Any, ...]) -> tuple[Select[Any], Select[Any]]:
        """The page with its total (a scalar subquery, one round trip) and the total alone.

        Raises:
            InvalidQuery: unknown sort field (the filters were checked by :meth:`_filter_terms`).
        """
        filters, words, include_deleted, sort = shape
        order = self.parse_sort(sort)
        conditions: builtins.list[ColumnElement[bool]] = [] if include_deleted else [self._live]
        for i, (name, op) in enumerate(filters):
            column = self._table_columns[name]
            conditions.append(_compare(column, op, bindparam(f"filter_{i}", type_=column.type)))
        for j in range(words):  # every word in some searchable field
            conditions.append(self._word_condition(bindparam(f"word_{j}", type_=String())))
        count = select(func.count()).select_from(self._table).where(*conditions)
        page = (
            self._read_select.add_columns(count.scalar_subquery().label("total"))
            .where(*conditions)
            .order_by(*order)
            .limit(bindparam("page_size"))
            .offset(bindparam("page_offset"))
        )
        if len(self._page_statements) >= _PAGE_SHAPES:  # sort strings are the user's: keep it bounded
            self._page_statements.clear()
        self._page_statements[shape] = (page, count)
        return page, count

    def _check_paging(self, page: int, size: int) -> None:
        if page < 1:
            raise InvalidQuery(parameter="page", message="页码须 ≥ 1 / page must be ≥ 1")
        if not 1 <= size <= self.max_page_size:
            raise InvalidQuery(
                parameter="size", message=f"每页条数须在 1–{self.max_page_size} / size must be 1..{self.max_page_size}"
            )

    # --- reads without ORM instances (list_read, get_read) ----------------------------------

    @cached_property
    def _live(self) -> ColumnElement[bool]:
        """``deleted_at IS NULL``, built once (a clause is immutable, so it can be shared)."""
        return self._table_columns["deleted_at"].is_(None)

    @cached_property
    def _page_schema(self) -> type[PageRead[Any]]:
        return PageRead[self.read_schema]  # type: ignore[name-defined]

    @cached_property
    def _table(self) -> Table:
        return cast(Table, sa_inspect(self.model).local_table)

    @cached_property
    def _read_fields(self) -> tuple[str, ...] | None:
        """The read schema's fields when a record's columns alone validate into it, else ``None``.

        ``None`` (reads go through the ORM instance) when a field is no plain column of the
        model (a property, a relationship, an alias), when a model validator would see a dict
        instead of the record, or when a subclass changes how records are read.
        """
        schema = self.read_schema
        fields = tuple(schema.model_fields)
        plain = all(
            name in self._columns and info.alias is None and info.validation_alias is None
            for name, info in schema.model_fields.items()
        )
        record_validators = any(
            d.info.mode != "after" for d in schema.__pydantic_decorators__.model_validators.values()
        )
        overridden = any(
            getattr(type(self), method) is not getattr(Register, method)
            for method in ("get", "list", "query", "to_read", "_conditions", "parse_sort", "_filter_terms")
        )
        if not plain or record_validators or overridden or "deleted_at" not in fields:
            return None
        return fields

    @cached_property
    def _read_select(self) -> Select[Any]:
        """``SELECT`` of the read schema's columns (only when :attr:`_read_fields` is not ``None``)."""
        return select(*(self._table_columns[name] for name in self._read_fields or ()))

    @cached_property
    def _locked_statement(self) -> Select[Any]:
        """The record by id, ``FOR UPDATE OF`` its table, refreshing an instance already loaded.

        Built once per register: ``Session.get`` built the same ``SELECT`` and its cache key on
        every call, about 0.14 ms of a locked read's 0.45–0.6 ms (every change and workflow move
        does one). ``OF`` the record's table: an eager outer join added to a model later cannot
        break it. ``populate_existing``: the row read under the lock overwrites an instance this
        session had loaded before, so the caller never judges a stale copy.
        """
        return (
            select(self.model)
            .where(self._table_columns["id"] == bindparam("record_id"))
            .with_for_update(of=self.model)
            .execution_options(populate_existing=True)
        )

    @cached_property
    def _get_statement(self) -> Select[Any]:
        return self._read_select.where(self._table_columns["id"] == bindparam("record_id"))

    def parse_sort(self, sort: str) -> builtins.list[UnaryExpression[Any]]:
        """ORDER BY terms for ``"-a,b"``; NULLs last on both backends; id breaks ties.

        Raises:
            InvalidQuery: a field not in ``sortable``.
        """
        terms: builtins.list[UnaryExpression[Any]] = []
        seen: set[str] = set()
        for raw in sort.split(","):
            part = raw.strip()
            if not part:
                continue
            descending = part.startswith("-")
            name = part.lstrip("+-")
            if name not in self.sortable:
                allowed = ", ".join(self.sortable)
                raise InvalidQuery(
                    parameter="sort", message=f"不能按「{name}」排序 / unknown sort field {name!r}; allowed: {allowed}"
                )
            column = self._table_columns[name]
            term = column.desc() if descending else column.asc()
            # NULLS LAST only where NULLs can be: the same order, and on a NOT NULL column an
            # index on it can give the order (PostgreSQL's DESC puts NULLs first otherwise)
            terms.append(term.nulls_last() if column.nullable else term)
            seen.add(name)
        if "id" not in seen:
            terms.append(self._table_columns["id"].asc())
        return terms

    def _filter_conditions(self, filters: Mapping[str, Any]) -> builtins.list[ColumnElement[bool]]:
        conditions: builtins.list[ColumnElement[bool]] = []
        for name, op, value in self._filter_terms(filters):
            conditions.append(_compare(self._table_columns[name], op, value))
        return conditions

    def _filter_terms(self, filters: Mapping[str, Any]) -> builtins.list[tuple[str, str, Any]]:
        """``(field, "eq" | "gte" | "lte", value)`` per given filter, the value parsed to the field's type.

        Raises:
            InvalidQuery: unknown field, a range on a field without one, or a value of the wrong type.
        """
        terms: builtins.list[tuple[str, str, Any]] = []
        for key, raw in filters.items():
            if raw is None:
                continue
            name, op = key, "eq"
            for suffix in RANGE_SUFFIXES:
                if key.endswith(suffix):
                    name, op = key.removesuffix(suffix), suffix[2:]
            if name not in self.filterable:
                raise InvalidQuery(key, f"不能按「{name}」筛选 / unknown filter {key!r}")
            if isinstance(raw, str) and "\x00" in raw:
                raise InvalidQuery(parameter=key, message="不能包含 NUL 字符 / must not contain NUL")
            py_type = self.python_type(name)
            if op != "eq" and not issubclass(py_type, _RANGE_TYPES):
                raise InvalidQuery(key, f"「{name}」不支持范围筛选 / {name!r} has no range filter")
            try:
                value = _filter_adapter(py_type).validate_python(raw)
            except ValidationError as err:
                message = err.errors()[0]["msg"]
                raise InvalidQuery(key, f"筛选值无效 / invalid value {raw!r}: {message}") from err
            terms.append((name, op, value))
        return terms

    def _search_patterns(self, q: str | None) -> builtins.list[str]:
        """One ``ILIKE`` pattern per word of ``q`` (wildcards escaped); none without searchable fields.

        Raises:
            InvalidQuery: ``q`` contains NUL (PostgreSQL refuses it in text: a 422, not a 500).
        """
        if q and "\x00" in q:
            raise InvalidQuery(parameter="q", message="不能包含 NUL 字符 / must not contain NUL")
        words = (q or "").split()
        if not words or not self.searchable:
            return []
        return ["%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for word in words]

    def _search_condition(self, q: str | None) -> ColumnElement[bool] | None:
        patterns = self._search_patterns(q)
        if not patterns:
            return None
        return and_(*(self._word_condition(pattern) for pattern in patterns))

    def _word_condition(self, pattern: str | BindParameter[str]) -> ColumnElement[bool]:
        """One search word (an escaped ``ILIKE`` pattern, or the parameter that carries it) in some searchable field."""
        return or_(*(self._table_columns[f].ilike(pattern, escape="\\") for f in self.searchable))

    # --- create-time rules, shared with import -------------------------------------------------

    def validate_rows(
        self, session: Session, rows: Sequence[Mapping[str, Any]]
    ) -> builtins.list[tuple[int, InvalidInput]]:
        """Create-time rules the schema cannot express, for many rows at once.

        ``create`` calls it with one row, import with the whole file, so a file can never
        store what the form refuses. The default checks :attr:`references` (one query per
        field for the whole file) and :attr:`check`; registers with lookups of their own
        override it and extend ``super()``'s list.

        Args:
            session: the request's session (read only).
            rows: field values as the create schema dumps them.

        Returns:
            ``(index in rows, error)`` for each problem found.
        """
        problems = self._reference_errors(session, rows)
        if self.check is not None:
            bad = {index for index, _ in problems}
            for index, values in enumerate(rows):
                if index in bad:
                    continue
                try:
                    self.check(values)
                except InvalidInput as err:
                    problems.append((index, err))
        return problems

    def _reference_errors(
        self, session: Session, rows: Sequence[Mapping[str, Any]]
    ) -> builtins.list[tuple[int, InvalidInput]]:
        problems: builtins.list[tuple[int, InvalidInput]] = []
        for name, model in self.references.items():
            live = _live_ids(session, model, (row.get(name) for row in rows))
            for index, row in enumerate(rows):
                value = row.get(name)
                if value is not None and value not in live:
                    message = f"{self.label(name)} {value} 不存在或已删除 / no such record"
                    problems.append((index, InvalidInput(name, message)))
        return problems

    # --- internals shared with import ---------------------------------------------------------

    def derived_values(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """Derived columns for a set of field values ({} when the register derives nothing)."""
        return self.derive(values) if self.derive else {}

    def _apply_derived(self, record: M) -> None:
        for name, value in self.derived_values(self.snapshot(record)).items():
            setattr(record, name, value)

    def _check_version(self, record: M, expected: int | None) -> None:
        if expected is not None and expected != record.version:
            raise VersionConflict(self.name, record.id, expected, record.version)

    def _check_unique(self, session: Session, values: Mapping[str, Any], exclude_id: int | None) -> None:
        for name in self.unique:
            value = values.get(name)
            if value is None:
                continue
            # straight to the driver (flushing pending changes first): every create and update asks
            anywhere, elsewhere = self._unique_statements[name]
            if exclude_id is None:
                found = fetch_rows(session, anywhere, {"value": value})
            else:
                found = fetch_rows(session, elsewhere, {"value": value, "exclude_id": exclude_id})
            if found:
                raise DuplicateValue(name, self.label(name), value, found[0][0])

    @cached_property
    def _unique_statements(self) -> dict[str, tuple[Select[Any], Select[Any]]]:
        """Per unique field: the live-duplicate lookup, and the same excluding one id; built once."""
        columns = self._table_columns
        statements = {}
        for name in self.unique:
            stmt = select(columns["id"]).where(columns[name] == bindparam("value"), columns["deleted_at"].is_(None))
            statements[name] = (
                stmt.limit(1),
                stmt.where(columns["id"] != bindparam("exclude_id")).limit(1),
            )
        return statements

    def existing_values(self, session: Session, name: str, values: Iterable[Any]) -> dict[Any, int]:
        """Which of ``values`` a live record already holds in unique field ``name`` (value -> id)."""
        column = getattr(self.model, name)
        found: dict[Any, int] = {}
        pending = builtins.list(dict.fromkeys(v for v in values if v is not None))
        for start in range(0, len(pending), 500):  # stay far below every backend's parameter limit
            chunk = pending[start : start + 500]
            stmt = select(column, self.model.id).where(column.in_(chunk), self.model.deleted_at.is_(None))
            found.update({value: record_id for value, record_id in session.execute(stmt)})
        return found

    def record_history(
        self, session: Session, record: M, action: str, actor: str | None, changes: dict[str, Any]
    ) -> None:
        """Append one history entry at the record's current version (for register-specific actions)."""
        # Pending changes are flushed first, as the ORM-enabled INSERT this was did. On PostgreSQL
        # the row goes straight to the driver (registers.db.execute_together): every create and
        # update writes one.
        execute_together(session, [self.history_entry(record.id, record.version, action, actor, changes)])

    def history_entry(
        self, record_id: int, version: int, action: str, actor: str | None, changes: dict[str, Any]
    ) -> tuple[Insert, dict[str, Any]]:
        """The statement and parameters of one history entry, for a caller that sends it with others."""
        return _HISTORY_INSERT, {
            "register": self.name,
            "record_id": record_id,
            "version": version,
            "action": action,
            "actor": actor,
            "at": utcnow(),
            "changes": changes,
        }

    def record_history_many(self, session: Session, entries: Sequence[Mapping[str, Any]]) -> None:
        """Insert many history rows at once (used by import; each entry a RecordVersion dict)."""
        if entries:
            session.execute(_HISTORY_INSERT, builtins.list(entries))


def _compare(column: Column[Any], op: str, value: Any) -> ColumnElement[bool]:
    """A filter's term: ``op`` is ``"gte"``, ``"lte"`` or ``"eq"``; ``value`` a value or a bound parameter."""
    term: ColumnElement[bool] = column >= value if op == "gte" else column <= value if op == "lte" else column == value
    return term


def _live_ids(session: Session, model: type[RegisterMixin], ids: Iterable[Any]) -> set[int]:
    """Which of ``ids`` name a live (not soft-deleted) row of ``model``; queried in chunks of 500."""
    # Only integers the database can hold: a bigger one names nothing (and would overflow).
    pending = sorted({i for i in ids if type(i) is int and -(2**63) <= i < 2**63})
    found: set[int] = set()
    for start in range(0, len(pending), 500):
        chunk = pending[start : start + 500]
        stmt = select(model.id).where(model.id.in_(chunk), model.deleted_at.is_(None))
        found.update(session.scalars(stmt))
    return found


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for the fields whose value changed, as JSON values."""
    return {
        name: [jsonable(before.get(name)), jsonable(value)]
        for name, value in after.items()
        if jsonable(before.get(name)) != jsonable(value)
    }
