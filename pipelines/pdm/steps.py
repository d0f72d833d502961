"""Pure steps of the PdM flow.

* :func:`parse` turns what a source delivered (structs, JSON bytes of one window or an array,
  Kafka raw records, lists) into :class:`~models.pdm.stream.PdmWindow` and dead letters.
* :func:`predict` folds one asset's window into its online features
  (:class:`~models.pdm.features.OnlineFeatures`, equal to the offline training features) and
  emits a :class:`~models.contracts.PdmPrediction`; when the failure warning latches (predicted
  RUL under the model's threshold for ``warn_persist`` windows in a row) it also emits ONE
  :class:`~models.pdm.stream.PdmWarning`, never a second for the same asset until its running
  hours go back (a replaced asset: a new life, new features, a warning of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from connectors.batches import RawRecord
from models.contracts import DeadLetter, PdmPrediction, dead_letter
from models.pdm.features import FEATURES, OnlineFeatures
from models.pdm.model import PdmModel
from models.pdm.stream import PDM_WINDOW, PdmFeatureRow, PdmWarning, PdmWindow, window_decoder

RAW_KEEP = 1024


def parse(item: Any, now_ms: int) -> tuple[list[PdmWindow], list[DeadLetter]]:
    """Windows and dead letters of one delivery. Never raises."""
    windows: list[PdmWindow] = []
    dead: list[DeadLetter] = []
    stack = [item]
    while stack:
        x = stack.pop()
        if isinstance(x, PdmWindow):
            windows.append(x)
        elif isinstance(x, DeadLetter):
            dead.append(x)
        elif isinstance(x, list | tuple):
            stack.extend(reversed(x))
        elif isinstance(x, RawRecord | bytes | str):
            raw = x.value if isinstance(x, RawRecord) else x
            try:
                decoded = window_decoder.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError) as err:
                text = raw[:RAW_KEEP] if isinstance(raw, str) else raw[:RAW_KEEP].decode("utf-8", "replace")
                dead.append(dead_letter(PDM_WINDOW, text, f"not a PdM window: {err}", ts=now_ms))
                continue
            windows.extend(decoded if isinstance(decoded, list) else [decoded])
        else:
            dead.append(
                dead_letter(PDM_WINDOW, repr(x)[:RAW_KEEP], f"unsupported payload {type(x).__name__}", ts=now_ms)
            )
    return windows, dead


@dataclass(slots=True)
class AssetState:
    """Per-asset state: online features, the current run of low-RUL windows, whether warned."""

    features: OnlineFeatures = field(default_factory=OnlineFeatures)
    low_run: int = 0
    warned: bool = False
    last_ts: int = 0
    last_hours: float = 0.0


def predict(model: PdmModel, state: AssetState | None, window: PdmWindow) -> tuple[AssetState, list[Any]]:
    """One window -> its prediction (and the warning, the first time it latches)."""
    st = state or AssetState()
    if window.ts <= st.last_ts:  # a replayed or late window: features must stay in time order
        return st, []
    st.last_ts = window.ts
    if window.running_hours < st.last_hours:
        # running hours went back: the asset was replaced (or its counter reset at an overhaul),
        # a new life with its own healthy baseline, and its failure may be warned of again
        st = AssetState(last_ts=window.ts)
    st.last_hours = window.running_hours
    f = st.features.update(
        np.asarray(window.vibration), window.temperature, window.current, window.running_hours, window.starts, window.fs
    )
    x = np.array([[f[name] for name in FEATURES]])
    cls = np.array([window.asset_class], dtype=object)
    if window.asset_class not in model.classes:
        reason = f"no model for asset class {window.asset_class!r} (known: {', '.join(model.classes)})"
        return st, [dead_letter(PDM_WINDOW, msgspec.json.encode(window).decode()[:RAW_KEEP], reason, ts=window.ts)]
    rul_h = float(model.predict_rul(x, cls)[0])
    health = float(model.health(np.array([rul_h]))[0])
    out: list[Any] = [
        PdmFeatureRow(asset_id=window.asset_id, ts=window.ts, features={k: round(float(v), 6) for k, v in f.items()}),
        PdmPrediction(
            asset_id=window.asset_id,
            ts=window.ts,
            health=round(health, 4),
            anomaly_score=round(float(model.anomaly(x, cls)[0]), 4),
            rul_days=round(rul_h / 24, 2),
            top_features=model.top_features(x[0], window.asset_class),
        ),
    ]
    st.low_run = st.low_run + 1 if rul_h <= model.warn_rul_h else 0
    if st.low_run >= model.warn_persist and not st.warned:
        st.warned = True
        out.append(
            PdmWarning(
                asset_id=window.asset_id,
                ts=window.ts,
                rul_days=round(rul_h / 24, 2),
                health=round(health, 4),
                model_version=model.version,
                message=f"预计剩余寿命约 {rul_h:.0f} 小时，请安排维修 / predicted RUL {rul_h:.0f} h: plan maintenance",
            )
        )
    return st, out
