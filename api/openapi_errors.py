"""One error shape for the whole API, answered by one handler and documented once, app-wide.

Every error the API answers is JSON with a ``detail`` a person can read; a 422 adds ``errors``,
one ``{field, message, type}`` per refused input, so a form can show each message next to its
field (``ErrorRead``). :func:`install` puts the handler that gives FastAPI's validation errors
that shape on the app, and a post-processor on its OpenAPI document that says so:

* every operation behind the login documents 401 (no, expired or revoked token) and 403 (a
  role without the grant, a password that must be changed first, a second factor to enrol);
* every operation with a path parameter documents 404 (no such record);
* every operation that reads parameters or a body documents 422 with :class:`ErrorRead`
  instead of FastAPI's ``HTTPValidationError``, which this handler never answers;
* every operation with a body documents 400 (FastAPI's answer to a body it cannot parse);
* every authenticated write (POST/PUT/PATCH/DELETE) documents 409: the registers refuse a
  stale ``expected_version`` or a duplicate, the workflows a move out of turn, the simulator
  and the risk flow a command when they do not run here;
* every other error a route declares itself (``responses={409: {...}}`` — what it raises:
  a workflow conflict, a file too large) gets :class:`ErrorRead` as its body unless the route
  names a model of its own (an import's row errors, :class:`ImportFailedRead`).

Why a post-processor and not ``responses=`` on each of ~680 routes: the statuses above follow
from how a route is mounted (the login dependency, a path id, parameters), not from what it
does, so they are stated where that is decided, once; a route documents only what it adds.
Schemathesis's ``status_code_conformance`` and ``response_schema_conformance`` hold the
document to what the app answers (``tests/api/test_openapi_fuzz.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from registers.framework.schemas import ImportErrorRead

__all__ = [
    "CONFLICT",
    "ErrorRead",
    "FieldErrorRead",
    "ImportFailedRead",
    "document_errors",
    "install",
    "validation_error_body",
]

INVALID_REQUEST = "请求参数无效 / invalid request"
_REF = "#/components/schemas/{model}"
_JSON = "application/json"
# FastAPI's own validation-error schemas, which the app never answers (see _validation_error)
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


class FieldErrorRead(BaseModel):
    """One refused input: where (``body.name``, ``query.page``, ``path.record_id``) and why."""

    field: str = Field(description="参数位置与名称 / where: body.<name>, query.<name>, path.<name>")
    message: str = Field(description="错误说明 / what is wrong, for a person")
    type: str | None = Field(default=None, description="错误类别 / machine-readable kind, e.g. missing")


class ErrorRead(BaseModel):
    """The body of every error answer of the API."""

    detail: str = Field(description="错误说明 / what went wrong, for a person")
    errors: list[FieldErrorRead] | None = Field(default=None, description="422: one entry per refused input")


class ImportFailedRead(BaseModel):
    """422 of an Excel/CSV import: every row error at once, and nothing was written."""

    detail: str
    rows: int = Field(description="数据行数 / data rows in the file")
    imported: int = Field(description="0: all rows or none")
    errors: list[ImportErrorRead]


# What a route adds when a workflow state or a duplicate can refuse it (``responses=CONFLICT``).
CONFLICT: dict[int | str, dict[str, Any]] = {
    status.HTTP_409_CONFLICT: {"description": "与当前状态或已有记录冲突 / conflicts with the current state or a record"}
}

# The statuses the mounting decides, with the description the document gives them.
_UNAUTHORIZED = "未登录，或令牌无效、过期、已注销 / not signed in, or the token is invalid, expired or revoked"
_FORBIDDEN = "无此权限，或须先修改密码、绑定动态口令 / no grant, or a password change or second factor comes first"
_NOT_FOUND = "记录不存在 / no such record"
_UNPROCESSABLE = "请求参数无效，errors 逐项说明 / invalid input, one entry per field in errors"
_BAD_BODY = "请求体无法解析 / the body cannot be parsed (not JSON, a broken multipart form)"
_WRITES = frozenset({"post", "put", "patch", "delete"})
_GENERIC = {
    400: "请求无法处理 / the request cannot be carried out",
    409: CONFLICT[status.HTTP_409_CONFLICT]["description"],
    410: "文件已丢失 / the stored file is gone",
    413: "文件过大 / file too large",
    415: "文件类型不允许 / file type not allowed",
    423: "账户已锁定 / account locked",
}


def validation_error_body(exc: RequestValidationError) -> dict[str, Any]:
    """:class:`ErrorRead` of a validation error: FastAPI's ``loc`` joined into a field name."""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    return {"detail": INVALID_REQUEST, "errors": errors}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content=validation_error_body(exc))


def _error_content() -> dict[str, Any]:
    return {_JSON: {"schema": {"$ref": _REF.format(model="ErrorRead")}}}


def _declares_own_model(response: dict[str, Any]) -> bool:
    """Whether a route gave an error response a body model of its own (kept as it is)."""
    schema = response.get("content", {}).get(_JSON, {}).get("schema")
    if not schema:
        return False
    ref = schema.get("$ref", "")
    return not any(ref.endswith(f"/{name}") for name in _FASTAPI_VALIDATION)


def _document_operation(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    added: dict[str, str] = {}
    if operation.get("security"):
        added |= {"401": _UNAUTHORIZED, "403": _FORBIDDEN}
    if "{" in path:
        added["404"] = _NOT_FOUND
    if operation.get("parameters") or operation.get("requestBody"):
        added["422"] = _UNPROCESSABLE
    if operation.get("requestBody"):
        added["400"] = _BAD_BODY
    if method in _WRITES and operation.get("security"):
        added["409"] = _GENERIC[409]
    for code, description in added.items():
        responses.setdefault(code, {"description": description})
    for code, response in responses.items():
        if not code.isdigit() or int(code) < status.HTTP_400_BAD_REQUEST:
            continue
        if response.get("description") == "Validation Error":  # FastAPI's default wording
            response["description"] = _UNPROCESSABLE
        if not response.get("description"):
            response["description"] = _GENERIC.get(int(code), "错误 / error")
        if not _declares_own_model(response):
            response["content"] = _error_content()
        elif code == "422":
            # a route's own 422 (an import's row errors) or the handler's, for a missing field
            own = response["content"][_JSON]["schema"]
            response["content"][_JSON]["schema"] = {"anyOf": [own, {"$ref": _REF.format(model="ErrorRead")}]}


def _models_schemas() -> dict[str, Any]:
    """JSON schemas of the error models, with their refs pointing into ``components``."""
    schemas: dict[str, Any] = {}
    for model in (ErrorRead, ImportFailedRead):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _referenced(node: Any, name: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == _REF.format(model=name) or any(_referenced(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_referenced(v, name) for v in node)
    return False


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Add the app-wide error responses to an OpenAPI document, in place; returns it."""
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}:
                _document_operation(path, method, operation)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _models_schemas().items():
        schemas.setdefault(name, schema)
    for name in _FASTAPI_VALIDATION:
        if name in schemas and not _referenced({k: v for k, v in document.items() if k != "components"}, name):
            schemas.pop(name)
    return document


def install(app: FastAPI) -> None:
    """Answer validation errors as :class:`ErrorRead` and document the error responses app-wide."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_errors(build())  # FastAPI caches the document it returns; errors added once
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
