"""The user, role and audit operations fuzzed from their OpenAPI schema, as the roles that own them.

Same checks as ``test_openapi_fuzz`` (no 5xx, readable 4xx, 2xx as documented), but signed in
as the auditor for ``/api/v1/audit`` and as the security administrator for accounts and
roles: admin gets 403 on all of them (三员分立), which would test nothing.
"""

from __future__ import annotations

import re
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routers import audit as audit_router
from api.routers import users as users_router
from api.security import INITIAL_PASSWORDS_FILE
from api.settings import Settings
from tests.api.test_openapi_fuzz import App, Findings, _fuzz, _operations_of, _real_ids

try:
    import schemathesis
except ImportError:  # pragma: no cover - schemathesis is a dev dependency
    schemathesis = None  # type: ignore[assignment]


@pytest.mark.slow
@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed")
def test_security_operations_never_answer_5xx(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("security-fuzz")
    app = create_app(Settings(environment="test", data_dir=data_dir), start_runtime=False)
    with TestClient(app) as client:
        text = (data_dir / INITIAL_PASSWORDS_FILE).read_text(encoding="utf-8")
        initial = dict(re.findall(r"^(\w+): (\S+)$", text, flags=re.MULTILINE))

        def signed_in(username: str) -> App:
            body = {"username": username, "password": initial[username]}
            token = client.post("/api/v1/auth/login", json=body).json()["access_token"]
            return App(app=app, client=client, headers={"Authorization": f"Bearer {token}"})

        client.post("/api/v1/auth/login", json={"username": "nobody", "password": "Wrong-Guess-1"})  # an entry
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
        findings = Findings()
        # the audit log first: the account fuzz may disable the auditor
        for module, who in ((audit_router, "auditor"), (users_router, "secadmin")):
            target = signed_in(who)
            wanted = _operations_of(module)
            mine = [op for op in operations if (op.method.upper(), op.path) in wanted]
            assert {(op.method.upper(), op.path) for op in mine} == wanted
            ids: dict[str, list[int]] = {}
            for operation in mine:
                real = _real_ids(target, operation.path, ids) if "{" in operation.path else [1]
                _fuzz(target, operation, module.__name__, real, findings)
    assert not findings.problems, "\n".join(f"{label}: {message}" for label, message in findings.problems.items())
    assert findings.statuses[f"{audit_router.__name__} 2xx"] > 0
    assert findings.statuses[f"{users_router.__name__} 2xx"] > 0
