"""Risk scores in both stores: DuckDB (embedded) and ClickHouse's SQL run by the real engine (chDB).

chDB allows one data directory per process and another test module owns this process's, so
the ClickHouse case runs the same checks in a child process with its own directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from connectors.store.duckdb import DuckDBStore
from models.contracts import Contribution, RiskLevel, RiskScore

T0 = 1_780_000_000_000
ROOT = Path(__file__).resolve().parents[3]


def s(sid: str, ts: int, level: RiskLevel, points: float) -> RiskScore:
    return RiskScore(
        hazard_source_id=sid,
        ts=ts,
        level=level,
        score=points,
        contributions=[Contribution(factor="INH.GRADE", value=points)],
    )


def check_store(store: Any) -> None:
    """Latest per source, history newest first with bounds, replay doubles nothing."""
    rows = [
        s("MHS-01", T0, RiskLevel.ORANGE, 50),
        s("MHS-01", T0 + 1000, RiskLevel.RED, 75),
        s("MHS-02", T0, RiskLevel.BLUE, 0),
    ]
    assert store.write_risk_scores(rows) == 3
    store.write_risk_scores(rows)  # a replay after recovery
    latest = store.latest_risk()
    assert {k: (v.level, v.score) for k, v in latest.items()} == {
        "MHS-01": (RiskLevel.RED, 75.0),
        "MHS-02": (RiskLevel.BLUE, 0.0),
    }
    history = store.risk_history("MHS-01")
    assert [(h.ts, h.level) for h in history] == [(T0 + 1000, RiskLevel.RED), (T0, RiskLevel.ORANGE)]
    assert history[0].contributions == [Contribution(factor="INH.GRADE", value=75.0)]
    assert store.risk_history("MHS-01", start_ms=T0 + 1, end_ms=T0 + 2000) == history[:1]
    assert store.risk_history("MHS-99") == []
    assert store.write_risk_scores([]) == 0


def test_duckdb_store(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "risk.duckdb")
    store.init_schema()
    try:
        check_store(store)
    finally:
        store.close()


_CHILD = """
import sys
import clickhouse_connect
from connectors.store.clickhouse import ClickHouseStore
from tests.pipelines.risk.test_risk_store import check_store
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
store = ClickHouseStore(client, database="risk")
store.init_schema()
check_store(store)
print("ok")
"""


def test_clickhouse_store_sql_on_chdb(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "chdb")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
