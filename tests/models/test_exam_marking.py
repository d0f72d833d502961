"""Automatic exam marking: the rules of a Chinese safety-training paper, and properties that always hold."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.exam_marking import InvalidQuestion, Question, QuestionKind, mark

OPTIONS = ("A", "B", "C", "D")


@st.composite
def questions(draw: st.DrawFn, qid: str) -> Question:
    kind = draw(st.sampled_from(list(QuestionKind)))
    points = draw(st.integers(1, 10))
    if kind == QuestionKind.TRUE_FALSE:
        return Question(qid, kind, points, answer=(draw(st.booleans()),))
    options = OPTIONS[: draw(st.integers(2, 4))]
    if kind == QuestionKind.SINGLE:
        return Question(qid, kind, points, options=options, answer=(draw(st.sampled_from(options)),))
    answer = draw(st.lists(st.sampled_from(options), min_size=1, unique=True))
    return Question(qid, kind, points, options=options, answer=tuple(answer))


@st.composite
def papers(draw: st.DrawFn) -> list[Question]:
    n = draw(st.integers(0, 12))
    return [draw(questions(f"q{i}")) for i in range(n)]


answers_any = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=5),
    st.lists(st.sampled_from([*OPTIONS, "E", "x"]), max_size=5),
    st.integers(),
)


def perfect_sheet(paper: list[Question]) -> dict[str, Any]:
    return {q.id: q.answer[0] if q.kind != QuestionKind.MULTIPLE else list(q.answer) for q in paper}


@given(paper=papers(), data=st.data())
def test_score_is_within_zero_and_total(paper: list[Question], data: st.DataObject) -> None:
    sheet = {q.id: data.draw(answers_any) for q in paper}
    result = mark(paper, sheet)
    assert 0 <= result.score <= result.total == sum(q.points for q in paper)
    assert result.score == pytest.approx(sum(v.earned for v in result.questions))


@given(paper=papers())
def test_a_perfect_sheet_scores_full_marks(paper: list[Question]) -> None:
    result = mark(paper, perfect_sheet(paper))
    assert result.score == result.total
    assert result.passed
    assert all(v.correct for v in result.questions)


@given(paper=papers(), data=st.data())
def test_order_of_multiple_choice_options_is_irrelevant(paper: list[Question], data: st.DataObject) -> None:
    sheet = {q.id: data.draw(st.lists(st.sampled_from(OPTIONS), unique=True)) for q in paper}
    shuffled = {k: data.draw(st.permutations(v)) for k, v in sheet.items()}
    assert mark(paper, sheet) == mark(paper, shuffled)


@given(paper=papers())
def test_an_empty_sheet_scores_zero(paper: list[Question]) -> None:
    result = mark(paper, {})
    assert result.score == 0
    assert all(v.note == "未作答" for v in result.questions)


def test_multiple_choice_partial_and_wrong() -> None:
    q = Question("m", QuestionKind.MULTIPLE, 4, options=OPTIONS, answer=("A", "C"))
    assert mark([q], {"m": "CA"}).score == 4
    assert mark([q], {"m": "a, c"}).score == 4
    assert mark([q], {"m": ["A"]}).questions[0].note == "少选"
    assert mark([q], {"m": ["A"]}).score == 2
    assert mark([q], {"m": ["A"]}, partial_credit=Fraction(0)).score == 0
    assert mark([q], {"m": ["A", "B"]}).questions[0].note == "错选"
    assert mark([q], {"m": ["A", "E"]}).questions[0].note == "选项 E 不存在"


def test_true_false_accepts_the_ways_people_write_it() -> None:
    q = Question("t", QuestionKind.TRUE_FALSE, 2, answer=(True,))
    for right in (True, "对", "√", "正确", "true"):
        assert mark([q], {"t": right}).score == 2
    for wrong in (False, "错", "×"):
        assert mark([q], {"t": wrong}).score == 0
    assert mark([q], {"t": "maybe"}).questions[0].note == "答案格式无效: 判断题应答 对/错"


def test_pass_mark_defaults_to_eighty_percent() -> None:
    paper = [Question(f"q{i}", QuestionKind.SINGLE, 10, options=OPTIONS, answer=("B",)) for i in range(10)]
    eight = {f"q{i}": "B" for i in range(8)}
    seven = {f"q{i}": "B" for i in range(7)}
    assert mark(paper, eight).passed
    assert not mark(paper, seven).passed
    assert mark(paper, seven, pass_mark=60).passed


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": QuestionKind.SINGLE, "points": 1, "options": OPTIONS, "answer": ("E",)},
        {"kind": QuestionKind.SINGLE, "points": 1, "options": OPTIONS, "answer": ("A", "B")},
        {"kind": QuestionKind.TRUE_FALSE, "points": 1, "answer": ("对",)},
        {"kind": QuestionKind.SINGLE, "points": 0, "options": OPTIONS, "answer": ("A",)},
    ],
)
def test_unmarkable_questions_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidQuestion):
        Question("bad", **kwargs)


def test_duplicate_ids_are_refused() -> None:
    q = Question("q", QuestionKind.TRUE_FALSE, 1, answer=(True,))
    with pytest.raises(InvalidQuestion):
        mark([q, q], {})
