"""Alarm rules on people's positions: fences, permits, crowding, man-down, SOS, mustering.

One call of :func:`evaluate` takes a batch of fixes (the whole site's latest second) and the
rules' state, and returns the new state and the alarm events that changed. It is pure (time
comes in with the fixes), so the positioning flow, a replay and the tests give the same
alarms for the same fixes.

Rules (thresholds in :class:`PositionRuleTable`, versioned):

* **电子围栏** forbidden zone entered: alarm at once, on the fix that is inside.
* **无票进入作业区** a permit-required zone entered by a person on no open permit for it.
  Open permits come in as an argument (:class:`OpenPermit`), never from the permit register
  directly (models import nothing outside models; the flow's caller supplies them).
* **监护人离开** the guardian of an open permit farther than ``guardian_max_m`` from its work
  point.
* **区域超员** more people in a zone than its limit (flammable zones: 6, the video rule's limit).
* **人员聚集** MEM's 2023 crowding guide: ``crowd_min_people`` or more people within
  ``crowd_radius_m`` (15 m) of one person for more than ``crowd_hold_s`` (60 s).
* **静止/倒地** a tag that has not moved more than ``motion_radius_m`` for ``motionless_s``.
* **SOS** the tag's button; **低电量** battery below ``low_battery_pct``.
* **单人作业** a person alone (nobody within ``lone_radius_m``) in a hazardous zone longer
  than ``lone_worker_s``.
* **串岗** a person with assigned post zones inside another work zone longer than
  ``wrong_post_s``.

Every alarm returns (``RETURNED`` event) when its condition clears, so the alarm register
shows when it was over.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from models.contracts import AlarmEvent, AlarmPriority, AlarmState

F64 = npt.NDArray[np.float64]

VERSION: Final = "position-rules-1"

FENCE: Final = "FENCE"
PERMIT_ZONE: Final = "PERMIT_ZONE"
GUARDIAN_AWAY: Final = "GUARDIAN_AWAY"
OVERCROWD: Final = "OVERCROWD"
CROWD: Final = "CROWD"
MAN_DOWN: Final = "MAN_DOWN"
SOS: Final = "SOS"
LOW_BATTERY: Final = "LOW_BATTERY"
LONE_WORKER: Final = "LONE_WORKER"
WRONG_POST: Final = "WRONG_POST"

LABELS: Final[dict[str, str]] = {
    FENCE: "闯入禁区",
    PERMIT_ZONE: "无作业票进入作业区",
    GUARDIAN_AWAY: "监护人离开作业点",
    OVERCROWD: "区域超员",
    CROWD: "人员聚集",
    MAN_DOWN: "人员静止/倒地",
    SOS: "SOS一键报警",
    LOW_BATTERY: "定位标签低电量",
    LONE_WORKER: "单人作业",
    WRONG_POST: "串岗",
}
PRIORITIES: Final[dict[str, AlarmPriority]] = {
    FENCE: AlarmPriority.HIGH,
    PERMIT_ZONE: AlarmPriority.HIGH,
    GUARDIAN_AWAY: AlarmPriority.HIGH,
    OVERCROWD: AlarmPriority.HIGH,
    CROWD: AlarmPriority.HIGH,
    MAN_DOWN: AlarmPriority.CRITICAL,
    SOS: AlarmPriority.CRITICAL,
    LOW_BATTERY: AlarmPriority.LOW,
    LONE_WORKER: AlarmPriority.MEDIUM,
    WRONG_POST: AlarmPriority.MEDIUM,
}


@dataclass(frozen=True, slots=True)
class PositionRuleTable:
    """Thresholds of the position rules (version :data:`VERSION`)."""

    crowd_radius_m: float = 15.0
    crowd_min_people: int = 10
    crowd_hold_s: float = 60.0
    motionless_s: float = 120.0
    motion_radius_m: float = 2.0
    low_battery_pct: float = 20.0
    lone_radius_m: float = 30.0
    lone_worker_s: float = 600.0
    wrong_post_s: float = 300.0
    guardian_max_m: float = 15.0
    flammable_max_people: int = 6
    stale_s: float = 300.0
    """A person not seen this long no longer counts in a zone or a crowd."""


@dataclass(frozen=True, slots=True)
class ZoneRule:
    """A zone as the rules see it: polygon (plan metres) and what it demands."""

    id: str
    name: str
    kind: str
    polygon: tuple[tuple[float, float], ...]
    forbidden: bool = False
    permit_required: bool = False
    max_people: int | None = None
    hazardous: bool = False
    work_zone: bool = False


def zone_rule(
    zid: str, name: str, kind: str, polygon: Sequence[Sequence[float]], table: PositionRuleTable | None = None
) -> ZoneRule:
    """A plant zone's rule from its kind: restricted/toxic need a permit, flammable has a cap."""
    t = table or PositionRuleTable()
    poly = tuple((float(p[0]), float(p[1])) for p in polygon)
    hazardous = kind in ("restricted", "toxic", "flammable")
    return ZoneRule(
        id=zid,
        name=name,
        kind=kind,
        polygon=poly,
        forbidden=kind == "forbidden",
        permit_required=kind in ("restricted", "toxic"),
        max_people=t.flammable_max_people if kind == "flammable" else None,
        hazardous=hazardous,
        work_zone=hazardous,
    )


@dataclass(frozen=True, slots=True)
class OpenPermit:
    """An open special-work permit as the rules need it (supplied by the caller)."""

    permit_id: str
    zone_id: str
    people: frozenset[str] = frozenset()
    guardian: str | None = None
    work_point: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class FixRows:
    """A batch of fixes as columns (one row per person)."""

    person: Sequence[str]
    ts: npt.NDArray[np.int64]
    xy: F64
    battery: F64
    sos: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        """Number of fixes."""
        return len(self.person)


@dataclass(frozen=True, slots=True)
class PersonState:
    """What the rules remember of one person."""

    ts: int
    xy: tuple[float, float]
    zones: frozenset[str]
    still_xy: tuple[float, float]
    still_since: int
    zone_since: Mapping[str, int] = field(default_factory=dict)
    crowd_since: int | None = None
    alone_since: int | None = None
    battery: float | None = None


@dataclass(frozen=True, slots=True)
class RuleState:
    """State of the rules: people and the alarms currently active (alarm id -> event)."""

    people: Mapping[str, PersonState] = field(default_factory=dict)
    active: Mapping[str, AlarmEvent] = field(default_factory=dict)
    newest_ts: int = 0


def points_in_polygon(xy: F64, polygon: Sequence[tuple[float, float]]) -> npt.NDArray[np.bool_]:
    """Ray casting for many points at once (boundary points may fall either way)."""
    x = xy[:, 0]
    y = xy[:, 1]
    inside = np.zeros(len(xy), bool)
    poly = list(polygon)
    for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1], strict=True):
        if y1 == y2:
            continue
        crosses = (y1 > y) != (y2 > y)
        xint = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < xint)
    return inside


def zones_of(xy: F64, zones: Sequence[ZoneRule]) -> list[frozenset[str]]:
    """The zones each point lies in."""
    n = len(xy)
    empty: frozenset[str] = frozenset()
    if not n or not zones:
        return [empty] * n
    member = np.stack([points_in_polygon(xy, z.polygon) for z in zones], axis=1)
    ids = [z.id for z in zones]
    out = [empty] * n
    for i in np.flatnonzero(member.any(axis=1)).tolist():  # most people are in no zone
        out[i] = frozenset(ids[j] for j in np.flatnonzero(member[i]).tolist())
    return out


def neighbour_counts(xy: F64, *radii: float) -> list[npt.NDArray[np.int64]]:
    """How many others stand within each radius of each point.

    A cell list, vectorised: points sorted by square cells of the largest radius; each
    point's candidates are the points of its 9 surrounding cells, found with
    ``searchsorted`` and expanded into (point, candidate) pairs without a Python loop over
    people. 2,000 people on a site: a few milliseconds and O(n * neighbours) memory, where
    an all-pairs matrix costs O(n^2).
    """
    n = len(xy)
    outs = [np.zeros(n, np.int64) for _ in radii]
    if n < 2 or not radii:
        return outs
    size = max(radii)
    cell = np.floor((xy - xy.min(axis=0)) / size).astype(np.int64)
    width = int(cell[:, 1].max()) + 3
    key = (cell[:, 0] + 1) * width + (cell[:, 1] + 1)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    firsts, seconds = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            target = key + dx * width + dy
            lo = np.searchsorted(sorted_key, target, "left")
            hi = np.searchsorted(sorted_key, target, "right")
            cnt = hi - lo
            total = int(cnt.sum())
            if not total:
                continue
            owner = np.repeat(np.arange(n), cnt)
            # Position inside each run: 0..cnt-1, then offset by the run's start.
            starts = np.repeat(lo - np.concatenate([[0], np.cumsum(cnt)[:-1]]), cnt)
            firsts.append(owner)
            seconds.append(order[np.arange(total) + starts])
    i = np.concatenate(firsts)
    j = np.concatenate(seconds)
    keep = i != j
    i, j = i[keep], j[keep]
    d2 = ((xy[i] - xy[j]) ** 2).sum(axis=1)
    for out, r in zip(outs, radii, strict=True):
        out += np.bincount(i[d2 <= r * r], minlength=n)
    return outs


def _event(
    kind: str, source_id: str, ts: int, state: AlarmState, message: str, value: float | None = None
) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{kind}:{source_id}",
        source_kind="person",
        source_id=source_id,
        kind=kind,
        priority=PRIORITIES[kind],
        state=state,
        ts=ts,
        value=value,
        message=message,
    )


def evaluate(
    table: PositionRuleTable,
    zones: Sequence[ZoneRule],
    state: RuleState | None,
    fixes: FixRows,
    *,
    permits: Collection[OpenPermit] = (),
    posts: Mapping[str, frozenset[str]] | None = None,
    names: Mapping[str, str] | None = None,
) -> tuple[RuleState, list[AlarmEvent]]:
    """Apply every rule to a batch of fixes; returns the new state and the changed alarms.

    Args:
        table: Thresholds.
        zones: The site's zones.
        state: Previous state (``None``: nothing known yet).
        fixes: The batch (at most one row per person is expected; later rows win).
        permits: Open permits now (who may be in which permit-required zone).
        posts: Person -> zones of their post (串岗 is checked only for people listed).
        names: Person -> display name for alarm messages.
    """
    state = state or RuleState()
    people = dict(state.people)
    names = names or {}
    zone_by_id = {z.id: z for z in zones}
    in_zones = zones_of(fixes.xy, zones)
    wanted: dict[str, tuple[int, str, float | None]] = {}  # alarm id -> (ts, message, value)
    kinds: dict[str, tuple[str, str]] = {}

    def want(kind: str, source: str, ts: int, message: str, value: float | None = None) -> None:
        aid = f"{kind}:{source}"
        wanted[aid] = (ts, message, value)
        kinds[aid] = (kind, source)

    allowed: dict[str, set[str]] = {}
    for permit in permits:
        allowed.setdefault(permit.zone_id, set()).update(permit.people)
        if permit.guardian:
            allowed[permit.zone_id].add(permit.guardian)
    newest = state.newest_ts
    for i, pid in enumerate(fixes.person):
        ts = int(fixes.ts[i])
        newest = max(newest, ts)
        xy = (float(fixes.xy[i, 0]), float(fixes.xy[i, 1]))
        zs = in_zones[i]
        prev = people.get(pid)
        if prev is not None and ts < prev.ts:
            continue  # a late fix never rewinds a person
        if prev is None or math.hypot(xy[0] - prev.still_xy[0], xy[1] - prev.still_xy[1]) > table.motion_radius_m:
            still_xy, still_since = xy, ts
        else:
            still_xy, still_since = prev.still_xy, prev.still_since
        since = {z: (prev.zone_since.get(z, ts) if prev is not None else ts) for z in zs}
        battery = float(fixes.battery[i]) if np.isfinite(fixes.battery[i]) else None
        people[pid] = PersonState(
            ts,
            xy,
            zs,
            still_xy,
            still_since,
            since,
            prev.crowd_since if prev else None,
            prev.alone_since if prev else None,
            battery,
        )
        if fixes.sos[i]:
            want(SOS, pid, ts, f"{names.get(pid, pid)} 触发SOS一键报警")
    # Every rule below looks at the whole site as it stands now.
    live = [pid for pid, p in people.items() if newest - p.ts <= table.stale_s * 1000]
    for pid in list(people):
        if pid not in live:
            people.pop(pid)
    xy_all = np.asarray([people[p].xy for p in live], np.float64).reshape(-1, 2)
    (crowd_n,) = neighbour_counts(xy_all, table.crowd_radius_m)
    # Lone work is a question only for the few people inside hazardous zones: ask it of them.
    lone_n = np.ones(len(live), np.int64)
    hazardous_ids = {z.id for z in zones if z.hazardous}
    inside = [k for k, pid in enumerate(live) if people[pid].zones & hazardous_ids]
    if inside:
        d2 = ((xy_all[inside, None, :] - xy_all[None, :, :]) ** 2).sum(axis=2)
        lone_n[inside] = (d2 <= table.lone_radius_m**2).sum(axis=1) - 1
    counts: dict[str, int] = {}
    for k, pid in enumerate(live):
        p = people[pid]
        who = names.get(pid, pid)
        for z in p.zones:
            counts[z] = counts.get(z, 0) + 1
            rule = zone_by_id.get(z)
            if rule is None:
                continue
            if rule.forbidden:
                want(FENCE, pid, p.ts, f"{who} 闯入禁区 {rule.name}")
            if rule.permit_required and pid not in allowed.get(z, set()):
                want(PERMIT_ZONE, pid, p.ts, f"{who} 未持有效作业票进入 {rule.name}")
        if p.battery is not None and p.battery < table.low_battery_pct:
            want(LOW_BATTERY, pid, p.ts, f"{who} 的定位标签电量 {p.battery:.0f}%", p.battery)
        if (p.ts - p.still_since) >= table.motionless_s * 1000:
            want(MAN_DOWN, pid, p.ts, f"{who} 已静止 {(p.ts - p.still_since) // 1000} 秒，疑似倒地", None)
        crowd_since = p.crowd_since
        if crowd_n[k] + 1 >= table.crowd_min_people:
            crowd_since = crowd_since if crowd_since is not None else p.ts
            if p.ts - crowd_since > table.crowd_hold_s * 1000:
                want(
                    CROWD,
                    pid,
                    p.ts,
                    f"{who} 周边 {table.crowd_radius_m:.0f} 米内聚集 {crowd_n[k] + 1} 人",
                    float(crowd_n[k] + 1),
                )
        else:
            crowd_since = None
        hazardous = any(zone_by_id[z].hazardous for z in p.zones if z in zone_by_id)
        alone_since = p.alone_since
        if hazardous and lone_n[k] == 0:
            alone_since = alone_since if alone_since is not None else p.ts
            if p.ts - alone_since >= table.lone_worker_s * 1000:
                want(LONE_WORKER, pid, p.ts, f"{who} 在危险区域单人作业")
        else:
            alone_since = None
        if posts and pid in posts:
            post = posts[pid]
            for z in p.zones:
                rule = zone_by_id.get(z)
                if (
                    rule
                    and rule.work_zone
                    and z not in post
                    and p.ts - p.zone_since.get(z, p.ts) >= table.wrong_post_s * 1000
                ):
                    want(WRONG_POST, pid, p.ts, f"{who} 离开岗位进入 {rule.name}（串岗）")
        people[pid] = replace(p, crowd_since=crowd_since, alone_since=alone_since)
    for zone in zones:
        if zone.max_people is not None and counts.get(zone.id, 0) > zone.max_people:
            want(
                OVERCROWD,
                zone.id,
                newest,
                f"{zone.name} 现有 {counts[zone.id]} 人，超过上限 {zone.max_people} 人",
                float(counts[zone.id]),
            )
    for permit in permits:
        if permit.guardian and permit.work_point is not None:
            g = people.get(permit.guardian)
            wx, wy = permit.work_point
            if g is None or math.hypot(g.xy[0] - wx, g.xy[1] - wy) > table.guardian_max_m:
                want(GUARDIAN_AWAY, permit.permit_id, newest, f"作业票 {permit.permit_id} 的监护人离开作业点")
    # Edges: raise what is newly wanted, return what no longer holds.
    active = dict(state.active)
    events: list[AlarmEvent] = []
    for aid, (ts, message, value) in wanted.items():
        if aid not in active:
            kind, source = kinds[aid]
            ev = _event(kind, source, ts, AlarmState.ACTIVE, message, value)
            active[aid] = ev
            events.append(ev)
    for aid in [a for a in active if a not in wanted]:
        ev = active.pop(aid)
        events.append(replace_state(ev, newest))
    return RuleState(people, active, newest), events


def replace_state(active: AlarmEvent, ts: int) -> AlarmEvent:
    """The return-to-normal of an active alarm event."""
    return AlarmEvent(
        alarm_id=active.alarm_id,
        source_kind=active.source_kind,
        source_id=active.source_id,
        kind=active.kind,
        priority=active.priority,
        state=AlarmState.RETURNED,
        ts=max(ts, active.ts),
        message=f"{LABELS.get(active.kind, active.kind)} 已恢复",
    )


def headcount(state: RuleState, zones: Sequence[ZoneRule]) -> dict[str, int]:
    """People per zone now, plus ``site`` for everyone on site."""
    out = {z.id: 0 for z in zones}
    for p in state.people.values():
        for z in p.zones:
            out[z] = out.get(z, 0) + 1
    out["site"] = len(state.people)
    return out


def muster_list(
    latest: Mapping[str, tuple[int, frozenset[str]]],
    muster_zones: Collection[str],
    order_ts: int,
    *,
    present_within_ms: int = 300_000,
) -> list[str]:
    """Who is still inside after an evacuation order: not at a muster point (sorted ids).

    Args:
        latest: Person -> (time of the latest fix, zones of that fix).
        muster_zones: Ids of the muster zones.
        order_ts: When the evacuation was ordered.
        present_within_ms: A person last seen this long before the order had left the site
            (a tag off or gone home): not on the list.
    """
    muster = set(muster_zones)
    return sorted(
        pid for pid, (ts, zones) in latest.items() if ts >= order_ts - present_within_ms and not zones & muster
    )
