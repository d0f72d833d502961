"""Pure rules of the equipment register (设备设施): hierarchical codes, due dates, flags.

Kept free of the database so the rules can be listed, reviewed and property-tested, and the
register, the import and the API all apply exactly the same ones.

Equipment codes are hierarchical: a node's code is its parent's code, a dot, and its own
segment, so the level of a node and its parent can be read off the code alone, and a code is
unique across the whole tree by construction of the prefix rule plus one unique index::

    DEMO                          厂区  (site)       segment [A-Z][A-Z0-9]{1,11}
    DEMO.TANK_FARM                装置  (unit)       segment [A-Z][A-Z0-9_]{1,23}
    DEMO.TANK_FARM.V-101          设备  (equipment)  segment 位号 such as V-101, WH-501, P-401A
    DEMO.TANK_FARM.V-101.PSV-101A 部件  (component)  segment such as PSV-101A, RD-301, M1

Where a node is also in the plant model its ``plant_id`` (``demo``, ``tank_farm``, ``V-101``)
upper-cased must equal its code's last segment, so the register and the twin name one thing
the same way.

Examples:
    >>> parse_code("DEMO.TANK_FARM.V-101")
    CodeParts(level=<Level.EQUIPMENT: 'equipment'>, parent='DEMO.TANK_FARM', segment='V-101')
    >>> check_code("DEMO.tank_farm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    models.equipment_rules.CodeError: 装置编码段「tank_farm」不符合规则 [A-Z][A-Z0-9_]{1,23} (e.g. TANK_FARM) ...
    >>> next_due(date(2026, 3, 1), 365)
    datetime.date(2027, 3, 1)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

__all__ = [
    "CODE_MAX_LENGTH",
    "DEFAULT_CALIBRATION_INTERVAL_DAYS",
    "DEFAULT_REPLACEMENT_INTERVAL_DAYS",
    "SEGMENT_PATTERNS",
    "SEPARATOR",
    "CodeError",
    "CodeParts",
    "Level",
    "bypass_overrun",
    "check_code",
    "check_plant_id",
    "child_code",
    "is_below_min_stock",
    "next_due",
    "parse_code",
    "pdm_priority",
]

SEPARATOR = "."
CODE_MAX_LENGTH = 64

# A safety valve is calibrated at least once a year (TSG ZF001 / TSG 21: 安全阀一般每年至少校验一次);
# a plant may set a shorter interval per valve.
DEFAULT_CALIBRATION_INTERVAL_DAYS = 365
# Rupture discs: replaced on a fixed interval set by the user from medium and temperature
# (GB 567 leaves it to the user, usually 1–3 years); chlorine and other corrosive service is
# usually yearly, so the conservative year is the default.
DEFAULT_REPLACEMENT_INTERVAL_DAYS = 365


class CodeError(ValueError):
    """A code that breaks the coding rules; the message says which rule, in Chinese and English."""


class Level(StrEnum):
    """Levels of the equipment tree, top down (厂区 → 装置 → 设备 → 部件)."""

    SITE = "site"
    UNIT = "unit"
    EQUIPMENT = "equipment"
    COMPONENT = "component"

    @property
    def label(self) -> str:
        """Chinese name of the level."""
        return _LEVEL_LABELS[self]

    @property
    def depth(self) -> int:
        """1 for a site … 4 for a component (the number of code segments)."""
        return _LEVELS.index(self) + 1

    @property
    def parent(self) -> Level | None:
        """The level a node of this level hangs under; None for a site."""
        return _LEVELS[self.depth - 2] if self.depth > 1 else None


_LEVELS: tuple[Level, ...] = (Level.SITE, Level.UNIT, Level.EQUIPMENT, Level.COMPONENT)
_LEVEL_LABELS: Mapping[Level, str] = {
    Level.SITE: "厂区",
    Level.UNIT: "装置",
    Level.EQUIPMENT: "设备",
    Level.COMPONENT: "部件",
}

# Segment pattern and an example per level (the example goes into error messages).
SEGMENT_PATTERNS: Mapping[Level, tuple[str, str]] = {
    Level.SITE: (r"[A-Z][A-Z0-9]{1,11}", "DEMO"),
    Level.UNIT: (r"[A-Z][A-Z0-9_]{1,23}", "TANK_FARM"),
    Level.EQUIPMENT: (r"[A-Z]{1,4}-[0-9]{2,4}[A-Z]?", "V-101"),
    Level.COMPONENT: (r"[A-Z][A-Z0-9]{0,5}(-[A-Z0-9]{1,8})?", "PSV-101A"),
}
_COMPILED: Mapping[Level, re.Pattern[str]] = {lvl: re.compile(p) for lvl, (p, _) in SEGMENT_PATTERNS.items()}


@dataclass(frozen=True)
class CodeParts:
    """What a valid code says about its node: level, parent code (None for a site), own segment."""

    level: Level
    parent: str | None
    segment: str


def parse_code(code: str) -> CodeParts:
    """Level, parent code and segment of a hierarchical code, checking every rule.

    Raises:
        CodeError: empty, too long, too many levels, or a segment that breaks its level's pattern.
    """
    if not code:
        msg = "设备编码不能为空 / code must not be empty"
        raise CodeError(msg)
    if len(code) > CODE_MAX_LENGTH:
        msg = f"设备编码超过 {CODE_MAX_LENGTH} 个字符 / code longer than {CODE_MAX_LENGTH} characters"
        raise CodeError(msg)
    segments = code.split(SEPARATOR)
    if len(segments) > len(_LEVELS):
        msg = (
            f"设备编码最多 {len(_LEVELS)} 级 (厂区.装置.设备.部件)，「{code}」有 {len(segments)} 级"
            f" / at most {len(_LEVELS)} levels"
        )
        raise CodeError(msg)
    for depth, segment in enumerate(segments):
        level = _LEVELS[depth]
        pattern, example = SEGMENT_PATTERNS[level]
        if not _COMPILED[level].fullmatch(segment):
            msg = (
                f"{level.label}编码段「{segment}」不符合规则 {pattern} (e.g. {example})"
                f" / {level.value} segment {segment!r} does not match"
            )
            raise CodeError(msg)
    level = _LEVELS[len(segments) - 1]
    parent = SEPARATOR.join(segments[:-1]) or None
    return CodeParts(level=level, parent=parent, segment=segments[-1])


def check_code(code: str, *, level: Level | None = None, parent: str | None = None) -> CodeParts:
    """:func:`parse_code`, plus the expected level and parent when the caller knows them.

    Raises:
        CodeError: a broken rule, or a level or parent other than the expected one.
    """
    parts = parse_code(code)
    if level is not None and parts.level is not level:
        msg = (
            f"「{code}」是{parts.level.label}级编码，应为{level.label}级"
            f" / code is at level {parts.level.value}, expected {level.value}"
        )
        raise CodeError(msg)
    if parent is not None and parts.parent != parent:
        msg = f"「{code}」须以上级编码「{parent}.」开头 / code must start with its parent's code {parent!r}"
        raise CodeError(msg)
    return parts


def child_code(parent: str, segment: str) -> str:
    """The code of ``segment`` under ``parent``, checked.

    Raises:
        CodeError: the result breaks a rule (e.g. a fifth level).
    """
    code = f"{parent}{SEPARATOR}{segment}"
    check_code(code, parent=parent)
    return code


def check_plant_id(code: str, plant_id: str | None) -> None:
    """The plant-model id of a node, upper-cased, must equal the code's last segment.

    Raises:
        CodeError: they differ (``V-101`` filed under ``...V-102`` would show the wrong tank).
    """
    if plant_id is None:
        return
    segment = code.rsplit(SEPARATOR, 1)[-1]
    if plant_id.upper() != segment:
        msg = (
            f"数字孪生编号「{plant_id}」与设备编码末段「{segment}」不一致"
            f" / plant_id {plant_id!r} does not match the code's last segment {segment!r}"
        )
        raise CodeError(msg)


def next_due(done_on: date, interval_days: int) -> date:
    """The next due date of a periodic task (calibration, replacement) done on ``done_on``.

    Raises:
        ValueError: a non-positive interval.
    """
    if interval_days <= 0:
        msg = f"周期须大于 0 天 / interval must be positive, got {interval_days}"
        raise ValueError(msg)
    return done_on + timedelta(days=interval_days)


def bypass_overrun(
    *, planned_end: datetime | None, started_at: datetime | None, ended_at: datetime | None, now: datetime
) -> bool:
    """Whether an interlock bypass ran, or still runs, past its approved window (超期旁路).

    A bypass that never started cannot overrun; an open one overruns once ``now`` passes the
    approved end; a closed one overran if it was closed after the approved end.
    """
    if started_at is None or planned_end is None:
        return False
    end = ended_at if ended_at is not None else now
    return end > planned_end


def is_below_min_stock(stock: float, min_stock: float | None) -> bool:
    """Whether a spare part's stock is below its minimum (低于最低库存) and must be reordered."""
    return min_stock is not None and stock < min_stock


def pdm_priority(*, health: float, rul_days: float | None) -> str:
    """Work-order priority from a PdM prediction: ``urgent`` / ``high`` / ``normal``.

    Urgent when the asset has less than a week left or health below 0.3 (stop-and-fix); high
    within a month or below 0.6 (plan it into the next maintenance window); normal otherwise.
    """
    if (rul_days is not None and rul_days < 7) or health < 0.3:
        return "urgent"
    if (rul_days is not None and rul_days < 30) or health < 0.6:
        return "high"
    return "normal"
