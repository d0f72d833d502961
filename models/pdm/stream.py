"""Stream contracts of the PdM flow: a measurement window in, a one-off maintenance warning out.

``pdm.prediction`` itself is :class:`models.contracts.PdmPrediction`; these two are the PdM
flow's own: :class:`PdmWindow` (one window of an asset's condition data, what a vibration
gateway publishes) and :class:`PdmWarning` (raised once per asset when its failure warning
latches; the integrator opens one maintenance work order for it).
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

PDM_WINDOW: Final = "pdm.window"
PDM_WARNING: Final = "pdm.warning"


class PdmWindow(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One window of an asset: a vibration snapshot plus temperature, current and counters."""

    asset_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    asset_class: str
    ts: Annotated[int, msgspec.Meta(gt=0)]
    vibration: Annotated[list[float], msgspec.Meta(min_length=8, max_length=65_536)]
    fs: Annotated[float, msgspec.Meta(gt=0)] = 2560.0
    temperature: float
    current: float
    running_hours: Annotated[float, msgspec.Meta(ge=0)]
    starts: Annotated[int, msgspec.Meta(ge=0)] = 0

    @property
    def key(self) -> str:
        """The asset: its windows stay ordered."""
        return self.asset_id


class PdmWarning(msgspec.Struct, frozen=True, kw_only=True):
    """A failure warning, raised once per asset: open a maintenance work order (预测性维护工单)."""

    asset_id: str
    ts: int
    rul_days: float
    health: float
    model_version: str
    message: str

    @property
    def key(self) -> str:
        """The asset."""
        return self.asset_id


class PdmFeatureRow(msgspec.Struct, frozen=True, kw_only=True):
    """The features of one window (table ``pdm_features``): what the prediction was made from."""

    asset_id: str
    ts: int
    features: dict[str, float]

    @property
    def key(self) -> str:
        """The asset."""
        return self.asset_id


window_decoder: Final = msgspec.json.Decoder(PdmWindow | list[PdmWindow])
