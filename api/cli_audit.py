"""``safetwin audit``: checks on the audit trail (审计日志) from the command line.

``safetwin audit verify`` recomputes the hash chain of the configured registers database
(``SAFETWIN_DATABASE_URL``, else the SQLite file under ``SAFETWIN_DATA_DIR``) with
:func:`registers.audit.service.verify`, the same walk as ``GET /api/v1/audit/verify``, but
without a running API or an auditor's token: an operator or an external auditor can run it
against a copy of the database, and a cron job can act on the exit status. Exit codes: 0 the
chain is intact, 1 an entry was altered, removed or inserted (the first one is named), 2 there
is no audit trail to check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli_console import console
from api.cli_console import fail as _fail
from api.settings import Settings

audit_app = typer.Typer(help="Audit trail (审计日志): tamper evidence.", no_args_is_help=True)

EXIT_BROKEN = 1
EXIT_NO_TRAIL = 2


def _database_url(option: str | None) -> str:
    """The URL to check: the option, else the settings' (a bad SAFETWIN_* value exits cleanly)."""
    if option:
        return option
    try:
        return Settings().resolved_database_url
    except ValueError as err:  # pydantic's ValidationError and SettingsError are ValueErrors
        _fail(f"invalid settings (SAFETWIN_* environment): {err}", code=EXIT_NO_TRAIL)


@audit_app.command("verify")
def verify(
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="registers database (default SAFETWIN_DATABASE_URL or the data dir's)"),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="entries read per query")] = 1000,
) -> None:
    """Recompute the audit trail's hash chain; exit 1 naming the first altered, removed or inserted entry."""
    # imported here, as in api.cli: `safetwin --help` should not load the database stack
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from sqlalchemy import func, inspect, select
    from sqlalchemy.engine import make_url

    from registers.audit import service as audit
    from registers.audit.models import AuditEntry
    from registers.db import make_engine, make_session_factory

    url = _database_url(database_url)
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        _fail(f"no registers database at {shown}: nothing to verify", code=EXIT_NO_TRAIL)  # never create one
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(AuditEntry.__tablename__):
            _fail(f"{shown} has no audit trail (table {AuditEntry.__tablename__}): start safetwin once", EXIT_NO_TRAIL)
        with make_session_factory(engine)() as session:
            total = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=True) as progress:
                task = progress.add_task("校验审计日志 / verifying the hash chain", total=total)
                result = audit.verify(session=session, batch=batch, progress=lambda n: progress.advance(task, n))
    finally:
        engine.dispose()
    if not result.ok:
        _fail(
            f"audit trail broken at record #{result.first_bad_id}: {result.reason} "
            f"({result.checked} of {total} records intact before it)",
            code=EXIT_BROKEN,
        )
    console.print(f"[green]✓[/] audit trail intact: {result.checked} records checked", highlight=False, soft_wrap=True)
    console.print(f"  last hash {result.last_hash}", highlight=False)
