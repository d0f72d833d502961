from __future__ import annotations

import io
import json
import struct
from typing import Any

import numpy as np
import pytest
import trimesh

from twin.plant import Plant, PlantFileError, load_plant, parse_plant
from twin.scene import COLORS, build_scene, export_glb, srgb_to_linear

# Snapshot of the node names in export order: the twin page and the API rely on them.
NODE_NAMES = [
    "ground",
    "area-tank_farm",
    "area-reaction_unit",
    "area-warehouse",
    "area-control_room",
    "area-roads",
    "zone-Z-LPG",
    "zone-Z-LPG-outline",
    "zone-Z-CL2",
    "zone-Z-CL2-outline",
    "zone-Z-RX",
    "zone-Z-RX-outline",
    "zone-Z-GATE",
    "zone-Z-GATE-outline",
    "zone-Z-MUSTER",
    "zone-Z-MUSTER-outline",
    "V-101",
    "V-102",
    "T-201",
    "T-202",
    "V-301",
    "R-401",
    "P-401",
    "E-401",
    "WH-501",
    "CR-01",
    "rack-tank_farm-reaction_unit",
    "camera-CAM-01",
    "camera-CAM-02",
    "camera-CAM-03",
    "anchor-A-01",
    "anchor-A-02",
    "anchor-A-03",
    "anchor-A-04",
    "anchor-A-05",
    "anchor-A-06",
    "anchor-A-07",
    "anchor-A-08",
]


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant()


@pytest.fixture(scope="module")
def glb(plant: Plant) -> bytes:
    return export_glb(plant)


@pytest.fixture(scope="module")
def gltf_json(glb: bytes) -> dict[str, Any]:
    """The JSON chunk of the GLB, i.e. what three.js's GLTFLoader reads."""
    magic, version, _length = struct.unpack("<4sII", glb[:12])
    assert (magic, version) == (b"glTF", 2)
    chunk_length, chunk_type = struct.unpack("<I4s", glb[12:20])
    assert chunk_type == b"JSON"
    return json.loads(glb[20 : 20 + chunk_length])


@pytest.fixture(scope="module")
def loaded(glb: bytes) -> trimesh.Scene:
    scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    assert isinstance(scene, trimesh.Scene)
    return scene


def _world_bounds(scene: trimesh.Scene, node: str) -> np.ndarray:
    transform, geometry = scene.graph.get(node)
    mesh = scene.geometry[geometry].copy()
    mesh.apply_transform(transform)
    return np.asarray(mesh.bounds)


def test_export_is_deterministic(plant: Plant, glb: bytes) -> None:
    assert export_glb(plant) == glb


def test_node_names_snapshot(gltf_json: dict[str, Any]) -> None:
    names = [n["name"] for n in gltf_json["nodes"]]
    assert [n for n in names if not n.startswith("lod-")] == NODE_NAMES
    # one coarse twin per shape of equipment (buildings are boxes already)
    shapes = {n["extras"]["shape"] for n in gltf_json["nodes"] if n["extras"].get("role") == "equipment"}
    assert {n[4:] for n in names if n.startswith("lod-")} == {s for s in shapes if "building" not in s}


def test_glb_round_trips_with_every_equipment_node(plant: Plant, loaded: trimesh.Scene) -> None:
    nodes = set(loaded.graph.nodes_geometry)
    assert {e.id for e in plant.equipment} <= nodes
    for e in plant.equipment:
        extras = loaded.graph.transforms.edge_data[("world", e.id)]["metadata"]
        assert extras["asset_id"] == e.id
        assert extras["kind"] == e.kind
        assert extras["name"] == e.name
        assert extras["area"] == e.area
        assert extras["hazard_source"] == e.hazard_source
        assert extras["tags"] == [t.tag for t in plant.tags if t.equipment == e.id]
        assert extras["color"] == COLORS[e.kind]


def test_equipment_is_one_node_with_one_mesh_and_extras(plant: Plant, gltf_json: dict[str, Any]) -> None:
    by_name = {n["name"]: n for n in gltf_json["nodes"]}
    for e in plant.equipment:
        node = by_name[e.id]
        assert "mesh" in node
        assert "children" not in node
        assert len(gltf_json["meshes"][node["mesh"]]["primitives"]) == 1
        assert node["extras"]["asset_id"] == e.id
    r401 = by_name["R-401"]["extras"]
    assert r401["tags"] == ["TT-401", "PT-401", "FT-401"]
    assert r401["hazard_source"] == "MHS-04"


def test_scene_extras_carry_the_plant(plant: Plant, gltf_json: dict[str, Any], loaded: trimesh.Scene) -> None:
    extras = gltf_json["scenes"][0]["extras"]
    assert extras["plant_id"] == plant.plant.id == "demo"
    assert extras["plant_name"] == plant.plant.name
    assert loaded.metadata["plant_id"] == "demo"


def test_every_node_name_is_safe_for_threejs(gltf_json: dict[str, Any]) -> None:
    import re

    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", n["name"]) for n in gltf_json["nodes"])


def test_meshes_have_normals(gltf_json: dict[str, Any]) -> None:
    for mesh in gltf_json["meshes"]:
        assert "NORMAL" in mesh["primitives"][0]["attributes"]


def test_y_up_tanks_stand_on_the_ground(plant: Plant, loaded: trimesh.Scene) -> None:
    ground = _world_bounds(loaded, "ground")
    assert ground[1][1] == pytest.approx(0.0)  # the ground's top is y = 0
    for e in plant.equipment:
        lo, hi = _world_bounds(loaded, e.id)
        assert lo[1] == pytest.approx(0.0, abs=1e-6), e.id
        assert hi[1] == pytest.approx(e.size[2], abs=1e-6), e.id  # height along +Y
        assert hi[1] > ground[1][1]
    # plant (x, y) -> glTF (x, -z): T-201 at x=75, y=130 (north) sits at z = -130
    lo, hi = _world_bounds(loaded, "T-201")
    assert (lo + hi)[[0, 2]] / 2 == pytest.approx([75.0, -130.0])


def test_bounding_box_matches_the_plant(plant: Plant, loaded: trimesh.Scene) -> None:
    w, h = plant.plant.size
    lo, hi = loaded.bounds
    assert [lo[0], hi[0]] == pytest.approx([0.0, w])
    assert [lo[2], hi[2]] == pytest.approx([-h, 0.0], abs=1e-6)
    assert hi[1] == pytest.approx(max(e.size[2] for e in plant.equipment))


def test_colours_are_linear_in_the_materials(plant: Plant, gltf_json: dict[str, Any]) -> None:
    node = next(n for n in gltf_json["nodes"] if n["name"] == "R-401")
    material = gltf_json["materials"][gltf_json["meshes"][node["mesh"]]["primitives"][0]["material"]]
    factor = material["pbrMetallicRoughness"]["baseColorFactor"]
    assert factor[:3] == pytest.approx(srgb_to_linear(COLORS["reactor"]), abs=1 / 255)
    zone = next(n for n in gltf_json["nodes"] if n["name"] == "zone-Z-RX")
    zone_material = gltf_json["materials"][gltf_json["meshes"][zone["mesh"]]["primitives"][0]["material"]]
    assert zone_material["alphaMode"] == "BLEND"


def test_srgb_to_linear() -> None:
    assert srgb_to_linear("#000000") == (0.0, 0.0, 0.0)
    assert srgb_to_linear("#ffffff") == pytest.approx((1.0, 1.0, 1.0))
    assert srgb_to_linear("#808080")[0] == pytest.approx(0.2159, abs=1e-4)


def test_every_equipment_kind_builds(plant: Plant) -> None:
    data = plant.model_dump(mode="json")
    kinds = ["sphere", "tank", "vessel", "reactor", "pump", "exchanger", "building", "column"]
    data["equipment"] = [
        {"id": f"X-{i}", "name": k, "kind": k, "area": "tank_farm", "position": [20 + 10 * i, 100, 0], "size": s}
        for i, (k, s) in enumerate(
            zip(
                kinds,
                [[6, 6, 6], [6, 6, 8], [3, 8, 3], [4, 4, 7], [2, 1, 1], [2, 6, 2]] + [[6, 6, 4], [3, 3, 20]],
                strict=True,
            )
        )
    ]
    data["tags"] = [dict(data["tags"][0], equipment="X-0")]
    data["hazard_sources"] = [dict(h, area="tank_farm") for h in data["hazard_sources"]]
    scene = build_scene(parse_plant(data))
    for i, k in enumerate(kinds):
        lo, hi = _world_bounds(scene, f"X-{i}")
        size = data["equipment"][i]["size"]
        assert hi[1] - lo[1] == pytest.approx(size[2], abs=1e-6), k
        assert hi[0] - lo[0] <= size[0] + 1e-6, k
        assert hi[2] - lo[2] <= size[1] + 1e-6, k


def test_unsafe_node_names_are_rejected(plant: Plant) -> None:
    data = plant.model_dump(mode="json")
    data["equipment"][0]["id"] = "V 101"
    for t in data["tags"]:
        if t["equipment"] == "V-101":
            t["equipment"] = "V 101"
    # the plant loader refuses it first, naming the field; the scene builder refuses it too
    with pytest.raises(PlantFileError, match=r"equipment\.0\.id"):
        parse_plant(data)
    unsafe = plant.model_copy(
        update={"equipment": (plant.equipment[0].model_copy(update={"id": "V 101"}),), "tags": ()}
    )
    with pytest.raises(ValueError, match="node name"):
        build_scene(unsafe)
