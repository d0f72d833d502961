"""Every operation of the full app, fuzzed from its OpenAPI schema with schemathesis's full check set.

Issue 13's acceptance: schemathesis with ``--checks all`` over every operation finds no 5xx, no
response that breaks its documented schema and no undocumented status code. This runs the
*whole* app (``create_app``, migrations and the built-in accounts in its lifespan, the demo data
set loaded so ids in paths hit real rows) and sends every operation schema-valid and
schema-breaking requests, signed in as the role that owns it (admin; the security
administrator for accounts and roles, the auditor for the audit log — 三员分立, admin would
get 403 everywhere there). Every response goes through all of schemathesis's checks:

- ``not_a_server_error``: never a 5xx, never an exception escaping the app;
- ``status_code_conformance``: every status the app answers is documented for that operation
  (the error statuses are documented app-wide by ``api.openapi_errors``);
- ``content_type_conformance``, ``response_headers_conformance`` and
  ``response_schema_conformance``: every body, 4xx included, is what the document promises
  (errors are one shape: ``detail`` plus ``errors`` with a message per field on a 422);
- ``negative_data_rejection`` / ``positive_data_acceptance``: schema-breaking requests are
  refused, schema-valid ones are not refused as malformed;
- ``ignored_auth``: the first success of each operation is repeated without and with a wrong
  token, which must be refused.

Two operations are not fuzzed, because a fuzzed call would end the session the fuzzer runs
in (see ``NOT_FUZZED``); targeted tests below send them through the same checks.

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
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.security import INITIAL_PASSWORDS_FILE
from api.settings import Settings
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from registers.alarms import service as alarms
from registers.demo import load_demo

# Hundreds of routes x examples: minutes on a 2-core CI box, more under load.
pytestmark = pytest.mark.timeout(1200)

try:
    import schemathesis
    from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.openapi.checks import RejectedPositiveData
    from schemathesis.specs.openapi.checks import ignored_auth, negative_data_rejection, positive_data_acceptance
except ImportError:  # pragma: no cover - schemathesis is a dev dependency
    schemathesis = None  # type: ignore[assignment]

# Operations a fuzzer must not call, and why; each has a targeted test in this file.
NOT_FUZZED = {
    ("POST", "/api/v1/auth/logout"): "revokes the very token the fuzzer signs in with",
    ("POST", "/api/v1/auth/me/password"): (
        "a success ends the fuzzing account's sessions, five wrong current passwords lock it"
    ),
}
# Areas whose success a fuzzer cannot reach, and why; the rest must answer 2xx at least once.
NO_SUCCESS = {
    "sim": "the simulator does not run in this app (start_runtime=False): its documented 409 is the answer",
    "history": "compare needs real tag names; test_history_compare_of_real_tags_is_as_documented checks the 200",
}
# Who fuzzes what: admin may do everything but accounts and the audit log (三员分立).
OWNER = {"/api/v1/users": "secadmin", "/api/v1/roles": "secadmin", "/api/v1/audit": "auditor"}
# Examples per operation (half valid, half schema-breaking on average). ~720 operations x 4
# keeps the file near two minutes on two cores, with the same requests every run. For a deeper,
# random hunt: SAFETWIN_FUZZ_EXAMPLES=100 pytest -m slow tests/api/test_openapi_fuzz.py -s
EXAMPLES = int(os.environ.get("SAFETWIN_FUZZ_EXAMPLES", "4"))
DERANDOMIZE = "SAFETWIN_FUZZ_EXAMPLES" not in os.environ
# Only the operations whose "METHOD /path" matches (while mending one router).
ONLY = re.compile(os.environ.get("SAFETWIN_FUZZ_ONLY", ""))
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass
class App:
    app: FastAPI
    client: TestClient
    headers: dict[str, str]
    # the headers of the other built-in accounts, by username
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    # user ids the account fuzz must not touch (it would disable or reset the fuzzers themselves)
    protected_users: frozenset[int] = frozenset()
    spare_user: int = 0


@dataclass
class Findings:
    """What the run saw: status classes per area and the first problem of each operation."""

    statuses: Counter[str] = field(default_factory=Counter)
    problems: dict[str, str] = field(default_factory=dict)
    auth_checked: set[str] = field(default_factory=set)

    def problem(self, label: str, message: str) -> None:
        self.problems.setdefault(label, message)


def _operations_of(module: Any) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every operation a router module declares (its own OpenAPI)."""
    app = FastAPI()
    app.include_router(module.router)
    return {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}


def _area(path: str) -> str:
    """``/api/v1/training/records/{record_id}`` -> ``training``: the summary's grouping."""
    parts = path.split("/")
    return parts[3] if len(parts) > 3 else path  # noqa: PLR2004 - /api/v1/<area>/...


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


def initial_passwords(data_dir: Path) -> dict[str, str]:
    """The built-in accounts' first passwords, from the 0600 file the app writes at first start."""
    text = (data_dir / INITIAL_PASSWORDS_FILE).read_text(encoding="utf-8")
    return dict(re.findall(r"^(\w+): (\S+)$", text, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def full_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(environment="test", data_dir=data_dir), start_runtime=False)
    with TestClient(app) as client:
        with app.state.session_factory.begin() as session:
            load_demo(session=session, plant=app.state.plant)
        _seed_alarms(app)
        runtime = app.state.runtime
        runtime.store = runtime.open_store()  # what `safetwin run` opens at start: no 503 "store not ready"
        accounts: dict[str, dict[str, str]] = {}
        for username, password in initial_passwords(data_dir).items():
            login = client.post("/api/v1/auth/login", json={"username": username, "password": password})
            assert login.status_code == 200, login.text
            accounts[username] = {"Authorization": f"Bearer {login.json()['access_token']}"}
        headers = accounts["admin"]
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
        builtin = client.get("/api/v1/users", headers=accounts["secadmin"]).json()["items"]
        spare = client.post(
            "/api/v1/users",
            json={
                "username": "fuzz_spare",
                "password": "Spare-Account-2024!",
                "roles": ["operator"],
                "must_change_password": False,
            },
            headers=accounts["secadmin"],
        )
        assert spare.status_code == 201, spare.text
        yield App(
            app=app,
            client=client,
            headers=headers,
            accounts=accounts,
            protected_users=frozenset(u["id"] for u in builtin),
            spare_user=spare.json()["id"],
        )


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
        ids = [i for i in ids if i not in target.protected_users] if collection.endswith("/users") else ids
        cache[collection] = ids[:20] or [target.spare_user or 1]
    return cache[collection]


def _refused_by_a_rule(response: Any, case: Any) -> bool:
    """Whether a refusal of schema-valid data names a rule no JSON schema can state.

    A reference to a record that does not exist, an end before its start, a password the
    policy refuses, a workflow step out of turn, a file whose rows are wrong, a date before
    1900 (JSON Schema has no minimum for dates), text that is empty once stripped: the request
    is well formed, the data is not acceptable. Those come back as a 422 whose every field
    error is a ``value_error`` (raised by a rule, not by the schema's types and bounds), a
    bound on a date or the minimum length of whitespace-only text; a 422 without field errors
    (a service's own message), an import's row errors, or a documented 400. Any other kind
    (``missing``, ``string_too_long``, ``extra_forbidden``, ...) means the document
    promises more than the validation keeps: that stays a finding.
    """
    if response.status_code == 400:  # noqa: PLR2004
        return True
    if response.status_code != 422:  # noqa: PLR2004
        return False
    body = response.json()
    if "imported" in body:  # an import's row errors
        return True
    errors = body.get("errors")
    if errors is None:
        return True
    dates = _date_fields(case.operation)
    sent = {**(case.query or {}), **(case.body if isinstance(case.body, dict) else {})}

    def by_rule(error: dict[str, Any]) -> bool:
        name, kind = error["field"].rsplit(".", 1)[-1], error.get("type")
        if kind == "value_error" or (kind in _BOUNDS and name in dates):
            return True
        # text is stripped before its minimum length is checked; the document cannot say so
        value = sent.get(name)
        return kind in _SHORT and isinstance(value, str) and not value.strip()

    return all(by_rule(e) for e in errors)


_BOUNDS = frozenset({"greater_than_equal", "greater_than", "less_than_equal", "less_than"})
_SHORT = frozenset({"too_short", "string_too_short"})


def positive_data_acceptance_beyond_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's ``positive_data_acceptance``, except for refusals by a rule (see above)."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _refused_by_a_rule(response, case):
            return None
        raise


def _lenient_on_the_wire(case: Any) -> bool:
    """Whether the schema-breaking part of a request is valid again once it is on the wire.

    A multipart form sends every value as text or bytes (``file: true`` arrives as a file
    holding ``true``), and a number in a date or date-time query parameter is a Unix time to
    pydantic, by design: neither is data the server could tell from valid data.
    """
    if case.media_type == "multipart/form-data":
        return True
    dates = _date_fields(case.operation)
    sent = {**(case.query or {}), **(case.body if isinstance(case.body, dict) else {})}
    return any(
        name in dates and isinstance(value, int | float) and not isinstance(value, bool) for name, value in sent.items()
    )


def _is_date(schema: dict[str, Any]) -> bool:
    return any(s.get("format") in {"date", "date-time"} for s in [schema, *schema.get("anyOf", [])])


def _date_fields(operation: Any) -> set[str]:
    """Names of the date and date-time query parameters and JSON body fields of an operation."""
    definition = operation.definition.raw
    names = {p["name"] for p in definition.get("parameters", []) if _is_date(p.get("schema", {}))}
    body = definition.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = body.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        body = operation.schema.raw_schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    names |= {name for name, prop in body.get("properties", {}).items() if _is_date(prop)}
    return names


def negative_data_rejection_on_the_wire(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's ``negative_data_rejection``, except for data the wire makes valid (see above)."""
    try:
        return negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if _lenient_on_the_wire(case):
            return None
        raise


def _describe(case: Any) -> str:
    return f"path={case.path_parameters} query={case.query} body={str(case.body)[:200]}"


def _first_failure(exc: Failure | FailureGroup) -> str:
    failures = list(exc.exceptions) if isinstance(exc, FailureGroup) else [exc]
    return "; ".join(f"[{type(f).__name__}] {f.title}: {f.message[:300]}" for f in failures)


REFINED_CHECKS = [positive_data_acceptance_beyond_rules, negative_data_rejection_on_the_wire]


def _fuzz(target: App, operation: Any, router: str, real: list[int], findings: Findings) -> None:
    """Send EXAMPLES valid and schema-breaking requests to one operation; run every check on each answer."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    parameters = _PATH_PARAMETER.findall(operation.path)
    users = operation.path.startswith("/api/v1/users/{")

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
        positive = case.meta is not None and case.meta.generation.mode.is_positive
        if parameters and positive and data.draw(st.booleans(), label="real id"):
            case.path_parameters[parameters[0]] = data.draw(st.sampled_from(real), label="id")
        if users and case.path_parameters.get("user_id") in target.protected_users:
            case.path_parameters["user_id"] = target.spare_user  # never disable or reset a fuzzing account
        try:
            response = case.call(headers=target.headers)
        except Exception as exc:  # the app raised instead of answering: a 500 for a real client
            findings.problem(operation.label, f"raised {exc!r} for {_describe(case)}")
            findings.statuses[f"{router} exception"] += 1
            return
        findings.statuses[f"{router} {response.status_code // 100}xx"] += 1
        # ignored_auth repeats a success twice (no token, wrong token): once per operation is enough
        excluded = [positive_data_acceptance, negative_data_rejection]
        if operation.label in findings.auth_checked:
            excluded.append(ignored_auth)
        try:
            case.validate_response(
                response, headers=target.headers, excluded_checks=excluded, additional_checks=REFINED_CHECKS
            )
        except (Failure, FailureGroup) as exc:
            findings.problem(
                operation.label,
                f"{response.status_code} {response.text[:300]!r}: {_first_failure(exc)} for {_describe(case)}",
            )
        if response.status_code < 300:  # noqa: PLR2004
            findings.auth_checked.add(operation.label)

    fuzz()


@pytest.mark.slow
@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_every_operation_passes_every_schemathesis_check(full_app: App) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", full_app.app)
    every = [cast(Any, result).ok() for result in schema.get_all_operations()]
    assert len(every) >= 600, "the app's OpenAPI lost operations"  # noqa: PLR2004
    assert set(NOT_FUZZED) <= {(op.method.upper(), op.path) for op in every}, "an exclusion names no operation"
    operations = [
        op
        for op in every
        if (op.method.upper(), op.path) not in NOT_FUZZED and ONLY.search(f"{op.method.upper()} {op.path}")
    ]
    # accounts last: a disabled or reset account cannot spoil the operations fuzzed after it
    operations.sort(key=lambda op: op.path.startswith("/api/v1/users"))

    findings = Findings()
    ids: dict[str, list[int]] = {}
    started = time.perf_counter()
    for operation in operations:
        owner = next((who for prefix, who in OWNER.items() if operation.path.startswith(prefix)), "admin")
        target = App(
            app=full_app.app,
            client=full_app.client,
            headers=full_app.accounts[owner],
            protected_users=full_app.protected_users,
            spare_user=full_app.spare_user,
        )
        real = _real_ids(target, operation.path, ids) if "{" in operation.path else [1]
        _fuzz(target, operation, _area(operation.path), real, findings)

    elapsed = time.perf_counter() - started
    areas = Counter(_area(op.path) for op in operations)
    summary = [f"fuzzed {len(operations)} operations x {EXAMPLES} examples in {elapsed:.1f} s"]
    summary += [
        f"  {name}: {count} operations, "
        + ", ".join(
            f"{k.split(' ', 1)[1]}={v}" for k, v in sorted(findings.statuses.items()) if k.startswith(name + " ")
        )
        for name, count in sorted(areas.items())
    ]
    print("\n".join(summary))  # noqa: T201 - the run's summary, shown with -s or on failure
    assert not findings.problems, "\n".join(f"{label}: {message}" for label, message in findings.problems.items())
    if not ONLY.pattern:
        silent = [name for name in areas if not findings.statuses[f"{name} 2xx"] and name not in NO_SUCCESS]
        assert not silent, f"never answered 2xx, so their success bodies went unchecked: {silent}"


# --- the operations not fuzzed, through the same checks ---------------------------------------


def _operation(target: App, method: str, path: str) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", target.app)
    return schema[path][method]


@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_logout_answers_as_documented_and_ends_only_its_token(full_app: App) -> None:
    operation = _operation(full_app, "POST", "/api/v1/auth/logout")
    password = initial_passwords(full_app.app.state.settings.data_dir)["admin"]
    token = full_app.client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    for query, expected in (({"everywhere": "maybe"}, 422), ({}, 204)):
        case = operation.Case(query=query)
        response = case.call(headers=headers)
        assert response.status_code == expected, response.text
        case.validate_response(response, headers=headers, excluded_checks=[ignored_auth])
    # the revoked token is refused in the documented shape; the fuzzer's own token still works
    again = operation.Case()
    refused = again.call(headers=headers)
    assert refused.status_code == 401
    assert "detail" in refused.json()
    again.validate_response(refused, headers=headers)
    assert full_app.client.get("/api/v1/auth/me", headers=full_app.headers).status_code == 200


@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_password_change_answers_as_documented(full_app: App) -> None:
    operation = _operation(full_app, "POST", "/api/v1/auth/me/password")
    spare = {"username": "pw_change", "password": "Spare-Account-2024!"}
    opened = full_app.client.post(
        "/api/v1/users", json={**spare, "must_change_password": False}, headers=full_app.accounts["secadmin"]
    )
    assert opened.status_code == 201, opened.text
    token = full_app.client.post("/api/v1/auth/login", json=spare)
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    attempts = [
        ({"current_password": "not-it", "new_password": "Another-Long-Pass-7"}, 400),
        ({"current_password": spare["password"], "new_password": "short"}, 422),
        ({"current_password": spare["password"]}, 422),
        ({"current_password": spare["password"], "new_password": "Brand-New-Secret-2025!"}, 204),
    ]
    for body, expected in attempts:
        case = operation.Case(body=body, media_type="application/json")
        response = case.call(headers=headers)
        assert response.status_code == expected, response.text
        case.validate_response(response, headers=headers, excluded_checks=[ignored_auth])
    assert full_app.client.get("/api/v1/auth/me", headers=headers).status_code == 401  # the change ended it


@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_history_compare_of_real_tags_is_as_documented(full_app: App) -> None:
    operation = _operation(full_app, "GET", "/api/v1/history/compare")
    for query, expected in (({"tags": ["PT-101", "TT-101"]}, 200), ({"tags": ["NO-SUCH-TAG"]}, 404)):
        case = operation.Case(query=query)
        response = case.call(headers=full_app.headers)
        assert response.status_code == expected, response.text
        case.validate_response(response, headers=full_app.headers, excluded_checks=[ignored_auth])


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
