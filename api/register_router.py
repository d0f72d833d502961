"""FastAPI router factory: one call gives a register its whole REST API, permissions included.

``register_router(register, prefix=..., tags=..., resource=...)`` returns an ``APIRouter`` with

====== ====================================== ========= ==========================================
method path                                   action    what
====== ====================================== ========= ==========================================
GET    ``""``                                 read      list: filters, ``sort``, ``page``, ``size``, ``q``
GET    ``/form-schema``                       read      the create / edit form (api/register_forms.py)
GET    ``/export``                            export    same filters, ``format=xlsx|csv``
GET    ``/import-template``                   import    the .xlsx a user fills in (the export's headers)
POST   ``/import/preview``                    import    the same import, rolled back: rows it would write or the errors
POST   ``/import``                            import    upload .xlsx/.csv; 422 with row errors, nothing written
POST   ``""``                                 create    create (201)
GET    ``/{record_id}``                       read      one record (404 if absent or deleted)
PATCH  ``/{record_id}``                       update    change fields; ``expected_version`` → 409
DELETE ``/{record_id}``                       delete    soft delete
POST   ``/{record_id}/restore``               delete    undo a soft delete
GET    ``/{record_id}/history``               read      every version: who, when, what
POST   ``/{record_id}/attachments``           update    upload a file
GET    ``/{record_id}/attachments``           read      list files
GET    ``/{record_id}/attachments/{id}``      read      download a file
====== ====================================== ========= ==========================================

Every route asks ``api.auth.require(action, resource)``, i.e. ``registers.permissions.can``.
Domain errors map to one status each: not found 404, version conflict or duplicate 409,
bad query or value 422 (same body shape as FastAPI's validation errors), file too large 413.

Layering note: this module imports ``api.auth`` (the brief asked for the factory here); it is
the only module of ``registers`` that does, and nothing else in ``registers`` imports it.

This module deliberately has no ``from __future__ import annotations``: FastAPI reads the
handlers' annotations at run time, and they name schema classes held in local variables.
"""

import inspect
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Any, Literal, Protocol, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, Response, UploadFile, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import SessionDep, SignedInUser, require, run_and_commit
from api.openapi_errors import ImportFailedRead
from api.register_forms import add_form_route
from registers.framework.attachments import (
    DEFAULT_MAX_BYTES,
    AttachmentStorage,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    add_attachment,
    get_attachment,
    list_attachments,
    read_attachment,
    sniff_content_type,
    storage_for_data_dir,
)
from registers.framework.exporting import (
    CSV_MEDIA_TYPE,
    MAX_EXPORT_ROWS,
    XLSX_MEDIA_TYPE,
    export_csv,
    export_template,
    export_xlsx,
)
from registers.framework.importing import ImportFailed, ImportReport, import_file
from registers.framework.schemas import AttachmentRead, ImportErrorRead, ImportReportRead, PageRead, VersionRead
from registers.framework.service import (
    RANGE_SUFFIXES,
    DuplicateValue,
    InvalidInput,
    InvalidQuery,
    RecordNotFound,
    Register,
    RegisterError,
    VersionConflict,
)

__all__ = ["MAX_IMPORT_BYTES", "PREVIEW_ROWS", "ImportPreviewRead", "RecordId", "register_router", "translate_errors"]

MAX_IMPORT_BYTES = 50 * 1024 * 1024
_INT32_MAX = 2**31 - 1

F = TypeVar("F", bound=Callable[..., Any])


class Importer(Protocol):
    """An Excel/CSV import of a register: all rows or none (``import_file`` is the usual one)."""

    def __call__(
        self,
        register: Register[Any, Any, Any, Any],
        /,
        *,
        session: Session,
        content: bytes,
        filename: str,
        actor: str | None,
    ) -> ImportReport: ...


RecordId = Annotated[int, Path(ge=1, le=_INT32_MAX, description="记录ID")]

PREVIEW_ROWS = 20


class ImportColumnRead(BaseModel):
    """A column of the import (a field of the register and its header in the template)."""

    field: str
    label: str


class ImportPreviewRead(BaseModel):
    """What importing the file would do: the rows it would write, or every row error.

    ``ok`` false: ``errors`` lists them (row, column, message) and 确认导入 must not be offered.
    ``sample`` holds the first rows as the register would store them (derived fields filled in).
    """

    ok: bool
    rows: int = Field(description="文件中的数据行数")
    importable: int = Field(description="将导入的行数")
    columns: list[ImportColumnRead]
    sample: list[dict[str, Any]] = Field(description=f"前 {PREVIEW_ROWS} 行将写入的数据")
    errors: list[ImportErrorRead]


def preview_import(
    register: Register[Any, Any, Any, Any],
    importer: Importer,
    *,
    session: Session,
    content: bytes,
    filename: str,
    actor: str,
) -> ImportPreviewRead:
    """Run the real import inside a savepoint, note what it wrote or refused, and roll it back.

    Why not a separate "validate only" path: the preview must judge a file exactly as the
    import will (header, schema, uniqueness, references, and the checks only a register's own
    ``create`` or a custom importer knows, such as the equipment tree's), and a second path
    would drift from the first. The ids the database hands out inside the savepoint are not
    reused on PostgreSQL (a sequence does not roll back); a gap in ids is harmless.
    """
    columns = [ImportColumnRead(field=name, label=register.label(name)) for name in register.fields]
    model = register.model
    before = session.scalar(select(func.max(model.id))) or 0
    savepoint = session.begin_nested()
    try:
        try:
            report = importer(register, session=session, content=content, filename=filename, actor=actor)
        except ImportFailed as err:
            errors = [ImportErrorRead.model_validate(e) for e in err.report.errors]
            return ImportPreviewRead(
                ok=False, rows=err.report.rows, importable=0, columns=columns, sample=[], errors=errors
            )
        stmt = select(model).where(model.id > before, model.created_by == actor).order_by(model.id).limit(PREVIEW_ROWS)
        sample = [register.to_read(record).model_dump(mode="json") for record in session.scalars(stmt)]
        return ImportPreviewRead(
            ok=True, rows=report.rows, importable=report.imported, columns=columns, sample=sample, errors=[]
        )
    finally:
        savepoint.rollback()


def _with_types(**types: Any) -> Callable[[F], F]:
    """Give a handler's parameters their concrete schema classes before FastAPI reads them."""

    def apply(fn: F) -> F:
        fn.__annotations__.update(types)
        return fn

    return apply


def _validation_error(field: str, message: str, kind: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": kind, "input": None}])


@contextmanager
def translate_errors() -> Iterator[None]:
    """Map the framework's domain errors to HTTP errors, once, at the API boundary."""
    try:
        yield
    except RecordNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err
    except (VersionConflict, DuplicateValue) as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    except InvalidQuery as err:
        raise _validation_error(err.parameter, err.message) from err
    except InvalidInput as err:
        raise RequestValidationError(
            [{"loc": ("body", err.field), "msg": err.message, "type": "value_error", "input": None}]
        ) from err
    except AttachmentTooLarge as err:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=str(err)) from err
    except AttachmentTypeRefused as err:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail=str(err)) from err
    except RegisterError as err:  # a subclass added later without a mapping: still a clear 400
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(err)) from err


def _query_type(register: Register[Any, Any, Any, Any], name: str) -> Any:
    annotation = register.create_schema.model_fields.get(name)
    if annotation is not None and isinstance(annotation.annotation, type) and issubclass(annotation.annotation, Enum):
        return annotation.annotation
    return register.python_type(name)


def _filters_dependency(register: Register[Any, Any, Any, Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
    """A dependency whose query parameters are the register's filters (so they are in OpenAPI)."""
    params: list[inspect.Parameter] = []
    for name in register.filterable:
        py_type = _query_type(register, name)
        label = register.label(name)
        # a 64-bit column: said in OpenAPI
        bounds: dict[str, Any] = {"ge": -(2**63), "le": 2**63 - 1} if py_type is int else {}
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=Query(None, description=f"{label} 等于", **bounds),
                annotation=py_type | None,
            )
        )
        if py_type is not bool and not issubclass(py_type, str | Enum):
            for suffix in RANGE_SUFFIXES:
                word = "不早于/不小于" if suffix == "__gte" else "不晚于/不大于"
                params.append(
                    inspect.Parameter(
                        name + suffix,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=Query(None, description=f"{label} {word}", **bounds),
                        annotation=py_type | None,
                    )
                )

    async def filters(**values: Any) -> dict[str, Any]:  # async: no I/O, no thread-pool round trip
        return {k: v.value if isinstance(v, Enum) else v for k, v in values.items() if v is not None}

    filters.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return filters


def _content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode() or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def _read_upload(file: UploadFile, limit: int) -> bytes:
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"文件过大 / file larger than {limit} bytes")
    return data


def register_router(
    register: Register[Any, Any, Any, Any],
    *,
    prefix: str,
    tags: list[str | Enum],
    resource: str,
    storage: AttachmentStorage | None = None,
    max_attachment_bytes: int = DEFAULT_MAX_BYTES,
    importer: Importer | None = import_file,
) -> APIRouter:
    """Build the REST API of a register.

    Args:
        register: the register.
        prefix: URL prefix, e.g. ``"/api/v1/certificates"``.
        tags: OpenAPI tags, e.g. ``["certificates 证照与报告"]``.
        resource: permission resource checked with ``can(roles, action, resource)``.
        storage: attachment storage; default ``app.state.attachment_storage`` if the app set
            one, else ``<settings.data_dir>/uploads``.
        max_attachment_bytes: size limit of one attachment.
        importer: what ``POST /import`` runs (a register with rules spanning rows, such as the
            equipment tree, passes its own); ``None`` offers no import (workflow registers,
            whose state must never come from a spreadsheet).

    Returns:
        A router; add register-specific routes to it before including it in the app.
    """
    router = APIRouter(prefix=prefix, tags=tags)
    add_form_route(router, register, prefix=prefix, resource=resource)  # before ``/{record_id}``
    create_schema = register.create_schema
    update_schema = register.update_schema
    read_schema = register.read_schema
    page_schema = PageRead[read_schema]  # type: ignore[valid-type]
    Filters = Annotated[dict[str, Any], Depends(_filters_dependency(register))]  # noqa: N806

    def user_for(action: str) -> Any:
        return Annotated[SignedInUser, Depends(require(action, resource))]

    def storage_of(request: Request) -> AttachmentStorage:
        if storage is not None:
            return storage
        configured: AttachmentStorage | None = getattr(request.app.state, "attachment_storage", None)
        return configured or storage_for_data_dir(request.app.state.settings.data_dir)

    sort_help = "排序字段，逗号分隔，'-' 表示降序；可用: " + ", ".join(register.sortable)
    sort_field = "-?(?:" + "|".join(re.escape(name) for name in register.sortable) + ")"
    Sort = Annotated[  # noqa: N806 - the pattern lets the OpenAPI document say which values pass
        str | None, Query(max_length=200, pattern=f"^{sort_field}(?:,{sort_field})*$", description=sort_help)
    ]
    Search = Annotated[  # noqa: N806
        str | None, Query(max_length=200, description="全文检索: " + ", ".join(register.searchable))
    ]

    # The hot routes (list, read, create, update) are async and do their database work, the
    # response model and the commit in one worker thread (api.auth.run_and_commit): as sync
    # routes they cost three thread-pool round trips more per request (docs/performance.md).
    @router.get("", response_model=page_schema, summary=f"{register.title}列表")
    @_with_types(user=user_for("read"))
    async def list_records(
        session: SessionDep,
        user: Any,
        filters: Filters,
        sort: Sort = None,
        q: Search = None,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=register.max_page_size)] = 50,
        include_deleted: bool = False,
    ) -> Any:
        def work() -> Any:
            with translate_errors():
                return register.list_read(
                    session=session,
                    filters=filters,
                    sort=sort,
                    page=page,
                    size=size,
                    q=q,
                    include_deleted=include_deleted,
                )

        return await run_and_commit(session, work)

    @router.get(
        "/export",
        summary=f"导出{register.title}",
        response_class=Response,
        responses={200: {"content": {XLSX_MEDIA_TYPE: {}, "text/csv": {}}}},
    )
    @_with_types(user=user_for("export"))
    def export_records(
        session: SessionDep,
        user: Any,
        filters: Filters,
        sort: Sort = None,
        q: Search = None,
        format: Literal["xlsx", "csv"] = "xlsx",  # noqa: A002 - the query parameter's public name
    ) -> Response:
        with translate_errors():
            stmt = register.query(filters=filters, sort=sort, q=q).limit(MAX_EXPORT_ROWS)
            records = session.scalars(stmt)
            if format == "csv":
                body, media = export_csv(register, records), CSV_MEDIA_TYPE
            else:
                body, media = export_xlsx(register, records), XLSX_MEDIA_TYPE
        filename = f"{register.title}.{format}"
        return Response(body, media_type=media, headers={"Content-Disposition": _content_disposition(filename)})

    @_with_types(user=user_for("import"))
    def import_template(user: Any) -> Response:
        filename = f"{register.title}导入模板.xlsx"
        headers = {"Content-Disposition": _content_disposition(filename)}
        return Response(export_template(register), media_type=XLSX_MEDIA_TYPE, headers=headers)

    @_with_types(user=user_for("import"))
    def import_records(session: SessionDep, user: Any, file: Annotated[UploadFile, File()]) -> Any:
        assert importer is not None  # the route is only added with an importer
        content = _read_upload(file, MAX_IMPORT_BYTES)
        try:
            report = importer(
                register, session=session, content=content, filename=file.filename or "", actor=user.username
            )
        except ImportFailed as err:
            errors = [ImportErrorRead.model_validate(e).model_dump() for e in err.report.errors]
            return JSONResponse(
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
                content={"detail": str(err), "rows": err.report.rows, "imported": 0, "errors": errors},
            )
        return ImportReportRead.model_validate(report)

    @_with_types(user=user_for("import"))
    def import_preview(session: SessionDep, user: Any, file: Annotated[UploadFile, File()]) -> Any:
        assert importer is not None  # the route is only added with an importer
        content = _read_upload(file, MAX_IMPORT_BYTES)
        return preview_import(
            register, importer, session=session, content=content, filename=file.filename or "", actor=user.username
        )

    if importer is not None:
        router.add_api_route(
            "/import-template",
            import_template,
            methods=["GET"],
            response_class=Response,
            summary=f"下载{register.title}导入模板 (Excel)",
            description="与导出相同的列名，无数据行；表头批注说明必填、含义与可选值。",
            responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
        )
        router.add_api_route(
            "/import/preview",
            import_preview,
            methods=["POST"],
            response_model=ImportPreviewRead,
            summary=f"导入{register.title}前检查 (不写入)",
            description=(
                "与「导入」完全相同的解析、校验与引用检查，然后回滚：返回将导入的行数与前 "
                f"{PREVIEW_ROWS} 行，或逐行错误。"
            ),
        )
        router.add_api_route(
            "/import",
            import_records,
            methods=["POST"],
            response_model=ImportReportRead,
            summary=f"导入{register.title} (Excel/CSV)",
            responses={
                422: {"model": ImportFailedRead, "description": "文件有错误，未导入任何数据 / errors, nothing imported"}
            },
        )

    @router.post("", response_model=read_schema, status_code=status.HTTP_201_CREATED, summary=f"新增{register.title}")
    @_with_types(data=create_schema, user=user_for("create"))
    async def create_record(session: SessionDep, user: Any, data: Any) -> Any:
        def work() -> Any:
            with translate_errors():
                return read_schema.model_validate(register.create(session=session, data=data, actor=user.username))

        return await run_and_commit(session, work)

    @router.get("/{record_id}", response_model=read_schema, summary="查看记录")
    @_with_types(user=user_for("read"))
    async def get_record(session: SessionDep, user: Any, record_id: RecordId) -> Any:
        def work() -> Any:
            with translate_errors():
                return register.get_read(session=session, record_id=record_id)

        return await run_and_commit(session, work)

    @router.patch("/{record_id}", response_model=read_schema, summary="修改记录")
    @_with_types(data=update_schema, user=user_for("update"))
    async def update_record(
        session: SessionDep,
        user: Any,
        record_id: RecordId,
        data: Any,
        expected_version: Annotated[int | None, Query(ge=1, le=_INT32_MAX, description="乐观锁: 当前版本")] = None,
    ) -> Any:
        def work() -> Any:
            with translate_errors():
                record = register.update(
                    session=session,
                    record_id=record_id,
                    data=data,
                    actor=user.username,
                    expected_version=expected_version,
                )
                return read_schema.model_validate(record)

        return await run_and_commit(session, work)

    @router.delete("/{record_id}", response_model=read_schema, summary="删除记录 (可恢复)")
    @_with_types(user=user_for("delete"))
    def delete_record(session: SessionDep, user: Any, record_id: RecordId) -> Any:
        with translate_errors():
            return register.soft_delete(session=session, record_id=record_id, actor=user.username)

    @router.post("/{record_id}/restore", response_model=read_schema, summary="恢复已删除记录")
    @_with_types(user=user_for("delete"))
    def restore_record(session: SessionDep, user: Any, record_id: RecordId) -> Any:
        with translate_errors():
            return register.restore(session=session, record_id=record_id, actor=user.username)

    @router.get("/{record_id}/history", response_model=list[VersionRead], summary="修改历史")
    @_with_types(user=user_for("read"))
    def record_history(session: SessionDep, user: Any, record_id: RecordId) -> Any:
        with translate_errors():
            return register.history(session=session, record_id=record_id)

    @router.post(
        "/{record_id}/attachments",
        response_model=AttachmentRead,
        status_code=status.HTTP_201_CREATED,
        summary="上传附件",
        responses={
            413: {"description": "文件过大 / file too large"},
            415: {"description": "文件类型不允许（按内容识别）/ file type not allowed (sniffed from the bytes)"},
        },
    )
    @_with_types(user=user_for("update"))
    def upload_attachment(
        request: Request, session: SessionDep, user: Any, record_id: RecordId, file: Annotated[UploadFile, File()]
    ) -> Any:
        content = _read_upload(file, max_attachment_bytes)
        with translate_errors():
            return add_attachment(
                register,
                session=session,
                storage=storage_of(request),
                record_id=record_id,
                filename=file.filename or "attachment",
                content=content,
                content_type=file.content_type,
                actor=user.username,
                max_bytes=max_attachment_bytes,
            )

    @router.get("/{record_id}/attachments", response_model=list[AttachmentRead], summary="附件列表")
    @_with_types(user=user_for("read"))
    def attachments(session: SessionDep, user: Any, record_id: RecordId) -> Any:
        with translate_errors():
            return list_attachments(register, session=session, record_id=record_id)

    @router.get(
        "/{record_id}/attachments/{attachment_id}",
        response_class=Response,
        summary="下载附件",
        # the sniffed type of the stored bytes (an allow-listed image, PDF, office file, text)
        responses={200: {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}},
    )
    @_with_types(user=user_for("read"))
    def download_attachment(
        request: Request,
        session: SessionDep,
        user: Any,
        record_id: RecordId,
        attachment_id: Annotated[int, Path(ge=1, le=_INT32_MAX)],
    ) -> Response:
        with translate_errors():
            attachment = get_attachment(register, session=session, record_id=record_id, attachment_id=attachment_id)
        try:
            data = read_attachment(storage_of(request), attachment)
        except (KeyError, ValueError) as err:
            raise HTTPException(status.HTTP_410_GONE, detail=f"附件文件缺失或已损坏 / {err}") from err
        # The type of the bytes, never the uploader's claim; sandboxed and never sniffed by the
        # browser, so a file that slipped in before the allow-list cannot run as a page.
        return Response(
            data,
            media_type=sniff_content_type(data, attachment.filename) or "application/octet-stream",
            headers={
                "Content-Disposition": _content_disposition(attachment.filename),
                "Content-Security-Policy": "sandbox; default-src 'none'",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router
