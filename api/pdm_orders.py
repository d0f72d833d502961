"""PdM failure warnings into maintenance work orders of the equipment register (预测性维护工单).

The PdM flow (:mod:`pipelines.pdm.flow`) emits, per window, a feature row and a
``pdm.prediction``, and once per asset a :class:`~models.pdm.stream.PdmWarning` when its failure
warning latches. :class:`PdmWorkOrderRecorder` pairs each warning with the prediction it was
raised on (same asset and time: its top features name the failure mode) and asks the equipment
register for ONE open work order per asset and failure mode
(:func:`registers.equipment.service.open_for_prediction`): a new warning while the order is open
updates it, a replay returns it. :class:`PdmWorkOrderSink` is the flow sink that feeds it, so
the same flow builder serves a process that runs the PdM flow next to the registers.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition
from sqlalchemy.orm import Session, sessionmaker

from models.contracts import PdmPrediction
from models.pdm.stream import PdmWarning
from registers.equipment import service as equipment
from registers.framework.service import InvalidInput

log = logging.getLogger(__name__)
KEEP_PREDICTIONS = 10_000
"""Recent predictions kept to pair warnings with (one per asset is enough; bounded anyway)."""


class PdmWorkOrderRecorder:
    """Turns warnings (paired with their predictions) into work orders; one transaction per warning."""

    def __init__(self, session_factory: sessionmaker[Session], *, actor: str = "pdm") -> None:
        self.session_factory = session_factory
        self.actor = actor
        self.created = 0
        self.updated = 0
        self.unknown_assets: list[str] = []
        """Assets a warning named that the equipment register does not hold (logged, not retried)."""
        self.errors = 0
        self._recent: OrderedDict[tuple[str, int], PdmPrediction] = OrderedDict()

    def handle(self, items: list[Any]) -> None:
        """Remember predictions; open or update the work order of each warning."""
        for item in items:
            if isinstance(item, PdmPrediction):
                self._recent[(item.asset_id, item.ts)] = item
                if len(self._recent) > KEEP_PREDICTIONS:
                    self._recent.popitem(last=False)
            elif isinstance(item, PdmWarning):
                self._order(item)

    def _prediction_of(self, warning: PdmWarning) -> PdmPrediction:
        paired = self._recent.get((warning.asset_id, warning.ts))
        if paired is not None:
            return paired
        # the prediction was lost (a restart between the two): the warning alone, mode unknown
        return PdmPrediction(
            asset_id=warning.asset_id,
            ts=warning.ts,
            health=warning.health,
            anomaly_score=0.0,
            rul_days=warning.rul_days,
        )

    def _order(self, warning: PdmWarning) -> None:
        prediction = self._prediction_of(warning)
        try:
            with self.session_factory() as session:
                order, created = equipment.open_for_prediction(session=session, prediction=prediction, actor=self.actor)
                session.commit()
                number = order.number
        except InvalidInput as err:
            self.unknown_assets.append(warning.asset_id)
            log.warning("PdM warning for %s not filed: %s", warning.asset_id, err)
            return
        except Exception:  # noqa: BLE001 - the flow must outlive one failed transaction
            self.errors += 1
            log.exception("filing the PdM warning of %s failed", warning.asset_id)
            return
        if created:
            self.created += 1
        else:
            self.updated += 1
        log.info("PdM warning %s at %d -> work order %s", warning.asset_id, warning.ts, number)


class PdmWorkOrderSink(DynamicSink[Any]):
    """Flow sink: the PdM flow's predictions and warnings into :class:`PdmWorkOrderRecorder`."""

    def __init__(self, recorder: PdmWorkOrderRecorder) -> None:
        self.recorder = recorder

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _RecorderPartition:
        """One partition per worker; an asset's items stay with the worker that owns its key."""
        return _RecorderPartition(self.recorder)


class _RecorderPartition(StatelessSinkPartition[Any]):
    def __init__(self, recorder: PdmWorkOrderRecorder) -> None:
        self._recorder = recorder

    def write_batch(self, items: list[Any]) -> None:
        self._recorder.handle(items)
