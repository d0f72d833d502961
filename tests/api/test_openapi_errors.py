"""The API's one error shape: what the handler answers is what the OpenAPI document promises.

The fuzz (``test_openapi_fuzz.py``) holds every operation to its document with schemathesis;
these are the quick, readable statements of the same promises, on a small app and on the
real one, so a change to the post-processor fails here in seconds, not after minutes of fuzz.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi import Path as PathParam
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api import openapi_errors
from api.app import create_app
from api.auth import bearer_token
from api.settings import Settings


class ThingIn(BaseModel):
    name: str
    size: int


def _small_app() -> FastAPI:
    app = FastAPI()
    openapi_errors.install(app)
    router = APIRouter(dependencies=[Depends(bearer_token)])  # declares the bearer scheme, like the app

    @router.get("/things/{thing_id}")
    def read(thing_id: Annotated[int, PathParam(ge=1)]) -> ThingIn:
        raise HTTPException(404, detail=f"no thing {thing_id}")

    @router.post("/things", responses=openapi_errors.CONFLICT)
    def create(body: ThingIn) -> ThingIn:
        return body

    @app.get("/public")
    def public(page: Annotated[int, Query(ge=1)] = 1) -> int:
        return page

    app.include_router(router)
    return app


def _validator(document: dict[str, Any], path: str, method: str, status: str) -> jsonschema.Draft202012Validator:
    schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


def test_statuses_follow_from_how_a_route_is_mounted() -> None:
    document = _small_app().openapi()
    codes = {
        (path, method): set(operation["responses"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert codes[("/things/{thing_id}", "get")] == {"200", "401", "403", "404", "422"}
    assert codes[("/things", "post")] == {"200", "400", "401", "403", "409", "422"}
    assert codes[("/public", "get")] == {"200", "422"}  # no login, no path id, nothing written
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_a_422_is_the_documented_shape_with_a_message_per_field() -> None:
    app = _small_app()
    document = app.openapi()
    response = TestClient(app).post("/things", json={"name": 3})
    assert response.status_code == 422
    body = response.json()
    assert {(e["field"], e["type"]) for e in body["errors"]} == {("name", "string_type"), ("size", "missing")}
    assert all(e["message"] for e in body["errors"])
    _validator(document, "/things", "post", "422").validate(body)
    missing = TestClient(app).get("/things/1")  # 404 from the route: the same shape, without errors
    assert missing.status_code == 404
    _validator(document, "/things/{thing_id}", "get", "404").validate(missing.json())
    with pytest.raises(jsonschema.ValidationError):  # the schema is not a rubber stamp
        _validator(document, "/things", "post", "422").validate({"errors": []})


@pytest.fixture(scope="module")
def real_document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir: Path = tmp_path_factory.mktemp("errors")
    yield create_app(Settings(environment="test", data_dir=data_dir), start_runtime=False).openapi()


def test_every_operation_of_the_app_documents_its_errors_in_one_shape(real_document: dict[str, Any]) -> None:
    error_bodies = set()
    for path, item in real_document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            for code, response in responses.items():
                if int(code) >= 400:  # noqa: PLR2004
                    error_bodies.add(str(response["content"]["application/json"]["schema"]))
    assert "{'$ref': '#/components/schemas/ErrorRead'}" in error_bodies
    # only the imports add a shape of their own (their row errors), beside the shared one
    assert error_bodies - {"{'$ref': '#/components/schemas/ErrorRead'}"} == {
        "{'anyOf': [{'$ref': '#/components/schemas/ImportFailedRead'}, {'$ref': '#/components/schemas/ErrorRead'}]}"
    }


def test_the_public_operations_promise_no_401(real_document: dict[str, Any]) -> None:
    health = real_document["paths"]["/api/v1/health"]["get"]["responses"]
    assert set(health) == {"200", "422"}  # 422: a malformed ?since=, never a 401
    login = real_document["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert "403" in login and "423" in login  # its own: a disabled and a locked account
