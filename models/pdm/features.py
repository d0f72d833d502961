"""Per-asset features on windows: what a vibration analyst reads, computed causally.

Per vibration snapshot: RMS (overall energy), peak, crest factor (peak / RMS: impacts raise
it before RMS moves), kurtosis (3 for Gaussian noise; bearing impacts make it spiky) and the
energy share of three spectral bands (running speed, harmonics, the bearing resonance band).
Per asset, over time: temperature and current, their drift from the asset's own first day
(assets differ more from each other than a failing asset differs from itself), 24-window
trends (least-squares slopes) of RMS and temperature, running hours and starts.

Every feature of window ``i`` uses windows ``<= i`` only, so the streaming flow computes the
same numbers the offline training saw.

Example:
    >>> import numpy as np
    >>> t = np.arange(256) / 2560.0
    >>> f = snapshot_features(np.sqrt(2) * np.sin(2 * np.pi * 40 * t)[None, :], 2560.0)
    >>> round(float(f["rms"][0]), 2), round(float(f["crest"][0]), 2)
    (1.0, 1.41)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np

BANDS_HZ: Final[tuple[tuple[float, float], ...]] = ((0.0, 200.0), (200.0, 600.0), (600.0, 1280.0))
TREND_WINDOWS: Final = 24
BASELINE_WINDOWS: Final = 24

FEATURES: Final[tuple[str, ...]] = (
    "rms",
    "peak",
    "crest",
    "kurtosis",
    "band_low",
    "band_mid",
    "band_high",
    "temperature",
    "current",
    "rms_ratio",
    "high_ratio",
    "temp_delta",
    "current_ratio",
    "rms_trend",
    "temp_trend",
    "running_hours",
    "starts",
)
"""Feature names, in the column order of :func:`feature_matrix`."""


def snapshot_features(vibration: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    """RMS, peak, crest factor, kurtosis and band energy shares of each row of ``vibration``."""
    x = np.asarray(vibration, dtype=float)
    centred = x - x.mean(axis=1, keepdims=True)
    rms = np.sqrt((centred**2).mean(axis=1))
    peak = np.abs(centred).max(axis=1)
    safe = np.where(rms > 0, rms, 1.0)
    kurt = (centred**4).mean(axis=1) / safe**4
    spectrum = np.abs(np.fft.rfft(centred, axis=1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[1], 1 / fs)
    total = spectrum.sum(axis=1)
    total = np.where(total > 0, total, 1.0)
    out = {"rms": rms, "peak": peak, "crest": peak / safe, "kurtosis": kurt}
    for name, (lo, hi) in zip(("band_low", "band_mid", "band_high"), BANDS_HZ, strict=True):
        mask = (freqs >= lo) & (freqs < hi)
        out[name] = spectrum[:, mask].sum(axis=1) / total
    return out


def _expanding_baseline(values: np.ndarray, n: int) -> np.ndarray:
    """Mean of the first ``n`` values, or of all values so far while fewer exist (causal)."""
    csum = np.cumsum(values)
    counts = np.arange(1, len(values) + 1)
    running = csum / counts
    if len(values) > n:
        running[n:] = running[n - 1]
    return running


def _rolling_slope(values: np.ndarray, n: int) -> np.ndarray:
    """Least-squares slope per window over the last ``n`` values (fewer at the start)."""
    out = np.zeros(len(values))
    if len(values) < 2:
        return out
    idx = np.arange(len(values), dtype=float)
    c1, cx, cy = np.cumsum(np.ones_like(idx)), np.cumsum(idx), np.cumsum(values)
    cxx, cxy = np.cumsum(idx * idx), np.cumsum(idx * values)

    def window(c: np.ndarray) -> np.ndarray:
        shifted = np.concatenate([np.zeros(n), c])[: len(c)]
        out: np.ndarray = c - shifted
        return out

    s1, sx, sy, sxx, sxy = (window(c) for c in (c1, cx, cy, cxx, cxy))
    den = s1 * sxx - sx * sx
    np.divide(s1 * sxy - sx * sy, den, out=out, where=den > 0)
    return out


def asset_features(
    vibration: np.ndarray,
    temperature: np.ndarray,
    current: np.ndarray,
    hours: np.ndarray,
    starts: np.ndarray,
    fs: float,
) -> dict[str, np.ndarray]:
    """Every feature of :data:`FEATURES` for one asset's windows, in time order (causal)."""
    f = snapshot_features(vibration, fs)
    rms_base = _expanding_baseline(f["rms"], BASELINE_WINDOWS)
    high_base = _expanding_baseline(f["band_high"], BASELINE_WINDOWS)
    temp_base = _expanding_baseline(np.asarray(temperature, float), BASELINE_WINDOWS)
    cur_base = _expanding_baseline(np.asarray(current, float), BASELINE_WINDOWS)
    f["temperature"] = np.asarray(temperature, float)
    f["current"] = np.asarray(current, float)
    f["rms_ratio"] = f["rms"] / rms_base
    f["high_ratio"] = f["band_high"] / np.maximum(high_base, 1e-9)
    f["temp_delta"] = f["temperature"] - temp_base
    f["current_ratio"] = f["current"] / cur_base
    f["rms_trend"] = _rolling_slope(f["rms_ratio"], TREND_WINDOWS)
    f["temp_trend"] = _rolling_slope(f["temperature"], TREND_WINDOWS)
    f["running_hours"] = np.asarray(hours, float)
    f["starts"] = np.asarray(starts, float)
    return f


def feature_matrix(features: Mapping[str, np.ndarray]) -> np.ndarray:
    """Columns of :data:`FEATURES` as one (windows, features) array."""
    return np.column_stack([np.asarray(features[name], float) for name in FEATURES])


class OnlineFeatures:
    """The features of :func:`asset_features`, one window at a time (the streaming flow's state).

    Keeps only what the causal features need: the sums of the first ``BASELINE_WINDOWS``
    windows and the last ``TREND_WINDOWS`` values of the trended series, so a state is a few
    hundred bytes per asset whatever its age, and equals the offline computation exactly.
    """

    __slots__ = ("_base", "_n", "_rms_ratio", "_temp")

    def __init__(self) -> None:
        self._n = 0
        self._base = np.zeros(4)  # sums of rms, band_high, temperature, current
        self._rms_ratio: list[float] = []
        self._temp: list[float] = []

    def update(
        self, vibration: np.ndarray, temperature: float, current: float, hours: float, starts: float, fs: float
    ) -> dict[str, float]:
        """Features of one new window (time order is the caller's duty)."""
        f = {k: float(v[0]) for k, v in snapshot_features(np.asarray(vibration, float)[None, :], fs).items()}
        now = np.array([f["rms"], f["band_high"], temperature, current])
        if self._n < BASELINE_WINDOWS:
            self._base += now
            self._n += 1
        base = self._base / self._n
        f["temperature"], f["current"] = float(temperature), float(current)
        f["rms_ratio"] = f["rms"] / base[0]
        f["high_ratio"] = f["band_high"] / max(base[1], 1e-9)
        f["temp_delta"] = temperature - base[2]
        f["current_ratio"] = current / base[3]
        self._rms_ratio = [*self._rms_ratio[-(TREND_WINDOWS - 1) :], f["rms_ratio"]]
        self._temp = [*self._temp[-(TREND_WINDOWS - 1) :], float(temperature)]
        f["rms_trend"] = _slope(self._rms_ratio)
        f["temp_trend"] = _slope(self._temp)
        f["running_hours"], f["starts"] = float(hours), float(starts)
        return f

    def __getstate__(self) -> tuple[int, list[float], list[float], list[float]]:
        """Picklable for recovery snapshots."""
        return self._n, self._base.tolist(), self._rms_ratio, self._temp

    def __setstate__(self, state: tuple[int, list[float], list[float], list[float]]) -> None:
        """Restore from :meth:`__getstate__`."""
        self._n, base, self._rms_ratio, self._temp = state
        self._base = np.array(base)


def _slope(values: list[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    x = np.arange(n, dtype=float)
    y = np.asarray(values)
    den = n * (x * x).sum() - x.sum() ** 2
    return float((n * (x * y).sum() - x.sum() * y.sum()) / den)
