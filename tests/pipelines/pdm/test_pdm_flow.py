"""The PdM flow over a held-out simulated asset: a prediction per window, ONE warning, in time."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest
from bytewax.testing import TestingSink, TestingSource, run_main
from threadpoolctl import threadpool_limits

from connectors.store.duckdb import DuckDBStore
from models.contracts import DeadLetter, PdmPrediction
from models.pdm.features import FEATURES
from models.pdm.model import EARLY_H, stack_fleet, train
from models.pdm.stream import PdmWarning, PdmWindow
from pipelines.pdm.flow import StorePdmSink, build_flow
from pipelines.pdm.steps import parse
from twin.degradation import FS, AssetHistory, simulate_fleet

T0 = 1_780_000_000_000
HOUR = 3_600_000

pytestmark = pytest.mark.slow


def windows_of(a: AssetHistory) -> list[PdmWindow]:
    return [
        PdmWindow(
            asset_id=a.asset_id,
            asset_class=a.asset_class,
            ts=T0 + int(h) * HOUR,
            vibration=a.vibration[i].tolist(),
            fs=FS,
            temperature=float(a.temperature[i]),
            current=float(a.current[i]),
            running_hours=float(h),
            starts=int(a.starts[i]),
        )
        for i, h in enumerate(a.hours)
    ]


def test_held_out_asset_streams_to_predictions_and_one_timely_warning(tmp_path: Path) -> None:
    with threadpool_limits(limits=1):
        model = train(stack_fleet(simulate_fleet(9, seed=31), FS), seed=0)
        (asset,) = simulate_fleet(1, seed=32)
        windows = windows_of(asset)
        batches = [windows[i : i + 50] for i in range(0, len(windows), 50)]
        batches.insert(3, [b'{"asset_id": "x"}', msgspec.json.encode(windows[0])])  # bad + a replayed window
        out: list[object] = []
        store = DuckDBStore(tmp_path / "pdm.duckdb")
        store.init_schema()
        sinks = [TestingSink(out), StorePdmSink(store)]
        run_main(build_flow(model, [TestingSource(batches)], sinks, clock=lambda: T0))
        stored = store.latest_pdm_predictions()[asset.asset_id]
        store.close()
    predictions = [m for m in out if isinstance(m, PdmPrediction)]
    warnings = [m for m in out if isinstance(m, PdmWarning)]
    assert len(predictions) == asset.life_h  # the replayed window changed nothing
    assert [m for m in out if isinstance(m, DeadLetter)]
    assert np.mean([p.health for p in predictions[-24:]]) < np.mean([p.health for p in predictions[:24]])
    assert len(warnings) == 1  # one work order, however long the asset keeps degrading
    lead_h = asset.life_h - (warnings[0].ts - T0) / HOUR
    assert lead_h >= EARLY_H
    assert set(predictions[-1].top_features) <= set(FEATURES) and predictions[-1].top_features
    assert stored == predictions[-1]


def test_parse_sorts_good_from_bad() -> None:
    (asset,) = simulate_fleet(1, seed=5)
    good = windows_of(asset)[:2]
    windows, dead = parse([msgspec.json.encode(good), b"nope", 3], T0)
    assert windows == good and len(dead) == 2 and all(d.reason for d in dead)
