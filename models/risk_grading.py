"""Risk grading of dual prevention (风险分级): LEC and LS (risk matrix) into four colours.

DOMAIN.md §6 is the source. Both methods multiply factor scores and map the product onto the
four levels 重大 (red) / 较大 (orange) / 一般 (yellow) / 低 (blue). Provinces and enterprises
draw the bands differently, so the bands are data: a :class:`GradingTable` with a version,
and the register stores which version graded each event (a re-grade under a new table is a
visible change, not a silent one).

Examples:
    >>> grade_lec(6, 6, 15).level, grade_lec(6, 6, 15).score
    (<RiskLevel.MAJOR: '重大风险'>, 540.0)
    >>> grade_ls(3, 4).colour
    <RiskColour.YELLOW: 'yellow'>
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "DEFAULT_TABLE",
    "LEC_C",
    "LEC_E",
    "LEC_L",
    "LS_VALUES",
    "Grade",
    "GradingMethod",
    "GradingTable",
    "InvalidFactor",
    "RiskColour",
    "RiskLevel",
    "grade",
    "grade_lec",
    "grade_ls",
    "worst",
]


class RiskLevel(StrEnum):
    """The four risk levels; ``code`` is the exchange's ``riskLevel`` (0 重大 … 3 低)."""

    MAJOR = "重大风险"
    LARGE = "较大风险"
    GENERAL = "一般风险"
    LOW = "低风险"

    @property
    def code(self) -> int:
        """Exchange code: 0 重大, 1 较大, 2 一般, 3 低 (DOMAIN.md §4.1)."""
        return _LEVEL_ORDER.index(self)

    @property
    def colour(self) -> RiskColour:
        """Colour on the four-colour map (风险四色图)."""
        return _COLOURS[self]

    @property
    def management_level(self) -> str:
        """Who controls a risk of this level (分级管控, common practice of DOMAIN.md §6.2)."""
        return _MANAGEMENT[self]


class RiskColour(StrEnum):
    """Colour of the four-colour map."""

    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    BLUE = "blue"


class GradingMethod(StrEnum):
    """How an event is graded."""

    LEC = "LEC"
    LS = "LS"


_LEVEL_ORDER: Final = (RiskLevel.MAJOR, RiskLevel.LARGE, RiskLevel.GENERAL, RiskLevel.LOW)
_COLOURS: Final[Mapping[RiskLevel, RiskColour]] = {
    RiskLevel.MAJOR: RiskColour.RED,
    RiskLevel.LARGE: RiskColour.ORANGE,
    RiskLevel.GENERAL: RiskColour.YELLOW,
    RiskLevel.LOW: RiskColour.BLUE,
}
_MANAGEMENT: Final[Mapping[RiskLevel, str]] = {
    RiskLevel.MAJOR: "公司级（主要负责人）",
    RiskLevel.LARGE: "公司/部门级",
    RiskLevel.GENERAL: "车间级",
    RiskLevel.LOW: "班组/岗位级",
}

# The factor scales of LEC (DOMAIN.md §6.1); a value off the scale is refused, because an
# assessor who types 7 for L has misread the table.
LEC_L: Final = (10.0, 6.0, 3.0, 1.0, 0.5, 0.2, 0.1)
LEC_E: Final = (10.0, 6.0, 3.0, 2.0, 1.0, 0.5)
LEC_C: Final = (100.0, 40.0, 15.0, 7.0, 3.0, 1.0)
LS_VALUES: Final = (1, 2, 3, 4, 5)


class InvalidFactor(ValueError):
    """A factor not on its method's scale."""

    def __init__(self, factor: str, value: float, allowed: tuple[float, ...]) -> None:
        self.factor, self.value = factor, value
        shown = "、".join(f"{a:g}" for a in allowed)
        super().__init__(f"{factor} 取值 {value:g} 不在量表内（可选：{shown}）")


@dataclass(frozen=True, slots=True)
class GradingTable:
    """Versioned band limits: a score strictly above ``*_major`` is 重大, and so on down.

    LEC bands (DOMAIN.md §6.1): D > 320 重大, 160 < D ≤ 320 较大, 70 < D ≤ 160 一般, else 低.
    LS bands (§6.2): R ≥ 20 重大, 15–16 较大, 9–12 一般, 1–8 低; stored as lower bounds.
    """

    version: str
    lec_major_above: float = 320.0
    lec_large_above: float = 160.0
    lec_general_above: float = 70.0
    ls_major_from: int = 20
    ls_large_from: int = 15
    ls_general_from: int = 9


DEFAULT_TABLE: Final = GradingTable(version="2026-12-DOMAIN-6")


@dataclass(frozen=True, slots=True)
class Grade:
    """The result: score, level (with colour and management level) and the table version."""

    method: GradingMethod
    score: float
    level: RiskLevel
    table_version: str

    @property
    def colour(self) -> RiskColour:
        """Colour on the four-colour map."""
        return self.level.colour


def _check(factor: str, value: float, allowed: tuple[float, ...]) -> float:
    if not any(abs(value - a) < 1e-9 for a in allowed):
        raise InvalidFactor(factor, value, allowed)
    return float(value)


def grade_lec(likelihood: float, exposure: float, consequence: float, table: GradingTable = DEFAULT_TABLE) -> Grade:
    """D = L × E × C mapped to a level.

    Raises:
        InvalidFactor: a factor is not on the LEC scale.
    """
    score = (
        _check("L（可能性）", likelihood, LEC_L)
        * _check("E（暴露频繁程度）", exposure, LEC_E)
        * _check("C（后果）", consequence, LEC_C)
    )
    score = round(score, 6)
    if score > table.lec_major_above:
        level = RiskLevel.MAJOR
    elif score > table.lec_large_above:
        level = RiskLevel.LARGE
    elif score > table.lec_general_above:
        level = RiskLevel.GENERAL
    else:
        level = RiskLevel.LOW
    return Grade(GradingMethod.LEC, score, level, table.version)


def grade_ls(likelihood: float, severity: float, table: GradingTable = DEFAULT_TABLE) -> Grade:
    """R = L × S (5 × 5 matrix) mapped to a level.

    Raises:
        InvalidFactor: a factor is not 1–5.
    """
    allowed = tuple(float(v) for v in LS_VALUES)
    score = _check("L（可能性）", likelihood, allowed) * _check("S（严重性）", severity, allowed)
    if score >= table.ls_major_from:
        level = RiskLevel.MAJOR
    elif score >= table.ls_large_from:
        level = RiskLevel.LARGE
    elif score >= table.ls_general_from:
        level = RiskLevel.GENERAL
    else:
        level = RiskLevel.LOW
    return Grade(GradingMethod.LS, score, level, table.version)


def grade(
    method: GradingMethod | str,
    *,
    likelihood: float,
    exposure: float | None = None,
    consequence: float | None = None,
    severity: float | None = None,
    table: GradingTable = DEFAULT_TABLE,
) -> Grade:
    """Grade by ``method``; the factors the method needs must be given.

    Raises:
        InvalidFactor: a factor is missing or off its scale.
    """
    if GradingMethod(method) is GradingMethod.LEC:
        if exposure is None or consequence is None:
            factor = "E（LEC 法必填）" if exposure is None else "C（LEC 法必填）"
            raise InvalidFactor(factor, float("nan"), LEC_E if exposure is None else LEC_C)
        return grade_lec(likelihood, exposure, consequence, table)
    if severity is None:
        factor = "S（LS 法必填）"
        raise InvalidFactor(factor, float("nan"), tuple(float(v) for v in LS_VALUES))
    return grade_ls(likelihood, severity, table)


def worst(levels: list[RiskLevel]) -> RiskLevel | None:
    """The most severe of ``levels`` (a unit takes its worst event's level); None when empty."""
    return min(levels, key=lambda level: level.code) if levels else None
