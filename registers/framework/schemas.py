"""Pydantic pieces every register's schemas share: bounded text types and the framework's read shapes.

Use the text types for every string field of an ``XCreate`` / ``XUpdate``: a length above the
column's, or a NUL character (PostgreSQL refuses it in text), must be a 422 naming the field,
never a database error and a 500.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

__all__ = [
    "AttachmentRead",
    "ImportErrorRead",
    "ImportReportRead",
    "LocalTime",
    "LongText",
    "PageRead",
    "RegisterRead",
    "Str32",
    "Str64",
    "Str200",
    "VersionRead",
]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control(value: str) -> str:
    # NUL breaks PostgreSQL text, the others break Excel export (XML 1.0 forbids them)
    if _CONTROL.search(value):
        msg = "不能包含控制字符 / must not contain control characters"
        raise ValueError(msg)
    return value.strip()


Str32 = Annotated[str, Field(max_length=32), AfterValidator(_no_control)]
Str64 = Annotated[str, Field(max_length=64), AfterValidator(_no_control)]
Str200 = Annotated[str, Field(max_length=200), AfterValidator(_no_control)]
LongText = Annotated[str, Field(max_length=4000), AfterValidator(_no_control)]


def _naive(value: time) -> time:
    if value.tzinfo is not None:
        msg = "时间为北京时间，不带时区 / a wall-clock time in Asia/Shanghai, without offset"
        raise ValueError(msg)
    return value


# A plant's wall-clock time (shift start, 08:00:00). Not JSON Schema's ``format: time``: that is
# RFC 3339's full-time, which carries an offset, so a client validating the documented schema
# would refuse every value the API sends back.
LocalTime = Annotated[
    time,
    AfterValidator(_naive),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "examples": ["08:00:00"],
        }
    ),
]

T = TypeVar("T")


class RegisterRead(BaseModel):
    """Bookkeeping fields every register's ``XRead`` carries (inherit from it)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None
    updated_by: str | None = None
    deleted_at: datetime | None = None
    deleted_by: str | None = None


class PageRead(BaseModel, Generic[T]):
    """One page of a list, with the total that matched."""

    items: list[T]
    total: int
    page: int
    size: int


class VersionRead(BaseModel):
    """One entry of a record's history: who changed what, when (``changes``: {field: [old, new]})."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    action: str
    actor: str | None
    at: datetime
    changes: dict[str, Any]


class AttachmentRead(BaseModel):
    """Metadata of an attached file."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    record_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str | None
    uploaded_at: datetime


class ImportErrorRead(BaseModel):
    """One import problem: spreadsheet row (header = 1), column as headed in the file, message."""

    model_config = ConfigDict(from_attributes=True)

    row: int
    column: str
    field: str | None
    message: str


class ImportReportRead(BaseModel):
    """Outcome of an import."""

    model_config = ConfigDict(from_attributes=True)

    register_name: str
    rows: int
    imported: int
    errors: list[ImportErrorRead]
