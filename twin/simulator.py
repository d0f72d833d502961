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

The whole plant is evaluated at once with numpy (one array per profile parameter), which
keeps a 10,000-tag plant at about a millisecond of CPU per sample; :meth:`Simulator.array_at`
hands that array to consumers that can use it as it is.

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

import numpy as np
from numpy.typing import NDArray

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


FloatArray = NDArray[np.float64]
_U64 = NDArray[np.uint64]


def _splitmix64(x: int) -> int:
    """One round of SplitMix64: a fast, well-mixed 64-bit hash for counter-based noise."""
    x = (x + _GOLDEN) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _splitmix64_array(x: _U64) -> _U64:
    """:func:`_splitmix64` of every element (uint64 arithmetic wraps modulo 2**64, as the mask does)."""
    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _unit_array(x: _U64) -> FloatArray:
    """:func:`_unit` of every element (exact: the shifted value has 53 bits)."""
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


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


def _ramp(normal: float, target: float, elapsed_s: float, duration_s: float) -> float:
    """Value ``elapsed_s`` into an excursion: linear ramp over the first part, then hold."""
    ramp_s = min(_MAX_RAMP_S, _RAMP_FRACTION * duration_s)
    if elapsed_s >= ramp_s:
        return target
    return normal + (target - normal) * (elapsed_s / ramp_s)


class Simulator:
    """Deterministic signal source for every tag of a plant.

    Every tag's profile is held as columns (one numpy array per parameter, in plant order), so
    one sample of the whole plant is a few dozen array operations: about a millisecond at
    10,000 tags instead of tens of milliseconds tag by tag. The last sample is kept, so
    :meth:`value_at` right after :meth:`values_at` costs a lookup, and one tag always reads
    exactly the value the whole-plant sample gave it.

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
        tags = plant.tags
        self._tags: tuple[Tag, ...] = tags
        self._names: list[str] = [t.tag for t in tags]
        self._index: dict[str, int] = {}
        for i, name in enumerate(self._names):
            self._index.setdefault(name, i)
        keys = [_tag_key(seed, name) for name in self._names]
        self._keys: _U64 = np.array(keys, dtype=np.uint64)
        # Drift phases, one column per drift component (seeded per tag and component).
        self._phases: FloatArray = np.stack(
            [
                2.0 * math.pi * _unit_array(_splitmix64_array(self._keys ^ np.uint64(i + 1)))
                for i in range(len(_DRIFT_COMPONENTS))
            ],
            axis=1,
        ).reshape(len(tags), len(_DRIFT_COMPONENTS))

        def column(values: list[float]) -> FloatArray:
            return np.array(values, dtype=np.float64)

        self._base = column([t.sim.base for t in tags])
        self._noise_sigma = column([t.sim.noise for t in tags])
        self._drift = column([t.sim.drift for t in tags])
        self._degradation = column([t.sim.degradation for t in tags])
        self._lo = column([t.range[0] for t in tags])
        self._hi = column([t.range[1] for t in tags])
        self._has_noise = bool(np.any(self._noise_sigma))
        self._has_drift = bool(np.any(self._drift))
        self._has_wear = bool(np.any(self._degradation))

        # Scheduled excursions: first upset at least a quarter period after start, none at start.
        upsets = [(i, t.sim.excursion) for i, t in enumerate(tags) if t.sim.excursion is not None]
        self._offsets = np.zeros(len(tags), dtype=np.float64)
        for i, exc in upsets:
            latest = max(0.0, exc.every_s - exc.duration_s)
            earliest = min(0.25 * exc.every_s, latest)
            self._offsets[i] = earliest + _unit(_splitmix64(keys[i] ^ 0xE5C)) * (latest - earliest)
        self._exc_index = np.array([i for i, _ in upsets], dtype=np.intp)
        self._exc_every = column([exc.every_s for _, exc in upsets])
        self._exc_duration = column([exc.duration_s for _, exc in upsets])
        self._exc_to = column([exc.to for _, exc in upsets])
        self._exc_offset = self._offsets[self._exc_index]
        self._exc_ramp = np.minimum(_MAX_RAMP_S, _RAMP_FRACTION * self._exc_duration)

        self._forced: dict[str, list[ForcedExcursion]] = {}
        self._last_t: float | None = None
        self._sample: tuple[float, FloatArray] | None = None

    # -- sampling ---------------------------------------------------------------------------

    @property
    def tag_names(self) -> list[str]:
        """Every simulated tag, in plant file order (the order of :meth:`array_at`)."""
        return list(self._names)

    def array_at(self, t_s: float) -> FloatArray:
        """Every tag's value at ``t_s`` as a read-only float64 array in plant file order.

        The column form for vectorised consumers; :meth:`values_at` is the same as a dict.
        """
        self._last_t = t_s if self._last_t is None else max(self._last_t, t_s)
        return self._values(t_s)

    def values_at(self, t_s: float) -> dict[str, float]:
        """Every tag's value at epoch second ``t_s`` (same inputs, same outputs)."""
        return dict(zip(self._names, self.array_at(t_s).tolist(), strict=True))

    def value_at(self, tag: str, t_s: float) -> float:
        """One tag's value at ``t_s``; KeyError names an unknown tag."""
        i = self._position(tag)
        return float(self._values(t_s)[i])

    def readings_at(self, t_s: float) -> list[SensorReading]:
        """Every tag's value at ``t_s`` as contract readings, in plant file order."""
        ts = round(t_s * 1000)
        good = Quality.GOOD
        return [
            SensorReading(tag=tag, ts=ts, value=value, quality=good, source="simulator")
            for tag, value in zip(self._names, self.array_at(t_s).tolist(), strict=True)
        ]

    def scheduled_excursion(self, tag: str, t_s: float) -> tuple[float, float] | None:
        """Start and end of the scheduled excursion of ``tag`` active at ``t_s``, if any.

        Exposed so tests and demos can find the next upset without scanning values.
        """
        i = self._position(tag)
        exc = self._tags[i].sim.excursion
        if exc is None:
            return None
        # Python's float % is a floor modulo, so times before start_s are handled too.
        phase = (t_s - self.start_s - float(self._offsets[i])) % exc.every_s
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
        spec = self._tags[self._position(tag)]
        if not duration_s > 0:
            msg = f"duration_s must be positive, got {duration_s}"
            raise ValueError(msg)
        target = default_excursion_target(spec) if to is None else to
        lo, hi = spec.range
        start = at_s if at_s is not None else (self._last_t if self._last_t is not None else self.start_s)
        forced = ForcedExcursion(tag=tag, at_s=start, duration_s=duration_s, to=min(hi, max(lo, target)))
        self._forced.setdefault(tag, []).append(forced)
        self._sample = None
        return forced

    def clear_excursions(self, tag: str | None = None) -> None:
        """Forget forced excursions (of one tag, or all), e.g. between demo scenarios."""
        if tag is None:
            self._forced.clear()
        else:
            self._position(tag)
            self._forced.pop(tag, None)
        self._sample = None

    # -- internals --------------------------------------------------------------------------

    def _position(self, tag: str) -> int:
        try:
            return self._index[tag]
        except KeyError:
            msg = f"unknown tag {tag!r}: plant {self.plant.plant.id!r} has no such tag"
            raise KeyError(msg) from None

    def _values(self, t_s: float) -> FloatArray:
        """The whole plant at ``t_s``, computed once per instant (the last one is kept)."""
        sample = self._sample
        if sample is not None and sample[0] == t_s:
            return sample[1]
        values = self._compute(t_s)
        values.flags.writeable = False
        self._sample = (t_s, values)
        return values

    def _compute(self, t_s: float) -> FloatArray:
        # The operations and their order are those of the scalar formulas in the module
        # docstring, so a tag's value does not depend on the other tags of the plant.
        normal = self._base.copy()
        if self._has_drift:
            wander = np.zeros_like(normal)
            for c, (period, weight) in enumerate(_DRIFT_COMPONENTS):
                wander += weight * np.sin(2.0 * math.pi * t_s / period + self._phases[:, c])
            normal += self._drift * wander
        if self._has_wear:
            normal += self._degradation * max(0.0, t_s - self.start_s) / 3600.0
        value = normal.copy()
        if len(self._exc_index):
            # Python's float % and np.remainder are both floor modulos: times before start work.
            phase = np.remainder(t_s - self.start_s - self._exc_offset, self._exc_every)
            elapsed = t_s - (t_s - phase)
            active = elapsed < self._exc_duration
            if active.any():
                idx = self._exc_index[active]
                ramp_s = self._exc_ramp[active]
                el, to = elapsed[active], self._exc_to[active]
                base = normal[idx]
                value[idx] = np.where(el >= ramp_s, to, base + (to - base) * (el / ramp_s))
        for tag, excursions in self._forced.items():
            for forced in reversed(excursions):  # the most recently triggered one covering t_s
                if forced.at_s <= t_s < forced.end_s:
                    i = self._index[tag]
                    value[i] = _ramp(float(normal[i]), forced.to, t_s - forced.at_s, forced.duration_s)
                    break
        if self._has_noise:
            value += self._noise_sigma * self._standard_normal(t_s)
        return np.minimum(self._hi, np.maximum(self._lo, value))

    def _standard_normal(self, t_s: float) -> FloatArray:
        """Per tag a standard-normal draw for the integer second of ``t_s``, clipped to 4 sigma."""
        step = _splitmix64(math.floor(t_s) & _MASK64)
        h1 = _splitmix64_array(self._keys ^ np.uint64(step))
        h2 = _splitmix64_array(h1)
        # Box-Muller: two uniforms to one standard normal, clipped so a spike is never absurd.
        z = np.sqrt(-2.0 * np.log(_unit_array(h1))) * np.cos(2.0 * math.pi * _unit_array(h2))
        return np.clip(z, -_NOISE_CLIP, _NOISE_CLIP)  # type: ignore[no-any-return]
