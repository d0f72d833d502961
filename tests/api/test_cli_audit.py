"""``safetwin audit verify``: the hash chain of the configured database, checked from the command line.

A real registers database (migrated SQLite file) gets entries through the same group-commit
writer the API uses; the command must pass the intact trail, and name the first entry when a
row is changed or deleted straight in the database (as someone with file access would, after
dropping its append-only triggers), with
exit status 1 so a cron job notices.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from registers.audit import service as audit
from registers.db import make_engine, make_session_factory
from tests.db_fixtures import migrate_registers

runner = CliRunner()
ENTRIES = 25


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir whose default database holds ENTRIES chained audit entries."""
    url = f"sqlite:///{tmp_path / 'safetwin.db'}"
    migrate_registers(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    for i in range(ENTRIES):
        audit.record(factory, audit.Event(actor=f"user{i % 3}", action="login", object_type="session", detail=str(i)))
    engine.dispose()
    return tmp_path


def _verify(data_dir: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", *args], env={"SAFETWIN_DATA_DIR": str(data_dir)})
    return result.exit_code, result.output


def _tamper(data_dir: Path, statement: str) -> None:
    """Change the file the way someone with access to it would: the append-only triggers go first."""
    with sqlite3.connect(data_dir / "safetwin.db") as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)  # the database itself refuses while its triggers stand
        for verb in ("update", "delete"):
            db.execute(f"DROP TRIGGER audit_log_no_{verb}")
        assert db.execute(statement).rowcount == 1


def test_an_intact_trail_passes_with_the_number_checked(data_dir: Path) -> None:
    code, output = _verify(data_dir, "--batch", "7")  # several batches: the walk goes on across them
    assert code == 0, output
    assert f"audit trail intact: {ENTRIES} records checked" in output


def test_a_row_altered_in_the_database_is_named_with_exit_1(data_dir: Path) -> None:
    _tamper(data_dir, "UPDATE audit_log SET detail = 'nothing happened' WHERE id = 12")
    code, output = _verify(data_dir)
    assert code == 1, output
    assert "broken at record #12" in output and "entry altered" in output
    assert "11 of 25 records intact" in output


def test_a_deleted_row_breaks_the_chain_at_the_next_one(data_dir: Path) -> None:
    _tamper(data_dir, "DELETE FROM audit_log WHERE id = 5")
    code, output = _verify(data_dir, "--database-url", f"sqlite:///{data_dir / 'safetwin.db'}")
    assert code == 1, output
    assert "broken at record #6" in output and "chain broken" in output


def test_no_database_is_a_clean_refusal_that_creates_nothing(tmp_path: Path) -> None:
    code, output = _verify(tmp_path)
    assert code == 2, output
    assert "nothing to verify" in output
    assert not (tmp_path / "safetwin.db").exists()
