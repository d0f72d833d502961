"""Risk scores into the risk-warning register (风险预警), in both modes.

The risk flow emits a ``risk.score`` whenever a source's colour, score or reasons change. This
module turns that stream into the closed loop of :mod:`registers.risk_warnings`: a rise to
orange or red opens one warning per episode (with its contributions) and notifies whoever the
notification rules and duty roster name for the source's area and level; a further rise
updates it and notifies again; a fall below orange marks it cleared (it still needs its
feedback to close).

* Embedded mode: :class:`RiskWarningWorker` subscribes to the bus stream ``risk.score`` that
  the in-process risk flow publishes on, and records in its own thread.
* Distributed mode: :class:`KafkaRiskWarningFeed` reads ``<prefix>.risk.score`` in ONE consumer
  group shared by every API replica (``<prefix>-risk-warnings``), so each partition (keyed by
  hazard source: a source's scores stay ordered) is recorded by exactly one replica, which
  commits the offsets only after the register took the batch. A replay after a crash changes
  nothing: :func:`registers.risk_warnings.service.on_score` ignores scores at or before the
  newest it applied, and the notification register tracks each rise once.

Example:
    >>> risk_feed_group("safetwin")
    'safetwin-risk-warnings'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from api.background import BackgroundLoop
from api.register_feed import RegisterFeed
from api.risk_management_inputs import ManagementStatusPublisher
from api.risk_register_inputs import RegisterInputBridge
from connectors.bus.memory import Bus, Subscription
from connectors.kafka.admin import topic_for
from models.contracts import RISK_SCORE, RiskScore
from registers.notifications import service as notifications
from registers.risk_warnings import service as risk_warnings
from twin.plant import Plant

if TYPE_CHECKING:
    from api.runtime import Runtime

log = logging.getLogger(__name__)


def risk_feed_group(prefix: str) -> str:
    """The consumer group every API replica of one deployment shares for the risk-warning register."""
    return f"{prefix}-risk-warnings"


class RiskWarningRecorder:
    """Applies risk scores to the register and notifies; one transaction per score.

    Args:
        session_factory: Sessions of the registers database.
        plant: Names and areas of the hazard sources (routing by area).
        notifier: Channels, retries and escalation policy (the alarm worker's).
        rules_version: Version of the rule table the flow scores with, kept on each warning.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        plant: Plant,
        notifier: notifications.Notifier,
        *,
        rules_version: str = "",
    ) -> None:
        self.session_factory = session_factory
        self.sources = {hs.id: (hs.name, hs.area) for hs in plant.hazard_sources}
        self.notifier = notifier
        self.rules_version = rules_version
        self.recorded = 0
        """Scores the register took (applied or recognised as nothing to do)."""
        self.errors = 0

    def handle(self, scores: list[RiskScore]) -> None:
        """Apply each score in order, then notify a rise; a failed score is logged, not raised."""
        for score in scores:
            try:
                with self.session_factory() as session:
                    outcome = risk_warnings.on_score(session=session, score=score, rules_version=self.rules_version)
                    if outcome is not None and outcome.notify:
                        name, area = self.sources.get(score.hazard_source_id, (None, None))
                        risk_warnings.notify(
                            session=session, notifier=self.notifier, warning=outcome.warning, area=area, name=name
                        )
                    session.commit()
                self.recorded += 1
            except Exception:  # noqa: BLE001 - the worker must outlive one bad score
                self.errors += 1
                log.exception("recording risk score of %s at %d failed", score.hazard_source_id, score.ts)


class RiskWarningWorker(RiskWarningRecorder):
    """Embedded mode: consumes ``risk.score`` from the bus until stopped."""

    def __init__(self, bus: Bus, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bus = bus
        self._loop = BackgroundLoop("risk-warnings", self._run)

    def start(self) -> RiskWarningWorker:
        """Subscribe now (no score published from here on is missed) and start the thread."""
        self._loop.start(self.bus.subscribe(RISK_SCORE))
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current batch and stop."""
        self._loop.stop(timeout)

    def _run(self, sub: Subscription) -> None:
        try:
            while not self._loop.stopping:
                batch = sub.get_batch(timeout=0.5)
                scores = [s for s in batch if isinstance(s, RiskScore)]
                if scores:
                    self.handle(scores)
                if sub.closed and not batch:
                    break
        finally:
            self.bus.unsubscribe(sub)


class KafkaRiskWarningFeed(RegisterFeed[RiskWarningRecorder]):
    """Distributed mode: records ``<prefix>.risk.score`` into the register, committing after it did.

    The consuming loop (shared group, earliest start, commit after the register took the
    batch) and the arguments are :class:`~api.register_feed.RegisterFeed`'s.
    """

    register = "risk-warning"
    contract = RiskScore
    group_for = staticmethod(risk_feed_group)

    @staticmethod
    def topics_for(prefix: str) -> dict[str, str]:
        """The one score topic, keyed by hazard source (a source's scores stay in order)."""
        return {topic_for(RISK_SCORE, prefix): RISK_SCORE}

    def _hand_over(self, topic: str, items: list[Any]) -> None:
        self.recorder.handle(items)


@dataclass
class RiskServices:
    """What :func:`start_risk_warnings` started: the score consumer and (embedded) the register bridge."""

    consumer: RiskWarningWorker | KafkaRiskWarningFeed
    bridge: RegisterInputBridge | None = None
    management: ManagementStatusPublisher | None = None
    """Embedded: overdue inspections and hidden hazards per source (:mod:`api.risk_management_inputs`)."""

    def stop(self) -> None:
        """Stop the bridges, then the consumer."""
        if self.bridge is not None:
            self.bridge.stop()
        if self.management is not None:
            self.management.stop()
        self.consumer.stop()


def start_risk_warnings(
    runtime: Runtime, session_factory: sessionmaker[Session], notifier: notifications.Notifier
) -> RiskServices:
    """Start the mode's consumer of ``risk.score`` (call before the runtime starts its flows).

    In embedded mode also the bridge that tells the in-process risk flow which special work is
    at work and which interlocks are bypassed (:mod:`api.risk_register_inputs`); in distributed
    mode those inputs reach the flow through the ``risk.input`` topic.
    """
    from api.runtime import risk_table

    s = runtime.settings
    version = risk_table(s).version
    if runtime.distributed:
        recorder = RiskWarningRecorder(session_factory, runtime.plant, notifier, rules_version=version)
        feed = KafkaRiskWarningFeed(recorder, s.kafka_brokers, prefix=s.kafka_topic_prefix)
        feed.start()
        return RiskServices(feed)
    worker = RiskWarningWorker(runtime.bus, session_factory, runtime.plant, notifier, rules_version=version).start()
    sources = {h.id: h.area for h in runtime.plant.hazard_sources}
    management = ManagementStatusPublisher(runtime.bus, session_factory, sources).start()
    return RiskServices(worker, RegisterInputBridge(runtime.bus, session_factory).start(), management)
