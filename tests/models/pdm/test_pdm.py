"""PdM features, the degradation simulator and the models, on small seeded fleets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from models.pdm.features import FEATURES, asset_features, snapshot_features
from models.pdm.model import EARLY_H, FALSE_ALARM_H, first_run, stack_fleet, train, warning_outcome, warning_scores
from twin.degradation import FS, SAMPLES, simulate_fleet


def test_snapshot_features_of_known_signals() -> None:
    t = np.arange(SAMPLES) / FS
    sine = np.sqrt(2) * np.sin(2 * np.pi * 40 * t)  # whole periods in the snapshot
    impulses = np.zeros(SAMPLES)
    impulses[::64] = 8.0
    f = snapshot_features(np.vstack([sine, sine + impulses]), FS)
    assert f["rms"][0] == pytest.approx(1.0, abs=0.02)
    assert f["crest"][0] == pytest.approx(np.sqrt(2), abs=0.02)
    assert f["kurtosis"][0] == pytest.approx(1.5, abs=0.05)  # a pure sine
    assert f["crest"][1] > 2 * f["crest"][0] and f["kurtosis"][1] > 3 * f["kurtosis"][0]
    assert f["band_low"][0] > 0.99  # 40 Hz lies in the running-speed band
    assert f["band_high"][1] > f["band_high"][0]  # impacts spread energy to the resonance band


@settings(max_examples=40, deadline=None)
@given(
    scale=st.floats(0.1, 100),
    seed=st.integers(0, 2**16),
)
def test_features_scale_like_physics(scale: float, seed: int) -> None:
    x = np.random.default_rng(seed).normal(size=(3, SAMPLES))
    a, b = snapshot_features(x, FS), snapshot_features(scale * x, FS)
    np.testing.assert_allclose(b["rms"], scale * a["rms"], rtol=1e-9)
    np.testing.assert_allclose(b["crest"], a["crest"], rtol=1e-9)  # dimensionless
    np.testing.assert_allclose(b["kurtosis"], a["kurtosis"], rtol=1e-9)
    shares = b["band_low"] + b["band_mid"] + b["band_high"]
    assert np.all(shares <= 1 + 1e-9)


def test_asset_features_are_causal() -> None:
    (asset,) = simulate_fleet(1, seed=3)
    full = asset_features(asset.vibration, asset.temperature, asset.current, asset.hours, asset.starts, FS)
    cut = 300
    part = asset_features(
        asset.vibration[:cut], asset.temperature[:cut], asset.current[:cut], asset.hours[:cut], asset.starts[:cut], FS
    )
    for name in FEATURES:
        np.testing.assert_allclose(part[name], full[name][:cut], err_msg=name)


def test_simulator_is_reproducible_and_degrades() -> None:
    a, b = simulate_fleet(3, seed=7), simulate_fleet(3, seed=7)
    other = simulate_fleet(3, seed=8)
    assert [x.life_h for x in a] == [x.life_h for x in b]
    np.testing.assert_array_equal(a[0].vibration, b[0].vibration)
    assert [x.life_h for x in a] != [x.life_h for x in other]
    for asset in a:
        f = snapshot_features(asset.vibration, FS)
        assert f["rms"][-24:].mean() > 1.3 * f["rms"][:24].mean()  # worse before failure
        assert asset.temperature[-24:].mean() > asset.temperature[:24].mean() + 5


def test_warning_outcomes() -> None:
    hours = np.arange(1000.0)
    assert warning_outcome(None, hours, 1000) == (False, 0)
    assert warning_outcome(int(1000 - EARLY_H), hours, 1000) == (True, 0)
    assert warning_outcome(int(1000 - EARLY_H) + 1, hours, 1000) == (False, 0)  # too late to act
    assert warning_outcome(int(1000 - FALSE_ALARM_H) - 1, hours, 1000) == (False, 1)
    assert first_run(np.array([1, 0, 1, 1, 1, 0], bool), 3) == 4


@pytest.mark.slow
def test_model_beats_baselines_on_held_out_assets() -> None:
    with threadpool_limits(limits=1):
        train_fleet = stack_fleet(simulate_fleet(12, seed=11), FS)
        test_fleet = stack_fleet(simulate_fleet(6, seed=12), FS)
        model = train(train_fleet, seed=0)
        pred = model.predict_rul(test_fleet.x, test_fleet.asset_class)
    assert set(test_fleet.asset).isdisjoint(set(train_fleet.asset))
    truth = np.minimum(test_fleet.rul_h, model.rul_cap_h)
    mean_life = float(np.mean([train_fleet.hours[r][-1] + 1 for r in train_fleet.assets()]))
    naive = np.clip(mean_life - test_fleet.hours, 0, model.rul_cap_h)
    rmse = np.sqrt(np.mean((pred - truth) ** 2))
    assert rmse < 0.7 * np.sqrt(np.mean((naive - truth) ** 2))
    scores = warning_scores([model.warning_onset(pred[r]) for r in test_fleet.assets()], test_fleet)
    assert scores["recall"] >= 0.8 and scores["false_alarms_per_asset_30d"] <= 1.0
    assert np.all((model.health(pred) >= 0) & (model.health(pred) <= 1))
