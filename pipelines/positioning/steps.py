"""Pure steps of the positioning flow: one delivery of ranges or fixes at a time.

Positioning engines speak one of two dialects, and the flow takes both on one stream:

* **raw ranges** (``LocationRanging``: tag, ts, ``ranges: [{anchor_id, distance_m}]``), which
  our solver turns into positions (:mod:`models.positioning`), or
* **finished fixes** of a vendor engine (``LocationPosition``: person/tag, ts, x, y, ...).

Each step takes and returns a whole batch:

* :func:`parse` sorts JSON (one message or an array), structs and Kafka records into rangings
  and fixes, and dead-letters with a reason anything unusable (malformed JSON, neither
  dialect, a time outside the accepted window, an unknown tag). It never raises.
* :func:`solve_batch` trilaterates every ranging of the batch in one vectorised call; a
  ranging with fewer than three ranges to known anchors is dead-lettered with that reason.
* :func:`locate` smooths each track, applies the position rules
  (:mod:`models.position_rules`) over the whole site and stamps each fix with its zones.

Time comes in as an argument everywhere, so a replay gives the same positions and alarms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import numpy as np

from connectors.batches import AlarmBatch, RawRecord
from models import position_rules as rules
from models.contracts import (
    LOCATION_POSITION,
    LOCATION_RANGING,
    AlarmEvent,
    DeadLetter,
    LocationPosition,
    LocationRanging,
    dead_letter,
)
from models.position_rules import OpenPermit, RuleState
from models.positioning import SolverConfig, smooth, solve

RAW_KEEP: Final = 1024
_ANY: Final = msgspec.json.Decoder()
_RANGINGS: Final = msgspec.json.Decoder(list[LocationRanging])
_json = msgspec.json.Encoder()
MIN_TS_MS: Final = 946_684_800_000

PermitsProvider = Callable[[], Collection[rules.OpenPermit]]
"""Returns the permits open now (the integrator wires the permit register here)."""


@dataclass(frozen=True, eq=False)
class PositioningPlan:
    """Everything static the steps need.

    Attributes:
        anchor_index: Anchor id -> row of ``anchor_xyz``.
        anchor_xyz: ``(m, 3)`` anchor positions.
        zones: Zones with their rules.
        person_of_tag: Tag -> person wearing it (unknown tags use the tag id as the person).
        solver: Solver tuning (ranging noise of the site's technology).
        table: Rule thresholds.
        posts: Person -> zones of their post (串岗).
        names: Person -> display name.
        max_future_ms: A message stamped further ahead of the wall clock is refused.
        max_payload_bytes: Largest accepted message.
        known_tags_only: Refuse tags not in ``person_of_tag`` (a stranger's tag).
    """

    anchor_index: Mapping[str, int]
    anchor_xyz: np.ndarray
    zones: Sequence[rules.ZoneRule]
    person_of_tag: Mapping[str, str] = field(default_factory=dict)
    solver: SolverConfig = field(default_factory=SolverConfig)
    table: rules.PositionRuleTable = field(default_factory=rules.PositionRuleTable)
    posts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    max_future_ms: int = 5 * 60_000
    max_payload_bytes: int = 1 << 20
    known_tags_only: bool = False

    @classmethod
    def build(
        cls,
        anchors: Mapping[str, Sequence[float]],
        zones: Sequence[rules.ZoneRule],
        **kwargs: Any,
    ) -> PositioningPlan:
        """Compile the anchors into arrays."""
        ids = list(anchors)
        xyz = np.asarray([list(anchors[a]) for a in ids], np.float64).reshape(-1, 3)
        return cls(anchor_index={a: i for i, a in enumerate(ids)}, anchor_xyz=xyz, zones=tuple(zones), **kwargs)

    @property
    def muster_zones(self) -> list[str]:
        """Ids of the muster zones."""
        return [z.id for z in self.zones if z.kind == "muster"]


@dataclass(frozen=True, slots=True)
class PermitsUpdate:
    """An input event that replaces the set of open permits the flow checks against."""

    permits: tuple[rules.OpenPermit, ...]


@dataclass(frozen=True, eq=False)
class PositionInput:
    """One delivery, sorted: rangings to solve, finished fixes, dead letters."""

    rangings: tuple[LocationRanging, ...] = ()
    fixes: tuple[LocationPosition, ...] = ()
    dead: tuple[DeadLetter, ...] = ()
    received_ms: int = 0
    permits: tuple[rules.OpenPermit, ...] | None = None


@dataclass(frozen=True, eq=False)
class PositionBatch:
    """What the flow hands its sinks per delivery: the fixes and the dead letters.

    ``received_ms`` is when the delivery was parsed (latency measurements).
    """

    positions: tuple[LocationPosition, ...]
    dead: tuple[DeadLetter, ...] = ()
    received_ms: int = 0

    def __len__(self) -> int:
        """Number of fixes."""
        return len(self.positions)


# -- parse --------------------------------------------------------------------------------------


def _text(raw: Any) -> str:
    if isinstance(raw, bytes | bytearray):
        return bytes(raw[:RAW_KEEP]).decode("utf-8", errors="replace")
    return str(raw)[:RAW_KEEP] if isinstance(raw, str) else repr(raw)[:RAW_KEEP]


def parse(plan: PositioningPlan, now_ms: int, item: Any) -> PositionInput:
    """Whatever a source delivered -> rangings, fixes and dead letters. Never raises."""
    rangings: list[LocationRanging] = []
    fixes: list[LocationPosition] = []
    dead: list[DeadLetter] = []
    permits: list[tuple[rules.OpenPermit, ...]] = []
    try:
        _collect(plan, item, now_ms, rangings, fixes, dead, permits)
    except Exception as err:  # noqa: BLE001 - no input may stop the flow; the reason is kept
        rangings, fixes = [], []
        dead = [dead_letter(LOCATION_RANGING, _text(item), f"could not parse: {type(err).__name__}: {err}", ts=now_ms)]
    return PositionInput(tuple(rangings), tuple(fixes), tuple(dead), now_ms, permits[-1] if permits else None)


def _collect(
    plan: PositioningPlan,
    item: Any,
    now_ms: int,
    rangings: list[LocationRanging],
    fixes: list[LocationPosition],
    dead: list[DeadLetter],
    permits: list[tuple[rules.OpenPermit, ...]],
) -> None:
    if isinstance(item, LocationRanging):
        _accept(plan, item, now_ms, rangings, dead, item.tag_id, LOCATION_RANGING)
    elif isinstance(item, LocationPosition):
        _accept(plan, item, now_ms, fixes, dead, item.tag_id, LOCATION_POSITION)
    elif isinstance(item, DeadLetter):
        dead.append(item)
    elif isinstance(item, PermitsUpdate):
        permits.append(item.permits)
    elif isinstance(item, RawRecord):
        _collect_json(plan, item.value, item.ts, rangings, fixes, dead)
    elif isinstance(item, bytes | bytearray | memoryview | str):
        _collect_json(plan, bytes(item) if not isinstance(item, str) else item, now_ms, rangings, fixes, dead)
    elif isinstance(item, list | tuple):
        for element in item:
            _collect(plan, element, now_ms, rangings, fixes, dead, permits)
    else:
        dead.append(
            dead_letter(LOCATION_RANGING, _text(item), f"unsupported payload type {type(item).__name__}", ts=now_ms)
        )


def _accept(
    plan: PositioningPlan, msg: Any, now_ms: int, out: list[Any], dead: list[DeadLetter], tag: str, stream: str
) -> None:
    problem = None
    if not tag:
        problem = "tag_id must not be empty"
    elif msg.ts < MIN_TS_MS:
        problem = f"ts {msg.ts} is before 2000-01-01: not an epoch-ms device time"
    elif msg.ts > now_ms + plan.max_future_ms:
        problem = f"ts {msg.ts} is more than {plan.max_future_ms // 1000} s in the future (now {now_ms})"
    elif plan.known_tags_only and tag not in plan.person_of_tag:
        problem = f"unknown tag {tag!r}"
    elif isinstance(msg, LocationPosition) and not (np.isfinite(msg.x) and np.isfinite(msg.y)):
        problem = "x and y must be finite"
    if problem is None:
        out.append(msg)
    else:
        dead.append(dead_letter(stream, _json.encode(msg), problem, ts=now_ms))


def _collect_json(
    plan: PositioningPlan,
    payload: bytes | str,
    now_ms: int,
    rangings: list[LocationRanging],
    fixes: list[LocationPosition],
    dead: list[DeadLetter],
) -> None:
    size = len(payload.encode() if isinstance(payload, str) else payload)
    if size > plan.max_payload_bytes:
        reason = f"payload of {size:,} bytes exceeds the {plan.max_payload_bytes:,}-byte limit"
        dead.append(dead_letter(LOCATION_RANGING, _text(payload), reason, ts=now_ms))
        return
    if payload.lstrip()[:1] in (b"[", "["):
        try:  # the usual case, an engine's array of rangings: one typed decode
            for r in _RANGINGS.decode(payload):
                _accept(plan, r, now_ms, rangings, dead, r.tag_id, LOCATION_RANGING)
            return
        except (msgspec.DecodeError, msgspec.ValidationError):
            pass  # mixed or bad elements: sorted out one by one below
    try:
        value = _ANY.decode(payload)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as err:
        dead.append(dead_letter(LOCATION_RANGING, _text(payload), f"malformed JSON: {err}", ts=now_ms))
        return
    for element in value if isinstance(value, list) else [value]:
        _one(plan, element, now_ms, rangings, fixes, dead)


def _one(
    plan: PositioningPlan,
    element: Any,
    now_ms: int,
    rangings: list[LocationRanging],
    fixes: list[LocationPosition],
    dead: list[DeadLetter],
) -> None:
    if not isinstance(element, dict):
        dead.append(dead_letter(LOCATION_RANGING, _json.encode(element), "not a JSON object", ts=now_ms))
        return
    tp: type[LocationRanging] | type[LocationPosition]
    if "ranges" in element:
        stream, tp = LOCATION_RANGING, LocationRanging
    elif "x" in element and "y" in element:
        stream, tp = LOCATION_POSITION, LocationPosition
        if "person_id" not in element and "tag_id" in element:
            tag = element["tag_id"]
            element = {**element, "person_id": plan.person_of_tag.get(tag, tag) if isinstance(tag, str) else tag}
    else:
        reason = "neither ranges (tag_id, ts, ranges) nor a fix (tag_id, ts, x, y)"
        dead.append(dead_letter(LOCATION_RANGING, _json.encode(element), reason, ts=now_ms))
        return
    try:
        msg = msgspec.convert(element, tp)
    except msgspec.ValidationError as err:
        dead.append(dead_letter(stream, _json.encode(element), str(err), ts=now_ms))
        return
    _accept(plan, msg, now_ms, rangings if tp is LocationRanging else fixes, dead, msg.tag_id, stream)


# -- solve ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Solved:
    """A delivery after trilateration: raw fixes (not yet smoothed) and meta per fix."""

    fixes: tuple[LocationPosition, ...]
    battery: tuple[float | None, ...]
    sos: tuple[bool, ...]
    dead: tuple[DeadLetter, ...]
    received_ms: int
    permits: tuple[rules.OpenPermit, ...] | None = None


def solve_batch(plan: PositioningPlan, batch: PositionInput) -> Solved:
    """Trilaterate every ranging of the batch in one call; vendor fixes pass through."""
    dead = list(batch.dead)
    fixes = list(batch.fixes)
    battery: list[float | None] = [None] * len(fixes)
    sos = [False] * len(fixes)
    rows: list[LocationRanging] = []
    idx_rows: list[list[tuple[int, float]]] = []
    index = plan.anchor_index
    isfinite = math.isfinite
    for r in batch.rangings:
        known = [
            (index[x.anchor_id], x.distance_m)
            for x in r.ranges
            if x.anchor_id in index and isfinite(x.distance_m) and 0 <= x.distance_m <= 1e4
        ]
        if len(known) < 3:
            reason = f"only {len(known)} usable range(s) to known anchors; 3 are needed for a fix"
            dead.append(dead_letter(LOCATION_RANGING, _json.encode(r), reason, ts=batch.received_ms))
            if r.sos:  # an SOS must not be lost with an unsolvable ranging: use the last position
                rows.append(r)
                idx_rows.append([])
            continue
        rows.append(r)
        idx_rows.append(known)
    if rows:
        n = len(rows)
        lengths = np.fromiter((len(f) for f in idx_rows), np.int64, n)
        k = max(int(lengths.max()), 1)
        flat = [pair for f in idx_rows for pair in f]
        row_of = np.repeat(np.arange(n), lengths)
        col_of = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        idx = np.zeros((n, k), np.int64)
        rng = np.zeros((n, k))
        mask = np.zeros((n, k), bool)
        if flat:
            idx[row_of, col_of] = [a for a, _ in flat]
            rng[row_of, col_of] = [d for _, d in flat]
            mask[row_of, col_of] = True
        solved = solve(plan.anchor_xyz[idx], rng, mask, config=plan.solver)
        xyz = np.where(solved.ok[:, None], solved.xyz, np.nan).tolist()
        acc = solved.accuracy_m.tolist()
        ok = solved.ok.tolist()
        floors = solved.floor.tolist()
        person_of = plan.person_of_tag
        for i, r in enumerate(rows):
            x, y, z = xyz[i]
            fixes.append(
                LocationPosition(
                    person_id=person_of.get(r.tag_id, r.tag_id),
                    tag_id=r.tag_id,
                    ts=r.ts,
                    x=x,
                    y=y,
                    z=z,
                    floor=floors[i],
                    accuracy_m=acc[i] if ok[i] else None,
                )
            )
            battery.append(r.battery)
            sos.append(r.sos)
    return Solved(tuple(fixes), tuple(battery), tuple(sos), tuple(dead), batch.received_ms, batch.permits)


# -- locate -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocateState:
    """Per-site state: smoothed tracks (person -> (x, y, variance, ts)) and the rules' state."""

    tracks: Mapping[str, tuple[float, float, float, int]] = field(default_factory=dict)
    rules: RuleState = field(default_factory=RuleState)
    permits: tuple[OpenPermit, ...] = ()


@dataclass(frozen=True, eq=False)
class Located:
    """A delivery after smoothing and rules: what the sinks get."""

    positions: PositionBatch
    alarms: AlarmBatch


def locate(
    plan: PositioningPlan, permits: PermitsProvider | None, state: LocateState | None, batch: Solved
) -> tuple[LocateState, Located]:
    """Smooth each track, apply the rules to the whole site, stamp each fix with its zones."""
    state = state or LocateState()
    open_permits = batch.permits if batch.permits is not None else state.permits
    if permits is not None:
        open_permits = tuple(permits())
    tracks = dict(state.tracks)
    fixes = batch.fixes
    n = len(fixes)
    xy = np.asarray([(f.x, f.y) for f in fixes], np.float64).reshape(-1, 2)
    # An SOS without a solvable ranging keeps the person's last known position.
    for i, f in enumerate(fixes):
        if not np.isfinite(xy[i]).all():
            t = tracks.get(f.person_id)
            xy[i] = (t[0], t[1]) if t is not None else (np.nan, np.nan)
    prev = np.full((n, 2), np.nan)
    pvar = np.full(n, np.nan)
    dt = np.zeros(n)
    for i, f in enumerate(fixes):
        t = tracks.get(f.person_id)
        if t is not None and f.ts >= t[3]:
            prev[i] = (t[0], t[1])
            pvar[i] = t[2]
            dt[i] = (f.ts - t[3]) / 1000.0
    acc = np.asarray([f.accuracy_m if f.accuracy_m is not None else 1.0 for f in fixes], np.float64)
    sm, var = smooth(prev, pvar, dt, xy, acc) if n else (xy, pvar)
    good = np.isfinite(sm).all(axis=1)
    keep = np.flatnonzero(good)
    for i in keep.tolist():
        f = fixes[i]
        t = tracks.get(f.person_id)
        if t is None or f.ts >= t[3]:
            tracks[f.person_id] = (float(sm[i, 0]), float(sm[i, 1]), float(var[i]), f.ts)
    rows = rules.FixRows(
        person=[fixes[i].person_id for i in keep.tolist()],
        ts=np.asarray([fixes[i].ts for i in keep.tolist()], np.int64),
        xy=sm[keep],
        battery=np.asarray([b if (b := batch.battery[i]) is not None else np.nan for i in keep.tolist()]),
        sos=np.asarray([batch.sos[i] for i in keep.tolist()], bool),
    )
    rstate, events = rules.evaluate(
        plan.table, plan.zones, state.rules, rows, permits=open_permits, posts=plan.posts, names=plan.names
    )
    zones = rules.zones_of(sm[keep], plan.zones)
    rounded = np.round(sm[keep], 3).tolist()  # one numpy call, not two round() per fix
    out = [
        LocationPosition(
            person_id=(f := fixes[i]).person_id,
            tag_id=f.tag_id,
            ts=f.ts,
            x=rounded[j][0],
            y=rounded[j][1],
            z=f.z,
            floor=f.floor,
            zone_ids=sorted(zones[j]) if zones[j] else [],
            accuracy_m=None if (a := f.accuracy_m) is None else round(a, 3),
        )
        for j, i in enumerate(keep.tolist())
    ]
    new_state = LocateState(tracks, rstate, tuple(open_permits))
    return new_state, Located(PositionBatch(tuple(out), batch.dead, batch.received_ms), AlarmBatch(tuple(events)))


def alarm_events(located: Located) -> tuple[AlarmEvent, ...]:
    """The alarm events of a delivery."""
    return located.alarms.annunciated
