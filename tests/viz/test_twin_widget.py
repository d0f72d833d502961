"""The notebook twin widget: built from the API's GLB, equipment named, alarm colours live."""

from __future__ import annotations

import pytest

from twin.plant import load_plant
from twin.scene import export_glb
from viz.notebook.twin_widget import ALARM_COLOUR, TwinWidget


@pytest.fixture(scope="module")
def widget() -> TwinWidget:
    return TwinWidget.from_glb(export_glb(load_plant()))


def test_every_equipment_is_a_named_mesh(widget: TwinWidget) -> None:
    assert {e.id for e in load_plant().equipment} <= set(widget.meshes)
    mesh = widget.meshes["R-401"]
    positions = mesh.geometry.attributes["position"].array
    assert positions.shape[1] == 3 and positions[:, 1].max() > 0  # Y-up: the reactor stands above ground


def test_alarm_colour_is_set_and_restored(widget: TwinWidget) -> None:
    normal = widget.colour("R-401")
    assert normal != ALARM_COLOUR
    widget.set_alarm("R-401", True)
    assert widget.colour("R-401") == ALARM_COLOUR and widget.alarmed == {"R-401"}
    widget.set_alarm("R-401", False)
    assert widget.colour("R-401") == normal and not widget.alarmed
    with pytest.raises(KeyError, match="NOPE"):
        widget.set_alarm("NOPE", True)
