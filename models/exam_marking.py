"""Automatic marking of training exams (考试自动阅卷): single choice, multiple choice, true/false.

Pure: a question bank entry is a :class:`Question`, a candidate's answers an ``AnswerSheet``
(question id -> answer), and :func:`mark` returns the score with a verdict per question.

Rules, as Chinese safety-training exams mark them:

* 单选 (single): full points for the one right option, else 0;
* 多选 (multiple): full points for exactly the right set, in any order; a strict, non-empty
  subset (少选) earns ``partial_credit`` of the points (default ½); any wrong option (错选)
  earns 0;
* 判断 (true/false): full points for the right truth value;
* an unanswered question, or an answer naming an option the question does not have, earns 0
  and says why; it never raises, since a candidate's slip must not lose the whole paper.

Scores are exact (:class:`fractions.Fraction` inside), so the total is never 99.99999.

Example:
    >>> q = Question("q1", QuestionKind.MULTIPLE, points=4, options=("A", "B", "C", "D"), answer=("A", "C"))
    >>> mark([q], {"q1": ["C", "A"]}).score, mark([q], {"q1": ["A"]}).score, mark([q], {"q1": ["A", "B"]}).score
    (4.0, 2.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

__all__ = [
    "DEFAULT_PARTIAL_CREDIT",
    "AnswerSheet",
    "ExamResult",
    "InvalidQuestion",
    "Question",
    "QuestionKind",
    "QuestionResult",
    "mark",
]

DEFAULT_PARTIAL_CREDIT = Fraction(1, 2)

AnswerSheet = Mapping[str, Any]  # question id -> "A" | ["A", "C"] | True


class QuestionKind(StrEnum):
    """Question types of the bank; the values are what the bank's spreadsheet says."""

    SINGLE = "单选"
    MULTIPLE = "多选"
    TRUE_FALSE = "判断"


class InvalidQuestion(ValueError):
    """A bank entry that cannot be marked (e.g. its answer is not one of its options)."""


@dataclass(frozen=True)
class Question:
    """One question of a paper.

    Attributes:
        id: stable id within the paper.
        kind: single / multiple / true-false.
        points: marks for a right answer (> 0).
        options: option keys, e.g. ``("A", "B", "C", "D")``; empty for true/false.
        answer: the right option key(s); for true/false ``(True,)`` or ``(False,)``.
    """

    id: str
    kind: QuestionKind
    points: int
    options: tuple[str, ...] = ()
    answer: tuple[str | bool, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a question no candidate could answer right, when the paper is made."""
        if self.points <= 0:
            msg = f"题目 {self.id}: 分值须 > 0 / points must be > 0"
            raise InvalidQuestion(msg)
        if self.kind == QuestionKind.TRUE_FALSE:
            if len(self.answer) != 1 or not isinstance(self.answer[0], bool):
                msg = f"题目 {self.id}: 判断题答案须为 true/false / answer must be one bool"
                raise InvalidQuestion(msg)
            return
        if not self.answer or any(a not in self.options for a in self.answer):
            msg = (
                f"题目 {self.id}: 答案 {list(self.answer)} 不在选项 {list(self.options)} 中 / answer not among options"
            )
            raise InvalidQuestion(msg)
        if self.kind == QuestionKind.SINGLE and len(set(self.answer)) != 1:
            msg = f"题目 {self.id}: 单选题只能有一个答案 / single choice needs exactly one answer"
            raise InvalidQuestion(msg)


@dataclass(frozen=True)
class QuestionResult:
    """The verdict on one question: points earned and why."""

    question_id: str
    points: float
    earned: float
    correct: bool
    note: str


@dataclass(frozen=True)
class ExamResult:
    """A marked paper: score out of total, per-question verdicts, pass/fail."""

    score: float
    total: float
    passed: bool
    questions: tuple[QuestionResult, ...]


def _choices(raw: Any, options: set[str]) -> tuple[set[str] | None, str]:
    """The chosen option keys of a choice answer, or None with the reason it is unreadable."""
    if raw is None or raw == "" or raw == []:
        return None, "未作答"
    if isinstance(raw, str):
        # "AC", "A,C" and "A C" are how answers arrive from paper sheets and spreadsheets
        keys = [k.upper() for k in raw.replace(",", " ").replace("，", " ").split() if k]
        if len(keys) == 1 and keys[0] not in options and all(c in options for c in keys[0]):
            keys = list(keys[0])
        return set(keys), ""
    if isinstance(raw, Sequence | set | frozenset) and all(isinstance(k, str) for k in raw):
        return {k.strip().upper() for k in raw}, ""
    return None, f"答案格式无效: {raw!r}"


def _truth(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in {"true", "t", "对", "正确", "√", "是", "1"}:
            return True
        if text in {"false", "f", "错", "错误", "×", "否", "0"}:
            return False
    return None


def _mark_one(question: Question, raw: Any, partial_credit: Fraction) -> tuple[Fraction, str]:
    points = Fraction(question.points)
    if question.kind == QuestionKind.TRUE_FALSE:
        if raw is None or raw == "":
            return Fraction(0), "未作答"
        truth = _truth(raw)
        if truth is None:
            return Fraction(0), "答案格式无效: 判断题应答 对/错"
        return (points, "正确") if truth == question.answer[0] else (Fraction(0), "错误")
    options = {str(o).upper() for o in question.options}
    chosen, problem = _choices(raw, options)
    if chosen is None:
        return Fraction(0), problem
    unknown = sorted(chosen - options)
    if unknown:
        return Fraction(0), f"选项 {'、'.join(unknown)} 不存在"
    right = {str(a).upper() for a in question.answer}
    if chosen == right:
        return points, "正确"
    if question.kind == QuestionKind.MULTIPLE and chosen < right:
        return points * partial_credit, "少选"
    return Fraction(0), "错误" if question.kind == QuestionKind.SINGLE or len(chosen) == 1 else "错选"


def mark(
    questions: Sequence[Question],
    answers: AnswerSheet,
    *,
    pass_mark: float | None = None,
    partial_credit: Fraction = DEFAULT_PARTIAL_CREDIT,
) -> ExamResult:
    """Mark an answer sheet against a paper.

    Args:
        questions: the paper (ids must be unique).
        answers: question id -> answer; choice answers as ``"A"``, ``"AC"``, ``"A,C"`` or
            ``["A", "C"]`` (order irrelevant, case-insensitive); true/false as a bool or
            对/错/√/×. Answers to questions not on the paper are ignored.
        pass_mark: score needed to pass; default 80% of the total (the usual 合格线).
        partial_credit: fraction of the points for a strict subset of a multiple choice.

    Returns:
        The :class:`ExamResult`; ``0 <= score <= total`` always.

    Raises:
        InvalidQuestion: two questions share an id, or ``partial_credit`` is outside [0, 1].
    """
    if not 0 <= partial_credit <= 1:
        msg = f"partial_credit must be within [0, 1], got {partial_credit}"
        raise InvalidQuestion(msg)
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        msg = "试卷中题目编号重复 / duplicate question ids"
        raise InvalidQuestion(msg)
    total = Fraction(sum(q.points for q in questions))
    score = Fraction(0)
    verdicts: list[QuestionResult] = []
    for question in questions:
        earned, note = _mark_one(question, answers.get(question.id), partial_credit)
        score += earned
        verdicts.append(
            QuestionResult(
                question_id=question.id,
                points=float(question.points),
                earned=float(earned),
                correct=earned == question.points,
                note=note,
            )
        )
    needed = Fraction(pass_mark) if pass_mark is not None else total * Fraction(4, 5)
    return ExamResult(score=float(score), total=float(total), passed=score >= needed, questions=tuple(verdicts))
