"""Schemas of the training registers, exam submission and the personal training file."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.exam_marking import InvalidQuestion, Question, QuestionKind
from registers.framework.schemas import LongText, RegisterRead, Str32, Str64, Str200
from registers.people.schemas import PersonCertificateRead, PersonRead
from registers.training.models import TrainingType

_INT32 = 2**31 - 1
OptionalId = Field(default=None, ge=1, le=_INT32)
Hours = Field(default=0.0, ge=0, le=10_000, description="学时")
PlanStatus = Literal["计划", "已完成", "取消"]
Level = Literal["厂级", "车间级", "班组级"]

COURSE_LABELS = {
    "code": "课程编号",
    "title": "课程名称",
    "training_type": "培训类型",
    "hours": "学时",
    "content": "内容",
}
PLAN_LABELS = {
    "year": "年度",
    "title": "计划名称",
    "training_type": "培训类型",
    "course_id": "课程ID",
    "planned_on": "计划日期",
    "audience": "培训对象",
    "planned_hours": "计划学时",
    "status": "状态",
}
SESSION_LABELS = {
    "title": "培训名称",
    "training_type": "培训类型",
    "course_id": "课程ID",
    "plan_id": "计划ID",
    "held_on": "培训日期",
    "hours": "学时",
    "trainer": "授课人",
    "location": "地点",
}
RECORD_LABELS = {
    "person_id": "人员ID",
    "training_type": "培训类型",
    "title": "培训名称",
    "trained_on": "培训日期",
    "hours": "学时",
    "session_id": "培训场次ID",
    "level": "级别",
    "score": "成绩",
    "passed": "是否合格",
    "renews_certificate_id": "换证证书ID",
    "new_expiry_date": "换证后有效期至",
    "remarks": "备注",
}
QUESTION_LABELS = {
    "bank": "题库",
    "kind": "题型",
    "stem": "题干",
    "option_a": "选项A",
    "option_b": "选项B",
    "option_c": "选项C",
    "option_d": "选项D",
    "option_e": "选项E",
    "answer": "答案",
    "points": "分值",
    "explanation": "解析",
}
EXAM_LABELS = {
    "title": "试卷名称",
    "training_type": "培训类型",
    "course_id": "课程ID",
    "question_ids": "题目ID",
    "pass_mark": "及格分",
}


class CourseCreate(BaseModel):
    """A course."""

    code: Str32 = Field(min_length=1)
    title: Str200 = Field(min_length=1)
    training_type: TrainingType
    hours: float = Hours
    content: LongText | None = None


class CourseUpdate(BaseModel):
    """Fields to change on a course."""

    code: Str32 | None = Field(default=None, min_length=1)
    title: Str200 | None = Field(default=None, min_length=1)
    training_type: TrainingType | None = None
    hours: float | None = Field(default=None, ge=0, le=10_000)
    content: LongText | None = None


class CourseRead(RegisterRead):
    """A course as shown."""

    code: str
    title: str
    training_type: TrainingType
    hours: float
    content: str | None


class PlanCreate(BaseModel):
    """A plan entry."""

    year: int = Field(ge=2000, le=2100)
    title: Str200 = Field(min_length=1)
    training_type: TrainingType
    course_id: int | None = OptionalId
    planned_on: date | None = None
    audience: Str200 | None = None
    planned_hours: float = Hours
    status: PlanStatus = "计划"


class PlanUpdate(BaseModel):
    """Fields to change on a plan entry."""

    year: int | None = Field(default=None, ge=2000, le=2100)
    title: Str200 | None = Field(default=None, min_length=1)
    training_type: TrainingType | None = None
    course_id: int | None = OptionalId
    planned_on: date | None = None
    audience: Str200 | None = None
    planned_hours: float | None = Field(default=None, ge=0, le=10_000)
    status: PlanStatus | None = None


class PlanRead(RegisterRead):
    """A plan entry as shown."""

    year: int
    title: str
    training_type: TrainingType
    course_id: int | None
    planned_on: date | None
    audience: str | None
    planned_hours: float
    status: str


class SessionCreate(BaseModel):
    """A session held."""

    title: Str200 = Field(min_length=1)
    training_type: TrainingType
    course_id: int | None = OptionalId
    plan_id: int | None = OptionalId
    held_on: date
    hours: float = Hours
    trainer: Str64 | None = None
    location: Str200 | None = None


class SessionUpdate(BaseModel):
    """Fields to change on a session."""

    title: Str200 | None = Field(default=None, min_length=1)
    training_type: TrainingType | None = None
    course_id: int | None = OptionalId
    plan_id: int | None = OptionalId
    held_on: date | None = None
    hours: float | None = Field(default=None, ge=0, le=10_000)
    trainer: Str64 | None = None
    location: Str200 | None = None


class SessionRead(RegisterRead):
    """A session as shown."""

    title: str
    training_type: TrainingType
    course_id: int | None
    plan_id: int | None
    held_on: date
    hours: float
    trainer: str | None
    location: str | None


class RecordCreate(BaseModel):
    """One person's training."""

    person_id: int = Field(ge=1, le=_INT32)
    training_type: TrainingType
    title: Str200 = Field(min_length=1)
    trained_on: date
    hours: float = Hours
    session_id: int | None = OptionalId
    level: Level | None = None
    score: float | None = Field(default=None, ge=0, le=1000)
    passed: bool | None = None
    renews_certificate_id: int | None = OptionalId
    new_expiry_date: date | None = None
    remarks: LongText | None = None


class RecordUpdate(BaseModel):
    """Fields to change on a training record."""

    person_id: int | None = OptionalId
    training_type: TrainingType | None = None
    title: Str200 | None = Field(default=None, min_length=1)
    trained_on: date | None = None
    hours: float | None = Field(default=None, ge=0, le=10_000)
    session_id: int | None = OptionalId
    level: Level | None = None
    score: float | None = Field(default=None, ge=0, le=1000)
    passed: bool | None = None
    renews_certificate_id: int | None = OptionalId
    new_expiry_date: date | None = None
    remarks: LongText | None = None


class RecordRead(RegisterRead):
    """A training record as shown."""

    person_id: int
    training_type: TrainingType
    title: str
    trained_on: date
    hours: float
    session_id: int | None
    level: str | None
    score: float | None
    passed: bool | None
    renews_certificate_id: int | None
    new_expiry_date: date | None
    remarks: str | None


Option = Str200 | None
OPTION_FIELDS: dict[str, str] = {"A": "option_a", "B": "option_b", "C": "option_c", "D": "option_d", "E": "option_e"}
_TRUE = {"对", "正确", "√", "true", "t", "是"}
_FALSE = {"错", "错误", "×", "false", "f", "否"}


def to_question(values: Mapping[str, Any], *, qid: str) -> Question:
    """A bank row (model or dict) as a markable :class:`Question`.

    Raises:
        InvalidQuestion: the answer names no option, a 单选 has two answers, a 判断 is not 对/错.
    """
    kind = QuestionKind(values["kind"])
    answer = str(values["answer"]).strip()
    points = int(values.get("points") or 1)
    if kind == QuestionKind.TRUE_FALSE:
        word = answer.lower()
        if word not in _TRUE | _FALSE:
            msg = f"判断题答案须为 对/错，而不是「{answer}」"
            raise InvalidQuestion(msg)
        return Question(qid, kind, points, answer=(word in _TRUE,))
    options = tuple(key for key, name in OPTION_FIELDS.items() if values.get(name))
    keys = tuple(dict.fromkeys(k for k in answer.upper().replace(",", "").replace(" ", "")))
    return Question(qid, kind, points, options=options, answer=keys)


def options_of(values: Mapping[str, Any]) -> dict[str, str]:
    """``{"A": "text", ...}`` of the options a bank row fills."""
    return {key: str(values[name]) for key, name in OPTION_FIELDS.items() if values.get(name)}


class QuestionCreate(BaseModel):
    """A bank question; the answer must name existing options (or be 对/错 for 判断)."""

    bank: Str64 = Field(min_length=1)
    kind: QuestionKind
    stem: LongText = Field(min_length=1)
    option_a: Option = None
    option_b: Option = None
    option_c: Option = None
    option_d: Option = None
    option_e: Option = None
    answer: Str32 = Field(min_length=1, description="A / AC / 对 / 错")
    points: int = Field(default=1, ge=1, le=100)
    explanation: LongText | None = None

    @model_validator(mode="after")
    def _markable(self) -> QuestionCreate:
        to_question(self.model_dump(), qid="new")  # refuses an answer that is not among the options
        return self


class QuestionUpdate(BaseModel):
    """Fields to change on a question (checked again as a whole by the service)."""

    bank: Str64 | None = Field(default=None, min_length=1)
    kind: QuestionKind | None = None
    stem: LongText | None = Field(default=None, min_length=1)
    option_a: Option = None
    option_b: Option = None
    option_c: Option = None
    option_d: Option = None
    option_e: Option = None
    answer: Str32 | None = Field(default=None, min_length=1)
    points: int | None = Field(default=None, ge=1, le=100)
    explanation: LongText | None = None


class QuestionRead(RegisterRead):
    """A question as shown to a safety manager (with the answer)."""

    bank: str
    kind: QuestionKind
    stem: str
    option_a: str | None
    option_b: str | None
    option_c: str | None
    option_d: str | None
    option_e: str | None
    answer: str
    points: int
    explanation: str | None


class ExamCreate(BaseModel):
    """An exam paper."""

    title: Str200 = Field(min_length=1)
    training_type: TrainingType
    course_id: int | None = OptionalId
    question_ids: list[int] = Field(min_length=1, max_length=500)
    pass_mark: float | None = Field(default=None, ge=0, le=10_000)


class ExamUpdate(BaseModel):
    """Fields to change on a paper."""

    title: Str200 | None = Field(default=None, min_length=1)
    training_type: TrainingType | None = None
    course_id: int | None = OptionalId
    question_ids: list[int] | None = Field(default=None, min_length=1, max_length=500)
    pass_mark: float | None = Field(default=None, ge=0, le=10_000)


class ExamRead(RegisterRead):
    """A paper as shown."""

    title: str
    training_type: TrainingType
    course_id: int | None
    question_ids: list[int]
    pass_mark: float | None


class PaperQuestion(BaseModel):
    """A question as a candidate sees it (no answer)."""

    id: int
    kind: QuestionKind
    stem: str
    options: dict[str, str]
    points: int


class PaperRead(BaseModel):
    """The paper to sit."""

    exam_id: int
    title: str
    total: int
    questions: list[PaperQuestion]


class ExamSubmit(BaseModel):
    """An answer sheet: question id (as text) -> "A" / ["A","C"] / true / "对"."""

    person_id: int = Field(ge=1, le=_INT32)
    answers: dict[Str32, str | bool | list[Str32] | None]


class AttemptRead(BaseModel):
    """A marked answer sheet."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    exam_id: int
    person_id: int
    score: float
    total: float
    passed: bool
    details: list[dict[str, Any]]
    submitted_by: str | None
    submitted_at: datetime


class TrainingFileRead(BaseModel):
    """一人一档: the person, certificates, trainings, exam results, hours by type."""

    person: PersonRead
    certificates: list[PersonCertificateRead]
    records: list[RecordRead]
    attempts: list[AttemptRead]
    total_hours: float
    hours_by_type: dict[str, float]
    record_url: str
