"""The plant's 3D scene as glTF binary for three.js.

The GLB depends only on the plant and on the scene builder, so it is built once per
(plant, builder) pair and kept in ``<data_dir>/twin/scene-<digest>.glb`` with a gzip copy
beside it: a restart, a second API replica on the same disk and every later request read the
file. The digest is the ETag; a browser that has the scene gets a 304. Browsers ask for
gzip and inflate it before GLTFLoader sees the bytes (no decoder in the page).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, Request, Response

from api.auth import require
from api.deps import PlantDep
from twin.plant import Plant

router = APIRouter(prefix="/api/v1/twin", tags=["twin 数字孪生"], dependencies=[Depends(require("read", "twin"))])

_BUILDER = Path(__file__).resolve().parents[2] / "twin" / "scene.py"


@dataclass(frozen=True, slots=True)
class SceneFile:
    """A built scene: its digest (the ETag) and the GLB, plain and gzipped."""

    digest: str
    glb: bytes
    gz: bytes


_lock = threading.Lock()
_memory: dict[int, tuple[Plant, SceneFile]] = {}  # id(plant) -> (plant kept alive, scene)


def scene_digest(plant: Plant) -> str:
    """Hash of the plant's content and of the builder's source: a new builder rebuilds."""
    h = hashlib.sha256(_BUILDER.read_bytes())
    h.update(plant.model_dump_json().encode())
    return h.hexdigest()[:32]


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # atomic: a reader never sees half a file


def scene_file(plant: Plant, data_dir: Path) -> SceneFile:
    """The plant's scene from memory, else from the data dir, else built (and stored) now."""
    hit = _memory.get(id(plant))
    if hit is not None and hit[0] is plant:
        return hit[1]
    with _lock:
        hit = _memory.get(id(plant))
        if hit is not None and hit[0] is plant:
            return hit[1]
        digest = scene_digest(plant)
        folder = data_dir / "twin"
        glb_path, gz_path = folder / f"scene-{digest}.glb", folder / f"scene-{digest}.glb.gz"
        try:
            entry = SceneFile(digest, glb_path.read_bytes(), gz_path.read_bytes())
        except OSError:
            from twin.scene import export_glb  # trimesh loads on the first build, not at start-up

            glb = export_glb(plant)
            entry = SceneFile(digest, glb, gzip.compress(glb, compresslevel=6, mtime=0))
            try:
                folder.mkdir(parents=True, exist_ok=True)
                _write(glb_path, entry.glb)
                _write(gz_path, entry.gz)
            except OSError:
                pass  # a read-only data dir only costs a rebuild after restart
        if len(_memory) >= 4:
            _memory.clear()
        _memory[id(plant)] = (plant, entry)
        return entry


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == "gzip" and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


@router.get("/scene.glb", response_class=Response)
def scene(request: Request, plant: PlantDep) -> Response:
    """GLB of the plant; equipment nodes are named by equipment id (e.g. ``R-401``).

    Equipment of one kind and size share one mesh (the page draws them instanced); the
    response is gzip-encoded when the client accepts it and carries the scene digest as ETag.
    """
    entry = scene_file(plant, request.app.state.settings.data_dir)
    etag = f'"{entry.digest}"'
    headers = {"Cache-Control": "private, max-age=300", "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    if _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(content=entry.gz, media_type="model/gltf-binary", headers=headers)
    return Response(content=entry.glb, media_type="model/gltf-binary", headers=headers)
