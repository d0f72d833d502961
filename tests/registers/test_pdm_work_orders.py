"""PdM failure warnings into maintenance work orders: one open order per asset and failure mode.

On SQLite and PostgreSQL. A warning for an asset whose vibration order is still open updates
that order (latest health and RUL, priority and due date only ever more urgent, a history row)
instead of raising a duplicate; a different failure mode is a different order; once the order
is closed, the next warning opens a new one, numbered by the register's own ``WO-YYYYMMDD-NNNN``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.contracts import PdmPrediction
from models.pdm.failure_modes import MODE_OF_FEATURE, failure_mode
from registers.db import Base, make_engine
from registers.equipment import service
from registers.equipment.models import WorkOrder
from registers.equipment.workflow import WorkOrderAction
from registers.framework.service import InvalidInput
from tests.registers.test_equipment import V101, build_tree

TS = int(datetime(2026, 11, 20, 2, tzinfo=UTC).timestamp() * 1000)
HOUR = 3_600_000


def warning(ts: int, health: float, rul_days: float, *features: str) -> PdmPrediction:
    return PdmPrediction(
        asset_id="V-101", ts=ts, health=health, anomaly_score=0.7, rul_days=rul_days, top_features=list(features)
    )


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(WorkOrder)) or 0)


def test_migration_matches_the_work_order_model(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert [d for d in diff if "work_orders" in repr(d)] == []


def test_one_open_order_per_asset_and_failure_mode(session: Session) -> None:
    build_tree(session)
    first, created = service.open_for_prediction(session=session, prediction=warning(TS, 0.5, 20, "kurtosis", "rms"))
    assert created and first.pdm_failure_mode == "vibration" and "振动劣化" in first.title
    assert (first.number, first.equipment_code, first.priority, first.due_on) == (
        "WO-20261120-0001",
        V101,
        "high",
        date(2026, 12, 10),
    )
    # the same warning again (at-least-once delivery): nothing new
    assert service.open_for_prediction(session=session, prediction=warning(TS, 0.5, 20, "kurtosis")) == (first, False)
    # a later warning of the same mode: the open order follows it, more urgent and due sooner
    again, created = service.open_for_prediction(
        session=session, prediction=warning(TS + 24 * HOUR, 0.2, 3, "band_high", "temperature")
    )
    assert (again.id, created) == (first.id, False)
    assert (again.pdm_health, again.pdm_rul_days, again.priority, again.due_on) == (
        0.2,
        3,
        "urgent",
        date(2026, 11, 24),
    )
    assert "[PdM 更新 2026-11-21 10:00] 健康度 0.20" in (again.description or "")
    history = service.work_orders.history(session=session, record_id=first.id)
    assert [h.action for h in history][-1] == "pdm_update"
    # a milder later warning never lowers the priority nor pushes the due date out
    calm, _ = service.open_for_prediction(session=session, prediction=warning(TS + 48 * HOUR, 0.8, 200, "rms"))
    assert (calm.priority, calm.due_on) == ("urgent", date(2026, 11, 24))
    # another failure mode of the same asset: its own order
    thermal, created = service.open_for_prediction(
        session=session, prediction=warning(TS + HOUR, 0.4, 10, "temp_trend")
    )
    assert created and thermal.id != first.id and thermal.pdm_failure_mode == "thermal"
    assert thermal.number == "WO-20261120-0002"
    assert count(session) == 2
    # closed (or cancelled): the next warning of that mode opens a new order
    service.transition_work_order(session=session, record_id=first.id, action=WorkOrderAction.CANCEL, actor="eng")
    fresh, created = service.open_for_prediction(session=session, prediction=warning(TS + 72 * HOUR, 0.3, 5, "rms"))
    assert created and fresh.id not in (first.id, thermal.id) and fresh.number == "WO-20261123-0001"
    with pytest.raises(InvalidInput, match="不在设备台账中"):
        service.open_for_prediction(
            session=session,
            prediction=PdmPrediction(asset_id="X-999", ts=TS, health=0.1, anomaly_score=1, top_features=["rms"]),
        )


@settings(deadline=None, max_examples=40)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted({*MODE_OF_FEATURE, "other"})), st.booleans()),
        min_size=1,
        max_size=15,
    )
)
def test_open_orders_never_exceed_one_per_mode(steps: list[tuple[str, bool]]) -> None:
    """Whatever warnings arrive and whatever orders get cancelled in between: at most one open per mode."""
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine)  # a scratch database per example (the migrations are tested elsewhere)
    with Session(engine) as session:
        build_tree(session)
        for i, (feature, cancel_after) in enumerate(steps):
            order, _ = service.open_for_prediction(session=session, prediction=warning(TS + i * HOUR, 0.4, 9, feature))
            assert order.pdm_failure_mode == failure_mode([feature])
            if cancel_after:
                service.transition_work_order(
                    session=session, record_id=order.id, action=WorkOrderAction.CANCEL, actor="eng"
                )
            open_modes = session.scalars(
                select(WorkOrder.pdm_failure_mode).where(WorkOrder.state.not_in(["closed", "cancelled"]))
            ).all()
            assert len(open_modes) == len(set(open_modes))
    engine.dispose()
