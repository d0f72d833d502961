"""The live-plant notebook runs clean against a running plant and colours its alarms.

A real embedded plant (simulator, OPC UA, flow, API) on free ports; the notebook is executed
by nbclient in a real kernel with ``SAFETWIN_URL``/``SAFETWIN_PASSWORD`` pointing at it, as a
user points it at ``make run``'s plant.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from tests.e2e.conftest import start_live_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_plant_twin_notebook_shows_the_live_alarm_and_a_history_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, server = start_live_app(tmp_path, sim_interval_s=0.25)
    try:
        token = live.token()
        live.force_excursion(token, "TT-401", to=300.0)
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 30
        while not any(
            a["source_id"] == "TT-401"
            for a in httpx.get(f"{live.base_url}/api/v1/alarms/active", headers=headers).json()
        ):
            assert time.monotonic() < deadline, "TT-401 never alarmed"
            time.sleep(0.2)
        monkeypatch.setenv("SAFETWIN_URL", live.base_url)
        monkeypatch.setenv("SAFETWIN_PASSWORD", live.admin_password)
        nb = nbformat.read(ROOT / "notebooks" / "plant_twin.ipynb", as_version=4)
        NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        server.stop()
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    assert "application/vnd.jupyter.widget-view+json" in code[0].outputs[-1]["data"]
    assert "R-401" in ast.literal_eval(code[1].outputs[-1]["data"]["text/plain"])
    assert "shape:" in code[2].outputs[-1]["data"]["text/plain"]  # a polars frame of TT-401's history
