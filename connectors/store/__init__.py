"""Time-series stores behind one interface: embedded DuckDB or ClickHouse (server or chDB).

Pick the back end with :func:`open_store` at the entry point and pass the store down; the
rest of SafeTwin only sees :class:`~connectors.store.base.TimeSeriesStore`. The back-end
modules are imported lazily so that importing this package costs nothing (chDB is large).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from connectors.store.base import HistoryPoint, TimeSeriesStore

__all__ = ["HistoryPoint", "TimeSeriesStore", "open_store"]


def open_store(
    kind: Literal["duckdb", "clickhouse"],
    *,
    duckdb_path: str | Path | None = None,
    clickhouse_dsn: str | None = None,
) -> TimeSeriesStore:
    """Build the configured store; call ``init_schema()`` on it once at start-up.

    Nothing is opened here for DuckDB (the file opens on first use); for ClickHouse the client
    is created (an HTTP client, or the process's embedded chDB engine for ``chdb://`` DSNs).

    Args:
        kind: ``"duckdb"`` for the single-box mode, ``"clickhouse"`` for production.
        duckdb_path: DuckDB file or ``":memory:"``; required for ``"duckdb"``.
        clickhouse_dsn: ``http(s)://user:pass@host:port`` or ``chdb:///abs/path``; required for
            ``"clickhouse"``.

    Returns:
        A store implementing :class:`~connectors.store.base.TimeSeriesStore`.

    Raises:
        ValueError: If the kind is unknown or its location argument is missing.
    """
    if kind == "duckdb":
        if duckdb_path is None:
            msg = "open_store('duckdb') needs duckdb_path"
            raise ValueError(msg)
        from connectors.store.duckdb import DuckDBStore

        return DuckDBStore(duckdb_path)
    if kind == "clickhouse":
        if not clickhouse_dsn:
            msg = "open_store('clickhouse') needs clickhouse_dsn"
            raise ValueError(msg)
        from connectors.store.clickhouse import ClickHouseStore

        return ClickHouseStore.from_dsn(clickhouse_dsn)
    msg = f"unknown store kind {kind!r}; expected 'duckdb' or 'clickhouse'"
    raise ValueError(msg)
