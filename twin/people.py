"""Simulated people wearing positioning tags: realistic walks and realistic (bad) ranges.

Operators do rounds: from the gate or the control room along the roads to a unit, a few
minutes at each stop (reading gauges), on to the next. Each person walks a route of
waypoints at walking pace (1.0-1.5 m/s) along axis-aligned road segments, pauses at each
stop, and loops. Their tags range to every anchor within radio range, and the ranges are
as bad as real ones:

* Gaussian noise ``sigma_m`` (UWB ~0.1-0.3 m, BLE ~2-4 m),
* non-line-of-sight: with probability ``nlos_p`` a range is longer by an exponential bias of
  mean ``nlos_bias_m`` (a signal around a tank travels further than the straight line),
* dropouts: with probability ``dropout_p`` an anchor is not heard at all.

Everything comes from one ``numpy`` generator seeded once, so a run is reproducible from
its seed (the benchmark and the scenario tests depend on that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models.contracts import LocationRanging, Range
from models.position_rules import PositionRuleTable, ZoneRule, points_in_polygon, zone_rule
from twin.plant import Anchor, Plant

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RangeNoise:
    """How bad the ranges are (see the module docstring)."""

    sigma_m: float = 0.3
    nlos_p: float = 0.1
    nlos_bias_m: float = 1.5
    dropout_p: float = 0.05
    max_range_m: float = 60.0
    max_anchors: int = 8


UWB = RangeNoise(sigma_m=0.3, nlos_p=0.1, nlos_bias_m=1.5, max_range_m=60.0)
BLE = RangeNoise(sigma_m=3.0, nlos_p=0.1, nlos_bias_m=15.0, max_range_m=60.0)


@dataclass(slots=True)
class Walker:
    """One person and where they are on their route."""

    person_id: str
    tag_id: str
    route: F64
    speed_mps: float
    pause_s: float
    leg: int = 0
    pos: F64 = field(default_factory=lambda: np.zeros(2))
    paused_for: float = 0.0
    battery: float = 100.0
    moving: bool = True


def grid_anchors(x0: float, y0: float, x1: float, y1: float, spacing: float, height: float = 4.0) -> F64:
    """Anchors on a regular grid (a typical deployment in a unit), ``(m, 3)``."""
    xs = np.arange(x0, x1 + 1e-9, spacing)
    ys = np.arange(y0, y1 + 1e-9, spacing)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, height)])


def _manhattan(points: Sequence[tuple[float, float]]) -> F64:
    """Waypoints joined by axis-aligned legs (x first, then y): people walk the roads."""
    out: list[tuple[float, float]] = []
    for (ax, ay), (bx, by) in zip(points, list(points[1:]) + [points[0]], strict=True):
        out.append((ax, ay))
        if ax != bx and ay != by:
            out.append((bx, ay))
    return np.asarray(out, np.float64)


class PeopleSim:
    """People walking their routes; :meth:`step` advances time, :meth:`ranging` measures.

    Args:
        anchors: ``(m, 3)`` anchor positions.
        anchor_ids: Id of each anchor (as the ranging messages name them).
        stops: Places people walk between (area centres, equipment).
        people: Number of people.
        noise: Ranging quality.
        seed: Everything random derives from it.
        tag_height_m: Height of the tag above ground.
    """

    def __init__(
        self,
        anchors: F64,
        anchor_ids: Sequence[str],
        stops: Sequence[tuple[float, float]],
        people: int,
        *,
        noise: RangeNoise = UWB,
        seed: int = 0,
        tag_height_m: float = 1.2,
        pause_s: float = 60.0,
    ) -> None:
        self.anchors = np.asarray(anchors, np.float64)
        self.anchor_ids = list(anchor_ids)
        self.noise = noise
        self.tag_height_m = tag_height_m
        self.rng = np.random.default_rng(seed)
        self.walkers: list[Walker] = []
        stops_arr = list(stops)
        for i in range(people):
            k = int(self.rng.integers(2, min(5, len(stops_arr)) + 1)) if len(stops_arr) >= 2 else 1
            pick = self.rng.choice(len(stops_arr), size=k, replace=False)
            route = _manhattan([stops_arr[j] for j in pick.tolist()])
            w = Walker(
                person_id=f"P-{i + 1:04d}",
                tag_id=f"TAG-{i + 1:04d}",
                route=route,
                speed_mps=float(self.rng.uniform(1.0, 1.5)),
                pause_s=float(self.rng.uniform(0.5, 1.5) * pause_s),
            )
            w.leg = int(self.rng.integers(len(route)))
            w.pos = route[w.leg].copy()
            self.walkers.append(w)

    @classmethod
    def for_plant(cls, plant: Plant, people: int, *, noise: RangeNoise = UWB, seed: int = 0) -> PeopleSim:
        """People walking between the plant's areas, zones and equipment, hearing its anchors."""
        anchors = np.asarray([a.position for a in plant.anchors], np.float64).reshape(-1, 3)
        stops = [((a.bounds[0][0] + a.bounds[1][0]) / 2, (a.bounds[0][1] + a.bounds[1][1]) / 2) for a in plant.areas]
        stops += [
            (float(np.mean([p[0] for p in z.polygon])), float(np.mean([p[1] for p in z.polygon]))) for z in plant.zones
        ]
        stops += [(e.position[0], e.position[1]) for e in plant.equipment]  # rounds read gauges at equipment
        # Only stops the anchors cover well (four in radio range, so the legs between them stay
        # covered too): elsewhere no tag can be placed.
        # Rounds keep out of permit-only zones (the demo would otherwise alarm all day).
        closed = [z.polygon for z in plant.zones if z.kind in ("restricted", "toxic")]
        covered = [
            s
            for s in stops
            if (np.hypot(anchors[:, 0] - s[0], anchors[:, 1] - s[1]) <= noise.max_range_m).sum() >= 4
            and not any(points_in_polygon(np.asarray([s], np.float64), poly)[0] for poly in closed)
        ]
        return cls(anchors, [a.id for a in plant.anchors], covered or stops, people, noise=noise, seed=seed)

    def positions(self) -> F64:
        """True ``(n, 3)`` positions of every tag."""
        xy = np.asarray([w.pos for w in self.walkers], np.float64).reshape(-1, 2)
        return np.column_stack([xy, np.full(len(xy), self.tag_height_m)])

    def step(self, dt_s: float) -> None:
        """Advance every walker by ``dt_s`` seconds along its route (pausing at stops)."""
        for w in self.walkers:
            left = dt_s
            w.battery = max(0.0, w.battery - dt_s / 3600.0)
            while left > 0:
                if w.paused_for > 0:
                    used = min(left, w.paused_for)
                    w.paused_for -= used
                    left -= used
                    w.moving = False
                    continue
                w.moving = True
                target = w.route[(w.leg + 1) % len(w.route)]
                gap = target - w.pos
                dist = float(np.hypot(*gap))
                reach = w.speed_mps * left
                if dist <= reach:
                    w.pos = target.copy()
                    left -= dist / w.speed_mps if w.speed_mps > 0 else left
                    w.leg = (w.leg + 1) % len(w.route)
                    w.paused_for = w.pause_s
                else:
                    w.pos = w.pos + gap / dist * reach
                    left = 0.0

    def measure(self, truth: F64 | None = None) -> tuple[F64, F64, npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Noisy ranges of every tag: ``(anchors (n,k,3), ranges (n,k), mask (n,k), anchor index (n,k))``.

        Each tag hears at most ``max_anchors`` anchors within ``max_range_m`` (the nearest),
        minus the dropouts.
        """
        pos = self.positions() if truth is None else np.asarray(truth, np.float64)
        nz = self.noise
        diff = pos[:, None, :] - self.anchors[None, :, :]
        true = np.sqrt((diff * diff).sum(axis=2))
        k = min(nz.max_anchors, self.anchors.shape[0])
        idx = np.argsort(true, axis=1)[:, :k]
        d = np.take_along_axis(true, idx, axis=1)
        n = d.shape[0]
        mask = (d <= nz.max_range_m) & (self.rng.random((n, k)) >= nz.dropout_p)
        nlos = self.rng.random((n, k)) < nz.nlos_p
        bias = np.where(nlos, self.rng.exponential(nz.nlos_bias_m, (n, k)), 0.0)
        meas = np.maximum(d + self.rng.normal(0.0, nz.sigma_m, (n, k)) + bias, 0.0)
        return self.anchors[idx], meas, mask, idx

    def ranging(self, ts: int) -> list[LocationRanging]:
        """One ranging message per tag at ``ts`` (what a UWB/BLE engine would publish)."""
        _, meas, mask, idx = self.measure()
        out = []
        for i, w in enumerate(self.walkers):
            keep = np.flatnonzero(mask[i]).tolist()
            ranges = [
                Range(anchor_id=self.anchor_ids[int(idx[i, j])], distance_m=round(float(meas[i, j]), 3)) for j in keep
            ]
            out.append(LocationRanging(tag_id=w.tag_id, ts=ts, ranges=ranges, battery=round(w.battery, 1)))
        return out


def plant_zone_rules(plant: Plant, table: PositionRuleTable | None = None) -> list[ZoneRule]:
    """The plant's zones as the position rules see them (kind decides permit/limit)."""
    return [zone_rule(z.id, z.name, z.kind, z.polygon, table) for z in plant.zones]


def plant_anchors(plant: Plant) -> dict[str, tuple[float, float, float]]:
    """Anchor id -> position of the plant's positioning anchors."""
    return {a.id: a.position for a in plant.anchors}


def with_grid_anchors(plant: Plant, spacing: float = 30.0, height: float = 4.0) -> Plant:
    """The plant with anchors on a grid over the whole site (coverage everywhere, benchmarks)."""
    w, h = plant.plant.size
    grid = grid_anchors(0.0, 0.0, w, h, spacing, height)
    anchors = tuple(
        Anchor(id=f"G-{i:03d}", position=(float(x), float(y), float(z))) for i, (x, y, z) in enumerate(grid)
    )
    return plant.model_copy(update={"anchors": anchors})
