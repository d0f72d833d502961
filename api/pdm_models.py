"""Trained PdM models on disk: versioned files with the metrics they were accepted with.

``safetwin pdm train`` simulates run-to-failure histories, trains
(:func:`models.pdm.model.train`), evaluates on held-out simulated assets (time-ordered, never
seen in training) and saves ``<dir>/pdm-<UTC yyyymmddHHMMSS>.joblib`` with a JSON file beside
it: model version, training set, seeds and the metrics (RUL RMSE/MAE against the constant
mean-life baseline, warning recall ≥ 24 h ahead, false alarms per asset per 30 days).
``safetwin pdm evaluate`` loads a saved model and scores it again on another held-out fleet.

The ``.joblib`` file is a pickle: load only files this platform wrote into its own data
directory, never one received from elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from models.pdm.model import Fleet, PdmModel, stack_fleet, warning_scores

SUFFIX = ".joblib"


@dataclass(frozen=True, slots=True)
class SavedModel:
    """A model file and its metadata (version, training set, metrics)."""

    path: Path
    meta: dict[str, Any]


def stack_with_progress(assets: Sequence[Any], fs: float, advance: Callable[[], None]) -> Fleet:
    """:func:`models.pdm.model.stack_fleet`, one asset at a time so a progress bar can follow."""
    parts = []
    for a in assets:
        parts.append(stack_fleet([a], fs))
        advance()
    return Fleet(
        x=np.vstack([p.x for p in parts]),
        rul_h=np.concatenate([p.rul_h for p in parts]),
        asset=np.concatenate([p.asset for p in parts]),
        asset_class=np.concatenate([p.asset_class for p in parts]),
        hours=np.concatenate([p.hours for p in parts]),
    )


def mean_lives(fleet: Fleet) -> dict[str, float]:
    """Mean life (h) per asset class: the constant-life baseline's prediction."""
    lives: dict[str, list[float]] = {}
    for rows in fleet.assets():
        lives.setdefault(str(fleet.asset_class[rows[0]]), []).append(float(fleet.hours[rows][-1] + 1))
    return {c: float(np.mean(v)) for c, v in lives.items()}


def evaluate(model: PdmModel, fleet: Fleet, lives: dict[str, float]) -> dict[str, float]:
    """RUL error against the constant mean-life baseline, and the warning's catch and false-alarm rates."""
    pred = model.predict_rul(fleet.x, fleet.asset_class)
    truth = np.minimum(fleet.rul_h, model.rul_cap_h)
    mean_life = np.array([lives.get(str(c), float(np.mean(list(lives.values())))) for c in fleet.asset_class])
    naive = np.clip(mean_life - fleet.hours, 0.0, model.rul_cap_h)
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    baseline = float(np.sqrt(np.mean((naive - truth) ** 2)))
    onsets = [model.warning_onset(pred[rows]) for rows in fleet.assets()]
    warn = warning_scores(onsets, fleet)
    return {
        "rmse": round(rmse, 2),
        "baseline_rmse": round(baseline, 2),
        "rmse_gain": round(1 - rmse / baseline, 4) if baseline else 0.0,
        "mae": round(float(np.mean(np.abs(pred - truth))), 2),
        "recall": round(warn["recall"], 4),
        "precision": round(warn["precision"], 4),
        "false_alarms_per_asset_30d": round(warn["false_alarms_per_asset_30d"], 4),
        "test_assets": len(onsets),
    }


def save(model: PdmModel, directory: Path, meta: dict[str, Any], *, now: datetime | None = None) -> SavedModel:
    """Write the model and its metadata; the file name carries the training time (UTC)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    path = directory / f"pdm-{stamp}{SUFFIX}"
    model.metrics = dict(meta.get("metrics", {}))
    joblib.dump(model, path)
    full = {"version": model.version, "file": path.name, "warn_rul_h": model.warn_rul_h, **meta}
    path.with_suffix(".json").write_text(json.dumps(full, ensure_ascii=False, indent=2), encoding="utf-8")
    return SavedModel(path, full)


def latest(directory: Path) -> Path | None:
    """The newest model file in ``directory`` (names sort by training time)."""
    files = sorted(directory.glob(f"pdm-*{SUFFIX}"))
    return files[-1] if files else None


def load(path: Path) -> SavedModel:
    """A saved model and its metadata; ``ValueError`` if the file holds no PdM model."""
    model = joblib.load(path)
    if not isinstance(model, PdmModel):
        msg = f"{path} holds a {type(model).__name__}, not a PdM model"
        raise ValueError(msg)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    meta["model"] = model
    return SavedModel(path, meta)
