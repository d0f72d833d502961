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

from api.auth import CurrentUser, SessionDep, require
from api.deps import PlantDep, StoreDep
from connectors.store.base import StatisticsSource, alarm_intervals
from models.contracts import AlarmEvent, LocationPosition
from registers.people.models import Person, PersonStatus
from registers.permissions import can
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
# alarms of people, cameras, assets ... raised this long before the window still count in it
SOURCE_LOOKBACK_MS = 24 * 3_600_000
SOURCE_EVENT_LIMIT = 50_000
# people: at most this many frames per window (a frame per second for short windows)
PEOPLE_MAX_FRAMES = 240
PEOPLE_MIN_STEP_MS = 1000
# each frame is the last fix per person in the frame's last seconds (people report every few seconds)
PEOPLE_SAMPLE_MS = 10_000
PEOPLE_ROW_LIMIT = 200_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _bad(message: str, *, field: str) -> RequestValidationError:
    """A 422 on one query field in the app's error shape (field + message)."""
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


@router.get("/replay")
def replay(
    plant: PlantDep,
    store: StoreDep,
    user: CurrentUser,
    start: Annotated[int | None, Query(ge=0, le=MAX_TS, description="epoch ms; default end - 10 min")] = None,
    end: Annotated[int | None, Query(ge=0, le=MAX_TS, description="epoch ms; default now")] = None,
) -> dict[str, Any]:
    """What the twin showed in a window, for its time scrubber: alarms and where people were.

    One request per window, not one per scrubber position: the page draws any instant T of the
    window from these intervals and frames, so dragging the scrubber costs no round trips.

    * ``episodes``: alarm episodes of the plant's tags (an equipment is in alarm at T when one
      of its tags' episodes holds ``start <= T < end``), from the time-series store -- the same
      active -> returned intervals the statistics use -- clipped to the window; ``end`` is null
      for an alarm still active at the window's end.
    * ``source_episodes``: the same for alarms of the other source kinds (person, camera,
      hazard source, asset, data source), with ``equipment`` set for an asset of the plant.
      Alarms raised up to 24 h before the window are seen.
    * ``people``: the stored positions as frames (``ts`` is the frame's end; each frame holds
      the last fix per person in its last ``sample_ms``), at most 240 frames a window; only for
      users who may see positions (``read`` on ``position``), else null.
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
    people = _people_frames(store, begin, stop) if can(user.role_names, "read", "position") else None
    return {
        "start": begin,
        "end": stop,
        "episodes": episodes,
        "source_episodes": _source_episodes(store, {e.id for e in plant.equipment}, begin, stop),
        "people": people,
    }


def _source_episodes(store: Any, equipment: set[str], begin: int, stop: int) -> list[dict[str, Any]]:
    """Episodes of the alarms that are not on a tag (people, cameras, assets ...), clipped to the window."""
    events: list[AlarmEvent] = store.alarm_events(begin - SOURCE_LOOKBACK_MS, stop, SOURCE_EVENT_LIMIT)
    rows: list[tuple[str, str, str, int]] = []
    kinds: dict[str, str] = {}
    for ev in events:
        if ev.source_kind == "tag":
            continue
        rows.append((f"{ev.source_kind}\x00{ev.source_id}", ev.alarm_id, str(ev.state), ev.ts))
        kinds[f"{ev.source_kind}\x00{ev.source_id}"] = ev.kind
    out: list[dict[str, Any]] = []
    for key, (intervals, _) in alarm_intervals(rows, begin, stop).items():
        kind, source_id = key.split("\x00", 1)
        open_at_end = _still_active(rows, key, stop)
        for lo, hi in intervals:
            if hi <= lo:
                continue
            out.append(
                {
                    "kind": kind,
                    "source_id": source_id,
                    "alarm_kind": kinds[key],
                    "equipment": source_id if kind == "asset" and source_id in equipment else None,
                    "start": lo,
                    "end": None if hi == stop and open_at_end else hi,
                }
            )
    out.sort(key=lambda e: (e["start"], e["kind"], e["source_id"]))
    return out


def _people_frames(store: Any, begin: int, stop: int) -> dict[str, Any] | None:
    """People positions of the window as at most PEOPLE_MAX_FRAMES frames; null without a positions store.

    Short steps read the window in one query; long ones (hours) read only the last
    ``PEOPLE_SAMPLE_MS`` before each frame, so six hours of 1 Hz fixes are never all read.
    """
    if not hasattr(store, "positions_between"):
        return None
    span = stop - begin
    step = max(PEOPLE_MIN_STEP_MS, -(-span // PEOPLE_MAX_FRAMES))
    step = -(-step // 1000) * 1000  # whole seconds
    sample = min(step, PEOPLE_SAMPLE_MS)
    frames: dict[int, dict[str, LocationPosition]] = {}
    if step <= PEOPLE_SAMPLE_MS:
        for p in store.positions_between(begin, stop, None, PEOPLE_ROW_LIMIT):
            frames.setdefault(min(stop, begin + ((p.ts - begin) // step + 1) * step), {})[p.person_id] = p
    else:
        t = begin + step
        while t - step < stop:
            at = min(t, stop)
            for p in store.positions_between(at - sample, at, None, PEOPLE_ROW_LIMIT):
                frames.setdefault(at, {})[p.person_id] = p
            t += step
    return {
        "step_ms": step,
        "sample_ms": sample,
        "frames": [
            {
                "ts": ts,
                "positions": [
                    {
                        "person_id": p.person_id,
                        "tag_id": p.tag_id,
                        "x": p.x,
                        "y": p.y,
                        "z": p.z,
                        "zone_ids": list(p.zone_ids),
                        "ts": p.ts,
                    }
                    for p in people.values()
                ],
            }
            for ts, people in sorted(frames.items())
        ],
    }


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
