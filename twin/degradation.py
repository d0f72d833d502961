"""Simulated rotating assets that degrade to failure, reproducible from a seed.

Predictive maintenance is only worth trusting when its error is measured on assets it never
saw, so this module produces complete run-to-failure histories for three asset classes
(pumps, compressors, agitators), one window per hour:

* a vibration snapshot (``SAMPLES`` samples at ``FS`` Hz): shaft tone and harmonic, broadband
  noise, and bearing-defect impacts (a decaying resonance repeated at the defect frequency)
  whose amplitude grows with the asset's hidden damage ``d = (t / life) ** shape``;
* motor current and bearing temperature that drift up with the damage;
* running hours and starts (a start every few days, more often for agitators).

Every asset differs: its life is drawn from its class's Weibull distribution, its healthy
vibration level, temperature and current from spreads around the class's nominal values, and
its damage curve's ``shape``. Nothing of that is visible to a model except through the
signals, as on a real plant. The same ``seed`` always gives the same fleet; disjoint seeds give
disjoint fleets (training vs held-out evaluation).

Example:
    >>> fleet = simulate_fleet(2, seed=1)
    >>> [a.asset_class for a in fleet], fleet[0].vibration.shape[1]
    (['pump', 'compressor'], 256)
    >>> bool(fleet[0].hours[-1] + 1 == fleet[0].life_h)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

AssetClass = Literal["pump", "compressor", "agitator"]
CLASSES: Final[tuple[AssetClass, ...]] = ("pump", "compressor", "agitator")
FS: Final = 2560.0
"""Vibration sampling rate of a snapshot, Hz."""
SAMPLES: Final = 256


@dataclass(frozen=True, slots=True)
class ClassSpec:
    """Nominal behaviour of an asset class.

    Attributes:
        shaft_hz: Running speed.
        mean_life_h: Mean of the Weibull life distribution, hours.
        life_shape: Weibull shape (larger: lives closer to the mean).
        vib_rms: Healthy vibration level (arbitrary units ~ mm/s).
        temp_c: Healthy bearing temperature.
        current_a: Healthy motor current.
        starts_every_h: Mean hours between starts.
    """

    shaft_hz: float
    mean_life_h: float
    life_shape: float
    vib_rms: float
    temp_c: float
    current_a: float
    starts_every_h: float


SPECS: Final[dict[AssetClass, ClassSpec]] = {
    "pump": ClassSpec(24.5, 1400.0, 2.5, 2.2, 45.0, 38.0, 72.0),
    "compressor": ClassSpec(49.0, 1800.0, 3.0, 3.0, 60.0, 110.0, 120.0),
    "agitator": ClassSpec(8.0, 1100.0, 2.2, 1.5, 40.0, 22.0, 24.0),
}


@dataclass(frozen=True, eq=False)
class AssetHistory:
    """One asset's hourly windows from commissioning to failure.

    Attributes:
        asset_id: Stable id (class + seed + index).
        asset_class: Its class.
        life_h: Hours to failure; the last window is at ``life_h - 1``.
        hours: Running hours at each window (0, 1, … life_h − 1).
        vibration: One snapshot per window, shape (windows, SAMPLES).
        temperature: Bearing temperature per window.
        current: Motor current per window.
        starts: Cumulative starts per window.
        damage: Hidden damage 0…1 per window (for tests and plots; never a model input).
    """

    asset_id: str
    asset_class: AssetClass
    life_h: int
    hours: np.ndarray
    vibration: np.ndarray
    temperature: np.ndarray
    current: np.ndarray
    starts: np.ndarray
    damage: np.ndarray

    @property
    def rul_h(self) -> np.ndarray:
        """Remaining useful life at each window, hours (the regression target)."""
        return (self.life_h - self.hours).astype(float)


def simulate_asset(asset_class: AssetClass, rng: np.random.Generator, asset_id: str) -> AssetHistory:
    """One run-to-failure history drawn from ``rng``."""
    spec = SPECS[asset_class]
    # Weibull life with the class mean: scale = mean / Γ(1 + 1/k)
    scale = spec.mean_life_h / math.gamma(1 + 1 / spec.life_shape)
    life = max(200, round(scale * rng.weibull(spec.life_shape)))
    hours = np.arange(life, dtype=float)
    shape = rng.uniform(2.0, 3.5)
    damage = (hours / life) ** shape
    n = life
    t = np.arange(SAMPLES) / FS
    base = spec.vib_rms * rng.uniform(0.8, 1.25)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    amp = base * np.sqrt(2) * (1 + 0.6 * damage)[:, None]
    vib = amp * np.sin(2 * np.pi * spec.shaft_hz * t + phase)
    vib += 0.3 * amp * np.sin(4 * np.pi * spec.shaft_hz * t + 2 * phase)
    vib += rng.normal(0, 0.25 * base, size=(n, SAMPLES))
    # bearing-defect impacts: a 900 Hz resonance decaying in ~4 ms, repeated at 3.6 x shaft
    period = 1 / (3.6 * spec.shaft_hz)
    tau = np.mod(t[None, :] + rng.uniform(0, period, size=(n, 1)), period)
    impacts = np.exp(-tau / 0.004) * np.sin(2 * np.pi * 900 * tau)
    vib += (6 * base * damage**1.2)[:, None] * impacts
    temperature = spec.temp_c * rng.uniform(0.9, 1.1) + 18 * damage + rng.normal(0, 0.6, n)
    current = spec.current_a * rng.uniform(0.92, 1.08) * (1 + 0.12 * damage) + rng.normal(0, 0.01 * spec.current_a, n)
    starts = np.cumsum(rng.random(n) < 1 / spec.starts_every_h)
    return AssetHistory(
        asset_id=asset_id,
        asset_class=asset_class,
        life_h=life,
        hours=hours,
        vibration=vib,
        temperature=temperature,
        current=current,
        starts=starts,
        damage=damage,
    )


def simulate_fleet(n_assets: int, *, seed: int, classes: tuple[AssetClass, ...] = CLASSES) -> list[AssetHistory]:
    """``n_assets`` histories, classes in turn, all drawn from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [
        simulate_asset(classes[i % len(classes)], rng, f"{classes[i % len(classes)]}-{seed}-{i:03d}")
        for i in range(n_assets)
    ]
