"""Issue 12: ``safetwin demo`` leaves 证照与报告 empty although README says it fills every register.

Runs the real CLI command on a fresh data folder, then reads the ledger through the
certificates API the web page uses: the enterprise's licences and reports are there, the two
that lapse within 90 days are flagged 即将到期 (the renewal under way is 换证中), and the people
register holds personal certificates of which some are near expiry too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.auth import create_token, get_current_user
from api.cli import app as cli
from api.routers.certificates import router as certificates_router
from api.routers.people import router as people_router
from api.settings import Settings
from registers.certificates.models import CertificateKind
from registers.certificates.schemas import EXPIRING_WITHIN_DAYS
from registers.certificates.service import EXPIRY_LEAD_DAYS
from registers.db import make_engine, make_session_factory, utcnow
from registers.users import service as users


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAFETWIN_DATA_DIR", str(folder))
        result = CliRunner().invoke(cli, ["demo"])
        assert result.exit_code == 0, result.output
        assert "certificate" in result.output
        settings = Settings(environment="test", data_dir=folder)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        reader = users.create_user(session=session, username="reader", password="Chlorine-Tank-42", roles=["analyst"])
        headers = {"Authorization": f"Bearer {create_token(settings, reader)}"}
    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(certificates_router, dependencies=[Depends(get_current_user)])
    app.include_router(people_router, dependencies=[Depends(get_current_user)])
    with TestClient(app) as test_client:
        yield test_client, headers
    engine.dispose()


def _items(client: TestClient, headers: dict[str, str], url: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(url, params={"size": 200, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_demo_fills_the_certificates_ledger(client: tuple[TestClient, dict[str, str]]) -> None:
    test_client, headers = client
    items = _items(test_client, headers, "/api/v1/certificates")
    assert {i["kind"] for i in items} == {k.value for k in CertificateKind}, "every kind of document is held"
    assert all(i["holder"] == "示范化工有限公司" for i in items)
    assert all(i["is_complete"] for i in items), [(i["number"], i["missing_labels"]) for i in items]
    # the safety evaluation report (every three years) and the licence being renewed lapse soon
    expiring = {i["kind"]: i for i in items if i["expiry_label"] == "即将到期"}
    assert set(expiring) == {"安全生产许可证", "安全评价报告"}
    assert expiring["安全生产许可证"]["status"] == "换证中"
    assert all(0 <= i["days_to_expiry"] <= EXPIRING_WITHIN_DAYS for i in expiring.values())
    valid = [i for i in items if i["expiry_label"] == "有效"]
    assert valid and all(i["days_to_expiry"] > EXPIRING_WITHIN_DAYS for i in valid)
    # 三同时 documents have no expiry: no flag rather than a wrong one
    assert all(i["expiry_label"] is None for i in items if i["kind"] == "三同时资料")
    # the ledger's default order is soonest expiry first, so the flagged rows lead the page
    assert [i["kind"] for i in items[:2]] == ["安全评价报告", "安全生产许可证"]


def test_expiring_flag_follows_the_first_reminder_and_the_list_filters_on_it(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    assert EXPIRING_WITHIN_DAYS == max(EXPIRY_LEAD_DAYS)
    test_client, headers = client
    items = _items(test_client, headers, "/api/v1/certificates")
    horizon = min(date.fromisoformat(i["expiry_date"]) for i in items if i["expiry_label"] == "有效")
    before = (horizon - timedelta(days=1)).isoformat()
    soon = _items(test_client, headers, "/api/v1/certificates", expiry_date__lte=before)
    assert {i["kind"] for i in soon} == {"安全生产许可证", "安全评价报告"}


def test_demo_people_hold_certificates_some_near_expiry(client: tuple[TestClient, dict[str, str]]) -> None:
    test_client, headers = client
    certs = _items(test_client, headers, "/api/v1/person-certificates")
    assert len(certs) >= 5
    today = utcnow().date()
    near = [c for c in certs if c["expiry_date"] and (date.fromisoformat(c["expiry_date"]) - today).days <= 90]
    assert near, "some personal certificates (特种作业证, 注册安全工程师) are near expiry"
