"""The notebook twin runs clean and shows the browser's scene and colours.

Executed with nbclient in a real kernel (the venv's Python) from the repository root, like
the other notebooks: it builds the pythreejs widget from the same scene builder the API
serves, so a change to the GLB that the widget cannot read breaks the suite.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from twin.plant import load_plant
from twin.scene import COLORS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_twin_notebook_shows_every_equipment_and_the_alarm_colour() -> None:
    nb = nbformat.read(ROOT / "notebooks" / "twin_scene.ipynb", as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    # the renderer cell displays a pythreejs widget
    widget = code[0].outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in widget
    # the reactor in the browser's alarm colour, a tank in its own (the colours the browser test reads)
    assert ast.literal_eval(code[1].outputs[-1]["data"]["text/plain"]) == ("#ff3030", COLORS["tank"])
    summary = ast.literal_eval(code[-1].outputs[-1]["data"]["text/plain"])
    plant = load_plant()
    assert summary["equipment_in_scene"] == summary["equipment_in_plant"] == len(plant.equipment)
    assert summary["cameras_in_scene"] == len(plant.cameras)
    assert summary["alarmed"] == ["R-401"]
