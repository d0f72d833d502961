"""Notify every API process of a change to accounts, roles or logouts (账号变更通知)

PostgreSQL only: triggers on ``users``, ``roles``, ``user_roles`` and ``revoked_tokens`` send
``NOTIFY safetwin_auth`` at the commit of any change, whoever makes it, naming the account,
the token or everything. The API's per-process cache of signed-in users
(``api.signed_in_cache``) forgets what each notification names and serves nothing while it
is not listening. SQLite has no NOTIFY, and the cache is not used there.

Revision ID: 2026_12_05_0045
Revises: 2026_12_03_0017
Created: 2026-12-05 13:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_12_05_0045"
down_revision: str | Sequence[str] | None = "2026_12_03_0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "roles", "user_roles", "revoked_tokens")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # One notification per changed row, naming what the API's cache must forget (payloads as
    # api.signed_in_cache.user_key / token_key); a role's definition or a truncate: everything.
    # PostgreSQL sends them at commit, and once per transaction for equal payloads.
    op.execute(
        """CREATE OR REPLACE FUNCTION safetwin_notify_auth_row() RETURNS trigger
           LANGUAGE plpgsql AS $$
           DECLARE
               changed RECORD;
           BEGIN
               IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
               IF TG_TABLE_NAME = 'users' THEN
                   PERFORM pg_notify('safetwin_auth', 'user:' || changed.id);
               ELSIF TG_TABLE_NAME = 'user_roles' THEN
                   PERFORM pg_notify('safetwin_auth', 'user:' || changed.user_id);
               ELSE
                   PERFORM pg_notify('safetwin_auth', 'token:' || changed.jti);
               END IF;
               RETURN NULL;
           END $$"""
    )
    op.execute(
        """CREATE OR REPLACE FUNCTION safetwin_notify_auth_all() RETURNS trigger
           LANGUAGE plpgsql AS $$
           BEGIN
               PERFORM pg_notify('safetwin_auth', 'all');
               RETURN NULL;
           END $$"""
    )
    for table, events in (("users", "INSERT OR UPDATE OR DELETE"), ("user_roles", "INSERT OR UPDATE OR DELETE")):
        op.execute(
            f"""CREATE TRIGGER notify_auth_change AFTER {events} ON {table}
                FOR EACH ROW EXECUTE FUNCTION safetwin_notify_auth_row()"""
        )
    # a removed revocation (an expired token's row cleaned up) ends nothing: not reported
    op.execute(
        """CREATE TRIGGER notify_auth_change AFTER INSERT OR UPDATE ON revoked_tokens
           FOR EACH ROW EXECUTE FUNCTION safetwin_notify_auth_row()"""
    )
    op.execute(
        """CREATE TRIGGER notify_auth_change AFTER INSERT OR UPDATE OR DELETE ON roles
           FOR EACH STATEMENT EXECUTE FUNCTION safetwin_notify_auth_all()"""
    )
    for table in TABLES:
        op.execute(
            f"""CREATE TRIGGER notify_auth_truncate AFTER TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION safetwin_notify_auth_all()"""
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS notify_auth_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS notify_auth_change ON {table}")
    op.execute("DROP FUNCTION IF EXISTS safetwin_notify_auth_row()")
    op.execute("DROP FUNCTION IF EXISTS safetwin_notify_auth_all()")
