"""The plant's 3D scene as glTF binary for three.js."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter, Response

from api.deps import PlantDep
from twin.plant import Plant
from twin.scene import export_glb

router = APIRouter(prefix="/api/v1/twin", tags=["twin 数字孪生"])


@lru_cache(maxsize=4)
def _glb(plant: Plant) -> bytes:
    return export_glb(plant)


@router.get("/scene.glb", response_class=Response)
def scene(plant: PlantDep) -> Response:
    """GLB of the plant; equipment nodes are named by equipment id (e.g. ``R-401``)."""
    return Response(content=_glb(plant), media_type="model/gltf-binary", headers={"Cache-Control": "max-age=300"})
