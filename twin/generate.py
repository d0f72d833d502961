"""Generated plants of any size, built from the demo plant's units, for scale tests and benchmarks.

The demo plant (``twin/plants/demo.yaml``) has 20 tags; the platform has to be tried at
10,000. :func:`generate_plant` replicates the demo's kinds of unit until the plant has exactly
``n_tags`` tags:

* LPG sphere farms, methanol tank farms and liquid-chlorine stores (``storage`` areas), and
  chlorination units (``production`` areas), each a major hazard source with GB 18218
  quantities;
* up to 12 pieces of equipment per area on a 4 x 3 grid (25 m pitch), areas on a square grid
  separated by 20 m roads, a control room and a gate by the road along the south edge, so the
  3D scene stays readable;
* per equipment a handful of tags of the demo's kinds (level, pressure, temperature, flow,
  flammable and toxic gas, weight, vibration) with the demo's instrument ranges and limit
  conventions (``ll < l < h < hh`` inside the range); the normal operating point sits between
  the low and high limits with room for drift and +/-4 sigma of noise, so a quiet plant
  raises no alarm; about 1 % of the tags get a scheduled excursion beyond ``hh`` and about a
  tenth of the pumps wear;
* names in plant style: area ``n`` numbers its equipment ``n01``..``n12``, so equipment
  ``V-1203`` (area 12, slot 3) carries ``LT-1203``, ``PT-1203``, ``TT-1203`` and ``GT-1203``.

Everything is drawn from ``random.Random(seed)``: the same ``(n_tags, seed)`` gives the same
plant, and :func:`write_plant` gives the same bytes.

Example:
    >>> plant = generate_plant(100)
    >>> len(plant.tags)
    100
    >>> plant.tag("PT-101").limits.hh
    1.75

From the shell: ``python -m twin.generate --tags 10000 --out var/plant-10000.yaml``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from twin.plant import (
    Anchor,
    Area,
    Camera,
    Chemical,
    Equipment,
    Excursion,
    HazardSource,
    Limits,
    Plant,
    PlantInfo,
    SimProfile,
    Tag,
    Zone,
)

__all__ = ["MAX_TAGS", "generate_plant", "main", "write_plant"]

EquipmentKind = Literal["sphere", "tank", "vessel", "reactor", "pump", "exchanger", "column"]

MAX_TAGS: Final = 32_767
"""Every tag needs two Modbus holding registers at ``2 x index``, and addresses end at 65535."""

_COLS: Final = 4
_ROWS: Final = 3
_PITCH: Final = 25.0
_AREA_MARGIN: Final = 5.0
_AREA_W: Final = _COLS * _PITCH + 2 * _AREA_MARGIN
_AREA_H: Final = _ROWS * _PITCH + 2 * _AREA_MARGIN
_ROAD: Final = 20.0
_SOUTH_ROAD: Final = 45.0  # the strip along the south edge with the gate and the control room
_EXCURSION_SHARE: Final = 0.01
_WEAR_SHARE: Final = 0.1

_KIND_NAME: Final = {
    "level": ("LT", "液位"),
    "pressure": ("PT", "压力"),
    "temperature": ("TT", "温度"),
    "flow": ("FT", "流量"),
    "flammable_gas": ("GT", "可燃气体"),
    "toxic_gas": ("AT", "有毒气体"),
    "weight": ("WT", "重量"),
    "vibration": ("VT", "振动"),
}


@dataclass(frozen=True, slots=True)
class _Signal:
    """One instrument as the demo plant has it: unit, range, limits, normal value, noise."""

    kind: str
    unit: str
    range: tuple[float, float]
    limits: tuple[float | None, float | None, float | None, float | None]  # ll, l, h, hh
    base: float
    noise: float
    drift: float = 0.0


# Taken from the demo plant's tags; low limits added where the demo's instrument has one in
# practice (a reactor pressure can also be too low), none for gas detectors (as in the demo).
_LEVEL = _Signal("level", "%", (0, 100), (10, 15, 85, 90), 55, 0.2, 0.5)
_LEVEL_TANK = _Signal("level", "%", (0, 100), (8, 12, 88, 92), 55, 0.2, 0.5)
_LEVEL_PROCESS = _Signal("level", "%", (0, 100), (15, 25, 75, 85), 50, 0.3, 1.0)
_GAS = _Signal("flammable_gas", "%LEL", (0, 100), (None, None, 20, 40), 0.5, 0.3)
_TOXIC = _Signal("toxic_gas", "ppm", (0, 20), (None, None, 1, 3), 0.05, 0.02)

_TEMPLATES: Final[dict[str, tuple[_Signal, ...]]] = {
    "sphere": (
        _LEVEL,
        _Signal("pressure", "MPa", (0, 2.5), (0.1, 0.2, 1.6, 1.75), 0.85, 0.01),
        _Signal("temperature", "°C", (-40, 80), (-20, -10, 45, 50), 22, 0.2),
        _GAS,
    ),
    "tank": (
        _LEVEL_TANK,
        _Signal("temperature", "°C", (-20, 60), (-10, -5, 35, 40), 18, 0.2),
        _Signal("flow", "m3/h", (0, 200), (None, None, 150, 170), 60, 1.0),
        _GAS,
    ),
    "vessel": (
        _Signal("pressure", "MPa", (0, 2.0), (0.2, 0.3, 1.0, 1.2), 0.6, 0.01),
        _Signal("weight", "t", (0, 30), (1, 2, 24, 26), 18, 0.05),
        _Signal("temperature", "°C", (-40, 60), (-30, -20, 35, 40), 15, 0.2),
        _TOXIC,
    ),
    "reactor": (
        _Signal("temperature", "°C", (0, 200), (40, 50, 85, 95), 70, 0.5),
        _Signal("pressure", "MPa", (0, 1.0), (0.02, 0.05, 0.45, 0.55), 0.25, 0.005),
        _Signal("flow", "kg/h", (0, 800), (50, 100, 600, 680), 420, 5),
        _LEVEL_PROCESS,
        _TOXIC,
    ),
    "pump": (
        _Signal("vibration", "mm/s", (0, 20), (None, None, 7.1, 11.2), 2.2, 0.1),
        _Signal("pressure", "MPa", (0, 4.0), (0.3, 0.5, 3.0, 3.4), 1.8, 0.02),
        _Signal("flow", "m3/h", (0, 120), (5, 10, 90, 100), 60, 0.8),
    ),
    "exchanger": (
        _Signal("temperature", "°C", (0, 100), (5, 10, 40, 45), 32, 0.2),
        _Signal("pressure", "MPa", (0, 1.6), (0.05, 0.1, 1.0, 1.2), 0.5, 0.005),
        _Signal("flow", "m3/h", (0, 300), (20, 40, 240, 270), 150, 2),
    ),
    "column": (
        _Signal("temperature", "°C", (0, 250), (60, 80, 160, 180), 120, 0.5),
        _Signal("pressure", "MPa", (0, 1.6), (0.05, 0.1, 1.0, 1.2), 0.45, 0.005),
        _LEVEL_PROCESS,
        _Signal("flow", "kg/h", (0, 5000), (200, 500, 4000, 4500), 2500, 20),
    ),
}

_EQUIPMENT: Final = {
    # kind: (id prefix, name, size)
    "sphere": ("V", "液化石油气球罐", (12.0, 12.0, 12.0)),
    "tank": ("T", "甲醇储罐", (14.0, 14.0, 12.0)),
    "vessel": ("V", "液氯储罐", (16.0, 4.0, 4.0)),
    "reactor": ("R", "氯化反应釜", (5.0, 5.0, 8.0)),
    "pump": ("P", "进料泵", (2.0, 1.0, 1.2)),
    "exchanger": ("E", "冷却器", (8.0, 2.0, 2.0)),
    "column": ("C", "精馏塔", (3.0, 3.0, 20.0)),
}


@dataclass(frozen=True, slots=True)
class _Unit:
    """A kind of area the demo has: what it is, what stands in it, what it holds."""

    key: str
    name: str
    name_en: str
    kind: Literal["storage", "production"]  # area kind, also the hazard source's unit kind
    zone: Literal["flammable", "toxic", "restricted"]
    equipment: tuple[EquipmentKind, ...]  # cycled over the 12 slots
    count: tuple[int, int]  # equipment per area, inclusive
    # (name, CAS, tonnes per equipment, GB 18218 critical quantity, beta)
    chemicals: tuple[tuple[str, str, float, float, float], ...]
    process: str | None = None


_UNITS: Final = (
    _Unit(
        "lpg", "液化石油气球罐区", "LPG sphere farm", "storage", "flammable", ("sphere",), (4, 8),
        (("液化石油气", "68476-85-7", 800.0, 50.0, 1.5),),
    ),
    _Unit(
        "methanol", "甲醇储罐组", "Methanol tank group", "storage", "flammable", ("tank",), (6, 12),
        (("甲醇", "67-56-1", 1600.0, 500.0, 1.0),),
    ),
    _Unit(
        "chlorine", "液氯库", "Liquid-chlorine store", "storage", "toxic", ("vessel",), (3, 6),
        (("氯", "7782-50-5", 20.0, 5.0, 4.0),),
    ),
    _Unit(
        "chlorination", "氯化反应装置", "Chlorination unit", "production", "restricted",
        ("reactor", "pump", "exchanger", "column", "pump", "exchanger"), (8, 12),
        (("氯", "7782-50-5", 1.0, 5.0, 4.0), ("甲醇", "67-56-1", 5.0, 500.0, 1.0)),
        "氯化工艺",
    ),
)  # fmt: skip


def _rectangle(x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    """An axis-aligned rectangle as a plan polygon, counter-clockwise from the south-west corner."""
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _decimals(span: float) -> int:
    """Decimal places that give a value three to four significant digits of its span."""
    return max(0, 3 - math.floor(math.log10(span)))


def _tag(rng: random.Random, signal: _Signal, equipment: Equipment, number: str, pump: bool) -> Tag:
    """One tag of ``equipment`` from ``signal``, with a jittered normal value and maybe an upset."""
    prefix, kind_name = _KIND_NAME[signal.kind]
    lo, hi = signal.range
    span = hi - lo
    digits = _decimals(span)
    ll, low, high, hh = signal.limits
    # The normal value: the demo's, moved by up to a tenth of the normal band (or half itself
    # where the band has no low limit, as gas detectors), kept drift and 4 sigma of noise plus
    # 1 % of span away from the L and H limits so that a quiet plant raises no alarm.
    margin = signal.drift + 4 * signal.noise + 0.01 * span
    floor_ = lo if low is None else low + margin
    ceiling = hi if high is None else high - margin
    jitter = 0.5 * abs(signal.base) if low is None else 0.1 * (ceiling - floor_)
    base = round(min(ceiling, max(floor_, signal.base + rng.uniform(-jitter, jitter))), digits)
    degradation = 0.0
    if pump and signal.kind == "vibration" and rng.random() < _WEAR_SHARE:
        degradation = round(rng.uniform(0.01, 0.05), 3)
    excursion = None
    if hh is not None and rng.random() < _EXCURSION_SHARE:
        every = rng.choice((600.0, 900.0, 1200.0, 1800.0, 3600.0))
        excursion = Excursion(
            every_s=every, duration_s=float(rng.randint(30, 60)), to=round(min(hi, hh + 0.05 * span), digits)
        )
    return Tag(
        tag=f"{prefix}-{number}",
        name=f"{equipment.name}{kind_name}",
        equipment=equipment.id,
        kind=signal.kind,  # type: ignore[arg-type]
        unit=signal.unit,
        range=(float(lo), float(hi)),
        limits=Limits(
            ll=None if ll is None else float(ll),
            l=None if low is None else float(low),
            h=None if high is None else float(high),
            hh=None if hh is None else float(hh),
        ),
        sim=SimProfile(
            base=float(base),
            noise=float(signal.noise),
            drift=float(signal.drift),
            degradation=degradation,
            excursion=excursion,
        ),
    )


def generate_plant(n_tags: int, *, seed: int = 7) -> Plant:
    """A valid plant with exactly ``n_tags`` tags, built from the demo plant's kinds of unit.

    Args:
        n_tags: How many tags the plant has (1 to :data:`MAX_TAGS`).
        seed: Seed of every choice (unit kinds, equipment counts, normal values, upsets).

    Returns:
        The plant, validated by :class:`twin.plant.Plant` like a loaded file.

    Raises:
        ValueError: ``n_tags`` is outside 1..:data:`MAX_TAGS`.
    """
    if not 1 <= n_tags <= MAX_TAGS:
        msg = f"n_tags must be between 1 and {MAX_TAGS} (two Modbus registers per tag), got {n_tags}"
        raise ValueError(msg)
    rng = random.Random(seed)

    # Plan the areas first (unit kind and equipment kinds), so the grid can be made square.
    plan: list[tuple[_Unit, list[EquipmentKind]]] = []
    planned = 0
    while planned < n_tags:
        unit = _UNITS[len(plan) % len(_UNITS)] if len(plan) < len(_UNITS) else rng.choice(_UNITS)
        kinds: list[EquipmentKind] = []
        for slot in range(rng.randint(*unit.count)):
            if planned >= n_tags:
                break
            kind = unit.equipment[slot % len(unit.equipment)]
            kinds.append(kind)
            planned += len(_TEMPLATES[kind])
        plan.append((unit, kinds))

    grid = math.ceil(math.sqrt(len(plan)))
    width = grid * (_AREA_W + _ROAD) + _ROAD
    height = _SOUTH_ROAD + _ROAD + math.ceil(len(plan) / grid) * (_AREA_H + _ROAD)
    areas = [
        Area(id="control_room", name="中控室", name_en="Control room", kind="office", bounds=((20, 5), (70, 40))),
        Area(
            id="roads", name="厂区道路", name_en="Roads and gates", kind="road", bounds=((0, 0), (width, _SOUTH_ROAD))
        ),
    ]
    equipment = [
        Equipment(
            id="CR-01", name="中控室", kind="building", area="control_room", position=(45, 22.5, 0), size=(40, 25, 5)
        )
    ]
    zones = [
        Zone(id="Z-GATE", name="大门", kind="gate", polygon=_rectangle(0, 0, 12, 10)),
        Zone(id="Z-MUSTER", name="紧急集合点", kind="muster", polygon=_rectangle(80, 10, 110, 30)),
    ]
    cameras = [Camera(id="CAM-GATE", name="大门摄像机", position=(5.0, 5.0, 6.0), zone="Z-GATE")]
    hazard_sources: list[HazardSource] = []
    anchors: list[Anchor] = []
    tags: list[Tag] = []

    for index, (unit, kinds) in enumerate(plan):
        n = index + 1
        x0 = _ROAD + (index % grid) * (_AREA_W + _ROAD)
        y0 = _SOUTH_ROAD + _ROAD + (index // grid) * (_AREA_H + _ROAD)
        x1, y1 = x0 + _AREA_W, y0 + _AREA_H
        area_id = f"{unit.key}_{n:03d}"
        name = f"{n}#{unit.name}"
        bounds = ((x0, y0), (x1, y1))
        areas.append(Area(id=area_id, name=name, name_en=f"{unit.name_en} {n}", kind=unit.kind, bounds=bounds))
        source_id = f"MHS-{n:03d}"
        hazard_sources.append(
            HazardSource(
                id=source_id,
                name=name,
                area=area_id,
                unit_kind=unit.kind,
                alpha=1.5,
                process=unit.process,
                chemicals=tuple(
                    Chemical(name=chemical, cas=cas, quantity_t=per * len(kinds), critical_t=critical, beta=beta)
                    for chemical, cas, per, critical, beta in unit.chemicals
                ),
            )
        )
        zone_id = f"Z-{n:03d}"
        zones.append(Zone(id=zone_id, name=name, kind=unit.zone, polygon=_rectangle(x0 + 2, y0 + 2, x1 - 2, y1 - 2)))
        cameras.append(Camera(id=f"CAM-{n:03d}", name=f"{name}摄像机", position=(x0 + 5, y0 + 5, 8), zone=zone_id))
        anchors += [
            Anchor(id=f"A-{n:03d}-{k}", position=(x, y, 4.0))
            for k, (x, y) in enumerate(((x0, y0), (x1, y0), (x1, y1), (x0, y1)), start=1)
        ]
        for slot, equipment_kind in enumerate(kinds):
            prefix, what, size = _EQUIPMENT[equipment_kind]
            number = f"{n}{slot + 1:02d}"
            item = Equipment(
                id=f"{prefix}-{number}",
                name=f"{n}区{slot + 1}#{what}",
                kind=equipment_kind,
                area=area_id,
                hazard_source=source_id,
                position=(
                    x0 + _AREA_MARGIN + (slot % _COLS + 0.5) * _PITCH,
                    y0 + _AREA_MARGIN + (slot // _COLS + 0.5) * _PITCH,
                    0.0,
                ),
                size=size,
            )
            equipment.append(item)
            for signal in _TEMPLATES[equipment_kind][: n_tags - len(tags)]:
                tags.append(_tag(rng, signal, item, number, pump=equipment_kind == "pump"))

    return Plant(
        plant=PlantInfo(
            id=f"generated-{n_tags}-{seed}",
            name=f"生成化工园区({n_tags}位号)",
            name_en=f"Generated plant, {n_tags} tags (seed {seed})",
            size=(width, height),
        ),
        areas=tuple(areas),
        hazard_sources=tuple(hazard_sources),
        equipment=tuple(equipment),
        tags=tuple(tags),
        anchors=tuple(anchors),
        cameras=tuple(cameras),
        zones=tuple(zones),
    )


def _dumper() -> type[yaml.SafeDumper]:
    """The C dumper when PyYAML has libyaml (ten times faster at 10,000 tags), else the Python one."""
    return getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def write_plant(plant: Plant, path: Path | str) -> Path:
    """Write ``plant`` as a plant file that :func:`twin.plant.load_plant` reads back equal.

    Laid out like the demo plant: one flow mapping per line for every area, equipment, tag,
    anchor, camera and zone; fields at their default value are left out. A path ending in
    ``.json`` gets the same document as JSON (which ``load_plant`` parses fifty times faster).
    """
    path = Path(path)
    data: dict[str, Any] = plant.model_dump(mode="json", exclude_defaults=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        return path
    dumper = _dumper()

    def dump(value: Any, flow: bool) -> str:
        text: str = yaml.dump(
            value, Dumper=dumper, allow_unicode=True, sort_keys=False, default_flow_style=flow, width=1 << 16
        )
        return text.rstrip()

    lines = [
        f"# {plant.plant.name_en}: generated by twin.generate, do not edit by hand.",
        "# Coordinates are metres in the plant frame: x east, y north, z up; origin at the main gate.",
    ]
    for section, value in data.items():
        if isinstance(value, list) and value:
            lines.append(f"{section}:")
            lines += [f"  - {dump(item, flow=True)}" for item in value]
        else:
            lines.append(dump({section: value}, flow=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m twin.generate --tags N --out PATH [--seed S]``."""
    ap = argparse.ArgumentParser(prog="python -m twin.generate", description="Write a generated plant file.")
    ap.add_argument("--tags", type=int, required=True, help=f"number of tags (1..{MAX_TAGS})")
    ap.add_argument("--out", type=Path, required=True, help="plant YAML file to write")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    try:
        plant = generate_plant(args.tags, seed=args.seed)
    except ValueError as err:
        ap.error(str(err))
    write_plant(plant, args.out)
    print(
        f"{args.out}: {len(plant.tags)} tags, {len(plant.equipment)} equipment, {len(plant.areas)} areas, "
        f"{plant.plant.size[0]:.0f} x {plant.plant.size[1]:.0f} m"
    )


if __name__ == "__main__":
    main()
