"""The routes are warmed while the app already serves: requests meanwhile are answered, and all end up built.

Why: building FastAPI's per-router route contexts took 1.8 s of start-up on the 2-core box,
and the API and the plant runtime both waited for it. Now a task on the app's event loop
builds them one router at a time once the app is up (``api.app._warm_routes``); a request that
comes first builds what it needs.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import _warm_routes, create_app
from api.settings import Settings


def _routers(app: FastAPI) -> Iterator[Any]:
    """Every included router of the app, nested ones as far as they are built, without building any."""
    pending: list[Any] = list(app.router.routes)
    while pending:
        route = pending.pop()
        if hasattr(route, "effective_candidates"):  # FastAPI's included router
            yield route
            pending.extend(route._effective_candidates or [])


def _built(router: Any) -> bool:
    version = router.original_router._get_routes_version()
    return bool(router._effective_candidates_version == version)


def test_requests_are_answered_while_the_routes_warm_and_every_router_ends_up_built(tmp_path: Path) -> None:
    app = create_app(Settings(environment="test", data_dir=tmp_path), start_runtime=False)
    with TestClient(app) as client:
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": app.state.demo_admin_password})
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        permits = [r for r in _routers(app) if r.original_router.prefix.startswith("/api/v1/permits")]
        assert permits and not any(map(_built, permits)), "nothing warmed them before (a test app is not warmed)"

        assert client.portal is not None
        warming = client.portal.start_task_soon(functools.partial(_warm_routes, app, freeze=False))
        answers: Counter[int] = Counter()
        while not warming.done():  # the permits routes are mounted late: ~450 routes before them
            answers[client.get("/api/v1/permits/open").status_code] += 1
            answers[client.get("/api/v1/health").status_code] += 1
        warming.result()

    assert answers and set(answers) == {200}, answers
    assert all(_built(router) for router in _routers(app))
