"""The demo plant's anchors and zones as the positioning flow's plan."""

from __future__ import annotations

import pytest

from models.position_rules import PositionRuleTable, zone_rule
from pipelines.positioning.steps import PositioningPlan
from twin.plant import load_plant


def demo_plan(**kwargs: object) -> PositioningPlan:
    """The demo plant's plan (what the runtime builds), with overrides."""
    plant = load_plant()
    table = kwargs.pop("table", PositionRuleTable())
    zones = [zone_rule(z.id, z.name, z.kind, z.polygon, table) for z in plant.zones]  # type: ignore[arg-type]
    return PositioningPlan.build({a.id: a.position for a in plant.anchors}, zones, table=table, **kwargs)


@pytest.fixture
def plan() -> PositioningPlan:
    return demo_plan()
