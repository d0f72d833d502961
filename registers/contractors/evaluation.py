"""Contractor evaluation (承包商评价): weighted criteria, a grade, and a veto. Pure.

Each criterion is scored 0–100 by the evaluator; the total is the weighted mean. A fatal
incident (死亡事故) in the period, or a major one, vetoes the evaluation (一票否决): the grade is
不合格 whatever the scores, because no amount of good paperwork outweighs a death on site.

Example:
    >>> r = evaluate({"safety_management": 90, "qualification": 80, "site_performance": 85, "incident_record": 100})
    >>> r.total, r.grade
    (88.5, '良好')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CRITERIA", "GRADES", "Criterion", "EvaluationResult", "evaluate", "grade_for"]


@dataclass(frozen=True)
class Criterion:
    """One evaluation criterion and its weight (weights sum to 1)."""

    key: str
    title: str
    weight: float


CRITERIA: tuple[Criterion, ...] = (
    Criterion("safety_management", "安全管理体系与制度", 0.30),
    Criterion("qualification", "资质与人员持证", 0.20),
    Criterion("site_performance", "现场作业表现", 0.30),
    Criterion("incident_record", "事故与违章记录", 0.20),
)

# Lower bounds, best first: ≥ 90 优秀, ≥ 80 良好, ≥ 60 合格, else 不合格.
GRADES: tuple[tuple[float, str], ...] = ((90.0, "优秀"), (80.0, "良好"), (60.0, "合格"), (0.0, "不合格"))
FAILED = "不合格"


@dataclass(frozen=True)
class EvaluationResult:
    """The weighted total (0–100, two decimals), grade, and veto reason if any."""

    total: float
    grade: str
    vetoed: str | None
    scores: dict[str, float]


def grade_for(total: float) -> str:
    """The grade of a total."""
    return next(name for bound, name in GRADES if total >= bound)


def evaluate(scores: Mapping[str, float], *, veto: str | None = None) -> EvaluationResult:
    """Weighted total and grade of the criterion scores.

    Args:
        scores: criterion key -> 0..100, one for every criterion of :data:`CRITERIA`.
        veto: a reason that forces 不合格 (e.g. "2026-10-03 死亡事故").

    Raises:
        ValueError: a missing or unknown criterion, or a score outside 0..100.
    """
    keys = {c.key for c in CRITERIA}
    unknown = sorted(set(scores) - keys)
    missing = [c.title for c in CRITERIA if c.key not in scores]
    if unknown or missing:
        msg = f"评价项不完整 / missing {missing} unknown {unknown}"
        raise ValueError(msg)
    for key, value in scores.items():
        if not 0 <= value <= 100:
            msg = f"{key}: 得分须在 0–100 / score must be within 0..100, got {value}"
            raise ValueError(msg)
    total = round(sum(c.weight * float(scores[c.key]) for c in CRITERIA), 2)
    total = min(100.0, max(0.0, total))
    grade = FAILED if veto else grade_for(total)
    return EvaluationResult(total=total, grade=grade, vetoed=veto, scores={k: float(v) for k, v in scores.items()})
