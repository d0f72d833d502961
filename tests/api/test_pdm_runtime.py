"""The embedded PdM feed: the simulated gateway's windows, a replaced asset, and the model wait.

The gateway starts each asset late in its life but sends only the windows the streaming
features need; the features the flow computes from them must equal the offline features of the
whole history (else the model would see numbers it was never trained on). A failed asset is
replaced: running hours restart, and the flow starts a new life for it (a new warning is due).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from api.pdm_runtime import PdmService, SimulatedVibrationGateway
from api.settings import Settings
from connectors.bus.memory import Bus
from models.pdm.features import FEATURES, OnlineFeatures, asset_features, feature_matrix
from models.pdm.model import PdmModel, stack_fleet, train
from models.pdm.stream import PdmWindow
from pipelines.pdm.steps import AssetState, predict
from twin.degradation import FS, simulate_fleet
from twin.plant import load_plant

T0 = 1_780_000_000_000


def features_of(windows: list[PdmWindow]) -> np.ndarray:
    online = OnlineFeatures()
    f: dict[str, float] = {}
    for w in windows:
        f = online.update(np.asarray(w.vibration), w.temperature, w.current, w.running_hours, w.starts, w.fs)
    return np.array([f[name] for name in FEATURES])


def test_gateway_windows_give_the_offline_features_of_the_whole_history() -> None:
    clock = iter(range(T0, T0 + 10_000_000, 1000))
    gateway = SimulatedVibrationGateway(lambda _w: None, [("P-1", "pump")], seed=7, clock=lambda: next(clock))
    first = gateway.first()
    (asset,) = gateway._assets
    start = asset.index
    assert len(first) <= 49 < start, (len(first), start)  # not the thousand hours before the start
    assert [w.ts for w in first] == sorted({w.ts for w in first})  # strictly increasing: none dropped as late
    h = asset.history
    offline = feature_matrix(asset_features(h.vibration, h.temperature, h.current, h.hours, h.starts, FS))
    assert np.allclose(features_of(first), offline[start])
    later = first + [gateway.tick()[0] for _ in range(5)]
    assert later[-1].running_hours == start + 5
    assert np.allclose(features_of(later), offline[start + 5])


@pytest.mark.slow
def test_a_replaced_asset_starts_a_new_life_in_the_flow() -> None:
    gateway = SimulatedVibrationGateway(lambda _w: None, [("P-1", "pump")], seed=7, start_fraction=1.0)
    with threadpool_limits(limits=1):
        model: PdmModel = train(stack_fleet(simulate_fleet(6, seed=31), FS), seed=0)
        state: AssetState | None = None
        for w in gateway.first():
            state, _ = predict(model, state, w)
        assert state is not None
        state.warned = True  # as if its failure had been warned of
        (new,) = gateway.tick()  # past its life: a new pump in its place
        assert gateway.replaced == 1 and new.running_hours == 0
        state, out = predict(model, state, new)
    assert not state.warned and state.last_hours == 0  # a warning of the new life will be raised again
    assert out and out[-1].asset_id == "P-1"


def test_the_demo_plant_has_one_rotating_asset_named_by_its_equipment_id() -> None:
    plant = load_plant(Path("twin/plants/demo.yaml"))
    gateway = SimulatedVibrationGateway.for_plant(plant, lambda _w: None)
    assert gateway.asset_ids == ["P-401"]


def test_without_a_model_the_flow_waits_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plant = load_plant(Path("twin/plants/demo.yaml"))
    bus = Bus()
    settings = Settings(environment="test", data_dir=tmp_path, simulate=False)
    with caplog.at_level(logging.WARNING, logger="api.pdm_runtime"):
        service = PdmService(settings, plant, bus, store=None, simulate=False).start()
        deadline = time.monotonic() + 10
        while service.status != "waiting for a model" and time.monotonic() < deadline:
            time.sleep(0.01)
        bus.close()
        service.stop()
    assert service.status == "waiting for a model" and not service.listening
    assert any("no PdM model in" in r.getMessage() and "safetwin pdm train" in r.getMessage() for r in caplog.records)
