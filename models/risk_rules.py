"""The versioned, configurable rule table of the real-time risk level (DOMAIN.md §3.3).

No national formula for the real-time risk level of a major hazard source is published, so
the rules are data: each row names one factor, says how far it raises the level (``steps``),
which level it forces at least (``floor``) and, for factors that only move the score inside a
colour band, how many points it may add (``max_points``). The scoring code
(:mod:`models.risk`) decides *whether* a row fires; this table decides *what it does*, so a
plant can tighten or relax a rule without a code change, and every score names the version
of the table that produced it and the rule id of every contribution.

Levels are indexed blue 0, yellow 1, orange 2, red 3. The final level is
``max(inherent + Σ steps, max floor)`` capped at red, exactly DOMAIN.md's "level =
max(inherent, dynamic)" with the dynamic modifiers applied to the inherent level.

Example:
    >>> table = default_table()
    >>> table.rule("GAS.L2").floor
    <RiskLevel.RED: 'red'>
    >>> table.with_overrides({"people_limit": 5}).people_limit
    5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from models.contracts import RiskLevel

LEVEL_ORDER: Final[tuple[RiskLevel, ...]] = (RiskLevel.BLUE, RiskLevel.YELLOW, RiskLevel.ORANGE, RiskLevel.RED)
"""Levels from lowest to highest; a level's index is its position here."""

LEVEL_LABELS: Final[Mapping[RiskLevel, str]] = {
    RiskLevel.RED: "重大风险",
    RiskLevel.ORANGE: "较大风险",
    RiskLevel.YELLOW: "一般风险",
    RiskLevel.BLUE: "低风险",
}

BAND: Final = 25.0
"""Score points per level: the score of a level-``i`` source lies in ``[25 i, 25 i + 25)``."""


def level_index(level: RiskLevel) -> int:
    """Position of ``level`` in :data:`LEVEL_ORDER` (blue 0 … red 3)."""
    return LEVEL_ORDER.index(level)


class RiskRule(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the rule table.

    Attributes:
        id: Stable rule id, the ``factor`` of every contribution it raises.
        label: What the rule means, in Chinese (shown to the user).
        steps: Levels the rule adds to the inherent level when it fires.
        floor: Level the rule forces at least when it fires (``None``: none).
        max_points: For score-only rules: the most points it may add inside the band.
        enabled: A disabled rule never fires (a plant may switch one off, recorded here).
    """

    id: str
    label: str
    steps: int = 0
    floor: RiskLevel | None = None
    max_points: float = 0.0
    enabled: bool = True


class RiskRuleTable(msgspec.Struct, frozen=True, kw_only=True):
    """The whole table plus the numeric parameters of the conditions.

    Attributes:
        version: Named in every stored score, so history says which rules produced it.
        rules: The rows, in evaluation (and display) order.
        alarm_long_ms: A process alarm active this long counts as severe (DOMAIN: N = 30 min).
        repeat_per_hour: A process alarm activated more often than this in an hour is severe.
        gas_near_ratio: A gas reading at or above this share of its first alarm limit (no
            alarm yet) adds score points.
        people_limit: More people than this in the source's area adds score points.
        toxic_beta_raise: A toxic chemical with β at or above this raises the inherent level.
    """

    version: str
    rules: tuple[RiskRule, ...]
    alarm_long_ms: int = 30 * 60_000
    repeat_per_hour: int = 3
    gas_near_ratio: float = 0.5
    people_limit: int = 10
    toxic_beta_raise: float = 5.0

    def rule(self, rule_id: str) -> RiskRule:
        """The row with ``rule_id``.

        Raises:
            KeyError: If the table has no such rule.
        """
        for r in self.rules:
            if r.id == rule_id:
                return r
        msg = f"no risk rule {rule_id!r} in table {self.version}"
        raise KeyError(msg)

    def label(self, rule_id: str) -> str:
        """Chinese label of a rule (the id itself for an unknown one)."""
        try:
            return self.rule(rule_id).label
        except KeyError:
            return rule_id

    def with_overrides(self, changes: Mapping[str, Any]) -> RiskRuleTable:
        """A copy with parameters (or a new ``version``) replaced; validated like a JSON load."""
        data = msgspec.to_builtins(self)
        data.update(changes)
        return msgspec.convert(data, RiskRuleTable)


def load_table(raw: bytes | str) -> RiskRuleTable:
    """Parse a JSON rule table (a plant's own configuration).

    Raises:
        msgspec.ValidationError: If the JSON does not describe a table.
    """
    return msgspec.json.decode(raw, type=RiskRuleTable)


DEFAULT_VERSION: Final = "2026.12-1"

_DEFAULT_RULES: Final = (
    # 1. inherent (固有风险): the GB 18218 grade sets the starting level, see models.risk.
    RiskRule(id="INH.GRADE", label="重大危险源级别（固有风险）"),
    RiskRule(id="INH.PROCESS", label="涉及重点监管危险化工工艺", steps=1),
    RiskRule(id="INH.TOXIC", label="涉及β≥5的有毒气体", steps=1),
    # 2. dynamic modifiers (动态修正)
    RiskRule(id="ALM.PROCESS", label="工艺报警（高/低报）", steps=1),
    RiskRule(id="ALM.SEVERE", label="工艺高高/低低报警、长时报警或频繁报警", steps=1),
    RiskRule(id="GAS.L1", label="可燃/有毒气体一级报警", steps=1),
    RiskRule(id="GAS.L2", label="气体二级报警或多点报警", floor=RiskLevel.RED),
    RiskRule(id="DQ.LOSS", label="监测失效（通讯中断、坏值）", floor=RiskLevel.YELLOW),
    RiskRule(id="WORK.SPECIAL", label="特级动火或受限空间作业", steps=1, floor=RiskLevel.ORANGE),
    RiskRule(id="WORK.GRADE1", label="一级动火、吊装或盲板抽堵作业（固有一般及以下）", steps=1),
    RiskRule(id="SIS.BYPASS", label="安全仪表/联锁摘除或旁路", steps=1),
    RiskRule(id="SIS.BYPASS_ALARM", label="联锁旁路期间存在报警", floor=RiskLevel.RED),
    RiskRule(id="OPS.MODE", label="开停车、试生产或大检修", steps=1),
    RiskRule(id="HID.OVERDUE", label="隐患超期未整改", steps=1),
    RiskRule(id="HID.MAJOR", label="存在未销号重大隐患", floor=RiskLevel.RED),
    RiskRule(id="MGT.OVERDUE", label="巡检/校验超期（管理预警）", floor=RiskLevel.YELLOW),
    # score-only factors: move the score inside the band, never the colour
    RiskRule(id="GAS.NEAR", label="气体浓度接近报警值", max_points=12.0),
    RiskRule(id="PEOPLE", label="区域内人员超过定员", max_points=12.0),
)


def default_table() -> RiskRuleTable:
    """The shipped table (version :data:`DEFAULT_VERSION`), written from DOMAIN.md §3.3."""
    return RiskRuleTable(version=DEFAULT_VERSION, rules=_DEFAULT_RULES)
