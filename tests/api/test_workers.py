"""``safetwin api --workers N``: pool sizing and the configurations several workers cannot share."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.workers import MIN_CONNECTIONS, WorkerSetupError, pool_for_workers
from registers.db import POOL_OVERFLOW, POOL_SIZE


def test_workers_share_what_postgres_has_free() -> None:
    assert pool_for_workers(workers=2, free_connections=97) == (POOL_SIZE, POOL_OVERFLOW)  # plenty: full pools
    size, overflow = pool_for_workers(workers=4, free_connections=80)
    assert 4 * (size + overflow) <= 80
    assert size + overflow >= MIN_CONNECTIONS


def test_too_few_connections_is_refused_with_what_to_change() -> None:
    with pytest.raises(WorkerSetupError, match="max_connections"):
        pool_for_workers(workers=97 // MIN_CONNECTIONS + 1, free_connections=97)


def test_several_workers_on_sqlite_are_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFETWIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SAFETWIN_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    result = CliRunner().invoke(app, ["api", "--workers", "2", "--brokers", "127.0.0.1:1"])
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output
    assert not (tmp_path / "r.db").exists()  # nothing migrated, nothing seeded


@pytest.mark.parametrize("auth_cache", [True, False])
def test_each_workers_listener_of_account_changes_is_counted_in_the_connections(
    tmp_path: Path, auth_cache: bool
) -> None:
    # Exactly enough for two workers' pools, none for their listeners (api.signed_in_cache):
    # with the cache the pools would take every connection and a listener would find none.
    from sqlalchemy.exc import OperationalError

    from api.settings import Settings
    from api.workers import prepare

    settings = Settings(
        data_dir=tmp_path, database_url="postgresql+psycopg://x:y@127.0.0.1:1/none", auth_cache=auth_cache
    )
    if auth_cache:
        with pytest.raises(WorkerSetupError, match="max_connections"):
            prepare(settings, workers=2, db_connections=2 * MIN_CONNECTIONS)
    else:  # the pools fit: prepare goes on to migrate, and finds no server on port 1
        with pytest.raises(OperationalError):
            prepare(settings, workers=2, db_connections=2 * MIN_CONNECTIONS)
