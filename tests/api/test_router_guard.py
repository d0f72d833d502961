"""A request skips the included routers it cannot match, and is routed exactly as before.

``api.app._skip_routers_by_prefix`` puts a guard in front of every included router of the app:
a path that starts with none of the literal beginnings of the router's routes is answered "no
match" without trying their regexes. These tests hold the guarded app to FastAPI's own
matching (the guard's wrapped ``matches``) for every route of the real app, in many variants
of its path and method, and check the literal beginnings against Starlette's own compiler.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.routing import compile_path

from api.app import _RouterGuard, _skip_routers_by_prefix, create_app, literal_beginning
from api.settings import Settings

METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(Settings(environment="test", data_dir=tmp_path_factory.mktemp("guard")), start_runtime=False)


def _regexes(app: FastAPI) -> Iterator[re.Pattern[str]]:
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if callable(contexts) else [route]:
            regex = getattr(context, "path_regex", None) or getattr(
                getattr(context, "starlette_route", None), "path_regex", None
            )
            if regex is not None:
                yield regex


def _example_paths(app: FastAPI) -> list[str]:
    """Every route's path with its parameters filled in, and near misses of it."""
    paths: set[str] = {"/", "/api", "/api/v1", "/api/v1/", "/nowhere", "/api/v2/certificates", "/API/v1/health"}
    for regex in _regexes(app):
        concrete = re.sub(r"\(\?P<[^>]+>[^)]*\)", "7", regex.pattern.removeprefix("^").removesuffix("$"))
        concrete = re.sub(r"\\(.)", r"\1", concrete)
        paths |= {
            concrete,
            concrete + "/",
            concrete + "/extra",
            concrete.rstrip("/").rsplit("/", 1)[0] or "/",  # its parent
            concrete[:-1] or "/",  # one character short
            concrete.upper(),
        }
    return sorted(paths)


def _guarded_and_original(app: FastAPI, scope: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    guarded, original = [], []
    for route in app.router.routes:
        got = route.matches(scope)
        plain = route.matches.original(scope) if isinstance(route.matches, _RouterGuard) else got
        guarded.append((got[0], got[1].get("endpoint")))
        original.append((plain[0], plain[1].get("endpoint")))
    return guarded, original


def test_every_path_of_the_app_matches_as_fastapi_matches_it(app: FastAPI) -> None:
    """Each top-level route answers the same match (none, partial, full; same endpoint) guarded or not."""
    guarded_routers = sum(isinstance(route.matches, _RouterGuard) for route in app.router.routes)
    assert guarded_routers > 50  # every included router of the app is guarded
    paths = _example_paths(app)
    assert len(paths) > 1000
    skipped = 0
    for path in paths:
        for method in METHODS:
            scope = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b""}
            guarded, original = _guarded_and_original(app, scope)
            assert guarded == original, (method, path)
            skipped += sum(
                1
                for route in app.router.routes
                if isinstance(route.matches, _RouterGuard) and not route.matches.may_match(path)
            )
    assert skipped > len(paths) * len(METHODS) * 40  # most routers are skipped for most paths


def test_requests_are_answered_as_before(app: FastAPI) -> None:
    """Through the whole app: a route's answer, a 405 for the wrong method, a 404 past every router."""
    with TestClient(app) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert client.delete("/api/v1/health").status_code == 405
        assert client.get("/api/v1/tags/PT-101/latest").status_code == 401  # matched; the token is missing
        assert client.get("/api/v1/no-such-register").status_code == 404


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="abcXYZ019-._~+*?()[]$^|", min_size=1, max_size=6),
            st.sampled_from(["{x}", "{x:int}", "{x:path}", "{x:float}", "{x:str}"]),
        ),
        min_size=1,
        max_size=5,
    ),
    st.text(alphabet="abcXYZ019-._~+*?()[]$^|/", max_size=8),
)
@example(["api", "v1", "tags", "{tag}", "latest"], "PT-101")
def test_literal_beginning_is_how_every_matching_path_starts(segments: list[str], fill: str) -> None:
    """Starlette's compiled route: the literal text before its first parameter, and every match starts so."""
    names = iter(range(100))
    path = "/" + "/".join(s.replace("{x", f"{{x{next(names)}") if s.startswith("{") else s for s in segments)
    regex, _, _ = compile_path(path)
    beginning = literal_beginning(regex.pattern)
    assert beginning == path.split("{", 1)[0]
    concrete = re.sub(r"\{[^}]+\}", fill or "1", path)
    if regex.match(concrete):
        assert concrete.startswith(beginning)


@pytest.mark.parametrize(
    ("pattern", "beginning"),
    [
        ("^/api/v1/tags$", "/api/v1/tags"),
        ("^/api/v1/alarm\\-records/(?P<pk>[^/]+)$", "/api/v1/alarm-records/"),
        ("^/static/(?P<path>.*)$", "/static/"),
        ("^/ab?c$", "/a"),  # the quantifier makes the b optional
        ("^/a\\d+", "/a"),  # a class is not a character
        ("^/a|/b", None),  # the anchor binds the first alternative only
        ("/api", None),  # not anchored
        ("^(?i)/api", ""),
    ],
)
def test_literal_beginning_of_hand_written_patterns(pattern: str, beginning: str | None) -> None:
    assert literal_beginning(pattern) == beginning


def test_a_route_added_after_start_up_is_found() -> None:
    """The guard learns a router's routes again when FastAPI counts a change under it."""
    router = APIRouter()

    @router.get("/first")
    def first() -> str:
        return "first"

    app = FastAPI()
    app.include_router(router)
    _skip_routers_by_prefix(app)
    with TestClient(app) as client:
        assert client.get("/first").json() == "first"
        assert client.get("/second").status_code == 404

        @router.get("/second")
        def second() -> str:
            return "second"

        assert client.get("/second").json() == "second"


def test_a_request_under_a_root_path_is_matched_by_fastapi() -> None:
    """Behind a proxy that strips a prefix (``root_path``), the path is not compared as text."""
    router = APIRouter(prefix="/api")

    @router.get("/item")
    def item() -> str:
        return "item"

    app = FastAPI(root_path="/plant")
    app.include_router(router)
    _skip_routers_by_prefix(app)
    with TestClient(app, root_path="/plant") as client:
        assert client.get("/plant/api/item").json() == "item"
