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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select

from api.auth import SessionDep, require
from api.deps import PlantDep, StoreDep
from connectors.store.base import StatisticsSource, alarm_intervals
from registers.people.models import Person, PersonStatus
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


REPLAY_DEFAULT_MS = 10 * 60_000
REPLAY_MAX_MS = 7 * 86_400_000
MAX_TS = 2**53


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _bad(message: str, *, field: str) -> RequestValidationError:
    """A 422 on one query field in the app's error shape (field + message)."""
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


@router.get("/replay")
def replay(
    plant: PlantDep,
    store: StoreDep,
    start: Annotated[int | None, Query(ge=0, le=MAX_TS, description="epoch ms; default end - 10 min")] = None,
    end: Annotated[int | None, Query(ge=0, le=MAX_TS, description="epoch ms; default now")] = None,
) -> dict[str, Any]:
    """Alarm episodes of the plant's tags in a window, for the twin's time scrubber.

    One request per window, not one per scrubber position: the page colours equipment at any
    instant T of the window from these intervals (an equipment is in alarm at T when one of
    its tags' episodes holds ``start <= T < end``), so dragging the scrubber costs no round
    trips. Episodes come from the time-series store (the same active -> returned intervals
    the statistics use) and are clipped to the window; ``end`` is null for an alarm still
    active at the window's end.
    """
    stop = end if end is not None else _now_ms()
    begin = start if start is not None else stop - REPLAY_DEFAULT_MS
    if stop <= begin:
        msg = "结束时间须晚于开始时间 / end must be after start"
        raise _bad(msg, field="end")
    if stop - begin > REPLAY_MAX_MS:
        msg = "回放窗口最长 7 天 / the replay window is at most 7 days"
        raise _bad(msg, field="start")
    equipment_of = {t.tag: t.equipment for t in plant.tags}
    source = cast(StatisticsSource, store)
    rows = source.tag_alarm_rows(sorted(equipment_of), stop) if equipment_of else []
    episodes: list[dict[str, Any]] = []
    for tag, (intervals, _) in sorted(alarm_intervals(rows, begin, stop).items()):
        open_at_end = _still_active(rows, tag, stop)
        for lo, hi in intervals:
            if hi <= lo:
                continue
            episodes.append(
                {
                    "tag": tag,
                    "equipment": equipment_of.get(tag),
                    "start": lo,
                    "end": None if hi == stop and open_at_end else hi,
                }
            )
    episodes.sort(key=lambda e: (e["start"], e["tag"]))
    return {"start": begin, "end": stop, "episodes": episodes}


def _still_active(rows: list[tuple[str, str, str, int]], tag: str, end_ms: int) -> bool:
    """Whether one of the tag's alarms is active at ``end_ms`` (its last event before then is active)."""
    last: dict[str, tuple[int, bool]] = {}
    for source_id, alarm_id, state, ts in rows:
        if source_id == tag and ts < end_ms:
            key = (ts, state != "active")  # on a tie, returned counts as the later event
            last[alarm_id] = max(last.get(alarm_id, key), key)
    return any(not returned for _, returned in last.values())


@router.get("/people", dependencies=[Depends(require("read", "position"))])
def people_names(session: SessionDep) -> list[dict[str, Any]]:
    """Names for the people markers: the people register's on-the-job persons by 工号.

    A locator reports a ``person_id``; the register's person with that 工号 (``code``) names
    the marker. Whoever may see where people are may see who they are (``read`` on
    ``position``); the rest of the person's file stays behind the people register's own rights.
    """
    rows = session.execute(
        select(Person.code, Person.name, Person.department, Person.category).where(
            Person.deleted_at.is_(None), Person.status == PersonStatus.ACTIVE
        )
    ).all()
    return [{"code": c, "name": n, "department": d, "category": k} for c, n, d, k in rows]
