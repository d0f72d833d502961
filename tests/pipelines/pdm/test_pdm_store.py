"""PdM features and predictions in both stores (ClickHouse SQL on chDB in a child process, see risk)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from connectors.store.duckdb import DuckDBStore
from models.contracts import PdmPrediction
from models.pdm.stream import PdmFeatureRow

T0 = 1_780_000_000_000
ROOT = Path(__file__).resolve().parents[3]


def check_store(store: Any) -> None:
    """Newest prediction per asset; a replay doubles nothing."""
    features = [PdmFeatureRow(asset_id="P-401", ts=T0 + i, features={"rms": 2.0 + i}) for i in range(2)]
    predictions = [
        PdmPrediction(asset_id="P-401", ts=T0, health=0.9, anomaly_score=0.4, rul_days=27.0, top_features=["rms"]),
        PdmPrediction(
            asset_id="P-401", ts=T0 + 1, health=0.2, anomaly_score=0.7, rul_days=6.0, top_features=["kurtosis"]
        ),
        PdmPrediction(asset_id="C-1", ts=T0, health=1.0, anomaly_score=0.3, rul_days=None),
    ]
    assert store.write_pdm(features, predictions) == 5
    store.write_pdm(features, predictions)
    latest = store.latest_pdm_predictions()
    assert latest["P-401"] == predictions[1] and latest["C-1"] == predictions[2]


def test_duckdb_store(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "pdm.duckdb")
    store.init_schema()
    try:
        check_store(store)
        with store._read() as cur:  # the feature rows are there once each
            assert cur.execute("SELECT count(*) FROM pdm_features").fetchone() == (2,)
    finally:
        store.close()


_CHILD = """
import sys
import clickhouse_connect
from connectors.store.clickhouse import ClickHouseStore
from tests.pipelines.pdm.test_pdm_store import check_store
client = clickhouse_connect.get_client(dsn="chdb://" + sys.argv[1])
store = ClickHouseStore(client, database="pdm")
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
