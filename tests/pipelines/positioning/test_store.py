"""Positions and detections in both stores: DuckDB in process, ClickHouse SQL checked against chDB.

chDB runs one engine per process (and tests/connectors/test_store.py holds one for the
session), so the ClickHouse half runs in a child process and reports what it read back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from connectors.store.duckdb import DuckDBStore
from models.contracts import LocationPosition, VideoDetection

T0 = 1_750_000_000_000
POSITIONS = [
    LocationPosition(person_id=p, tag_id=f"T-{p}", ts=T0 + 1000 * k, x=10.0 * k + i, y=5.0,
                     zone_ids=["Z-A"] if k else [], accuracy_m=0.4 if p != "C" else None)
    for k in range(3)
    for i, p in enumerate("ABC")
]  # fmt: skip
DETECTIONS = [
    VideoDetection(camera_id="CAM-1", ts=T0 + 500, label="smoking", confidence=0.8, bbox=(1, 2, 3, 4), track_id="7",
                   zone_id="Z-A", snapshot_ref="s/1.jpg"),
    VideoDetection(camera_id="CAM-2", ts=T0 + 900, label="person", confidence=0.6, bbox=(5, 6, 7, 8)),
]  # fmt: skip


def exercise(store: Any) -> dict[str, Any]:
    """Write twice (a replay) and read back everything the API asks."""
    for _ in range(2):
        store.write_positions(POSITIONS)
        store.write_detections(DETECTIONS)
    enc = msgspec.to_builtins
    return {
        "latest": enc(store.latest_positions()),
        "latest_since": [p.person_id for p in store.latest_positions(T0 + 2000)],
        "track": enc(store.positions_between(T0, T0 + 2000, "B")),
        "all": len(store.positions_between(T0, T0 + 10_000)),
        "heat": [list(c) for c in store.position_heatmap(T0, T0 + 10_000, 10.0)],
        "detections": enc(store.detections_between(T0, T0 + 1000)),
        "cam1": enc(store.detections_between(T0, T0 + 1000, "CAM-1")),
    }


_CHILD = """
import json, sys
import clickhouse_connect
sys.path.insert(0, {root!r})
from connectors.store.clickhouse import ClickHouseStore
from tests.pipelines.positioning.test_store import exercise
client = clickhouse_connect.get_client(dsn="chdb://" + {path!r})
store = ClickHouseStore(client, database="people")
store.init_schema()
print(json.dumps(exercise(store)))
"""


@pytest.mark.slow
def test_duckdb_and_clickhouse_agree(tmp_path: Path) -> None:
    duck = DuckDBStore(tmp_path / "d.duckdb")
    duck.init_schema()
    got = json.loads(json.dumps(exercise(duck)))  # as the child reports it
    duck.close()
    assert [p["person_id"] for p in got["latest"]] == ["A", "B", "C"]
    assert all(p["ts"] == T0 + 2000 for p in got["latest"])
    assert got["latest"][0]["zone_ids"] == ["Z-A"] and got["latest"][2]["accuracy_m"] is None
    assert got["latest_since"] == ["A", "B", "C"]
    assert [p["ts"] for p in got["track"]] == [T0, T0 + 1000]
    assert got["all"] == 9  # the replay doubled nothing
    assert got["heat"] == [[0, 0, 3], [1, 0, 3], [2, 0, 3]]
    assert [d["camera_id"] for d in got["detections"]] == ["CAM-2", "CAM-1"]
    assert got["cam1"][0]["snapshot_ref"] == "s/1.jpg" and got["cam1"][0]["bbox"] == [1, 2, 3, 4]
    root = str(Path(__file__).resolve().parents[3])
    child = _CHILD.format(root=root, path=str(tmp_path / "chdb"))
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == got
