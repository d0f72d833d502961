"""The training registers, exam marking, certificate renewal and the personal training file (一人一档).

Example:
    >>> records.name, exams.name
    ('training_record', 'exam')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.exam_marking import InvalidQuestion, QuestionKind, mark
from registers.framework.service import InvalidInput, RecordNotFound, RegisterError
from registers.people import service as people
from registers.people.models import Person, PersonCertificate
from registers.people.references import ReferencingRegister
from registers.people.schemas import PersonCertificateUpdate
from registers.training.models import (
    Exam,
    ExamAttempt,
    ExamQuestion,
    TrainingCourse,
    TrainingPlan,
    TrainingRecord,
    TrainingSession,
    TrainingType,
)
from registers.training.schemas import (
    COURSE_LABELS,
    EXAM_LABELS,
    PLAN_LABELS,
    QUESTION_LABELS,
    RECORD_LABELS,
    SESSION_LABELS,
    CourseCreate,
    CourseRead,
    CourseUpdate,
    ExamCreate,
    ExamRead,
    ExamUpdate,
    PaperQuestion,
    PaperRead,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    QuestionCreate,
    QuestionRead,
    QuestionUpdate,
    RecordCreate,
    RecordRead,
    RecordUpdate,
    SessionCreate,
    SessionRead,
    SessionUpdate,
    options_of,
    to_question,
)

__all__ = [
    "RenewalRefused",
    "TrainingFile",
    "courses",
    "exams",
    "paper",
    "plans",
    "questions",
    "record_path",
    "records",
    "renew_certificate",
    "sessions",
    "submit_exam",
    "training_file",
]


class RenewalRefused(RegisterError):
    """A training record that cannot renew a certificate (not 取换证, failed, no new date...)."""


courses: ReferencingRegister[TrainingCourse, CourseCreate, CourseUpdate, CourseRead] = ReferencingRegister(
    name="training_course",
    title="培训课程",
    model=TrainingCourse,
    create_schema=CourseCreate,
    update_schema=CourseUpdate,
    read_schema=CourseRead,
    labels=COURSE_LABELS,
    searchable=("code", "title", "content"),
    sortable=("id", "code", "title", "training_type", "hours", "updated_at"),
    filterable=("training_type",),
    unique=("code",),
    default_sort="code",
)

plans: ReferencingRegister[TrainingPlan, PlanCreate, PlanUpdate, PlanRead] = ReferencingRegister(
    name="training_plan",
    title="培训计划",
    model=TrainingPlan,
    create_schema=PlanCreate,
    update_schema=PlanUpdate,
    read_schema=PlanRead,
    labels=PLAN_LABELS,
    searchable=("title", "audience"),
    sortable=("id", "year", "planned_on", "training_type", "status", "updated_at"),
    filterable=("year", "training_type", "status", "course_id", "planned_on"),
    default_sort="planned_on",
    references={"course_id": TrainingCourse},
)

sessions: ReferencingRegister[TrainingSession, SessionCreate, SessionUpdate, SessionRead] = ReferencingRegister(
    name="training_session",
    title="培训实施",
    model=TrainingSession,
    create_schema=SessionCreate,
    update_schema=SessionUpdate,
    read_schema=SessionRead,
    labels=SESSION_LABELS,
    searchable=("title", "trainer", "location"),
    sortable=("id", "held_on", "training_type", "hours", "updated_at"),
    filterable=("training_type", "course_id", "plan_id", "held_on"),
    default_sort="-held_on",
    references={"course_id": TrainingCourse, "plan_id": TrainingPlan},
)

records: ReferencingRegister[TrainingRecord, RecordCreate, RecordUpdate, RecordRead] = ReferencingRegister(
    name="training_record",
    title="培训记录",
    model=TrainingRecord,
    create_schema=RecordCreate,
    update_schema=RecordUpdate,
    read_schema=RecordRead,
    labels=RECORD_LABELS,
    searchable=("title", "remarks"),
    sortable=("id", "person_id", "trained_on", "training_type", "hours", "score", "updated_at"),
    filterable=("person_id", "training_type", "session_id", "level", "passed", "trained_on"),
    describe=lambda r: f"{r.title} ({r.trained_on.isoformat()})",
    default_sort="-trained_on",
    references={"person_id": Person, "session_id": TrainingSession, "renews_certificate_id": PersonCertificate},
)


def _check_question(values: Mapping[str, Any]) -> None:
    try:
        to_question(values, qid="q")
    except (InvalidQuestion, ValueError) as err:
        msg = "answer"
        raise InvalidInput(msg, str(err)) from err


questions: ReferencingRegister[ExamQuestion, QuestionCreate, QuestionUpdate, QuestionRead] = ReferencingRegister(
    name="exam_question",
    title="题库",
    model=ExamQuestion,
    create_schema=QuestionCreate,
    update_schema=QuestionUpdate,
    read_schema=QuestionRead,
    labels=QUESTION_LABELS,
    searchable=("bank", "stem", "explanation"),
    sortable=("id", "bank", "kind", "points", "updated_at"),
    filterable=("bank", "kind"),
    default_sort="id",
    check=_check_question,
)


exams: ReferencingRegister[Exam, ExamCreate, ExamUpdate, ExamRead] = ReferencingRegister(
    name="exam",
    title="试卷",
    model=Exam,
    create_schema=ExamCreate,
    update_schema=ExamUpdate,
    read_schema=ExamRead,
    labels=EXAM_LABELS,
    searchable=("title",),
    sortable=("id", "title", "training_type", "updated_at"),
    filterable=("training_type", "course_id"),
    references={"course_id": TrainingCourse},
)


def _paper_questions(session: Session, exam: Exam) -> list[ExamQuestion]:
    """The exam's live questions in the paper's order; a deleted or unknown id is a clear error."""
    ids = list(dict.fromkeys(exam.question_ids))
    rows = {
        q.id: q
        for q in session.scalars(
            select(ExamQuestion).where(ExamQuestion.id.in_(ids), ExamQuestion.deleted_at.is_(None))
        )
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        msg = "question_ids"
        raise InvalidInput(msg, f"题目 {missing} 不存在或已删除 / unknown questions")
    return [rows[i] for i in ids]


def create_exam(*, session: Session, data: ExamCreate, actor: str | None) -> Exam:
    """Create a paper after checking that every question exists."""
    missing = _missing_questions(session, data.question_ids)
    if missing:
        msg = "question_ids"
        raise InvalidInput(msg, f"题目 {missing} 不存在或已删除 / unknown questions")
    return exams.create(session=session, data=data, actor=actor)


def _missing_questions(session: Session, ids: list[int]) -> list[int]:
    wanted = list(dict.fromkeys(ids))
    found = set(
        session.scalars(select(ExamQuestion.id).where(ExamQuestion.id.in_(wanted), ExamQuestion.deleted_at.is_(None)))
    )
    return [i for i in wanted if i not in found]


def paper(*, session: Session, exam_id: int) -> PaperRead:
    """The paper as a candidate sees it: questions and options, no answers."""
    exam = exams.get(session=session, record_id=exam_id)
    rows = _paper_questions(session, exam)
    return PaperRead(
        exam_id=exam.id,
        title=exam.title,
        total=sum(q.points for q in rows),
        questions=[
            PaperQuestion(
                id=q.id,
                kind=QuestionKind(q.kind),
                stem=q.stem,
                options=options_of(questions.snapshot(q)),
                points=q.points,
            )
            for q in rows
        ],
    )


def submit_exam(
    *, session: Session, exam_id: int, person_id: int, answers: Mapping[str, Any], actor: str | None
) -> ExamAttempt:
    """Mark an answer sheet and keep it as an attempt in the person's file.

    Raises:
        RecordNotFound: unknown exam or person.
        InvalidInput: the paper names a deleted question.
    """
    exam = exams.get(session=session, record_id=exam_id)
    people.persons.get(session=session, record_id=person_id)
    rows = _paper_questions(session, exam)
    paper_questions = [to_question(questions.snapshot(q), qid=str(q.id)) for q in rows]
    result = mark(paper_questions, answers, pass_mark=exam.pass_mark)
    attempt = ExamAttempt(
        exam_id=exam.id,
        person_id=person_id,
        answers=dict(answers),
        score=result.score,
        total=result.total,
        passed=result.passed,
        details=[
            {
                "question_id": int(v.question_id),
                "earned": v.earned,
                "points": v.points,
                "correct": v.correct,
                "note": v.note,
            }
            for v in result.questions
        ],
        submitted_by=actor,
    )
    session.add(attempt)
    session.flush()
    return attempt


def attempts_of(*, session: Session, person_id: int) -> list[ExamAttempt]:
    """The person's marked exams, newest first."""
    stmt = select(ExamAttempt).where(ExamAttempt.person_id == person_id).order_by(ExamAttempt.id.desc())
    return list(session.scalars(stmt))


def renew_certificate(*, session: Session, record_id: int, actor: str | None) -> PersonCertificate:
    """换证: carry a passed 取换证 training's new expiry date onto the certificate (kept in its history).

    Raises:
        RecordNotFound: unknown record or certificate.
        RenewalRefused: the record is not a passed 取换证 training of the certificate's holder
            with a new expiry date later than the current one.
    """
    record = records.get(session=session, record_id=record_id)
    if record.training_type != TrainingType.CERTIFICATION:
        msg = f"只有「{TrainingType.CERTIFICATION.value}」培训可用于换证，本记录为「{record.training_type}」"
        raise RenewalRefused(msg)
    if record.passed is not True:
        msg_0 = "培训考核未合格，不能换证"
        raise RenewalRefused(msg_0)
    if record.renews_certificate_id is None or record.new_expiry_date is None:
        msg_0 = "培训记录未填写换证证书或换证后有效期"
        raise RenewalRefused(msg_0)
    # locked: a concurrent renewal to a later date must not be overwritten by this earlier one
    cert = people.certificates.get_for_change(session=session, record_id=record.renews_certificate_id)
    if cert.person_id != record.person_id:
        msg_0 = "证书不属于该培训人员"
        raise RenewalRefused(msg_0)
    if cert.expiry_date is not None and record.new_expiry_date <= cert.expiry_date:
        msg = f"新有效期 {record.new_expiry_date.isoformat()} 须晚于现有效期 {cert.expiry_date.isoformat()}"
        raise RenewalRefused(msg)
    return people.certificates.update(
        session=session,
        record_id=cert.id,
        data=PersonCertificateUpdate(expiry_date=record.new_expiry_date),
        actor=actor,
    )


def record_path(person_id: int) -> str:
    """The path of a person's training record (一人一档), which the QR code opens."""
    return f"/api/v1/training/people/{person_id}/file"


@dataclass(frozen=True)
class TrainingFile:
    """一人一档: everything about one person's training."""

    person: Person
    certificates: list[PersonCertificate]
    records: list[TrainingRecord]
    attempts: list[ExamAttempt]
    total_hours: float
    hours_by_type: dict[str, float]


def records_of(*, session: Session, person_id: int, training_type: TrainingType | None = None) -> list[TrainingRecord]:
    """The person's live training records (optionally of one type), newest first."""
    stmt = select(TrainingRecord).where(TrainingRecord.person_id == person_id, TrainingRecord.deleted_at.is_(None))
    if training_type is not None:
        stmt = stmt.where(TrainingRecord.training_type == training_type)
    return list(session.scalars(stmt.order_by(TrainingRecord.trained_on.desc(), TrainingRecord.id.desc())))


def training_file(*, session: Session, person_id: int) -> TrainingFile:
    """The person's whole training file.

    Raises:
        RecordNotFound: unknown or deleted person.
    """
    person = people.persons.get(session=session, record_id=person_id)
    rows = records_of(session=session, person_id=person_id)
    by_type: dict[str, float] = defaultdict(float)
    for row in rows:
        by_type[row.training_type] += row.hours
    return TrainingFile(
        person=person,
        certificates=people.certificates_of(session=session, person_id=person_id),
        records=rows,
        attempts=attempts_of(session=session, person_id=person_id),
        total_hours=round(sum(by_type.values()), 2),
        hours_by_type={k: round(v, 2) for k, v in sorted(by_type.items())},
    )


__all__ += ["RecordNotFound", "attempts_of", "create_exam", "records_of"]
