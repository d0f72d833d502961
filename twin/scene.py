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
    'shape-reactor-5x5x8'
    >>> export_glb(load_plant())[:4]
    b'glTF'
"""

from __future__ import annotations

import functools
import hashlib
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
    "rack": "#7d8893",
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


_detail = {"sections": _SECTIONS, "sphere": 3, "legs": 12, "ellipse": 8}
# far copies: a few pixels wide in the overview, so octagons with three-point heads suffice
_COARSE = {"sections": 8, "sphere": 1, "legs": 4, "ellipse": 3}


def _solid(profile: Sequence[tuple[float, float]]) -> trimesh.Trimesh:
    """Revolve a (radius, z) profile about +z; the profile runs from the axis back to the axis."""
    return trimesh.creation.revolve(np.asarray(profile, dtype=np.float64), sections=_detail["sections"])


def _ellipse(r: float, h: float, z: float, *, up: bool, n: int | None = None) -> list[tuple[float, float]]:
    """Points of an elliptical head of radius ``r`` and height ``h`` from the rim at ``z``."""
    n = _detail["ellipse"] if n is None else n
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
        ball = trimesh.creation.icosphere(subdivisions=_detail["sphere"], radius=d / 2)
        parts.append(ball.apply_translation([0, 0, cz]))
        for k in range(4):
            a = math.pi / 4 + k * math.pi / 2
            leg = trimesh.creation.cylinder(radius=d * 0.035, height=cz, sections=_detail["legs"])
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
                        radius=r * 0.88, height=length * 0.86, sections=_detail["sections"]
                    ).apply_translation([0, 0, -length * 0.07]),
                    trimesh.creation.cylinder(
                        radius=r, height=length * 0.14, sections=_detail["sections"]
                    ).apply_translation([0, 0, length * 0.43]),
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
            trimesh.creation.cylinder(radius=r * 0.75, height=bottom, sections=_detail["sections"]).apply_translation(
                [0, 0, bottom / 2]
            )
        )
        parts.append(_box(r * 0.5, r * 0.5, motor, z0=sz - motor))
    elif e.kind == "pump":
        parts.append(_box(sx, sy, sz * 0.25))
        parts.append(_box(sx * 0.9, sy * 0.8, sz * 0.75, z0=sz * 0.25))
    else:  # building: storeys of about 4 m, each marked by a floor slab band, and a roof parapet
        floors = _floors(e)
        inset = min(0.3, plan * 0.05)  # walls stand back from the slab edges, within the footprint
        parts.append(_box(sx - inset, sy - inset, sz))
        for k in range(1, floors):
            parts.append(_box(sx, sy, 0.25, z0=sz * k / floors - 0.125))
        parts.append(_box(sx, sy, min(0.6, sz * 0.1), z0=sz - min(0.6, sz * 0.1)))
    return _concat(parts)


def _coarse_mesh(e: Equipment) -> trimesh.Trimesh:
    """The same shape with a tenth of the triangles: what the page draws for items far from the camera."""
    saved = dict(_detail)
    _detail.update(_COARSE)
    try:
        return _equipment_mesh(e)
    finally:
        _detail.update(saved)


def _floors(e: Equipment) -> int:
    """Storeys of a building (about 4 m each); 1 for anything else."""
    return max(1, round(e.size[2] / 4.0)) if e.kind == "building" else 1


_RACK_HEIGHT = 5.0
_RACK_WIDTH = 3.0
_RACK_BAY = 6.0


def _rack_mesh(length: float) -> trimesh.Trimesh:
    """A pipe rack along plant +x from 0 to ``length``: portal frames every 6 m carrying four pipes."""
    parts: list[trimesh.Trimesh] = []
    bays = max(1, round(length / _RACK_BAY))
    for k in range(bays + 1):
        x = length * k / bays
        for side in (-1.0, 1.0):
            parts.append(_box(0.3, 0.3, _RACK_HEIGHT, x, side * _RACK_WIDTH / 2))
        parts.append(_box(0.3, _RACK_WIDTH + 0.3, 0.3, x, 0.0, _RACK_HEIGHT - 0.3))
    for i, radius in enumerate((0.25, 0.2, 0.2, 0.15)):
        y = -_RACK_WIDTH / 2 + 0.4 + i * (_RACK_WIDTH - 0.8) / 3
        pipe = trimesh.creation.cylinder(radius=radius, height=length, sections=8)
        pipe.apply_transform(_horizontal(False))
        parts.append(pipe.apply_translation([length / 2, y, _RACK_HEIGHT + radius]))
    return _concat(parts)


def pipe_racks(plant: Plant) -> list[tuple[str, tuple[float, float], tuple[float, float]]]:
    """Pipe racks between units: ``(name, start, end)`` in plan, one per production area.

    A production unit is fed from its nearest storage or production neighbour that faces it
    across a road (bounds overlapping in x or y); the rack crosses the road between the two
    facing edges along the middle of the overlap, 10 m into each unit.

    Example:
        >>> from twin.plant import load_plant
        >>> pipe_racks(load_plant())
        [('rack-tank_farm-reaction_unit', (110.0, 115.0), (150.0, 115.0))]
    """
    racks: list[tuple[str, tuple[float, float], tuple[float, float]]] = []
    units = [a for a in plant.areas if a.kind in ("storage", "production")]
    seen: set[frozenset[str]] = set()
    for a in units:
        if a.kind != "production":
            continue
        (ax0, ay0), (ax1, ay1) = a.bounds
        best: tuple[float, str, tuple[float, float], tuple[float, float]] | None = None
        for b in units:
            if b.id == a.id or frozenset((a.id, b.id)) in seen:
                continue
            (bx0, by0), (bx1, by1) = b.bounds
            if min(ay1, by1) - max(ay0, by0) > 4 and (bx1 <= ax0 or ax1 <= bx0):  # side by side, gap in x
                y = (max(ay0, by0) + min(ay1, by1)) / 2
                x0, x1 = (bx1, ax0) if bx1 <= ax0 else (ax1, bx0)
                gap, start, end = x1 - x0, (x0 - 10.0, y), (x1 + 10.0, y)
            elif min(ax1, bx1) - max(ax0, bx0) > 4 and (by1 <= ay0 or ay1 <= by0):  # one above the other
                x = (max(ax0, bx0) + min(ax1, bx1)) / 2
                y0, y1 = (by1, ay0) if by1 <= ay0 else (ay1, by0)
                gap, start, end = y1 - y0, (x, y0 - 10.0), (x, y1 + 10.0)
            else:
                continue
            if gap > 0 and (best is None or gap < best[0]):
                best = (gap, b.id, start, end)
        if best is not None:
            _, other, start, end = best
            seen.add(frozenset((a.id, other)))
            first, second = sorted((a.id, other), key=lambda i: [u.id for u in units].index(i))
            racks.append((f"rack-{first}-{second}", start, end))
    return racks


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


def _shape_name(e: Equipment) -> str:
    """The mesh name shared by every equipment of this kind and size, e.g. ``shape-tank-14x14x12``."""
    dims = "x".join(f"{v:g}".replace(".", "_").replace("-", "m") for v in e.size)
    return f"shape-{e.kind}-{dims}"


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

    def place(node: str, shape: str, build: Any, material: str, transform: FloatArray, extras: dict[str, Any]) -> None:
        """A node showing the shared mesh ``shape`` (built on first use)."""
        if shape not in scene.geometry:
            scene.geometry[shape] = _to_gltf(build(), materials[material])
        graph: Any = scene.graph  # trimesh's graph is untyped
        graph.update(frame_from=graph.base_frame, frame_to=node, matrix=transform, geometry=shape, metadata=extras)

    for area in plant.areas:
        (x0, y0), (x1, y1) = area.bounds
        top = _AREA_TOP.get(area.kind, _AREA_TOP_DEFAULT)
        key = f"area:{area.kind}"
        extras: dict[str, Any] = {
            "role": "area",
            "area_id": area.id,
            "kind": area.kind,
            "name": area.name,
            "color": COLORS[key],
        }
        w_a, h_a = x1 - x0, y1 - y0
        shape = f"shape-area-{area.kind}-{w_a:g}x{h_a:g}".replace(".", "_")
        slab = lambda w_a=w_a, h_a=h_a, top=top: _box(w_a, h_a, top, w_a / 2, h_a / 2)  # noqa: E731
        place(_node_name("area-", area.id), shape, slab, key, _y_up((x0, y0, 0.0)), extras)

    for zone in plant.zones:
        pts = np.asarray(zone.polygon, dtype=np.float64)
        corner = pts.min(axis=0)
        local = [(float(x), float(y)) for x, y in np.round(pts - corner, 6)]
        digest = hashlib.sha1(repr(local).encode(), usedforsecurity=False).hexdigest()[:10]
        meshes = functools.cache(lambda local=local: _zone_meshes(local))
        key = f"zone:{zone.kind}"
        extras = {"role": "zone", "zone_id": zone.id, "kind": zone.kind, "name": zone.name, "color": COLORS[key]}
        at = _y_up((float(corner[0]), float(corner[1]), 0.0))
        shape = f"shape-zone-{zone.kind}-{digest}"
        place(_node_name("zone-", zone.id), shape, lambda m=meshes: m()[0], key, at, extras)
        outline = _node_name("zone-", f"{zone.id}-outline")
        place(outline, f"{shape}-outline", lambda m=meshes: m()[1], f"{key}-outline", at, extras)

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
        if e.kind == "building":
            extras["floors"] = _floors(e)
        # one glTF mesh per shape (kind and size): a generated plant of 2,000 items has a
        # handful of shapes, so the GLB is built and sent once per shape and the page can
        # draw every copy of a shape as one instanced mesh
        shape = _shape_name(e)
        extras["shape"] = shape
        if shape not in scene.geometry and e.kind != "building":
            # level of detail: a coarse twin of the shape on a node of its own (role "lod"), at the
            # first item's place; the page draws far items with it and does not draw the node itself
            lod = {"role": "lod", "shape": shape}
            place(f"lod-{shape}", f"{shape}-lod", lambda e=e: _coarse_mesh(e), e.kind, _y_up(e.position), lod)
        place(_node_name("", e.id), shape, lambda e=e: _equipment_mesh(e), e.kind, _y_up(e.position), extras)

    for name, (x0, y0), (x1, y1) in pipe_racks(plant):
        along_y = abs(y1 - y0) > abs(x1 - x0)
        length = abs(y1 - y0) if along_y else abs(x1 - x0)

        def rack(length: float = length, along_y: bool = along_y) -> trimesh.Trimesh:
            mesh = _rack_mesh(length)
            if along_y:  # x -> y: the rack then runs from (0, 0) to (0, length)
                mesh.apply_transform(np.asarray(_tf.rotation_matrix(math.pi / 2, [0.0, 0.0, 1.0]), dtype=np.float64))
            return mesh

        extras = {"role": "rack", "name": "管廊", "length": round(length, 3), "color": COLORS["rack"]}
        shape = f"shape-rack-{'y' if along_y else 'x'}-{length:g}".replace(".", "_")
        place(name, shape, rack, "rack", _y_up((min(x0, x1), min(y0, y1), 0.0)), extras)

    zone_centres = {z.id: np.mean(np.asarray(z.polygon, dtype=np.float64), axis=0) for z in plant.zones}

    def cone() -> trimesh.Trimesh:
        mesh: trimesh.Trimesh = trimesh.creation.cone(radius=0.6, height=1.4, sections=16)  # apex at +z
        mesh.apply_translation([0, 0, -1.4])  # apex at the camera position, opening downward
        return mesh

    for cam in plant.cameras:
        target = np.append(zone_centres[cam.zone], 0.0) if cam.zone else np.asarray([*cam.position[:2], 0.0])
        view = target - np.asarray(cam.position)
        turn = np.eye(4)
        if np.linalg.norm(view) > 1e-9:
            # the cone opens along -z; turn -z to the viewing direction (plant frame, then glTF's)
            turn = np.asarray(_geometry.align_vectors([0.0, 0.0, -1.0], view / np.linalg.norm(view)), dtype=np.float64)
        turn = _Z_UP_TO_Y_UP @ turn @ _Z_UP_TO_Y_UP.T
        extras = {"role": "camera", "camera_id": cam.id, "name": cam.name, "zone": cam.zone, "color": COLORS["camera"]}
        place(_node_name("camera-", cam.id), "shape-camera", cone, "camera", _y_up(cam.position) @ turn, extras)

    def puck() -> trimesh.Trimesh:
        mesh: trimesh.Trimesh = trimesh.creation.cylinder(radius=0.25, height=0.6, sections=16)
        return mesh

    for anchor in plant.anchors:
        extras = {"role": "anchor", "anchor_id": anchor.id, "color": COLORS["anchor"]}
        place(_node_name("anchor-", anchor.id), "shape-anchor", puck, "anchor", _y_up(anchor.position), extras)
    return scene


def export_glb(plant: Plant) -> bytes:
    """The plant scene as GLB bytes (deterministic for a given plant)."""
    scene: Any = build_scene(plant)
    data = scene.export(file_type="glb", include_normals=True)
    return bytes(data)
