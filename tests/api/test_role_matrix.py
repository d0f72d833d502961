"""Role × action matrix over the whole app: who may read, write, approve and export on every route.

The routes are not listed by hand. The test walks every route of ``api.app.create_app`` and
asks each dependency what it guards (``api.auth.permission_of``), so a route added later is
checked against ``registers.permissions`` the moment it is mounted. Then it calls every
protected route over HTTP once per role (a real app, its lifespan, a migrated SQLite file,
the demo data and one user per role, logged in through ``POST /api/v1/auth/login``):

* the table says yes -> anything but 401/403 (200, 201, 404, 409, 422 all prove the request
  got past authorisation; requests are minimal, path ids point at demo records where a list
  route can name one, bodies are left empty);
* the table says no  -> exactly 403, asked with ids that do not exist: a route that looks the
  record up before it checks the permission answers 404 and tells an outsider what exists;
* no token           -> 401.

The matrix (route -> roles allowed, with the statuses seen) is written to the pytest temp
directory and printed (``pytest -rP`` shows it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from api.app import create_app
from api.auth import get_current_user, permission_of
from api.settings import Settings
from models.channels import ChannelKind
from models.contracts import AlarmEvent, AlarmPriority, AlarmState, now_ms
from registers.alarms import service as alarms
from registers.demo import load_demo
from registers.notifications import service as notifications
from registers.notifications.schemas import NotifyRuleCreate, RosterEntryCreate
from registers.permissions import WRITE_ACTIONS, Action, RoleName, can, grants
from registers.users import service as users

# Hundreds of routes x roles (or examples): minutes on a 2-core CI box, more under load.
pytestmark = pytest.mark.timeout(1200)

PASSWORD = "Matrix-Check-42"
ROLES = [role.value for role in RoleName]

# Routes any logged-in user may call: authenticated at the aggregating router in api/app.py,
# no require(). Only one's own account: every plant datum (tags, alarms, history, the twin)
# needs an explicit read grant (least privilege, 等保2.0 8.1.4.2), so the security
# administrator and the auditor see none of it. A protected route that is neither here nor
# guarded by require() fails test_every_protected_route_has_a_known_permission.
AUTHENTICATED_ONLY: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/api/v1/auth/me"),
        ("POST", "/api/v1/auth/me/password"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/auth/me/totp"),
        ("POST", "/api/v1/auth/me/totp/confirm"),
    }
)
# Plant data once open to every signed-in role, now each behind an explicit grant.
PLANT_DATA_READS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/plant"): "twin",
    ("GET", "/api/v1/twin/scene.glb"): "twin",
    ("GET", "/api/v1/twin/replay"): "twin",
    ("GET", "/api/v1/tags"): "reading",
    ("GET", "/api/v1/tags/{tag}/latest"): "reading",
    ("GET", "/api/v1/tags/{tag}/history"): "reading",
    ("GET", "/api/v1/tags/{tag}/rollups"): "reading",
    ("GET", "/api/v1/history/compare"): "reading",
    ("GET", "/api/v1/statistics/tags"): "reading",
    ("GET", "/api/v1/statistics/areas"): "reading",
    ("GET", "/api/v1/alarms/active"): "alarm",
    ("GET", "/api/v1/alarms"): "alarm",
}

# Routes that answer 503 while the plant runtime (store, simulator) is not started, as here.
RUNTIME_ROUTES = frozenset({*PLANT_DATA_READS, ("GET", "/api/v1/alarms/deadletters")})

# Resources of 三员分立 (等保2.0 separation of duties): accounts, roles, audit log. Only the
# security administrator and the auditor touch them; admin's "*" does not reach them.
ADMIN_ONLY_RESOURCES = ("user", "role", "audit")
SEPARATED_ROLES = {"security_admin", "auditor"}


# --- discovery -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """One method of one route and what it takes to call it."""

    method: str
    path: str
    permissions: frozenset[tuple[str, str]]  # (action, resource); all must hold
    authenticated: bool  # get_current_user somewhere in its dependencies

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def allows(self, role: str) -> bool:
        return all(can([role], action, resource) for action, resource in self.permissions)


def _walk(dependant: Any, permissions: set[tuple[str, str]], calls: set[Any]) -> None:
    for sub in dependant.dependencies:
        permission = permission_of(sub.call)
        if permission is not None:
            permissions.add(permission)
        calls.add(sub.call)
        _walk(sub, permissions, calls)


def discover(app: FastAPI) -> list[Endpoint]:
    """Every HTTP method of every FastAPI route (WebSockets and static mounts are not APIRoutes)."""
    endpoints: list[Endpoint] = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        permissions: set[tuple[str, str]] = set()
        calls: set[Any] = set()
        _walk(route.dependant, permissions, calls)
        endpoints.extend(
            Endpoint(method, str(route.path), frozenset(permissions), get_current_user in calls)
            for method in sorted(route.methods or ())
        )
    return endpoints


# --- the app, its users and one pass over every route -----------------------------------------


@dataclass
class Matrix:
    """Statuses seen: (method, path) -> role (or "anonymous") -> status code."""

    endpoints: list[Endpoint]
    urls: dict[tuple[str, str], str] = field(default_factory=dict)  # ids of demo records
    missing_urls: dict[tuple[str, str], str] = field(default_factory=dict)  # ids that do not exist
    statuses: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    @property
    def guarded(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.permissions]


@dataclass
class Harness:
    app: FastAPI
    client: TestClient
    headers: dict[str, dict[str, str]]
    matrix: Matrix


def _login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
MISSING_ID = str(2**31 - 1)  # valid for every int32 id parameter, and no demo record has it


def _first_item(client: TestClient, headers: dict[str, str], collection: str) -> dict[str, Any] | None:
    response = client.get(collection, headers=headers)
    if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
        return None
    body = response.json()
    items = body.get("items") if isinstance(body, dict) else body
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return None


def _fill(path: str, client: TestClient, admin: dict[str, str], app: FastAPI, cache: dict[str, str]) -> str:
    """Replace each ``{param}`` with a real value where the list route before it names one.

    ``/api/v1/people/{record_id}/history`` gets the id of the first row of ``/api/v1/people``;
    ``{tag}`` a tag of the plant; anything no list route names gets ``1``.
    """
    filled: dict[str, str] = {}  # "{param}" -> value, for the params left of the current one
    for match in _PARAM.finditer(path):
        name = match.group(1)
        collection = _PARAM.sub(lambda m: filled.get(m.group(0), "1"), path[: match.start()].rstrip("/"))
        key = f"{collection}|{name}"
        if key not in cache:
            value = "1"
            if name == "tag":
                value = app.state.plant.tags[0].tag
            elif (item := _first_item(client, admin, collection)) is not None:
                value = str(item.get("code" if name == "code" else "id", "1"))
            cache[key] = value
        filled[match.group(0)] = cache[key]
    return _PARAM.sub(lambda m: filled[m.group(0)], path)


def _add_alarm_and_notification_rows(session: Session, tag: str) -> None:
    """One alarm record, one routing rule and one roster line: the demo data has none of them."""
    event = AlarmEvent(
        alarm_id=f"{tag}:H",
        source_kind="tag",
        source_id=tag,
        kind="H",
        priority=AlarmPriority.HIGH,
        state=AlarmState.ACTIVE,
        ts=now_ms(),
        value=1.7,
        limit=1.6,
        message=f"{tag} 高报",
    )
    assert alarms.record_event(session=session, event=event, area=None) is not None
    rule = NotifyRuleCreate(name="全厂高报", roles=["operator"], channels=[ChannelKind.SMS])
    notifications.create_rule(session=session, data=rule, actor="matrix")
    entry = RosterEntryCreate(person="张三", role="operator", shift_start=time(8), shift_end=time(20))
    notifications.create_roster_entry(session=session, data=entry, actor="matrix")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The real app, not started: enough to walk its routes (cheap, so the pure tests stay fast)."""
    tmp: Path = tmp_path_factory.mktemp("role-matrix")
    settings = Settings(environment="test", data_dir=tmp, database_url=f"sqlite:///{tmp / 'matrix.db'}")
    return create_app(settings, start_runtime=False)


@pytest.fixture(scope="module")
def endpoints(app: FastAPI) -> list[Endpoint]:
    return discover(app)


@pytest.fixture(scope="module")
def harness(app: FastAPI) -> Iterator[Harness]:
    """The app started (migrations, demo admin), demo data, one user per role, every route called."""
    tmp: Path = app.state.settings.data_dir
    with TestClient(app, raise_server_exceptions=False) as client:
        with app.state.session_factory.begin() as session:
            for role in ROLES:
                users.create_user(session=session, username=f"m_{role}", password=PASSWORD, roles=[role])
            load_demo(session=session, plant=app.state.plant)
            _add_alarm_and_notification_rows(session, app.state.plant.tags[0].tag)
        headers = {role: _login(client, f"m_{role}") for role in ROLES}
        matrix = Matrix(discover(app))  # after start-up: a route mounted late is still seen
        cache: dict[str, str] = {}
        for endpoint in matrix.endpoints:
            matrix.urls[endpoint.key] = _fill(endpoint.path, client, headers["admin"], app, cache)
            matrix.missing_urls[endpoint.key] = _PARAM.sub(MISSING_ID, endpoint.path)
        # Unauthenticated first, then one role after another, each over every route: a write
        # one role makes (admin deletes record 1) at worst turns a later role's 200 into 404.
        for who in ["anonymous", *ROLES]:
            for endpoint in matrix.endpoints:
                if not endpoint.authenticated:
                    continue
                urls = matrix.urls if who != "anonymous" and endpoint.allows(who) else matrix.missing_urls
                response = client.request(endpoint.method, urls[endpoint.key], headers=headers.get(who, {}))
                matrix.statuses.setdefault(endpoint.key, {})[who] = response.status_code
                if endpoint.key == ("POST", "/api/v1/auth/logout") and response.status_code == 204:
                    headers[who] = _login(client, f"m_{who}")  # the logout revoked that token
        yield Harness(app, client, headers, matrix)
    _report(matrix, tmp / "role_matrix.txt")


def _report(matrix: Matrix, out: Path) -> None:
    per_role = ", ".join(f"{role} {sum(e.allows(role) for e in matrix.guarded)}" for role in ROLES)
    lines = [f"role matrix: {len(matrix.guarded)} guarded routes x {len(ROLES)} roles; allowed: {per_role}", ""]
    for endpoint in sorted(matrix.endpoints, key=lambda e: (e.path, e.method)):
        if not endpoint.authenticated:
            continue
        needs = ", ".join(f"{a} {r}" for a, r in sorted(endpoint.permissions)) or "login"
        seen = matrix.statuses.get(endpoint.key, {})
        allowed = [role for role in ROLES if endpoint.allows(role)]
        cells = " ".join(f"{role}={seen.get(role, '-')}" for role in ROLES)
        lines.append(f"{endpoint.method:6} {endpoint.path}  [{needs}] -> {', '.join(allowed)}  ({cells})")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:1]) + f"\nfull matrix: {out}")  # noqa: T201 - the log wants it


# --- discovery is complete -------------------------------------------------------------------


def test_every_protected_route_has_a_known_permission(endpoints: list[Endpoint]) -> None:
    """A logged-in-only route must be listed in AUTHENTICATED_ONLY; otherwise it lacks a require()."""
    unguarded = sorted(e.key for e in endpoints if e.authenticated and not e.permissions)
    unknown = [key for key in unguarded if key not in AUTHENTICATED_ONLY]
    assert not unknown, f"protected routes with no require(action, resource): {unknown}"
    stale = sorted(AUTHENTICATED_ONLY - {e.key for e in endpoints})
    assert not stale, f"AUTHENTICATED_ONLY names routes the app no longer has: {stale}"
    public = sorted(e.key for e in endpoints if not e.authenticated)
    assert public == [("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/token")]


@pytest.mark.slow
def test_every_guarded_route_was_exercised_for_every_role(harness: Harness, endpoints: list[Endpoint]) -> None:
    matrix = harness.matrix
    assert len(matrix.guarded) > 300  # the registers alone give several hundred; guards a broken walk
    assert {e.key for e in matrix.guarded} == {e.key for e in endpoints if e.permissions}
    missing = [e.key for e in matrix.guarded if set(matrix.statuses.get(e.key, {})) != {"anonymous", *ROLES}]
    assert not missing, f"routes not called for every role: {missing}"


# --- the matrix itself -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_role_gets_403_exactly_where_the_table_denies(harness: Harness, role: str) -> None:
    wrong: list[str] = []
    for endpoint in harness.matrix.guarded:
        status = harness.matrix.statuses[endpoint.key][role]
        if endpoint.allows(role):
            if status in (401, 403):
                wrong.append(f"{endpoint.method} {endpoint.path}: allowed by the table but got {status}")
        elif status != 403:
            wrong.append(f"{endpoint.method} {endpoint.path}: denied by the table but got {status}")
    assert not wrong, f"{role}: " + "\n".join(wrong)


@pytest.mark.slow
def test_record_loaders_run_after_the_permission_check(harness: Harness) -> None:
    leaks = sorted(
        (endpoint.method, endpoint.path, role)
        for endpoint in harness.matrix.guarded
        for role in ROLES
        if not endpoint.allows(role) and harness.matrix.statuses[endpoint.key][role] == 404
    )
    assert not leaks, f"a denied role learns whether a record exists (404, not 403): {leaks}"


@pytest.mark.slow
def test_every_authenticated_only_route_admits_every_role(harness: Harness) -> None:
    wrong = [
        (e.key, role, harness.matrix.statuses[e.key][role])
        for e in harness.matrix.endpoints
        if e.authenticated and not e.permissions
        for role in ROLES
        if harness.matrix.statuses[e.key][role] in (401, 403)
    ]
    assert not wrong


@pytest.mark.slow
def test_requests_without_a_token_get_401(harness: Harness) -> None:
    wrong = [
        (e.key, harness.matrix.statuses[e.key]["anonymous"])
        for e in harness.matrix.endpoints
        if e.authenticated and harness.matrix.statuses[e.key]["anonymous"] != 401
    ]
    assert not wrong
    response = harness.client.get("/api/v1/people", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.slow
def test_some_permitted_requests_really_succeed(harness: Harness) -> None:
    """Guards the matrix against passing on 404s alone: reads of demo data come back 200."""
    ok = [e for e in harness.matrix.guarded if harness.matrix.statuses[e.key]["regulator"] == 200]
    assert len(ok) > 30
    assert harness.matrix.statuses[("GET", "/api/v1/hazard-sources/{record_id}")]["regulator"] == 200


@pytest.mark.slow
def test_no_request_of_the_matrix_is_a_server_error(harness: Harness) -> None:
    """Minimal and empty requests get a 4xx; 503 only where the plant runtime is not started here."""
    errors = [
        (key, who, status)
        for key, seen in harness.matrix.statuses.items()
        for who, status in seen.items()
        if status >= 500 and not (status == 503 and key in RUNTIME_ROUTES)
    ]
    assert not errors


# --- the permission table on its own ---------------------------------------------------------


def _table_resources() -> set[str]:
    return {resource for table in grants().values() for resource in table} - {"*"}


def test_plant_data_needs_an_explicit_read_grant(endpoints: list[Endpoint]) -> None:
    """Least privilege: tags, history, alarms and the twin ask for a grant; 三员分立 roles have none."""
    by_key = {e.key: e for e in endpoints}
    for key, resource in PLANT_DATA_READS.items():
        assert ("read", resource) in by_key[key].permissions, key
        for role in SEPARATED_ROLES:
            assert not by_key[key].allows(role), (key, role)
    # granted explicitly, not by default: what the regulator and the inspector read
    assert can(["regulator"], "read", "reading") and can(["regulator"], "export", "reading")
    assert can(["inspector"], "read", "reading") and not can(["inspector"], "export", "reading")
    assert not can(["inspector"], "read", "prediction") and not can(["regulator"], "read", "position")


def test_regulator_never_gets_a_write_action() -> None:
    for resource in [*_table_resources(), *ADMIN_ONLY_RESOURCES]:
        for action in Action:
            if can(["regulator"], action, resource):
                assert action not in WRITE_ACTIONS, (action, resource)
    assert all(set(actions) <= {"read", "export"} for actions in grants()["regulator"].values())


def test_only_admin_manages_accounts_and_roles() -> None:
    """三员分立: accounts and the audit log belong to the security admin and the auditor, not admin."""
    for resource in ADMIN_ONLY_RESOURCES:
        for action in Action:
            for role in ROLES:
                if role not in SEPARATED_ROLES:
                    assert not can([role], action, resource), (role, action, resource)
    assert can(["security_admin"], "create", "user")
    assert not can(["security_admin"], "read", "audit")
    assert can(["auditor"], "export", "audit")
    assert not can(["auditor"], "update", "user")
    for role, table in grants().items():
        if role in SEPARATED_ROLES:
            assert set(table) <= set(ADMIN_ONLY_RESOURCES), role  # nothing of the plant
        elif role != "admin":
            assert not set(table) & {*ADMIN_ONLY_RESOURCES, "*"}, role


def test_every_route_asks_for_an_action_and_resource_the_table_knows(endpoints: list[Endpoint]) -> None:
    """A typo in require() would silently lock every role but admin out; the table must name it."""
    used = {permission for e in endpoints for permission in e.permissions}
    actions = {a.value for a in Action}
    assert {a for a, _ in used} <= actions
    unknown = sorted(r for _, r in used if r not in _table_resources())
    assert not unknown, f"resources used by routes but granted to no role: {unknown}"
    useless = sorted((a, r) for a, r in used if not any(can([role], a, r) for role in ROLES if role != "admin"))
    assert not useless, f"(action, resource) only admin can ever use: {useless}"


@given(
    roles=st.lists(st.sampled_from([*ROLES, "nobody", ""]), max_size=4),
    action=st.sampled_from([*[a.value for a in Action], "fly"]),
    resource=st.sampled_from([*sorted(_table_resources()), *ADMIN_ONLY_RESOURCES, "nothing"]),
)
def test_several_roles_may_what_any_one_of_them_may(roles: list[str], action: str, resource: str) -> None:
    assert can(roles, action, resource) == any(can([role], action, resource) for role in roles)
    if action == "fly" or not {*roles} & {*ROLES}:
        assert can(roles, action, resource) is ("admin" in roles and resource not in ADMIN_ONLY_RESOURCES)
