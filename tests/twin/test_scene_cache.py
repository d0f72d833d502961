"""The scene GLB route: built once per plant, kept in the data dir, gzip and ETag, fast at 2,000 items."""

from __future__ import annotations

import gzip
import json
import struct
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routers import twin as twin_router
from twin.generate import generate_plant
from twin.plant import Plant, load_plant
from twin.scene import export_glb


def _app(plant: Plant, data_dir: Path) -> FastAPI:
    app = FastAPI()
    app.state.plant = plant
    app.state.settings = SimpleNamespace(data_dir=data_dir)
    app.include_router(twin_router.router)
    for dep in twin_router.router.dependencies:  # the role check is tested in tests/api/test_role_matrix.py
        app.dependency_overrides[dep.dependency] = lambda: None  # type: ignore[index]
    return app


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    twin_router._memory.clear()


def test_glb_is_cached_in_the_data_dir_and_served_gzipped(tmp_path: Path) -> None:
    plant = load_plant()
    client = TestClient(_app(plant, tmp_path))
    r = client.get("/api/v1/twin/scene.glb", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.content == export_glb(plant)  # httpx inflates, as the browser does
    files = sorted(p.name for p in (tmp_path / "twin").iterdir())
    digest = twin_router.scene_digest(plant)
    assert files == [f"scene-{digest}.glb", f"scene-{digest}.glb.gz"]
    assert r.headers["etag"] == f'"{digest}"'

    # a restart (empty memory) reads the file instead of building
    twin_router._memory.clear()
    (tmp_path / "twin" / f"scene-{digest}.glb").write_bytes(b"glTF-from-disk")
    (tmp_path / "twin" / f"scene-{digest}.glb.gz").write_bytes(gzip.compress(b"glTF-from-disk"))
    r = client.get("/api/v1/twin/scene.glb", headers={"Accept-Encoding": "identity"})
    assert r.content == b"glTF-from-disk"
    assert "content-encoding" not in r.headers

    # the browser's copy is current: 304 without a body
    r = client.get("/api/v1/twin/scene.glb", headers={"If-None-Match": f'"{digest}"'})
    assert r.status_code == 304
    assert r.content == b""


def test_another_plant_gets_another_file(tmp_path: Path) -> None:
    demo = load_plant()
    moved = demo.model_copy(
        update={
            "equipment": (demo.equipment[0].model_copy(update={"position": (30.0, 130.0, 0.0)}), *demo.equipment[1:])
        }
    )
    assert twin_router.scene_digest(demo) != twin_router.scene_digest(moved)
    a = twin_router.scene_file(demo, tmp_path)
    b = twin_router.scene_file(moved, tmp_path)
    assert a.glb != b.glb
    assert len(list((tmp_path / "twin").glob("*.glb"))) == 2


def test_two_thousand_items_build_in_seconds_with_one_mesh_per_shape() -> None:
    plant = generate_plant(7700)
    assert len(plant.equipment) >= 2000
    t = time.perf_counter()
    glb = export_glb(plant)
    elapsed = time.perf_counter() - t
    assert elapsed < 15, elapsed  # was 86 s with one mesh per item (issue 14); ~1-2 s here
    (length,) = struct.unpack("<I", glb[12:16])
    doc = json.loads(glb[20 : 20 + length])
    shapes = {n["extras"]["shape"] for n in doc["nodes"] if n.get("extras", {}).get("role") == "equipment"}
    equipment_meshes = {n["mesh"] for n in doc["nodes"] if n.get("extras", {}).get("role") == "equipment"}
    assert len(equipment_meshes) == len(shapes) <= 10
    assert len(gzip.compress(glb)) < len(glb) / 4
