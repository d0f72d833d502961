"""``safetwin run`` with a trained PdM model: a degrading pump's windows become ONE work order.

The embedded app serves on free ports from a temporary data directory that holds a model saved
the way ``safetwin pdm train`` saves it (trained on simulated assets, never on the one scored
here). The demo equipment register is loaded (the pump ``P-401`` among it). Windows of a
held-out run-to-failure history, named ``P-401``, go in through the runtime (what a
condition-monitoring gateway feeds); the PdM flow predicts, latches a failure warning, and the
maintenance work order appears through ``/api/v1/work-orders``, with the prediction through
``/api/v1/pdm/predictions``. No simulator runs, so the pump's windows are the only ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from threadpoolctl import threadpool_limits

from api.pdm_models import save
from api.pdm_runtime import model_dir
from api.server import BackgroundServer
from models.pdm.model import stack_fleet, train
from registers.equipment.demo import load_equipment_demo
from tests.e2e.conftest import LiveApp, start_live_app
from tests.pipelines.pdm.test_pdm_flow import windows_of
from twin.degradation import FS, simulate_fleet

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pdm_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApp, BackgroundServer]]:
    data_dir: Path = tmp_path_factory.mktemp("pdm_plant")
    with threadpool_limits(limits=1):
        model = train(stack_fleet(simulate_fleet(9, seed=31), FS), seed=0)
    save(model, model_dir_of(data_dir), {"train_seed": 31, "metrics": {}})
    live, server = start_live_app(data_dir, simulate=False)
    try:
        yield live, server
    finally:
        server.stop()


def model_dir_of(data_dir: Path) -> Path:
    from api.settings import Settings

    return model_dir(Settings(environment="test", data_dir=data_dir))


def wait_for(fetch: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    value = fetch()
    while not value and time.monotonic() < deadline:
        time.sleep(0.25)
        value = fetch()
    return value


def test_degrading_pump_opens_one_maintenance_work_order(pdm_app: tuple[LiveApp, BackgroundServer]) -> None:
    live, _server = pdm_app
    runtime = live.app.state.runtime
    with live.app.state.session_factory.begin() as session:
        load_equipment_demo(session=session, plant=live.app.state.plant)
    auth = {"Authorization": f"Bearer {live.token()}"}
    assert wait_for(lambda: runtime.pdm is not None and runtime.pdm.listening, 60), runtime.pdm.status
    assert runtime.pdm.status == "running" and runtime.pdm.model_version

    (asset,) = simulate_fleet(1, seed=32)  # held out: not among the training assets
    t0 = int(time.time() * 1000) - len(asset.hours) * 60_000  # an hour of the pump per minute, ending now
    windows = [
        msgspec.structs.replace(w, asset_id="P-401", ts=t0 + i * 60_000) for i, w in enumerate(windows_of(asset))
    ]
    for i in range(0, len(windows), 100):
        runtime.pdm.publish(windows[i : i + 100])

    def pdm_orders() -> list[dict[str, Any]]:
        r = httpx.get(f"{live.base_url}/api/v1/work-orders", params={"size": 100}, headers=auth)
        assert r.status_code == 200, r.text
        return [o for o in r.json()["items"] if o.get("source") == "pdm"]

    orders = wait_for(pdm_orders, 180)
    pdm = runtime.pdm
    assert len(orders) == 1, (pdm.status, vars(pdm.recorder), len(runtime.store.latest_pdm_predictions()))
    order = orders[0]
    assert order["pdm_asset_id"] == "P-401" and order["state"] == "open"
    assert order["title"].startswith("预测性维护: 反应进料泵")
    assert order["equipment_code"].endswith("P-401")

    predictions = httpx.get(f"{live.base_url}/api/v1/pdm/predictions", headers=auth).json()
    pump = next(p for p in predictions if p["asset_id"] == "P-401")
    assert pump["health"] < 0.2 and pump["rul_days"] * 24 <= 96 + 24  # near its end when the windows stop
    time.sleep(2)  # the rest of the history after the warning adds no second order
    assert len(pdm_orders()) == 1
    assert runtime.pdm.recorder.created == 1 and runtime.pdm.recorder.errors == 0
