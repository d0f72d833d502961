"""A pure, seeded signal generator for every tag of a plant.

The simulator is the plant's "physics" for demos, tests and benchmarks. It is a pure
function of ``(seed, t)``: asking twice for the same instant gives the same values, so a test
can sample any time in any order, two processes with the same seed agree, and a replay of a
scenario is exact. Nothing here does I/O or reads the clock; :mod:`twin.field` puts the
values on real Modbus, OPC UA and MQTT servers.

Each tag's value is the sum of

* ``sim.base``;
* noise: a standard-normal draw (clipped to +/-4 sigma) scaled by ``sim.noise``, drawn from
  a counter-based hash of (seed, tag, integer second) so no generator state is needed;
* drift: three slow sines (periods of about 1 h, 23 min and 9 min) with seeded phases whose
  weights sum to one, so the wander stays within ``+/- sim.drift``;
* wear: ``sim.degradation`` per hour since ``start_s`` (monotonic, never negative);

then, while an excursion is active, the value ramps from that normal value to the
excursion's target and holds there (plus noise). Scheduled excursions come from
``sim.excursion`` with a per-tag seeded offset so that tags do not all upset at once;
:meth:`Simulator.trigger_excursion` forces one. Results are clipped to the instrument range,
as a real transmitter saturates.

Example:
    >>> from twin.plant import load_plant
    >>> sim = Simulator(load_plant(), seed=7, start_s=1_700_000_000.0)
    >>> sim.values_at(1_700_000_010.0) == sim.values_at(1_700_000_010.0)
    True
    >>> lo, hi = load_plant().tag("PT-101").range
    >>> lo <= sim.values_at(1_700_000_010.0)["PT-101"] <= hi
    True
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Final

from models.contracts import Quality, SensorReading
from twin.plant import Plant, Tag

_MASK64: Final = (1 << 64) - 1
_GOLDEN: Final = 0x9E3779B97F4A7C15
# Drift components: (period in seconds, weight). Weights sum to 1 so |drift| <= sim.drift.
_DRIFT_COMPONENTS: Final = ((3600.0, 0.6), (1380.0, 0.3), (540.0, 0.1))
_MAX_RAMP_S: Final = 10.0
_RAMP_FRACTION: Final = 0.2
_NOISE_CLIP: Final = 4.0
FORCED_MARGIN: Final = 0.05
"""Default forced-excursion overshoot beyond the highest limit, as a fraction of the span."""


def _splitmix64(x: int) -> int:
    """One round of SplitMix64: a fast, well-mixed 64-bit hash for counter-based noise."""
    x = (x + _GOLDEN) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _unit(x: int) -> float:
    """Map a 64-bit hash to a float in the open interval (0, 1)."""
    return ((x >> 11) + 0.5) / float(1 << 53)


def _tag_key(seed: int, tag: str) -> int:
    """A stable 64-bit key per (seed, tag); ``hash()`` is salted per process, so not that."""
    digest = hashlib.blake2b(f"{seed}:{tag}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def highest_limit(tag: Tag) -> float | None:
    """The tag's most severe high alarm limit (``hh``, else ``h``), or None if it has none."""
    return tag.limits.hh if tag.limits.hh is not None else tag.limits.h


def default_excursion_target(tag: Tag) -> float:
    """Where a forced excursion goes by default: 5 % of span beyond the highest limit.

    Tags without a high limit go to the top of their range (the transmitter saturates).
    """
    lo, hi = tag.range
    limit = highest_limit(tag)
    if limit is None:
        return hi
    return min(hi, max(lo, limit + FORCED_MARGIN * (hi - lo)))


@dataclass(frozen=True, slots=True)
class ForcedExcursion:
    """An excursion forced by an operator or a test: ramp to ``to`` from ``at_s`` on."""

    tag: str
    at_s: float
    duration_s: float
    to: float

    @property
    def end_s(self) -> float:
        """The instant the value returns to normal."""
        return self.at_s + self.duration_s


@dataclass(frozen=True, slots=True)
class _TagModel:
    """Per-tag constants precomputed once, so sampling is a handful of float operations."""

    tag: Tag
    key: int
    phases: tuple[float, ...]
    schedule_offset_s: float


def _ramp(normal: float, target: float, elapsed_s: float, duration_s: float) -> float:
    """Value ``elapsed_s`` into an excursion: linear ramp over the first part, then hold."""
    ramp_s = min(_MAX_RAMP_S, _RAMP_FRACTION * duration_s)
    if elapsed_s >= ramp_s:
        return target
    return normal + (target - normal) * (elapsed_s / ramp_s)


class Simulator:
    """Deterministic signal source for every tag of a plant.

    Args:
        plant: The plant whose tags are simulated (their ``sim`` profiles drive the signals).
        seed: Seed of every random element (noise, drift phases, excursion offsets).
        start_s: Epoch seconds the simulated plant "started"; wear accumulates from here and
            scheduled excursions are laid out relative to it.
    """

    def __init__(self, plant: Plant, seed: int, start_s: float) -> None:
        self.plant = plant
        self.seed = seed
        self.start_s = start_s
        self._models: dict[str, _TagModel] = {}
        for t in plant.tags:
            key = _tag_key(seed, t.tag)
            phases = tuple(2.0 * math.pi * _unit(_splitmix64(key ^ (i + 1))) for i in range(len(_DRIFT_COMPONENTS)))
            offset = 0.0
            if t.sim.excursion is not None:
                # First upset at least a quarter period after start, and none running at start.
                every, duration = t.sim.excursion.every_s, t.sim.excursion.duration_s
                latest = max(0.0, every - duration)
                earliest = min(0.25 * every, latest)
                offset = earliest + _unit(_splitmix64(key ^ 0xE5C)) * (latest - earliest)
            self._models[t.tag] = _TagModel(tag=t, key=key, phases=phases, schedule_offset_s=offset)
        self._forced: dict[str, list[ForcedExcursion]] = {}
        self._last_t: float | None = None

    # -- sampling ---------------------------------------------------------------------------

    def values_at(self, t_s: float) -> dict[str, float]:
        """Every tag's value at epoch second ``t_s`` (same inputs, same outputs)."""
        self._last_t = t_s if self._last_t is None else max(self._last_t, t_s)
        return {name: self._value(model, t_s) for name, model in self._models.items()}

    def value_at(self, tag: str, t_s: float) -> float:
        """One tag's value at ``t_s``; KeyError names an unknown tag."""
        return self._value(self._model(tag), t_s)

    def readings_at(self, t_s: float) -> list[SensorReading]:
        """Every tag's value at ``t_s`` as contract readings, in plant file order."""
        ts = round(t_s * 1000)
        return [
            SensorReading(tag=tag, ts=ts, value=value, quality=Quality.GOOD, source="simulator")
            for tag, value in self.values_at(t_s).items()
        ]

    def scheduled_excursion(self, tag: str, t_s: float) -> tuple[float, float] | None:
        """Start and end of the scheduled excursion of ``tag`` active at ``t_s``, if any.

        Exposed so tests and demos can find the next upset without scanning values.
        """
        model = self._model(tag)
        exc = model.tag.sim.excursion
        if exc is None:
            return None
        # Python's float % is a floor modulo, so times before start_s are handled too.
        phase = (t_s - self.start_s - model.schedule_offset_s) % exc.every_s
        start = t_s - phase
        if t_s - start < exc.duration_s:
            return start, start + exc.duration_s
        return None

    # -- control ----------------------------------------------------------------------------

    def trigger_excursion(
        self, tag: str, *, to: float | None = None, duration_s: float = 30.0, at_s: float | None = None
    ) -> ForcedExcursion:
        """Force an excursion of ``tag``: ramp to ``to`` and hold for ``duration_s``.

        Args:
            tag: The tag to upset.
            to: Target value; by default 5 % of span beyond ``hh`` (or ``h``), clipped to range.
            duration_s: How long the excursion lasts, ramp included.
            at_s: When it starts; by default "now", meaning the latest time sampled so far
                (the simulator never reads the clock), or ``start_s`` before any sampling.

        Returns:
            The excursion as recorded, so a caller knows exactly when it is active.

        Raises:
            KeyError: ``tag`` is not a tag of the plant.
            ValueError: ``duration_s`` is not positive.
        """
        model = self._model(tag)
        if not duration_s > 0:
            msg = f"duration_s must be positive, got {duration_s}"
            raise ValueError(msg)
        target = default_excursion_target(model.tag) if to is None else to
        lo, hi = model.tag.range
        start = at_s if at_s is not None else (self._last_t if self._last_t is not None else self.start_s)
        forced = ForcedExcursion(tag=tag, at_s=start, duration_s=duration_s, to=min(hi, max(lo, target)))
        self._forced.setdefault(tag, []).append(forced)
        return forced

    def clear_excursions(self, tag: str | None = None) -> None:
        """Forget forced excursions (of one tag, or all), e.g. between demo scenarios."""
        if tag is None:
            self._forced.clear()
        else:
            self._model(tag)
            self._forced.pop(tag, None)

    # -- internals --------------------------------------------------------------------------

    def _model(self, tag: str) -> _TagModel:
        try:
            return self._models[tag]
        except KeyError:
            msg = f"unknown tag {tag!r}: plant {self.plant.plant.id!r} has no such tag"
            raise KeyError(msg) from None

    def _noise(self, model: _TagModel, t_s: float) -> float:
        sigma = model.tag.sim.noise
        if sigma == 0.0:
            return 0.0
        step = math.floor(t_s) & _MASK64
        h1 = _splitmix64(model.key ^ _splitmix64(step))
        h2 = _splitmix64(h1)
        # Box-Muller: two uniforms to one standard normal, clipped so a spike is never absurd.
        z = math.sqrt(-2.0 * math.log(_unit(h1))) * math.cos(2.0 * math.pi * _unit(h2))
        return sigma * max(-_NOISE_CLIP, min(_NOISE_CLIP, z))

    def _normal(self, model: _TagModel, t_s: float) -> float:
        sim = model.tag.sim
        value = sim.base
        if sim.drift:
            wander = sum(
                w * math.sin(2.0 * math.pi * t_s / period + phase)
                for (period, w), phase in zip(_DRIFT_COMPONENTS, model.phases, strict=True)
            )
            value += sim.drift * wander
        if sim.degradation:
            value += sim.degradation * max(0.0, t_s - self.start_s) / 3600.0
        return value

    def _value(self, model: _TagModel, t_s: float) -> float:
        value = self._normal(model, t_s)
        forced = self._active_forced(model.tag.tag, t_s)
        if forced is not None:
            value = _ramp(value, forced.to, t_s - forced.at_s, forced.duration_s)
        else:
            exc = model.tag.sim.excursion
            window = self.scheduled_excursion(model.tag.tag, t_s) if exc is not None else None
            if exc is not None and window is not None:
                value = _ramp(value, exc.to, t_s - window[0], exc.duration_s)
        value += self._noise(model, t_s)
        lo, hi = model.tag.range
        return min(hi, max(lo, value))

    def _active_forced(self, tag: str, t_s: float) -> ForcedExcursion | None:
        """The most recently triggered forced excursion covering ``t_s``."""
        for forced in reversed(self._forced.get(tag, ())):
            if forced.at_s <= t_s < forced.end_s:
                return forced
        return None
