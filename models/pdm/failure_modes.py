"""The failure mode a PdM warning points at, read from the features that drove the prediction.

A maintenance planner files work by asset AND failure mode (a pump may need its bearing and its
motor looked at, by different crafts), and the register keeps ONE open work order per pair: a
second warning of the same mode while the first order is open updates it instead of adding a
duplicate. The mode comes from the prediction's ``top_features`` (the features furthest from
the class's healthy mean): the first feature that belongs to a mode decides.

Example:
    >>> failure_mode(["kurtosis", "temperature"])
    'vibration'
    >>> failure_mode(["temp_trend", "rms"]), failure_mode([]), FAILURE_MODE_LABELS["electrical"]
    ('thermal', 'degradation', '电气/电流异常')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

VIBRATION: Final = "vibration"
THERMAL: Final = "thermal"
ELECTRICAL: Final = "electrical"
WEAR: Final = "wear"
DEGRADATION: Final = "degradation"
"""No feature names a mode: general degradation."""

MODE_OF_FEATURE: Final[Mapping[str, str]] = {
    "rms": VIBRATION,
    "peak": VIBRATION,
    "crest": VIBRATION,
    "kurtosis": VIBRATION,
    "band_low": VIBRATION,
    "band_mid": VIBRATION,
    "band_high": VIBRATION,
    "rms_ratio": VIBRATION,
    "high_ratio": VIBRATION,
    "rms_trend": VIBRATION,
    "temperature": THERMAL,
    "temp_delta": THERMAL,
    "temp_trend": THERMAL,
    "current": ELECTRICAL,
    "current_ratio": ELECTRICAL,
    "running_hours": WEAR,
    "starts": WEAR,
}
"""Each PdM feature (:data:`models.pdm.features.FEATURES`) and the failure mode it speaks for."""

FAILURE_MODE_LABELS: Final[Mapping[str, str]] = {
    VIBRATION: "振动劣化（轴承/对中/松动）",
    THERMAL: "温升异常（润滑/冷却）",
    ELECTRICAL: "电气/电流异常",
    WEAR: "运行磨损/寿命到期",
    DEGRADATION: "综合劣化",
}


def failure_mode(top_features: Iterable[str]) -> str:
    """The failure mode of the first feature that names one; :data:`DEGRADATION` if none does."""
    for name in top_features:
        mode = MODE_OF_FEATURE.get(name)
        if mode is not None:
            return mode
    return DEGRADATION
