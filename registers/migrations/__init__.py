"""Alembic migrations of the registers database; run them with ``registers.db.migrate``."""
