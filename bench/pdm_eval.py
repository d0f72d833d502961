"""Honest evaluation of the PdM models on held-out simulated assets.

Training and evaluation fleets come from :mod:`twin.degradation` with disjoint seeds: the
evaluated assets were never seen in training, not even a window of them (split by asset,
windows in time order; the warning threshold is chosen on held-back *training* assets).
Both arms run through the production code (:func:`models.pdm.model.train`,
:meth:`~models.pdm.model.PdmModel.predict_rul`, :meth:`~models.pdm.model.PdmModel.warning_onset`).

Baselines, same windows in the same run:

* RUL: the constant-mean-life predictor, per class ``mean training life − running hours``,
  capped like the target (the best a plant does without condition data);
* warning: a threshold on vibration RMS per class, tuned on the same training assets for the
  most failures caught with no false alarm (what an ISO 10816 alarm limit does).

RUL targets are capped at ``rul_cap_h`` (piecewise-linear RUL); the uncapped RMSE is printed
too. A failure is caught when the (latched) warning was raised between 14 days and 24 hours
before it; a warning raised earlier is a false alarm.

Last line: one JSON object with ``rmse``, ``baseline_rmse``, ``rmse_gain`` (1 − rmse /
baseline_rmse), ``mae``, ``baseline_mae``, ``recall``, ``false_alarms_per_asset_30d``,
``precision`` and the RMS-threshold baseline's ``baseline_recall`` / ``baseline_false_alarms_per_asset_30d``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits  # noqa: E402

from models.pdm.features import FEATURES  # noqa: E402
from models.pdm.model import RUL_CAP_H, Fleet, first_run, stack_fleet, train, warning_outcome, warning_scores  # noqa: E402
from twin.degradation import FS, simulate_fleet  # noqa: E402

TRAIN_SEED, TEST_SEED = 101, 202
TARGETS = {"rmse_gain": 0.30, "recall": 0.90, "false_alarms_per_asset_30d": 1.0}
RMS = FEATURES.index("rms")


def mean_lives(fleet: Fleet) -> dict[str, float]:
    """Mean life per class of a training fleet."""
    lives: dict[str, list[float]] = {}
    for rows in fleet.assets():
        lives.setdefault(str(fleet.asset_class[rows[0]]), []).append(float(fleet.hours[rows][-1] + 1))
    return {c: float(np.mean(v)) for c, v in lives.items()}


def rms_threshold_onsets(train_fleet: Fleet, fleet: Fleet, persist: int) -> list[int | None]:
    """The RMS-threshold baseline: per-class limit tuned on training assets, applied to ``fleet``."""
    limits: dict[str, float] = {}
    for c in sorted(set(train_fleet.asset_class.tolist())):
        groups = [r for r in train_fleet.assets() if train_fleet.asset_class[r[0]] == c]
        healthy = np.concatenate([train_fleet.x[r[: len(r) // 3], RMS] for r in groups])
        best, best_key = 0.0, (-1e9, 0.0)
        for mult in np.linspace(1.05, 3.0, 40):
            lim = float(np.median(healthy) * mult)
            caught = false = 0
            for r in groups:
                onset = first_run(train_fleet.x[r, RMS] >= lim, persist)
                hours = train_fleet.hours[r]
                ok, fa = warning_outcome(onset, hours, float(hours[-1] + 1))
                caught, false = caught + ok, false + fa
            key = (caught - 3.0 * false, -lim)
            if key > best_key:
                best, best_key = lim, key
        limits[c] = best
    return [first_run(fleet.x[r, RMS] >= limits[str(fleet.asset_class[r[0]])], persist) for r in fleet.assets()]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Simulate, train, evaluate; print the JSON summary as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller fleets (CI; under 45 s)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (1: fair on a shared box)")
    args = parser.parse_args(argv)
    n_train, n_test = (24, 15) if args.quick else (90, 30)
    started = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        train_fleet = stack_fleet(simulate_fleet(n_train, seed=TRAIN_SEED), FS)
        test_fleet = stack_fleet(simulate_fleet(n_test, seed=TEST_SEED), FS)
        model = train(train_fleet, seed=0)
        pred = model.predict_rul(test_fleet.x, test_fleet.asset_class)
        anomaly = model.anomaly(test_fleet.x, test_fleet.asset_class)
    truth = np.minimum(test_fleet.rul_h, model.rul_cap_h)
    lives = mean_lives(train_fleet)
    naive = np.array([lives[str(c)] for c in test_fleet.asset_class]) - test_fleet.hours
    naive = np.clip(naive, 0.0, model.rul_cap_h)
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    base_rmse = float(np.sqrt(np.mean((naive - truth) ** 2)))
    groups = test_fleet.assets()
    onsets = [model.warning_onset(pred[r]) for r in groups]
    ours = warning_scores(onsets, test_fleet)
    theirs = warning_scores(rms_threshold_onsets(train_fleet, test_fleet, model.warn_persist), test_fleet)
    last = np.array([r[-1] for r in groups])
    first = np.array([r[len(r) // 10] for r in groups])
    result = {
        "bench": "pdm_eval",
        "train_assets": n_train,
        "test_assets": n_test,
        "test_windows": int(len(truth)),
        "rul_cap_h": RUL_CAP_H,
        "rmse": round(rmse, 2),
        "baseline_rmse": round(base_rmse, 2),
        "rmse_gain": round(1 - rmse / base_rmse, 4),
        "mae": round(float(np.mean(np.abs(pred - truth))), 2),
        "baseline_mae": round(float(np.mean(np.abs(naive - truth))), 2),
        "uncapped_rmse": round(float(np.sqrt(np.mean((pred - test_fleet.rul_h) ** 2))), 2),
        "recall": round(ours["recall"], 4),
        "false_alarms_per_asset_30d": round(ours["false_alarms_per_asset_30d"], 4),
        "precision": round(ours["precision"], 4),
        "baseline_recall": round(theirs["recall"], 4),
        "baseline_false_alarms_per_asset_30d": round(theirs["false_alarms_per_asset_30d"], 4),
        "warn_rul_h": model.warn_rul_h,
        "anomaly_score_new_vs_failing": [round(float(anomaly[first].mean()), 3), round(float(anomaly[last].mean()), 3)],
        "model_version": model.version,
        "targets": TARGETS,
        "meets_targets": bool(
            1 - rmse / base_rmse >= TARGETS["rmse_gain"]
            and ours["recall"] >= TARGETS["recall"]
            and ours["false_alarms_per_asset_30d"] <= TARGETS["false_alarms_per_asset_30d"]
        ),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, ensure_ascii=False))  # noqa: T201 - the bench's report
    return result


if __name__ == "__main__":
    main()
