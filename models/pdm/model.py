"""PdM models: an anomaly detector per asset class, a remaining-useful-life regressor, warnings.

* **Anomaly detector** (scikit-learn ``IsolationForest``), one per asset class, fitted on the
  healthy first part of each training history: how unlike a healthy asset of its class a
  window looks, whatever its RUL.
* **RUL regressor** (``HistGradientBoostingRegressor``) on the window features, the anomaly
  score and the class. The target is the RUL capped at ``rul_cap_h`` (piecewise-linear RUL, the
  usual practice: far from failure a healthy asset carries no information about *when* it
  will fail, and no maintenance decision depends on it).
* **Failure warning**: predicted RUL at or below ``warn_rul_h`` for ``warn_persist``
  consecutive windows raises the warning, which then stays raised (it opens one work order).
  The threshold is chosen on a validation subset of the *training* assets, never on the
  assets it is scored on.

Health (0 failed … 1 as new) = predicted RUL / cap, what the ``pdm.prediction`` stream carries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, IsolationForest

from models.pdm.features import FEATURES, asset_features, feature_matrix

MODEL_VERSION: Final = "pdm-2026.12-1"
RUL_CAP_H: Final = 720.0
EARLY_H: Final = 24.0
"""A failure counts as caught only when warned at least this long before it (acceptance)."""
FALSE_ALARM_H: Final = 14 * 24.0
"""A warning raised earlier than this before the failure is a false alarm."""


@dataclass(frozen=True, slots=True)
class Fleet:
    """Feature rows of many assets, stacked, with what evaluation needs to cut them per asset."""

    x: np.ndarray
    rul_h: np.ndarray
    asset: np.ndarray
    asset_class: np.ndarray
    hours: np.ndarray

    def assets(self) -> list[np.ndarray]:
        """Row indices of each asset, in time order."""
        _, first = np.unique(self.asset, return_index=True)
        return [np.flatnonzero(self.asset == self.asset[i]) for i in sorted(first)]


def stack_fleet(assets: Sequence[Any], fs: float) -> Fleet:
    """Features of run-to-failure histories (objects with the fields of ``twin.degradation.AssetHistory``)."""
    xs, ruls, ids, classes, hours = [], [], [], [], []
    for a in assets:
        f = asset_features(a.vibration, a.temperature, a.current, a.hours, a.starts, fs)
        xs.append(feature_matrix(f))
        ruls.append(a.life_h - a.hours)
        ids.append(np.full(len(a.hours), a.asset_id, dtype=object))
        classes.append(np.full(len(a.hours), a.asset_class, dtype=object))
        hours.append(a.hours)
    return Fleet(
        x=np.vstack(xs),
        rul_h=np.concatenate(ruls).astype(float),
        asset=np.concatenate(ids),
        asset_class=np.concatenate(classes),
        hours=np.concatenate(hours).astype(float),
    )


@dataclass(eq=False)
class PdmModel:
    """The trained models, their parameters and the metrics they were accepted with."""

    classes: tuple[str, ...]
    detectors: dict[str, IsolationForest]
    regressor: HistGradientBoostingRegressor
    rul_cap_h: float = RUL_CAP_H
    warn_rul_h: float = 96.0
    warn_persist: int = 3
    version: str = MODEL_VERSION
    metrics: dict[str, Any] = field(default_factory=dict)
    healthy_mean: dict[str, np.ndarray] = field(default_factory=dict)
    healthy_std: dict[str, np.ndarray] = field(default_factory=dict)

    def top_features(self, x: np.ndarray, asset_class: str, n: int = 3) -> list[str]:
        """The ``n`` features furthest (in healthy standard deviations) from a healthy asset of the class."""
        mean, std = self.healthy_mean.get(asset_class), self.healthy_std.get(asset_class)
        if mean is None or std is None:
            return []
        z = np.abs((x - mean) / np.where(std > 0, std, 1.0))
        return [FEATURES[i] for i in np.argsort(-z)[:n]]

    def anomaly(self, x: np.ndarray, asset_class: np.ndarray) -> np.ndarray:
        """Anomaly score per row (higher: less like a healthy asset of its class)."""
        out = np.zeros(len(x))
        for c in self.classes:
            rows = asset_class == c
            if rows.any():
                out[rows] = -self.detectors[c].score_samples(x[rows])
        return out

    def _design(self, x: np.ndarray, asset_class: np.ndarray) -> np.ndarray:
        # The anomaly score is reported beside the RUL, not fed into it: the regressor already
        # sees every feature the detector sees, and scoring 100 trees per row doubled training.
        onehot = np.column_stack([(asset_class == c).astype(float) for c in self.classes])
        return np.column_stack([x, onehot])

    def predict_rul(self, x: np.ndarray, asset_class: np.ndarray) -> np.ndarray:
        """Predicted (capped) RUL in hours per row."""
        raw = np.asarray(self.regressor.predict(self._design(x, asset_class)), dtype=float)
        out: np.ndarray = np.clip(raw, 0.0, self.rul_cap_h)
        return out

    def health(self, rul_h: np.ndarray) -> np.ndarray:
        """0 (failed) … 1 (as new) from predicted RUL."""
        return np.clip(rul_h / self.rul_cap_h, 0.0, 1.0)

    def warning_onset(self, rul_pred: np.ndarray) -> int | None:
        """Index of the window that raises the (latched) warning for one asset, or ``None``."""
        return first_run(rul_pred <= self.warn_rul_h, self.warn_persist)


def first_run(flags: np.ndarray, persist: int) -> int | None:
    """First index at which ``flags`` has been true ``persist`` times in a row."""
    run = 0
    for i, f in enumerate(flags.tolist()):
        run = run + 1 if f else 0
        if run >= persist:
            return i
    return None


def warning_outcome(onset: int | None, hours: np.ndarray, life_h: float) -> tuple[bool, int]:
    """(caught ≥ 24 h ahead, false alarms) of one run-to-failure asset."""
    if onset is None:
        return False, 0
    lead = life_h - hours[onset]
    if lead > FALSE_ALARM_H:
        return False, 1  # raised too early: the crew finds nothing, a false alarm
    return lead >= EARLY_H, 0


def warning_scores(onsets: Sequence[int | None], fleet: Fleet) -> dict[str, float]:
    """Recall (≥ 24 h ahead), false alarms per asset per 30 days, precision, over a fleet."""
    caught = false = 0
    days = 0.0
    groups = fleet.assets()
    for onset, rows in zip(onsets, groups, strict=True):
        hours = fleet.hours[rows]
        life = float(hours[-1] + 1)
        ok, fa = warning_outcome(onset, hours, life)
        caught += ok
        false += fa
        days += life / 24
    n = len(groups)
    raised = sum(o is not None for o in onsets)
    return {
        "recall": caught / n if n else 0.0,
        "false_alarms_per_asset_30d": false / (days / 30) if days else 0.0,
        "precision": caught / raised if raised else 0.0,
    }


def train(
    fleet: Fleet,
    *,
    seed: int = 0,
    healthy_share: float = 0.3,
    progress: Callable[[str], None] | None = None,
) -> PdmModel:
    """Fit detectors and regressor on ``fleet``, pick the warning threshold on held-back training assets."""
    say = progress or (lambda _msg: None)
    classes = tuple(sorted(set(fleet.asset_class.tolist())))
    groups = fleet.assets()
    life = np.zeros(len(fleet.x))
    for rows in groups:
        life[rows] = fleet.hours[rows][-1] + 1
    healthy = fleet.hours < healthy_share * life
    detectors: dict[str, IsolationForest] = {}
    healthy_rows: dict[str, np.ndarray] = {}
    for c in classes:
        say(f"anomaly detector {c}")
        rows = healthy & (fleet.asset_class == c)
        healthy_rows[c] = rows
        detectors[c] = IsolationForest(n_estimators=50, max_samples=min(1024, int(rows.sum())), random_state=seed).fit(
            fleet.x[rows]
        )
    # validation = the last fifth of the training assets: threshold chosen there, regressor refit on all
    cut = max(1, len(groups) * 4 // 5)
    fit_rows = np.concatenate(groups[:cut])
    val_groups = groups[cut:]
    model = PdmModel(classes=classes, detectors=detectors, regressor=_regressor(seed))
    model.healthy_mean = {c: fleet.x[r].mean(axis=0) for c, r in healthy_rows.items()}
    model.healthy_std = {c: fleet.x[r].std(axis=0) for c, r in healthy_rows.items()}
    target = np.minimum(fleet.rul_h, model.rul_cap_h)
    say("RUL regressor (training part)")
    model.regressor.fit(model._design(fleet.x[fit_rows], fleet.asset_class[fit_rows]), target[fit_rows])
    say("warning threshold (validation assets)")
    model.warn_rul_h = _pick_threshold(model, fleet, val_groups)
    say("RUL regressor (all training assets)")
    model.regressor = _regressor(seed).fit(model._design(fleet.x, fleet.asset_class), target)
    return model


def _regressor(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(max_iter=120, learning_rate=0.15, max_leaf_nodes=31, random_state=seed)


def _pick_threshold(model: PdmModel, fleet: Fleet, groups: list[np.ndarray]) -> float:
    """Most failures caught, each false alarm costing three catches (ties: the larger threshold)."""
    preds = [model.predict_rul(fleet.x[r], fleet.asset_class[r]) for r in groups]
    best, best_key = 96.0, (-1.0, 0.0)
    for thr in (48.0, 72.0, 96.0, 120.0, 168.0):
        caught = false = 0
        for rows, p in zip(groups, preds, strict=True):
            onset = first_run(p <= thr, model.warn_persist)
            hours = fleet.hours[rows]
            ok, fa = warning_outcome(onset, hours, float(hours[-1] + 1))
            caught += ok
            false += fa
        key = (caught - 3.0 * false, thr)  # ties: the earlier warning, more time to plan the repair
        if key > best_key:
            best, best_key = thr, key
    return best
