"""The plant model as JSON: areas, hazard sources, equipment, tags, anchors, cameras, zones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import PlantDep

router = APIRouter(prefix="/api/v1", tags=["plant 工厂模型"])


@router.get("/plant")
def get_plant_model(plant: PlantDep) -> dict[str, Any]:
    """The whole plant, with each hazard source's GB 18218 R value."""
    data = plant.model_dump(mode="json")
    for src, out in zip(plant.hazard_sources, data["hazard_sources"], strict=True):
        out["r_value"] = round(src.r_value, 3)
        out["s_index"] = round(src.s_index, 3)
    return data
