"""Every register, alarm-management and notification operation of the full app, fuzzed from its OpenAPI schema.

Issue 4's acceptance: every register's API passes a schemathesis run with no 500s. This runs
the *whole* app (``create_app``, migrations and demo admin in its lifespan, the demo data set
loaded so ids in paths hit real rows), signed in as admin, and for each operation of the
register routers (certificates, hazard sources, process, equipment, people, training,
contractors), alarm management and notifications it sends schema-valid and schema-breaking
requests. It checks what a client relies on:

- never a 5xx, never an exception escaping the app;
- every 4xx is JSON with a ``detail`` a person can read, and a 422 names the fields
  (``errors`` with a message each) so a form can show them next to the input;
- every 2xx body conforms to the response schema the OpenAPI document promises.

Why Hypothesis drives schemathesis strategies directly: the schemathesis pytest plugin does
not run under pytest 9. Failures are collected per operation (first example kept) and
reported together, so one run shows every broken operation, not just the first.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.routers import (
    alarm_management,
    certificates,
    contractors,
    dual_prevention,
    equipment,
    hazard_sources,
    hidden_hazards,
    inspections,
    notifications,
    overview,
    pdm,
    people,
    permits,
    positioning,
    process,
    risk,
    training,
    video,
)
from api.settings import Settings
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from registers.alarms import service as alarms
from registers.demo import load_demo

# Hundreds of routes x roles (or examples): minutes on a 2-core CI box, more under load.
pytestmark = pytest.mark.timeout(1200)

try:
    import schemathesis
    from schemathesis.core.failures import Failure, FailureGroup
    from schemathesis.generation.modes import GenerationMode
except ImportError:  # pragma: no cover - schemathesis is a dev dependency
    schemathesis = None  # type: ignore[assignment]

# The routers under test, by the name the summary prints.
ROUTERS = {
    "certificates": certificates,
    "hazard_sources": hazard_sources,
    "process": process,
    "equipment": equipment,
    "people": people,
    "training": training,
    "contractors": contractors,
    "permits": permits,
    "alarm_management": alarm_management,
    "notifications": notifications,
    "overview": overview,
    "risk": risk,
    "pdm": pdm,
    "positioning": positioning,
    "video": video,
    "dual_prevention": dual_prevention,
    "hidden_hazards": hidden_hazards,
    "inspections": inspections,
}
# Examples per operation (half valid, half schema-breaking on average). ~380 operations x 8
# keeps the file near a minute on two cores, with the same requests every run. For a deeper,
# random hunt: SAFETWIN_FUZZ_EXAMPLES=100 pytest -m slow tests/api/test_openapi_fuzz.py -s
EXAMPLES = int(os.environ.get("SAFETWIN_FUZZ_EXAMPLES", "8"))
DERANDOMIZE = "SAFETWIN_FUZZ_EXAMPLES" not in os.environ
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass
class App:
    app: FastAPI
    client: TestClient
    headers: dict[str, str]


@dataclass
class Findings:
    """What the run saw: status classes per router and the first problem of each operation."""

    statuses: Counter[str] = field(default_factory=Counter)
    problems: dict[str, str] = field(default_factory=dict)

    def problem(self, label: str, message: str) -> None:
        self.problems.setdefault(label, message)


def _operations_of(module: Any) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every operation a router module declares (its own OpenAPI)."""
    app = FastAPI()
    app.include_router(module.router)
    return {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}


def _seed_alarms(app: FastAPI) -> None:
    """A few alarm occurrences, so ``/alarm-records/{alarm_pk}`` names real rows."""
    now = datetime.now(UTC)
    with app.state.session_factory.begin() as session:
        for i, tag in enumerate(("PT-101", "LT-102", "TT-103")):
            event = AlarmEvent(
                alarm_id=f"{tag}:H",
                source_kind="tag",
                source_id=tag,
                kind="H",
                priority=AlarmPriority.HIGH,
                state=AlarmState.ACTIVE,
                ts=int((now - timedelta(minutes=10 - i)).timestamp() * 1000),
                value=1.7,
                limit=1.6,
                message=f"{tag} 高报",
            )
            alarms.record_event(session=session, event=event, area="tank_farm")


@pytest.fixture(scope="module")
def full_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(environment="test", data_dir=data_dir), start_runtime=False)
    with TestClient(app) as client:
        password = app.state.demo_admin_password
        with app.state.session_factory.begin() as session:
            load_demo(session=session, plant=app.state.plant)
        _seed_alarms(app)
        login = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        seeds = [
            ("/api/v1/certificates", {"kind": "安全生产许可证", "number": "(粤)WH安许证字[2024]0001"}),
            ("/api/v1/notifications/rules", {"name": "罐区高报", "roles": ["shift_leader"], "channels": ["sms"]}),
            (
                "/api/v1/notifications/roster",
                {"person": "张三", "role": "shift_leader", "shift_start": "08:00:00", "shift_end": "20:00:00"},
            ),
        ]
        for url, body in seeds:
            response = client.post(url, json=body, headers=headers)
            assert response.status_code == 201, response.text
        yield App(app=app, client=client, headers=headers)


def _real_ids(target: App, path: str, cache: dict[str, list[int]]) -> list[int]:
    """Ids of live rows under the collection a path's first ``{id}`` belongs to."""
    collection = path.split("{", 1)[0].rstrip("/")
    if collection not in cache:
        ids: list[int] = []
        response = target.client.get(collection, headers=target.headers)
        if response.status_code == 200:
            body = response.json()
            items = body.get("items", []) if isinstance(body, dict) else body
            if isinstance(items, list):
                ids = [item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), int)]
        cache[collection] = ids[:20] or [1]
    return cache[collection]


def _client_error_problem(response: Any) -> str | None:
    """Why a 4xx body would not help a person (None when it does)."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} is not JSON: {response.text[:120]!r}"
    if not isinstance(body, dict) or not body.get("detail"):
        return f"{response.status_code} has no detail: {str(body)[:160]}"
    if response.status_code == 422 and "errors" in body:
        errors = body["errors"]
        if not errors or not all(isinstance(e, dict) and e.get("message") for e in errors):
            return f"422 without a message per field: {str(body)[:160]}"
    return None


def _describe(case: Any) -> str:
    return f"path={case.path_parameters} query={case.query} body={str(case.body)[:200]}"


def _fuzz(target: App, operation: Any, router: str, real: list[int], findings: Findings) -> None:
    """Send EXAMPLES valid and schema-breaking requests to one operation; note what goes wrong."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    parameters = _PATH_PARAMETER.findall(operation.path)

    @given(case=st.one_of(strategies), data=st.data())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,  # by default the same requests every run: a failure is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any, data: st.DataObject) -> None:
        if parameters and case.path_parameters and data.draw(st.booleans(), label="real id"):
            case.path_parameters[parameters[0]] = data.draw(st.sampled_from(real), label="id")
        try:
            response = case.call(headers=target.headers)
        except Exception as exc:  # the app raised instead of answering: a 500 for a real client
            findings.problem(operation.label, f"raised {exc!r} for {_describe(case)}")
            findings.statuses[f"{router} exception"] += 1
            return
        findings.statuses[f"{router} {response.status_code // 100}xx"] += 1
        if response.status_code >= 500:
            findings.problem(operation.label, f"{response.status_code} {response.text[:200]} for {_describe(case)}")
        elif response.status_code >= 400:
            problem = _client_error_problem(response)
            if problem:
                findings.problem(operation.label, f"{problem} for {_describe(case)}")
        else:
            try:
                operation.validate_response(response, case=case)
            except (Failure, FailureGroup) as exc:
                findings.problem(operation.label, f"2xx not as documented: {str(exc)[:300]} for {_describe(case)}")

    fuzz()


@pytest.mark.slow
@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_no_operation_answers_5xx_and_every_answer_keeps_its_promise(full_app: App) -> None:
    wanted = {op: name for name, module in ROUTERS.items() for op in _operations_of(module)}
    schema = schemathesis.openapi.from_asgi("/openapi.json", full_app.app)
    operations = [
        op
        for op in (cast(Any, result).ok() for result in schema.get_all_operations())
        if (op.method.upper(), op.path) in wanted
    ]
    assert {(op.method.upper(), op.path) for op in operations} == set(wanted), "an operation is missing from OpenAPI"

    findings = Findings()
    ids: dict[str, list[int]] = {}
    started = time.perf_counter()
    for operation in operations:
        router = wanted[(operation.method.upper(), operation.path)]
        real = _real_ids(full_app, operation.path, ids) if "{" in operation.path else [1]
        _fuzz(full_app, operation, router, real, findings)

    elapsed = time.perf_counter() - started
    per_router = Counter(wanted.values())
    summary = [f"fuzzed {len(operations)} operations x {EXAMPLES} examples in {elapsed:.1f} s"]
    summary += [
        f"  {name}: {per_router[name]} operations, "
        + ", ".join(
            f"{k.split(' ', 1)[1]}={v}" for k, v in sorted(findings.statuses.items()) if k.startswith(name + " ")
        )
        for name in ROUTERS
    ]
    print("\n".join(summary))  # noqa: T201 - the run's summary, shown with -s or on failure
    assert not findings.problems, "\n".join(f"{label}: {message}" for label, message in findings.problems.items())
    assert all(findings.statuses[f"{name} 2xx"] > 0 for name in ROUTERS), "a router never answered 2xx"


# --- regressions the fuzzer found ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/alarm-records/9223372036854775808"),
        ("GET", "/api/v1/alarm-records/1/attachments/99999999999999999999"),
        ("DELETE", "/api/v1/notifications/rules/9223372036854775808"),
        ("DELETE", "/api/v1/notifications/roster/9223372036854775808"),
        ("GET", "/api/v1/notifications/roster?offset=9223372036854775808"),
        ("GET", "/api/v1/notifications/deliveries?offset=9223372036854775808"),
    ],
)
def test_ids_and_offsets_beyond_the_database_are_a_422_naming_them(full_app: App, method: str, url: str) -> None:
    """They used to overflow SQLite's INTEGER (an exception, i.e. a 500); now the schema bounds them."""
    response = full_app.client.request(method, url, headers=full_app.headers)
    assert response.status_code == 422, response.text
    fields = [e["field"] for e in response.json()["errors"]]
    assert any(name in f for f in fields for name in ("alarm_pk", "attachment_id", "rule_id", "entry_id", "offset"))


def test_an_import_naming_a_missing_person_is_a_422_with_the_row(full_app: App) -> None:
    """It used to reach the foreign key (IntegrityError, a 500); now it is a row error and nothing is written."""
    url = "/api/v1/person-certificates"
    before = full_app.client.get(url, headers=full_app.headers).json()["total"]
    person = full_app.client.get("/api/v1/people", headers=full_app.headers).json()["items"][0]["id"]
    content = f"人员ID,证书类型,证书编号\n{person},其他,F-1\n999999,其他,F-2\n".encode("utf-8-sig")
    response = full_app.client.post(
        f"{url}/import", files={"file": ("证书.csv", content, "text/csv")}, headers=full_app.headers
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["imported"] == 0
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "人员ID")]
    assert "999999" in body["errors"][0]["message"]
    assert full_app.client.get(url, headers=full_app.headers).json()["total"] == before
