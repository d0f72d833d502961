"""api.dependency_plan solves a request's dependencies exactly as FastAPI's own solver does.

The plan replaces FastAPI's per-request bookkeeping on every route of the app, so each test
holds it to FastAPI's solver (``fastapi_solve_dependencies``) as the reference: the values
and errors of every plain parameter of every route of the real app, for generated query
strings, and whole requests through a dependency tree with every kind of dependency.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import fastapi
import pytest
from fastapi import BackgroundTasks, Depends, FastAPI, Query, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from api import dependency_plan
from api.app import create_app
from api.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _plan_installed() -> Iterator[None]:
    yield
    dependency_plan.install()  # as create_app leaves it, whatever a test switched


def _nodes(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _nodes(sub)


@pytest.fixture(scope="module")
def plain_params(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, Dependant]]:
    """(route, location, dependency) for every dependency of the app whose parameters the plan reads."""
    app = create_app(Settings(environment="test", data_dir=tmp_path_factory.mktemp("plan")), start_runtime=False)
    found = []
    for route in app.routes:
        candidates = getattr(route, "effective_candidates", None)
        for context in candidates() if callable(candidates) else [route]:
            dependant = getattr(context, "dependant", None)
            if dependant is None:
                continue
            for node in _nodes(dependant):
                plan = dependency_plan._plan(node)
                if plan is None:
                    continue
                name = str(getattr(context, "path", ""))
                if node.query_params and plan.query is not None:
                    found.append((name, "query", node))
                if node.path_params and plan.path is not None:
                    found.append((name, "path", node))
    return found


def test_the_plan_reads_the_parameters_of_most_routes(plain_params: list[tuple[str, str, Dependant]]) -> None:
    routes = {path for path, location, _ in plain_params if location == "query"}
    assert "/api/v1/certificates" in routes and "/api/v1/alarm-records" in routes
    assert len(routes) > 100  # noqa: PLR2004 - the lists, exports and reads of every register


_VALUES = [
    "",
    "x",
    "-1",
    "0",
    "1",
    "3",
    "20",
    "999999999999",
    "2026-12-05",
    "2026-12-05T08:00:00",
    "true",
    "no",
    "active",
]


def _same_reading(node: Dependant, location: str, pairs: list[tuple[str, str]]) -> None:
    fields = node.query_params if location == "query" else node.path_params
    plan = dependency_plan._plan(node)
    assert plan is not None
    read = plan.query if location == "query" else plan.path
    assert read is not None
    received: Any = QueryParams(pairs) if location == "query" else dict(pairs)
    assert dependency_plan._read(read, received) == request_params_to_args(fields, received), pairs


def test_each_parameter_of_the_app_reads_as_fastapi_reads_it(plain_params: list[tuple[str, str, Dependant]]) -> None:
    """Every distinct parameter list of the app, each parameter alone with each value, and none."""
    seen = set()
    for _, location, node in plain_params:
        fields = node.query_params if location == "query" else node.path_params
        signature = (location, tuple((f.name, f.alias, repr(f.field_info)) for f in fields))
        if signature in seen:
            continue
        seen.add(signature)
        _same_reading(node, location, [])
        for field in fields:
            for value in _VALUES:
                _same_reading(node, location, [(field.alias, value)])
            _same_reading(node, location, [(field.alias, "1"), (field.alias, "x")])  # given twice
    assert len(seen) > 20  # noqa: PLR2004


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mix_of_parameters_reads_as_fastapi_reads_it(
    plain_params: list[tuple[str, str, Dependant]], data: st.DataObject
) -> None:
    _, location, node = data.draw(st.sampled_from(plain_params))
    fields = node.query_params if location == "query" else node.path_params
    names = [f.alias for f in fields] + ["unknown"]
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(_VALUES)), max_size=8))
    _same_reading(node, location, pairs)


# --- whole requests through a dependency tree, both solvers --------------------------------


CALLS: list[str] = []
"""What the dependencies of the tree app did, in order (cleared before each request)."""


async def shared(level: Annotated[int, Query(ge=0, le=5)] = 1) -> int:
    CALLS.append("shared")
    return level


def sync_dep(shared_value: Annotated[int, Depends(shared)], tags: Annotated[list[str] | None, Query()] = None) -> str:
    CALLS.append("sync")
    return f"{shared_value}:{','.join(tags or [])}"


async def session() -> AsyncIterator[str]:
    CALLS.append("open")
    yield "session"
    CALLS.append("close")


def fresh() -> str:
    CALLS.append("fresh")
    return "fresh"


async def checked(
    shared_value: Annotated[int, Depends(shared)],
    again: Annotated[str, Depends(fresh, use_cache=False)],
    mode: Annotated[str, Query(pattern="^(a|b)$")] = "a",
) -> str:
    CALLS.append("checked")
    return f"{mode}{shared_value}{again}"


def with_tasks(tasks: BackgroundTasks, response: Response, check: Annotated[str, Depends(checked)]) -> str:
    # ``checked`` again: cached, but FastAPI walks its subtree again and calls ``fresh`` anew
    response.headers["x-tree"] = check
    tasks.add_task(CALLS.append, "task")
    return "tasks"


async def tree(
    item: int,
    shared_value: Annotated[int, Depends(shared)],
    sync_value: Annotated[str, Depends(sync_dep)],
    sess: Annotated[str, Depends(session)],
    check: Annotated[str, Depends(checked)],
    tasks: Annotated[str, Depends(with_tasks)],
    page: Annotated[int, Query(ge=1)] = 1,
    when: Annotated[list[int], Query()] = [],  # noqa: B006 - a mutable default: copied per request
) -> dict[str, Any]:
    CALLS.append("route")
    when.append(0)  # must not leak into the next request's default
    return {
        "item": item,
        "shared": shared_value,
        "sync": sync_value,
        "sess": sess,
        "check": check,
        "page": page,
        "when": when,
        "tasks": tasks,
    }


def _tree_app() -> FastAPI:
    """Every kind of dependency the app uses, and some it does not (so the plan must hand over)."""
    app = FastAPI(dependencies=[Depends(shared)])
    app.get("/tree/{item}")(tree)
    return app


def _call(app: FastAPI, url: str, *, plan: bool) -> tuple[int, Any, str | None, list[str]]:
    assert dependency_plan.install(plan) is plan
    CALLS.clear()
    with TestClient(app) as client:
        response = client.get(url)
    return response.status_code, response.json(), response.headers.get("x-tree"), list(CALLS)


_QUERIES = st.lists(
    st.tuples(
        st.sampled_from(["level", "tags", "mode", "page", "when", "other"]),
        st.sampled_from(["", "0", "1", "2", "9", "-1", "a", "b", "c"]),
    ),
    max_size=6,
)


@hypothesis_settings(max_examples=120, deadline=None)
@given(item=st.sampled_from(["1", "42", "x", "-3"]), query=_QUERIES)
@example(item="1", query=[])
@example(item="x", query=[("level", "9"), ("mode", "c"), ("page", "0")])  # errors from three levels
def test_a_request_through_every_kind_of_dependency_answers_as_with_fastapis_solver(
    item: str, query: list[tuple[str, str]]
) -> None:
    app = _tree_app()
    url = f"/tree/{item}?" + "&".join(f"{k}={v}" for k, v in query)
    ours = _call(app, url, plan=True)
    theirs = _call(app, url, plan=False)
    assert ours == theirs
    if ours[0] == 200:  # noqa: PLR2004
        # the cached dependency ran once for its five users, the uncached one for each of its
        # two; the session closed after the route, the background task ran
        assert ours[3].count("shared") == 1 and ours[3].count("fresh") == 2  # noqa: PLR2004
        assert ours[3].index("close") > ours[3].index("route") and "task" in ours[3]


def test_a_mutable_default_is_fresh_in_every_request() -> None:
    app = _tree_app()
    dependency_plan.install()
    with TestClient(app) as client:
        first = client.get("/tree/1").json()
        second = client.get("/tree/1").json()
    assert first["when"] == second["when"] == [0]


def test_dependency_overrides_go_through_fastapis_solver() -> None:
    app = _tree_app()
    app.dependency_overrides[shared] = lambda: 4
    for plan in (True, False):
        status, body, _, _ = _call(app, "/tree/1?level=1", plan=plan)
        assert status == 200 and body["shared"] == 4, plan  # noqa: PLR2004


def test_the_plan_is_used_only_on_the_fastapi_release_it_reproduces() -> None:
    pins = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    pinned = next(re.sub(r"^fastapi==", "", p) for p in pins if p.startswith("fastapi=="))
    assert pinned == dependency_plan.SOLVED_FOR == fastapi.__version__
    assert dependency_plan.install() is True
    assert vars(fastapi.routing)["solve_dependencies"] is dependency_plan.solve_dependencies
    assert dependency_plan.install(False) is False
    assert vars(fastapi.routing)["solve_dependencies"] is dependency_plan.fastapi_solve_dependencies
