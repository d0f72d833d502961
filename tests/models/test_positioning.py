"""Trilateration maths: exact ranges give the exact point, outliers are rejected, shapes hold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.positioning import SolverConfig, smooth, solve, solve_naive
from twin.people import BLE, UWB, PeopleSim, grid_anchors

ANCHORS = np.array([[0, 0, 4], [60, 0, 4], [60, 40, 4], [0, 40, 4], [30, 20, 6], [30, -10, 4]], float)
coord = st.floats(min_value=2.0, max_value=58.0, allow_nan=False)


def _ranges(p: np.ndarray, anchors: np.ndarray = ANCHORS) -> np.ndarray:
    return np.sqrt(((anchors - p) ** 2).sum(axis=1))


@settings(max_examples=60, deadline=None)
@given(x=coord, y=st.floats(min_value=2.0, max_value=38.0), dim=st.sampled_from([2, 3]))
def test_exact_ranges_give_the_exact_position(x: float, y: float, dim: int) -> None:
    p = np.array([x, y, 1.2])
    f = solve(ANCHORS[None], _ranges(p)[None], dim=dim)
    assert f.ok[0]
    assert np.hypot(f.xyz[0, 0] - x, f.xyz[0, 1] - y) < 1e-3
    assert f.accuracy_m[0] < 1.0


@settings(max_examples=60, deadline=None)
@given(
    x=coord,
    y=st.floats(min_value=2.0, max_value=38.0),
    bad=st.integers(min_value=0, max_value=5),
    bias=st.floats(min_value=8.0, max_value=60.0),
)
def test_one_grossly_wrong_range_is_rejected(x: float, y: float, bad: int, bias: float) -> None:
    """Six anchors, one NLOS range far too long: the fix stays within noise; the baseline does not."""
    p = np.array([x, y, 1.2])
    r = _ranges(p)
    r[bad] += bias
    f = solve(ANCHORS[None], r[None], config=SolverConfig(sigma_m=0.3))
    assert np.hypot(f.xyz[0, 0] - x, f.xyz[0, 1] - y) < 0.05
    assert not f.used[0, bad]


@settings(max_examples=20, deadline=None)
@given(
    pts=st.lists(st.tuples(coord, st.floats(min_value=2.0, max_value=38.0)), min_size=1, max_size=20),
    perm_seed=st.integers(0, 2**16),
)
def test_a_batch_equals_its_fixes_one_by_one_and_ignores_padding(
    pts: list[tuple[float, float]], perm_seed: int
) -> None:
    rng = np.random.default_rng(perm_seed)
    n = len(pts)
    ranges = np.stack([_ranges(np.array([x, y, 1.2])) for x, y in pts]) + rng.normal(0, 0.3, (n, len(ANCHORS)))
    anchors = np.broadcast_to(ANCHORS, (n, *ANCHORS.shape)).copy()
    # Pad every fix with two garbage columns masked out: they must change nothing.
    pad_a = np.concatenate([anchors, np.full((n, 2, 3), 1e6)], axis=1)
    pad_r = np.concatenate([ranges, np.full((n, 2), -5.0)], axis=1)
    mask = np.concatenate([np.ones((n, len(ANCHORS)), bool), np.zeros((n, 2), bool)], axis=1)
    batch = solve(pad_a, pad_r, mask)
    for i in range(n):
        one = solve(anchors[i : i + 1], ranges[i : i + 1])
        assert np.allclose(batch.xyz[i], one.xyz[0], atol=1e-6)


def test_too_few_ranges_is_not_a_fix() -> None:
    r = np.array([[10.0, 20.0, np.nan, np.nan, np.nan, np.nan]])
    f = solve(ANCHORS[None], r)
    assert not f.ok[0]
    assert f.accuracy_m[0] == np.inf


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="anchors must be"):
        solve(ANCHORS, np.zeros(6))
    with pytest.raises(ValueError, match="dim"):
        solve(ANCHORS[None], np.zeros((1, 6)), dim=4)


def test_floor_aware_fix_uses_the_floor_it_hears_best() -> None:
    """Two floors of the same plan: the tag on floor 1 is solved with floor-1 anchors only."""
    a0 = np.array([[0, 0, 3], [20, 0, 3], [20, 20, 3], [0, 20, 3]], float)
    a1 = a0 + [0, 0, 4]
    anchors = np.concatenate([a0, a1])
    floor = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([7.0, 12.0, 4 + 1.2])
    r = _ranges(p, anchors)
    r[:4] += 6.0  # through the slab: longer and unreliable
    f = solve(anchors[None], r[None], anchor_floor=floor[None], floor_z=np.array([0.0, 4.0]))
    assert f.floor[0] == 1
    assert np.hypot(f.xyz[0, 0] - 7, f.xyz[0, 1] - 12) < 0.01
    assert f.xyz[0, 2] == pytest.approx(5.2)


def test_accuracy_estimate_grows_with_noise() -> None:
    p = np.array([25.0, 15.0, 1.2])
    r = _ranges(p)[None]
    uwb = solve(ANCHORS[None], r, config=SolverConfig(sigma_m=0.3)).accuracy_m[0]
    ble = solve(ANCHORS[None], r, config=SolverConfig(sigma_m=3.0)).accuracy_m[0]
    assert uwb < 1.0 < ble < 10.0


@pytest.mark.parametrize(("noise", "p95_max"), [(UWB, 1.0), (BLE, 10.0)])
def test_simulated_walks_meet_the_accuracy_targets_and_beat_the_baseline(noise: object, p95_max: float) -> None:
    sim = PeopleSim(grid_anchors(0, 0, 200, 120, 30), [], [(15, 15), (185, 105), (100, 60)], 400, noise=noise, seed=3)  # type: ignore[arg-type]
    truth = sim.positions()
    a, r, m, _ = sim.measure()
    f = solve(a, r, m, config=SolverConfig(sigma_m=noise.sigma_m))  # type: ignore[attr-defined]
    err = np.hypot(*(f.xyz[:, :2] - truth[:, :2]).T)
    base = np.hypot(*(solve_naive(a, r, m) - truth[:, :2]).T)
    assert np.percentile(err, 95) <= p95_max
    assert np.percentile(err, 95) < np.percentile(base, 95)


def test_smoothing_averages_noisy_fixes_and_follows_precise_ones() -> None:
    prev = np.array([[0.0, 0.0], [0.0, 0.0]])
    var = np.array([1.0, 1.0])
    xy = np.array([[5.0, 0.0], [5.0, 0.0]])
    out, _ = smooth(prev, var, np.array([1.0, 1.0]), xy, np.array([0.2, 8.0]))
    assert out[0, 0] > 4.9  # UWB: the fix itself
    assert out[1, 0] < 2.5  # BLE: pulled towards the track
    fresh, _ = smooth(np.full((1, 2), np.nan), np.full(1, np.nan), np.zeros(1), xy[:1], np.array([3.0]))
    assert np.allclose(fresh, xy[:1])
