"""The plant model: areas, major hazard sources, equipment, tags, anchors, cameras and zones.

A plant is described once in YAML (``twin/plants/demo.yaml``) and read by the simulator,
the connectors' address maps, the scene builder, the pipelines' limit tables and the API.
Loading validates everything a plant engineer can get wrong (duplicate ids, dangling
references, limits out of order) and reports *all* problems with their location, because a
plant file is edited by hand and one round-trip per typo is a bad afternoon.

Example:
    >>> plant = load_plant(DEMO_PLANT)
    >>> plant.tag("PT-101").limits.hh
    1.75
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.hazard_identification import ChemicalInventory, Identification, IdentificationError, identify

DEMO_PLANT = Path(__file__).resolve().parent / "plants" / "demo.yaml"

# libyaml's safe loader when PyYAML was built with it: five times faster on a 10,000-tag plant.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Vec3 = tuple[float, float, float]
Vec2 = tuple[float, float]


class PlantFileError(ValueError):
    """A plant file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid plant file {self.path}:\n{lines}")


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlantInfo(_Spec):
    """The enterprise itself."""

    id: str
    name: str
    name_en: str = ""
    size: Vec2 = (200.0, 150.0)


class Area(_Spec):
    """A plant area (罐区, 装置区, 仓库, ...), axis-aligned in plan."""

    id: str
    name: str
    name_en: str = ""
    kind: Literal["storage", "production", "office", "road", "utility"]
    bounds: tuple[Vec2, Vec2]


class Chemical(_Spec):
    """A chemical held in a hazard source, with the Q and β of GB 18218's tables.

    ``critical_t`` and ``beta`` are written out (the plant file documents its sums and the risk
    model reads β) and must equal the tables' values — no default β of 1.0: the twin identifies
    through the same function as the register (:func:`models.hazard_identification.identify`),
    never a second formula, and a plant file that disagrees with the tables does not load.
    """

    name: str
    cas: str = ""
    quantity_t: float = Field(gt=0)
    critical_t: float = Field(gt=0)
    beta: float = Field(gt=0)
    categories: tuple[str, ...] = ()

    def inventory(self) -> ChemicalInventory:
        """The chemical as GB 18218 identification takes it."""
        return ChemicalInventory(
            name=self.name,
            cas=self.cas,
            quantity_t=self.quantity_t,
            categories=self.categories,
            critical_t=self.critical_t,
            beta=self.beta,
        )


class HazardSource(_Spec):
    """A major hazard source (重大危险源) per GB 18218; S, R and the grade from :attr:`identification`."""

    id: str
    name: str
    area: str
    unit_kind: Literal["storage", "production"]
    alpha: float = Field(default=1.0, gt=0)
    process: str | None = None
    chemicals: tuple[Chemical, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _identifiable(self) -> HazardSource:
        """A plant file whose Q, β or α disagree with the tables fails to load, naming the chemical."""
        try:
            self.identification  # noqa: B018 - computed for its validation
        except IdentificationError as err:
            raise ValueError(str(err)) from None
        return self

    @property
    def identification(self) -> Identification:
        """GB 18218 identification of this unit: the same function the register uses."""
        return identify([c.inventory() for c in self.chemicals], alpha=self.alpha)

    @property
    def s_index(self) -> float:
        """S = sum(q/Q); the unit is a major hazard source when S >= 1."""
        return self.identification.s

    @property
    def r_value(self) -> float:
        """R = alpha * sum(beta * q / Q) (GB 18218-2018 grading); 0 for an ungraded unit with S < 1."""
        r = self.identification.r
        return r if r is not None else 0.0

    @property
    def grade(self) -> int | None:
        """级别 1–4, or None when S < 1 (not a major hazard source)."""
        grade = self.identification.grade
        return int(grade) if grade is not None else None


class Equipment(_Spec):
    """A piece of equipment placed in 3D (metres; x east, y north, z up)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="also the 3D node name: three.js mangles other characters")
    name: str
    kind: Literal["sphere", "tank", "vessel", "reactor", "pump", "exchanger", "building", "column"]
    area: str
    hazard_source: str | None = None
    position: Vec3
    size: Vec3


class Limits(_Spec):
    """Alarm limits of a tag; any may be absent."""

    ll: float | None = None
    l: float | None = None  # noqa: E741 - the instrument engineers' name for the low limit
    h: float | None = None
    hh: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        present = [(n, v) for n, v in (("ll", self.ll), ("l", self.l), ("h", self.h), ("hh", self.hh)) if v is not None]
        for (n1, v1), (n2, v2) in zip(present, present[1:], strict=False):
            if v1 >= v2:
                msg = f"limits must satisfy ll < l < h < hh, but {n1}={v1} >= {n2}={v2}"
                raise ValueError(msg)
        return self


class Excursion(_Spec):
    """A scheduled process upset: the value ramps to ``to`` and holds for ``duration_s``."""

    every_s: float = Field(gt=0)
    duration_s: float = Field(gt=0)
    to: float


class SimProfile(_Spec):
    """How the simulator drives a tag."""

    base: float
    noise: float = Field(default=0.0, ge=0)
    drift: float = Field(default=0.0, description="slow wander amplitude, units per hour")
    degradation: float = Field(default=0.0, description="monotonic trend per hour (wear)")
    excursion: Excursion | None = None


class Tag(_Spec):
    """A sensor tag (位号) with unit, instrument range and alarm limits."""

    tag: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    equipment: str
    kind: Literal[
        "level", "pressure", "temperature", "flow", "flammable_gas", "toxic_gas", "weight", "vibration", "humidity"
    ]
    unit: str
    range: Vec2
    limits: Limits = Limits()
    sim: SimProfile
    modbus_address: int | None = Field(default=None, ge=0, le=65533)

    @model_validator(mode="after")
    def _limits_in_range(self) -> Tag:
        lo, hi = self.range
        if lo >= hi:
            msg = f"range must be [low, high] with low < high, got {list(self.range)}"
            raise ValueError(msg)
        for name in ("ll", "l", "h", "hh"):
            v = getattr(self.limits, name)
            if v is not None and not lo <= v <= hi:
                msg = f"limit {name}={v} is outside the instrument range {list(self.range)}"
                raise ValueError(msg)
        return self


class Anchor(_Spec):
    """A UWB/BLE positioning anchor."""

    id: str
    position: Vec3


class Camera(_Spec):
    """A video camera with the zone it watches."""

    id: str
    name: str
    position: Vec3
    zone: str | None = None


class Zone(_Spec):
    """A plan polygon with a meaning for people (restricted, flammable, muster, gate)."""

    id: str
    name: str
    kind: Literal["restricted", "flammable", "muster", "gate", "toxic"]
    polygon: tuple[Vec2, ...] = Field(min_length=3)


class Plant(_Spec):
    """A whole plant, cross-checked."""

    plant: PlantInfo
    areas: tuple[Area, ...]
    hazard_sources: tuple[HazardSource, ...] = ()
    equipment: tuple[Equipment, ...]
    tags: tuple[Tag, ...]
    anchors: tuple[Anchor, ...] = ()
    cameras: tuple[Camera, ...] = ()
    zones: tuple[Zone, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Plant:
        problems = _cross_check(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def tag(self, tag: str) -> Tag:
        """The tag named ``tag``; KeyError names the unknown tag."""
        try:
            return self.tags[self._tag_index()[tag]]
        except KeyError:
            msg = f"unknown tag {tag!r}"
            raise KeyError(msg) from None

    def equipment_by_id(self, equipment_id: str) -> Equipment:
        """The equipment with this id."""
        index = self._lookup("equipment", self.equipment, lambda e: e.id)
        try:
            return self.equipment[index[equipment_id]]
        except KeyError:
            msg = f"unknown equipment {equipment_id!r}"
            raise KeyError(msg) from None

    @property
    def tag_names(self) -> list[str]:
        """Every tag, in file order."""
        return [t.tag for t in self.tags]

    def modbus_address(self, tag: str) -> int:
        """Holding-register address of a tag's FLOAT32 value (explicit, or 2 x its index)."""
        try:
            i = self._tag_index()[tag]
        except KeyError:
            msg = f"unknown tag {tag!r}"
            raise KeyError(msg) from None
        address = self.tags[i].modbus_address
        return address if address is not None else 2 * i

    def _tag_index(self) -> dict[str, int]:
        return self._lookup("tags", self.tags, lambda t: t.tag)

    def _lookup(self, name: str, items: tuple[Any, ...], key: Any) -> dict[str, int]:
        """Position by id of ``items``, built once per tuple: lookups stay O(1) at 10,000 tags.

        Kept in the instance ``__dict__`` beside the fields (pydantic compares and dumps fields
        only) together with the tuple it indexes, so a ``model_copy(update=...)`` that replaces
        the tuple rebuilds the index instead of reading a stale one. First id wins, as a scan would.
        """
        slot = f"_index_{name}"
        cached = self.__dict__.get(slot)
        if cached is not None and cached[0] is items:
            return cached[1]  # type: ignore[no-any-return]
        index: dict[str, int] = {}
        for i, item in enumerate(items):
            index.setdefault(key(item), i)
        self.__dict__[slot] = (items, index)
        return index


def _duplicates(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]


def _cross_check(p: Plant) -> list[str]:
    problems: list[str] = []
    for what, ids in (
        ("area", [a.id for a in p.areas]),
        ("hazard source", [h.id for h in p.hazard_sources]),
        ("equipment", [e.id for e in p.equipment]),
        ("tag", [t.tag for t in p.tags]),
        ("anchor", [a.id for a in p.anchors]),
        ("camera", [c.id for c in p.cameras]),
        ("zone", [z.id for z in p.zones]),
    ):
        problems += [f"duplicate {what} id {d!r}" for d in _duplicates(ids)]
    areas = {a.id for a in p.areas}
    sources = {h.id for h in p.hazard_sources}
    equipment = {e.id for e in p.equipment}
    zones = {z.id for z in p.zones}
    problems += [f"hazard source {h.id!r}: unknown area {h.area!r}" for h in p.hazard_sources if h.area not in areas]
    for e in p.equipment:
        if e.area not in areas:
            problems.append(f"equipment {e.id!r}: unknown area {e.area!r}")
        if e.hazard_source is not None and e.hazard_source not in sources:
            problems.append(f"equipment {e.id!r}: unknown hazard source {e.hazard_source!r}")
    problems += [f"tag {t.tag!r}: unknown equipment {t.equipment!r}" for t in p.tags if t.equipment not in equipment]
    problems += [f"camera {c.id!r}: unknown zone {c.zone!r}" for c in p.cameras if c.zone and c.zone not in zones]
    addresses: dict[int, str] = {}
    for i, t in enumerate(p.tags):
        addr = t.modbus_address if t.modbus_address is not None else 2 * i
        for a in (addr, addr + 1):
            if a in addresses:
                problems.append(f"tag {t.tag!r}: Modbus register {a} already used by {addresses[a]!r}")
            addresses[a] = t.tag
    return problems


def _format_error(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        out.append(f"{loc}: {msg}" if loc else msg)
    return out


def parse_plant(data: Any, *, source: str = "<memory>") -> Plant:
    """Validate an already-parsed YAML document into a :class:`Plant`."""
    if not isinstance(data, dict):
        raise PlantFileError(source, [f"top level must be a mapping, got {type(data).__name__}"])
    try:
        return Plant.model_validate(data)
    except ValidationError as err:
        raise PlantFileError(source, _format_error(err)) from err


def load_plant(path: Path | str = DEMO_PLANT) -> Plant:
    """Read and validate a plant file; raises :class:`PlantFileError` with every problem.

    A plant file is YAML. One named ``*.json`` is read with the JSON parser instead: JSON is
    a subset of YAML, so it is the same document, and a generated 10,000-tag plant loads in
    a tenth of a second instead of five or more.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PlantFileError(path, [f"cannot read file: {err.strerror or err}"]) from err
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise PlantFileError(path, [f"line {err.lineno}, column {err.colno}: not valid JSON ({err.msg})"]) from err
        return parse_plant(data, source=str(path))
    try:
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise PlantFileError(path, [f"{where}not valid YAML ({getattr(err, 'problem', err)})"]) from err
    return parse_plant(data, source=str(path))
