"""The plant as a 3D scene: trimesh geometry exported as a GLB for the three.js twin page.

Geometry is built in the plant frame (metres; x east, y north, z up) and converted once to
glTF's frame (Y up): plant ``(x, y, z)`` becomes glTF ``(x, z, -y)``. Colours are written
as sRGB hex in the node extras and as *linear* ``baseColorFactor`` (three.js treats glTF
colours as linear; trimesh does not convert).

Every piece of equipment is exactly one glTF node named by its id (``V-101``) holding one
mesh, so ``gltf.scene.getObjectByName("V-101")`` is that equipment's ``Mesh`` and its
``userData`` carries the node extras (asset id, kind, name, area, hazard source, tags,
colour). Other nodes are prefixed by what they are: ``ground``, ``area-<id>``,
``zone-<id>``, ``zone-<id>-outline``, ``camera-<id>``, ``anchor-<id>``.

The export is deterministic: the same plant gives the same bytes, so the API can cache it
and tests can snapshot it.

Example:
    >>> from twin.plant import load_plant
    >>> scene = build_scene(load_plant())
    >>> scene.graph.get("R-401")[1]
    'R-401-mesh'
    >>> export_glb(load_plant())[:4]
    b'glTF'
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import trimesh
from numpy.typing import NDArray

from twin.plant import Equipment, Plant

__all__ = ["COLORS", "build_scene", "export_glb", "srgb_to_linear"]

FloatArray = NDArray[np.float64]

# trimesh ships without type hints for these helpers; keep the untyped surface in one place.
_tf: Any = trimesh.transformations
_visual: Any = trimesh.visual
_geometry: Any = trimesh.geometry

#: sRGB colours by role and kind; the twin page restores these when an alarm clears.
COLORS: dict[str, str] = {
    "ground": "#a3ad98",
    "area:storage": "#d9d1bc",
    "area:production": "#c9d3d8",
    "area:office": "#cfdfca",
    "area:road": "#8d9196",
    "area:utility": "#d6cddf",
    "zone:restricted": "#e0483e",
    "zone:flammable": "#f08a24",
    "zone:muster": "#2fa85a",
    "zone:gate": "#3f86d1",
    "zone:toxic": "#9b59b6",
    "sphere": "#ece8de",
    "tank": "#d4dae1",
    "vessel": "#d8c25a",
    "reactor": "#4f86c6",
    "pump": "#3d8a62",
    "exchanger": "#96a3b0",
    "building": "#c4b597",
    "column": "#b3bcc6",
    "camera": "#2e3440",
    "anchor": "#f5c400",
}

# Heights (plant z, metres) of the flat layers, stacked to avoid z-fighting.
_GROUND_DEPTH = 0.3
_AREA_TOP = {"road": 0.02}
_AREA_TOP_DEFAULT = 0.05
_ZONE_TOP = 0.09
_OUTLINE = (0.35, 0.18)  # width, height of a zone outline kerb
_SECTIONS = 40

_NODE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

# Plant frame (z up) -> glTF frame (y up): (x, y, z) -> (x, z, -y).
_Z_UP_TO_Y_UP = _tf.rotation_matrix(-math.pi / 2, [1.0, 0.0, 0.0])


def srgb_to_linear(hex_color: str) -> tuple[float, float, float]:
    """Convert ``#rrggbb`` (sRGB) to linear RGB in [0, 1], the space glTF colours live in.

    Example:
        >>> [round(c, 4) for c in srgb_to_linear("#ff8000")]
        [1.0, 0.2159, 0.0]
    """
    rgb = [int(hex_color[i : i + 2], 16) / 255.0 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return lin[0], lin[1], lin[2]


def _material(key: str, *, alpha: float = 1.0, roughness: float = 0.7, metallic: float = 0.1) -> Any:
    r, g, b = srgb_to_linear(COLORS[key])
    return _visual.material.PBRMaterial(
        name=key.replace(":", "-"),
        baseColorFactor=[r, g, b, alpha],
        metallicFactor=metallic,
        roughnessFactor=roughness,
        alphaMode="BLEND" if alpha < 1.0 else None,
        doubleSided=alpha < 1.0,
    )


def _translate(x: float, y: float, z: float) -> FloatArray:
    return np.asarray(_tf.translation_matrix([x, y, z]), dtype=np.float64)


def _concat(parts: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    out = trimesh.util.concatenate(parts)
    assert isinstance(out, trimesh.Trimesh)
    return out


def _box(sx: float, sy: float, sz: float, cx: float = 0.0, cy: float = 0.0, z0: float = 0.0) -> trimesh.Trimesh:
    """A box standing on ``z0`` centred on ``(cx, cy)`` in plan."""
    return trimesh.creation.box(extents=[sx, sy, sz], transform=_translate(cx, cy, z0 + sz / 2))  # type: ignore[no-any-return]


def _solid(profile: Sequence[tuple[float, float]]) -> trimesh.Trimesh:
    """Revolve a (radius, z) profile about +z; the profile runs from the axis back to the axis."""
    return trimesh.creation.revolve(np.asarray(profile, dtype=np.float64), sections=_SECTIONS)


def _ellipse(r: float, h: float, z: float, *, up: bool, n: int = 8) -> list[tuple[float, float]]:
    """Points of an elliptical head of radius ``r`` and height ``h`` from the rim at ``z``."""
    angles = np.linspace(0.0, math.pi / 2, n + 1)
    sign = 1.0 if up else -1.0
    pts = [(r * math.cos(a) if i < n else 0.0, z + sign * h * math.sin(a)) for i, a in enumerate(angles)]
    return pts if up else pts[::-1]


def _horizontal(along_y: bool) -> FloatArray:
    """Rotation that lays a +z axis along plant x (or y)."""
    if along_y:
        return np.asarray(_tf.rotation_matrix(-math.pi / 2, [1.0, 0.0, 0.0]), dtype=np.float64)
    return np.asarray(_tf.rotation_matrix(math.pi / 2, [0.0, 1.0, 0.0]), dtype=np.float64)


def _equipment_mesh(e: Equipment) -> trimesh.Trimesh:
    """The equipment's shape in the plant frame relative to its base centre."""
    sx, sy, sz = e.size
    plan = min(sx, sy)
    parts: list[trimesh.Trimesh] = []
    if e.kind == "sphere":
        d = min(plan, sz) * 0.85
        cz = sz - d / 2
        parts.append(trimesh.creation.icosphere(subdivisions=3, radius=d / 2).apply_translation([0, 0, cz]))
        for k in range(4):
            a = math.pi / 4 + k * math.pi / 2
            leg = trimesh.creation.cylinder(radius=d * 0.035, height=cz, sections=12)
            parts.append(leg.apply_translation([0.36 * d * math.cos(a), 0.36 * d * math.sin(a), cz / 2]))
    elif e.kind in ("tank", "column"):
        r = plan / 2
        roof = sz * (0.08 if e.kind == "tank" else 0.06)
        body = [(0.0, 0.0), (r, 0.0), (r, sz - roof)]
        cap = [(r * 0.05, sz), (0.0, sz)] if e.kind == "tank" else _ellipse(r, roof, sz - roof, up=True)[1:]
        parts.append(_solid([*body, *cap]))
    elif e.kind in ("vessel", "exchanger"):
        along_y = sy > sx
        length, width = (sy, sx) if along_y else (sx, sy)
        r = min(width, sz) / 2 * 0.9
        cz = sz - r
        if e.kind == "vessel":
            head = r * 0.5
            half = length / 2 - head
            profile = [(0.0, -half - head), *_ellipse(r, head, -half, up=False)[1:], *_ellipse(r, head, half, up=True)]
            shell = _solid(profile)
        else:
            shell = _concat(
                [
                    trimesh.creation.cylinder(
                        radius=r * 0.88, height=length * 0.86, sections=_SECTIONS
                    ).apply_translation([0, 0, -length * 0.07]),
                    trimesh.creation.cylinder(radius=r, height=length * 0.14, sections=_SECTIONS).apply_translation(
                        [0, 0, length * 0.43]
                    ),
                ]
            )
        shell.apply_transform(_horizontal(along_y))
        parts.append(shell.apply_translation([0, 0, cz]))
        for s in (-0.3, 0.3):
            saddle = (r * 0.3, r * 1.4) if not along_y else (r * 1.4, r * 0.3)
            cx, cy = (s * length, 0.0) if not along_y else (0.0, s * length)
            parts.append(_box(saddle[0], saddle[1], cz, cx, cy))
    elif e.kind == "reactor":
        r = plan / 2 * 0.8
        skirt = sz * 0.12
        motor = sz * 0.12
        head = r * 0.45
        bottom, top = skirt + head, sz - motor - head
        profile = [(0.0, skirt), *_ellipse(r, head, bottom, up=False)[1:], *_ellipse(r, head, top, up=True)]
        parts.append(_solid(profile))
        parts.append(
            trimesh.creation.cylinder(radius=r * 0.75, height=bottom, sections=_SECTIONS).apply_translation(
                [0, 0, bottom / 2]
            )
        )
        parts.append(_box(r * 0.5, r * 0.5, motor, z0=sz - motor))
    elif e.kind == "pump":
        parts.append(_box(sx, sy, sz * 0.25))
        parts.append(_box(sx * 0.9, sy * 0.8, sz * 0.75, z0=sz * 0.25))
    else:  # building
        parts.append(_box(sx, sy, sz))
    return _concat(parts)


def _polygon_triangles(points: FloatArray) -> list[tuple[int, int, int]]:
    """Ear-clipping triangulation of a simple polygon (either winding), counter-clockwise output."""
    idx = list(range(len(points)))
    area = 0.5 * sum(points[i - 1, 0] * points[i, 1] - points[i, 0] * points[i - 1, 1] for i in idx)
    if area < 0:
        idx.reverse()
    out: list[tuple[int, int, int]] = []

    def cross(a: int, b: int, c: int) -> float:
        (ax, ay), (bx, by), (cx, cy) = points[a], points[b], points[c]
        return float((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))

    guard = 0
    while len(idx) > 3 and guard < 10_000:
        guard += 1
        for k in range(len(idx)):
            a, b, c = idx[k - 1], idx[k], idx[(k + 1) % len(idx)]
            if cross(a, b, c) <= 1e-12:
                continue
            others = [p for p in idx if p not in (a, b, c)]
            if any(cross(a, b, p) >= 0 and cross(b, c, p) >= 0 and cross(c, a, p) >= 0 for p in others):
                continue
            out.append((a, b, c))
            idx.pop(k)
            break
        else:  # degenerate polygon: fan the rest
            break
    out += [(idx[0], idx[i], idx[i + 1]) for i in range(1, len(idx) - 1)]
    return out


def _zone_meshes(polygon: Sequence[tuple[float, float]]) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """A flat fill and a kerb outline of a plan polygon, in plant coordinates."""
    pts = np.asarray(polygon, dtype=np.float64)
    verts = np.column_stack([pts, np.full(len(pts), _ZONE_TOP)])
    fill = trimesh.Trimesh(vertices=verts, faces=np.asarray(_polygon_triangles(pts)), process=False)
    width, height = _OUTLINE
    ccw = 1.0 if np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1]) > 0 else -1.0
    kerbs = []
    for (x0, y0), (x1, y1) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0:
            continue
        # lay the kerb just inside the edge so the outline never pokes out of the polygon
        inward = ccw * np.asarray([-(y1 - y0), x1 - x0]) / length * width / 2
        kerb = trimesh.creation.box(extents=[length, width, height])
        kerb.apply_transform(_tf.rotation_matrix(math.atan2(y1 - y0, x1 - x0), [0, 0, 1]))
        centre = [(x0 + x1) / 2 + inward[0], (y0 + y1) / 2 + inward[1], _ZONE_TOP + height / 2]
        kerbs.append(kerb.apply_translation(centre))
    return fill, _concat(kerbs)


def _crease_normals(mesh: trimesh.Trimesh, angle_deg: float = 40.0) -> trimesh.Trimesh:
    """A copy with per-corner normals: smooth across gentle edges, sharp across creases.

    Three.js needs normals in the GLB; trimesh's averaged vertex normals round off the
    edges of boxes and cylinder caps, so corners are split where faces meet at more
    than ``angle_deg`` and re-merged where position and normal agree.
    """
    faces = np.asarray(mesh.faces)
    fn = np.asarray(mesh.face_normals)
    weights = np.asarray(mesh.area_faces)
    corners = np.asarray(mesh.vertices)[faces].reshape(-1, 3)
    corner_face = np.repeat(np.arange(len(faces)), 3)
    _, group = np.unique(np.round(corners, 6), axis=0, return_inverse=True)
    group = group.reshape(-1)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    cos_limit = math.cos(math.radians(angle_deg))
    normals = np.zeros_like(corners)
    for members in np.split(order, bounds):
        f = corner_face[members]
        n = fn[f]
        similar = (n @ n.T) >= cos_limit
        normals[members] = similar @ (n * weights[f, None])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    key = np.round(np.hstack([corners, normals]), 5)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return trimesh.Trimesh(
        vertices=corners[first], faces=inverse.reshape(-1, 3), vertex_normals=normals[first], process=False
    )


def _to_gltf(mesh: trimesh.Trimesh, material: Any, *, origin: Sequence[float] = (0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    """Move a plant-frame mesh by ``-origin``, turn it Y-up, give it normals and a material."""
    mesh = mesh.copy()
    mesh.apply_translation(-np.asarray(origin, dtype=np.float64))
    mesh.apply_transform(_Z_UP_TO_Y_UP)
    mesh.update_faces(np.asarray(mesh.area_faces) > 1e-10)  # revolved profiles leave slivers on the axis
    out = _crease_normals(mesh)
    out.visual = _visual.TextureVisuals(material=material)
    return out


def _y_up(point: Sequence[float]) -> FloatArray:
    x, y, z = point
    return _translate(x, z, -y)


def _node_name(prefix: str, ident: str) -> str:
    name = f"{prefix}{ident}"
    if not _NODE_NAME.match(name):
        msg = f"id {ident!r} cannot be a glTF node name for three.js; use only letters, digits, '_' and '-'"
        raise ValueError(msg)
    return name


def build_scene(plant: Plant) -> trimesh.Scene:
    """Build the plant's scene: ground, areas, zones, equipment, cameras and anchors (glTF Y-up)."""
    scene = trimesh.Scene()
    w, h = plant.plant.size
    scene.metadata = {
        "plant_id": plant.plant.id,
        "plant_name": plant.plant.name,
        "plant_name_en": plant.plant.name_en,
        "size": [w, h],
        "units": "m",
        "up": "+Y",
        "frame": "glTF (x, y, z) = plant (x east, z up, -y north)",
    }
    materials = {k: _material(k) for k in COLORS if not k.startswith("zone:")}
    materials.update(
        {k: _material(k, alpha=0.28, roughness=1.0, metallic=0.0) for k in COLORS if k.startswith("zone:")}
    )
    materials.update(
        {f"{k}-outline": _material(k, roughness=0.9, metallic=0.0) for k in COLORS if k.startswith("zone:")}
    )

    def add(name: str, mesh: trimesh.Trimesh, transform: FloatArray, extras: dict[str, Any]) -> None:
        scene.add_geometry(mesh, node_name=name, geom_name=f"{name}-mesh", transform=transform, metadata=extras)

    ground = _box(w, h, _GROUND_DEPTH, w / 2, h / 2, -_GROUND_DEPTH)
    add("ground", _to_gltf(ground, materials["ground"]), np.eye(4), {"role": "ground", "color": COLORS["ground"]})

    for area in plant.areas:
        (x0, y0), (x1, y1) = area.bounds
        top = _AREA_TOP.get(area.kind, _AREA_TOP_DEFAULT)
        slab = _box(x1 - x0, y1 - y0, top, (x0 + x1) / 2, (y0 + y1) / 2)
        key = f"area:{area.kind}"
        extras: dict[str, Any] = {
            "role": "area",
            "area_id": area.id,
            "kind": area.kind,
            "name": area.name,
            "color": COLORS[key],
        }
        add(_node_name("area-", area.id), _to_gltf(slab, materials[key]), np.eye(4), extras)

    for zone in plant.zones:
        fill, outline = _zone_meshes(zone.polygon)
        key = f"zone:{zone.kind}"
        extras = {"role": "zone", "zone_id": zone.id, "kind": zone.kind, "name": zone.name, "color": COLORS[key]}
        add(_node_name("zone-", zone.id), _to_gltf(fill, materials[key]), np.eye(4), extras)
        add(
            _node_name("zone-", f"{zone.id}-outline"), _to_gltf(outline, materials[f"{key}-outline"]), np.eye(4), extras
        )

    tags_of: dict[str, list[str]] = {e.id: [] for e in plant.equipment}
    for t in plant.tags:
        tags_of[t.equipment].append(t.tag)
    for e in plant.equipment:
        extras = {
            "role": "equipment",
            "asset_id": e.id,
            "kind": e.kind,
            "name": e.name,
            "area": e.area,
            "hazard_source": e.hazard_source,
            "tags": tags_of[e.id],
            "color": COLORS[e.kind],
        }
        mesh = _to_gltf(_equipment_mesh(e), materials[e.kind])
        add(_node_name("", e.id), mesh, _y_up(e.position), extras)

    zone_centres = {z.id: np.mean(np.asarray(z.polygon, dtype=np.float64), axis=0) for z in plant.zones}
    for cam in plant.cameras:
        cone = trimesh.creation.cone(radius=0.6, height=1.4, sections=16)  # apex at +z
        cone.apply_translation([0, 0, -1.4])  # apex at the camera position, opening downward
        target = np.append(zone_centres[cam.zone], 0.0) if cam.zone else np.asarray([*cam.position[:2], 0.0])
        view = target - np.asarray(cam.position)
        if np.linalg.norm(view) > 1e-9:
            # the cone opens along -z; turn -z to the viewing direction
            turn = _geometry.align_vectors([0.0, 0.0, -1.0], view / np.linalg.norm(view))
            cone.apply_transform(turn)
        extras = {"role": "camera", "camera_id": cam.id, "name": cam.name, "zone": cam.zone, "color": COLORS["camera"]}
        add(_node_name("camera-", cam.id), _to_gltf(cone, materials["camera"]), _y_up(cam.position), extras)

    for anchor in plant.anchors:
        puck = trimesh.creation.cylinder(radius=0.25, height=0.6, sections=16)
        extras = {"role": "anchor", "anchor_id": anchor.id, "color": COLORS["anchor"]}
        add(_node_name("anchor-", anchor.id), _to_gltf(puck, materials["anchor"]), _y_up(anchor.position), extras)
    return scene


def export_glb(plant: Plant) -> bytes:
    """The plant scene as GLB bytes (deterministic for a given plant)."""
    scene: Any = build_scene(plant)
    data = scene.export(file_type="glb", include_normals=True)
    return bytes(data)
