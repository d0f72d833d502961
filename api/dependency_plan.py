"""FastAPI's dependency solving with what depends only on the route worked out once per route.

FastAPI 0.165 solves a request's dependencies by walking the route's dependency tree and, for
every node of every request, recomputing what the tree alone decides: each dependency's cache
key (``inspect.unwrap`` on the callable to learn if it is a security scheme, the scopes walked
again), whether it is a generator or a coroutine, and for each query parameter whether its
annotation is a sequence, its aliases and its parameter model. A node already solved in the
same request (the signed-in user, needed by the route and by its permission check) is walked
again, its own sub-dependencies and parameters included, before its cached value is taken.
On the business mix that bookkeeping was ~16 % of an API worker's CPU (docs/performance.md).

:func:`solve_dependencies` keeps FastAPI's algorithm and its results (values, errors and their
order, the sub-response, background tasks, the cache) and reads the per-route facts from a
plan built on a route's first request:

* each sub-dependency's cache key and kind (FastAPI's own helpers, called once);
* a sub-dependency whose whole subtree is cached by key is taken from the request's cache
  without walking it again: FastAPI's walk of such a subtree re-validates parameters that
  already passed (it caches a value only when its subtree had no errors) and finds every
  dependency in the cache, so it changes nothing;
* a plain path or query parameter (one name, not a parameter model, not JSON) is read and
  validated with its alias, sequence-ness and default decided once. Everything else (headers,
  cookies, bodies, parameter models, aliases with choices) goes through FastAPI's own code.

A request on an app with dependency overrides (tests) goes through FastAPI's solver unchanged.
Installed by :func:`install` only on the FastAPI version it was written against, so an upgrade
falls back to FastAPI's solver until someone checks the new one.
tests/api/test_dependency_plan.py compares both solvers on every route of the app.
"""

from __future__ import annotations

import copy
import enum
import threading
from collections.abc import Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Final

import fastapi
import fastapi.routing
from fastapi import BackgroundTasks, params
from fastapi._compat import Undefined, field_annotation_is_sequence, get_missing_field_error
from fastapi.dependencies import models as fastapi_models
from fastapi.dependencies import utils as fastapi_utils
from fastapi.dependencies.models import Dependant
from fastapi.types import DependencyCacheKey
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

SOLVED_FOR: Final = "0.165.0"
"""The FastAPI release whose ``solve_dependencies`` this one reproduces (pinned in pyproject)."""

_IMMUTABLE: Final = (type(None), bool, int, float, str, bytes, enum.Enum)
"""Defaults ``copy.deepcopy`` returns as they are: shared across requests without a copy."""

_SYNC, _COROUTINE, _GENERATOR = 0, 1, 2

fastapi_solve_dependencies: Final = fastapi_utils.solve_dependencies
"""FastAPI's own solver: used where a plan does not apply, and by the tests as the reference."""


@dataclass(frozen=True, slots=True)
class _Param:
    field: Any  # fastapi._compat.ModelField
    alias: str
    loc: tuple[str, str]
    sequence: bool
    required: bool
    validate_default: bool
    default: Any
    copy_default: bool


@dataclass(frozen=True, slots=True)
class _Sub:
    dependant: Dependant
    name: str | None
    call: Callable[..., Any]
    key: DependencyCacheKey
    kind: int
    function_scope: bool
    use_cache: bool
    cached_subtree: bool  # this node and everything under it is cached by key


@dataclass(frozen=True, slots=True)
class _Plan:
    subs: tuple[_Sub, ...]
    path: tuple[_Param, ...] | None  # None: FastAPI's request_params_to_args
    query: tuple[_Param, ...] | None


_PLANS: dict[int, tuple[Dependant, _Plan | None]] = {}
_PLANS_LOCK = threading.Lock()
MAX_PLANS: Final = 50_000
"""Plans kept before all are dropped: the app has a few thousand dependency nodes; a process
that builds many apps (the test suite) must not keep every one of them alive through here."""


def _param(field: Any, location: str) -> _Param | None:
    """The per-field facts of a plain path or query parameter; ``None`` for anything else."""
    info = field.field_info
    if (
        fastapi_utils._get_param_model(field) is not None
        or fastapi_utils._is_json_field(field)
        or info.default_factory is not None  # a fresh default per request
    ):
        return None
    aliases = fastapi_utils._get_param_aliases(field)
    if len(aliases) != 1 or not isinstance(info, params.Param) or info.in_.value != location:
        return None
    default = field.default
    return _Param(
        field=field,
        alias=aliases[0][1],
        loc=(location, aliases[0][1]),
        sequence=field_annotation_is_sequence(info.annotation),
        required=info.is_required(),
        validate_default=bool(info.validate_default),
        default=default,
        copy_default=not isinstance(default, _IMMUTABLE),
    )


def _params(fields: list[Any], location: str) -> tuple[_Param, ...] | None:
    out = []
    for field in fields:
        found = _param(field, location)
        if found is None:
            return None
        out.append(found)
    return tuple(out)


def _kind(call: Callable[..., Any]) -> int:
    if fastapi_models._is_gen_callable(call) or fastapi_models._is_async_gen_callable(call):
        return _GENERATOR
    return _COROUTINE if fastapi_models._is_coroutine_callable(call) else _SYNC


def _cached_subtree(dependant: Dependant) -> bool:
    return dependant.use_cache and all(_cached_subtree(sub) for sub in dependant.dependencies)


def _build(dependant: Dependant) -> _Plan | None:
    if dependant.security_scopes_param_name or dependant.concurrency is not None:
        return None
    subs = []
    for sub in dependant.dependencies:
        if sub.call is None or sub.concurrency is not None:
            return None
        subs.append(
            _Sub(
                dependant=sub,
                name=sub.name,
                call=sub.call,
                key=fastapi_models._get_cache_key(dependant=sub),
                kind=_kind(sub.call),
                function_scope=sub.scope == "function",
                use_cache=sub.use_cache,
                cached_subtree=_cached_subtree(sub),
            )
        )
    return _Plan(
        subs=tuple(subs),
        path=_params(dependant.path_params, "path"),
        query=_params(dependant.query_params, "query"),
    )


def _plan(dependant: Dependant) -> _Plan | None:
    found = _PLANS.get(id(dependant))
    if found is not None and found[0] is dependant:
        return found[1]
    plan = _build(dependant)
    with _PLANS_LOCK:
        if len(_PLANS) >= MAX_PLANS:
            _PLANS.clear()
        _PLANS[id(dependant)] = (dependant, plan)  # the dependant is kept: its id is not reused
    return plan


def _read(plan: tuple[_Param, ...], received: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """``fastapi.dependencies.utils.request_params_to_args`` for plain parameters."""
    values: dict[str, Any] = {}
    errors: list[Any] = []
    for p in plan:
        if p.sequence and isinstance(received, ImmutableMultiDict):
            value: Any = received.getlist(p.alias)
            missing = len(value) == 0
        else:
            value = received.get(p.alias)
            missing = value is None or (p.sequence and len(value) == 0)
        if missing:
            if p.required:
                errors.append(get_missing_field_error(loc=p.loc))
                continue
            default = copy.deepcopy(p.default) if p.copy_default else p.default
            if not p.validate_default:
                values[p.field.name] = default
                continue
            value = default
        validated, errors_ = p.field.validate(value, values, loc=p.loc)
        if errors_:
            errors.extend(errors_)
        else:
            values[p.field.name] = validated
    return values, errors


def _read_into(
    values: dict[str, Any],
    errors: list[Any],
    fields: list[Any],
    plain: tuple[_Param, ...] | None,
    received: Mapping[str, Any],
) -> None:
    """One location's parameters: through the plan when all are plain, else FastAPI's own reading."""
    if plain is not None:
        found, errs = _read(plain, received)
    else:
        found, errs = fastapi_utils.request_params_to_args(fields, received)
    values.update(found)
    errors += errs


async def solve_dependencies(
    *,
    request: Request | WebSocket,
    dependant: Dependant,
    body: Any = Undefined,
    background_tasks: Any = None,
    response: Response | None = None,
    dependency_overrides_provider: Any | None = None,
    dependency_cache: dict[DependencyCacheKey, Any] | None = None,
    async_exit_stack: AsyncExitStack,
    embed_body_fields: bool,
    _uses_scopes_cache: Any = None,
) -> fastapi_utils.SolvedDependency:
    """Drop-in for ``fastapi.dependencies.utils.solve_dependencies`` (same arguments, same result)."""
    plan = None
    if not (dependency_overrides_provider and getattr(dependency_overrides_provider, "dependency_overrides", None)):
        plan = _plan(dependant)
    if plan is None:
        return await fastapi_solve_dependencies(
            request=request,
            dependant=dependant,
            body=body,
            background_tasks=background_tasks,
            response=response,
            dependency_overrides_provider=dependency_overrides_provider,
            dependency_cache=dependency_cache,
            async_exit_stack=async_exit_stack,
            embed_body_fields=embed_body_fields,
            _uses_scopes_cache=_uses_scopes_cache,
        )
    scope = request.scope
    values: dict[str, Any] = {}
    errors: list[Any] = []
    if response is None:
        response = Response()
        del response.headers["content-length"]
        response.status_code = None  # type: ignore[assignment]
    if dependency_cache is None:
        dependency_cache = {}
    for sub in plan.subs:
        if sub.cached_subtree and sub.key in dependency_cache:
            solved = dependency_cache[sub.key]
        else:
            solved_result = await solve_dependencies(
                request=request,
                dependant=sub.dependant,
                body=body,
                background_tasks=background_tasks,
                response=response,
                dependency_overrides_provider=dependency_overrides_provider,
                dependency_cache=dependency_cache,
                async_exit_stack=async_exit_stack,
                embed_body_fields=embed_body_fields,
            )
            background_tasks = solved_result.background_tasks
            if solved_result.errors:
                errors.extend(solved_result.errors)
                continue
            if sub.use_cache and sub.key in dependency_cache:
                solved = dependency_cache[sub.key]
            elif sub.kind == _GENERATOR:
                solved = await fastapi_utils._solve_generator(
                    request=request,
                    dependant=sub.dependant,
                    stack=scope["fastapi_function_astack" if sub.function_scope else "fastapi_inner_astack"],
                    sub_values=solved_result.values,
                )
            elif sub.kind == _COROUTINE:
                solved = await sub.call(**solved_result.values)
            else:
                solved = await run_in_threadpool(sub.call, **solved_result.values)
        if sub.name is not None:
            values[sub.name] = solved
        if sub.key not in dependency_cache:
            dependency_cache[sub.key] = solved
    if dependant.path_params:
        _read_into(values, errors, dependant.path_params, plan.path, request.path_params)
    if dependant.query_params:
        _read_into(values, errors, dependant.query_params, plan.query, request.query_params)
    if dependant.header_params:
        _read_into(values, errors, dependant.header_params, None, request.headers)
    if dependant.cookie_params:
        _read_into(values, errors, dependant.cookie_params, None, request.cookies)
    if dependant.body_params:
        found, errs = await fastapi_utils.request_body_to_args(
            body_fields=dependant.body_params, received_body=body, embed_body_fields=embed_body_fields
        )
        values.update(found)
        errors.extend(errs)
    if dependant.http_connection_param_name:
        values[dependant.http_connection_param_name] = request
    if dependant.request_param_name and isinstance(request, Request):
        values[dependant.request_param_name] = request
    elif dependant.websocket_param_name and isinstance(request, WebSocket):
        values[dependant.websocket_param_name] = request
    if dependant.background_tasks_param_name:
        if background_tasks is None:
            background_tasks = BackgroundTasks()
        values[dependant.background_tasks_param_name] = background_tasks
    if dependant.response_param_name:
        values[dependant.response_param_name] = response
    return fastapi_utils.SolvedDependency(
        values=values,
        errors=errors,
        background_tasks=background_tasks,
        response=response,
        dependency_cache=dependency_cache,
    )


_Solver = Callable[..., Coroutine[Any, Any, fastapi_utils.SolvedDependency]]


def install(enabled: bool = True) -> bool:
    """Route FastAPI's request handlers through :func:`solve_dependencies` (or back); True if in use.

    Only on FastAPI :data:`SOLVED_FOR`: another release may solve differently, and the plan
    must be checked against it first (tests/api/test_dependency_plan.py).
    """
    use = enabled and fastapi.__version__ == SOLVED_FOR
    solver: _Solver = solve_dependencies if use else fastapi_solve_dependencies
    setattr(fastapi.routing, "solve_dependencies", solver)  # noqa: B010 - the name FastAPI's handlers call
    return use
