"""The PdM flow over held-out simulated assets into the equipment register: one work order per asset and mode.

The real flow (a model trained on other simulated assets), the real sink and a migrated SQLite
register holding the asset as equipment. The degrading asset gets exactly one maintenance work
order, named by the failure mode of the features that raised it; the flow's output delivered
again (a replay after a crash) adds none.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from bytewax.testing import TestingSink, TestingSource, run_main
from sqlalchemy import select
from threadpoolctl import threadpool_limits

from api.pdm_orders import PdmWorkOrderRecorder, PdmWorkOrderSink
from models.pdm.failure_modes import FAILURE_MODE_LABELS
from models.pdm.model import stack_fleet, train
from models.pdm.stream import PdmWarning
from pipelines.pdm.flow import build_flow
from registers.db import make_engine, make_session_factory
from registers.equipment import service as equipment
from registers.equipment.models import WorkOrder
from registers.equipment.schemas import EquipmentCreate
from tests.db_fixtures import migrate_registers
from tests.pipelines.pdm.test_pdm_flow import T0, windows_of
from twin.degradation import FS, simulate_fleet

pytestmark = pytest.mark.slow


def test_a_failing_asset_gets_one_work_order_even_on_replay(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registers.db'}"
    migrate_registers(url)
    factory = make_session_factory(make_engine(url))
    with threadpool_limits(limits=1):
        model = train(stack_fleet(simulate_fleet(9, seed=31), FS), seed=0)
        assets = simulate_fleet(1, seed=32)
    ids = {a.asset_id: f"P-90{i}" for i, a in enumerate(assets, start=1)}  # plant ids of the ledger
    with factory.begin() as session:
        for code, name, plant_id in (("DEMO", "示范化工", "demo"), ("DEMO.PUMPS", "机泵区", "pumps")):
            data = EquipmentCreate(code=code, name=name, plant_id=plant_id)
            equipment.register.create(session=session, data=data, actor="eng")
        for a in assets:
            data = EquipmentCreate(code=f"DEMO.PUMPS.{ids[a.asset_id]}", name=a.asset_class, plant_id=ids[a.asset_id])
            equipment.register.create(session=session, data=data, actor="eng")
    windows = [msgspec.structs.replace(w, asset_id=ids[w.asset_id]) for a in assets for w in windows_of(a)]
    batches = [windows[i : i + 100] for i in range(0, len(windows), 100)]
    recorder = PdmWorkOrderRecorder(factory)
    out: list[object] = []
    with threadpool_limits(limits=1):
        sinks = [PdmWorkOrderSink(recorder), TestingSink(out)]
        run_main(build_flow(model, [TestingSource(batches)], sinks, clock=lambda: T0))
    assert sum(isinstance(m, PdmWarning) for m in out) == len(assets)
    recorder.handle(out)  # the whole output delivered again (at-least-once): no new order
    assert (recorder.created, recorder.updated, recorder.errors, recorder.unknown_assets) == (1, 1, 0, [])
    with factory() as session:
        orders = list(session.scalars(select(WorkOrder).order_by(WorkOrder.id)))
    assert [o.pdm_asset_id for o in orders] == ["P-901"]
    for order in orders:
        assert order.source == "pdm" and order.state == "open" and order.number.startswith("WO-")
        assert order.pdm_failure_mode in FAILURE_MODE_LABELS
        assert FAILURE_MODE_LABELS[order.pdm_failure_mode] in order.title
        assert order.pdm_rul_days is not None and order.pdm_rul_days * 24 <= model.warn_rul_h + 1
