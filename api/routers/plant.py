"""The plant model as JSON: areas, hazard sources, equipment, tags, anchors, cameras, zones.

Each hazard source carries its GB 18218 identification from ONE path: the hazard source
register's stored result (same code, e.g. ``MHS-01``) when the register has the source —
that is what the enterprise filed — else the plant file's chemicals through the same
:func:`models.hazard_identification.identify` the register uses. ``identified_by`` says which.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from api.auth import SessionDep, require
from api.deps import PlantDep
from models.hazard_identification import HazardGrade
from registers.hazard_sources.models import HazardSource

router = APIRouter(prefix="/api/v1", tags=["plant 工厂模型"], dependencies=[Depends(require("read", "twin"))])


def _grade_label(grade: int | None) -> str:
    return HazardGrade(grade).label if grade else "未构成"


@router.get("/plant")
def get_plant_model(plant: PlantDep, session: SessionDep) -> dict[str, Any]:
    """The whole plant, with each hazard source's GB 18218 S, R and grade (from the register when it has the source)."""
    data = plant.model_dump(mode="json")
    codes = [src.id for src in plant.hazard_sources]
    stored = {
        row.code: row
        for row in session.scalars(
            select(HazardSource).where(HazardSource.code.in_(codes), HazardSource.deleted_at.is_(None))
        )
    }
    for src, out in zip(plant.hazard_sources, data["hazard_sources"], strict=True):
        row = stored.get(src.id)
        if row is not None:
            s, r, grade, source = row.s_value, row.r_value, row.grade, "register"
        else:
            s, r, grade, source = src.s_index, src.r_value, src.grade, "plant"
        out["s_index"] = round(s, 3)
        out["r_value"] = round(r, 3)
        out["grade"] = grade
        out["grade_label"] = _grade_label(grade)
        out["identified_by"] = source
    return data
