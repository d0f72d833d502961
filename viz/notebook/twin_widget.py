"""The plant's 3D twin as a pythreejs widget for analysts' and PdM engineers' notebooks.

It loads the same GLB the browser shows (``/api/v1/twin/scene.glb``) over HTTP, so a notebook
needs nothing but the API's address and a token; every equipment node keeps its id as the
mesh name, so alarm colours can be set live from Python::

    from viz.notebook.twin_widget import TwinWidget
    twin = TwinWidget.from_api("http://127.0.0.1:8000", token)
    twin.renderer                      # display it in the notebook
    twin.set_alarm("R-401", True)      # the reactor turns red

Without a running plant, ``TwinWidget.from_glb(twin.scene.export_glb(plant))`` builds it from
the scene builder itself (``notebooks/twin_scene.ipynb``).

pythreejs 2.4.2 is unmaintained and breaks in JupyterLab with jupyterlab_widgets >= 3.0.6
(pythreejs issue #389): pin ``ipywidgets==8.0.6 jupyterlab-widgets==3.0.5`` there, or view the
twin page of the API in an iframe instead.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import trimesh

ALARM_COLOUR = "#ff3030"


def _hex(rgba: Any) -> str:
    r, g, b = (int(c) for c in list(rgba)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def node_extras(glb: bytes) -> dict[str, dict[str, Any]]:
    """Each glTF node's ``extras`` by node name, read from the GLB's JSON chunk.

    trimesh's loader drops node extras, yet they say what a node is (``role``: equipment,
    camera, lod, ...) and its sRGB colour, so they are read from the container directly.
    """
    magic, _version, _length = struct.unpack_from("<4sII", glb, 0)
    chunk_length, chunk_type = struct.unpack_from("<I4s", glb, 12)
    if magic != b"glTF" or chunk_type != b"JSON":
        msg = "not a binary glTF (GLB) file"
        raise ValueError(msg)
    doc = json.loads(glb[20 : 20 + chunk_length])
    return {str(n["name"]): dict(n.get("extras") or {}) for n in doc.get("nodes", []) if "name" in n}


def _colour_of(geometry: trimesh.Trimesh, extras: dict[str, Any]) -> str:
    """The equipment's own sRGB colour (kept in node extras by the scene builder)."""
    if isinstance(extras.get("color"), str):
        return str(extras["color"])
    material = getattr(geometry.visual, "material", None)
    factor = getattr(material, "baseColorFactor", None)
    if factor is not None:
        linear = np.asarray(factor[:3], dtype=float) / 255.0
        return _hex(np.clip(linear ** (1 / 2.2), 0, 1) * 255)
    return "#b0b0b0"


@dataclass
class TwinWidget:
    """pythreejs meshes of the plant, one per scene node, plus a renderer to display."""

    meshes: dict[str, Any]
    base_colours: dict[str, str]
    renderer: Any
    alarmed: set[str] = field(default_factory=set)

    @classmethod
    def from_glb(cls, glb: bytes, *, width: int = 900, height: int = 560) -> TwinWidget:
        """Build the widget from GLB bytes (as served by the API or ``safetwin scene``)."""
        import pythreejs as p3

        scene = trimesh.load(io.BytesIO(glb), file_type="glb", force="scene")
        extras_of = node_extras(glb)
        if not isinstance(scene, trimesh.Scene):  # force="scene" guarantees it; tells mypy
            msg = "the GLB did not load as a scene"
            raise TypeError(msg)
        meshes: dict[str, Any] = {}
        colours: dict[str, str] = {}
        for node in scene.graph.nodes_geometry:
            transform, geom_name = scene.graph[node]
            geometry = scene.geometry[geom_name]
            world = geometry.copy()
            world.apply_transform(transform)
            extras = extras_of.get(str(node), {})
            if extras.get("role") == "lod":
                continue  # the coarse twin of a shape, for the browser's far items: never drawn itself
            colour = _colour_of(geometry, extras)
            attributes = {
                "position": p3.BufferAttribute(array=np.asarray(world.vertices, dtype=np.float32), normalized=False),
                "index": p3.BufferAttribute(array=np.asarray(world.faces, dtype=np.uint32).ravel(), normalized=False),
                "normal": p3.BufferAttribute(
                    array=np.asarray(world.vertex_normals, dtype=np.float32), normalized=False
                ),
            }
            mesh = p3.Mesh(
                p3.BufferGeometry(attributes=attributes),
                p3.MeshStandardMaterial(color=colour, roughness=0.7, metalness=0.1),
                name=str(node),
            )
            meshes[str(node)] = mesh
            colours[str(node)] = colour
        lo, hi = scene.bounds
        centre = ((lo + hi) / 2).tolist()
        span = float(np.max(hi - lo))
        camera = p3.PerspectiveCamera(
            position=[centre[0] + span * 0.6, span * 0.6, centre[2] + span * 0.8],
            up=[0, 1, 0],
            aspect=width / height,
            children=[p3.DirectionalLight(position=[1, 2, 1], intensity=0.8)],
        )
        view = p3.Scene(children=[*meshes.values(), camera, p3.AmbientLight(intensity=0.5)], background="#dfe7ef")
        controls = p3.OrbitControls(controlling=camera, target=centre)
        renderer = p3.Renderer(camera=camera, scene=view, controls=[controls], width=width, height=height)
        return cls(meshes=meshes, base_colours=colours, renderer=renderer)

    @classmethod
    def from_api(cls, base_url: str, token: str, **kwargs: Any) -> TwinWidget:
        """Fetch the plant's GLB from a running SafeTwin API and build the widget."""
        response = httpx.get(
            f"{base_url.rstrip('/')}/api/v1/twin/scene.glb", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        response.raise_for_status()
        return cls.from_glb(response.content, **kwargs)

    def set_alarm(self, equipment_id: str, active: bool) -> None:
        """Colour an equipment red while it is in alarm, back to its own colour after."""
        try:
            mesh = self.meshes[equipment_id]
        except KeyError as err:
            msg = f"no equipment {equipment_id!r} in the scene"
            raise KeyError(msg) from err
        mesh.material.color = ALARM_COLOUR if active else self.base_colours[equipment_id]
        (self.alarmed.add if active else self.alarmed.discard)(equipment_id)

    def colour(self, equipment_id: str) -> str:
        """The colour an equipment is shown in now."""
        return str(self.meshes[equipment_id].material.color)
