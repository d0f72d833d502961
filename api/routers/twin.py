"""The plant's 3D scene as glTF binary for three.js."""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter, Response

from api.deps import PlantDep
from twin.plant import Plant

router = APIRouter(prefix="/api/v1/twin", tags=["twin 数字孪生"])


@lru_cache(maxsize=4)
def _glb(plant: Plant) -> bytes:
    from twin.scene import export_glb  # trimesh and scipy load on the first request, not at start-up

    return export_glb(plant)


@router.get("/scene.glb", response_class=Response)
def scene(plant: PlantDep) -> Response:
    """GLB of the plant; equipment nodes are named by equipment id (e.g. ``R-401``)."""
    return Response(content=_glb(plant), media_type="model/gltf-binary", headers={"Cache-Control": "max-age=300"})
