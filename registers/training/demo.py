"""Demo training data for ``safetwin demo``: courses, a plan, a session, records, a question bank and a paper."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.exam_marking import QuestionKind
from registers.people import service as people
from registers.training import service
from registers.training.models import Exam, TrainingCourse, TrainingRecord, TrainingType
from registers.training.schemas import (
    CourseCreate,
    ExamCreate,
    Level,
    PlanCreate,
    QuestionCreate,
    RecordCreate,
    SessionCreate,
)

ACTOR = "demo"
BANK = "液氯与甲醇安全"

_COURSES = (
    ("KC-01", "新员工三级安全教育（厂级）", TrainingType.THREE_LEVEL, 24.0),
    ("KC-02", "氯化工艺作业取证培训", TrainingType.CERTIFICATION, 48.0),
    ("KC-03", "液氯泄漏应急处置", TrainingType.ROUTINE, 4.0),
    ("KC-04", "职业病危害因素与防护", TrainingType.OCCUPATIONAL_HEALTH, 2.0),
)

_QUESTIONS = (
    QuestionCreate(
        bank=BANK,
        kind=QuestionKind.SINGLE,
        stem="液氯储罐区应设置哪种气体检测报警仪？",
        option_a="可燃气体",
        option_b="有毒气体 (氯气)",
        option_c="氧气",
        answer="B",
        points=2,
    ),
    QuestionCreate(
        bank=BANK,
        kind=QuestionKind.MULTIPLE,
        stem="氯气泄漏时正确的做法有？",
        option_a="佩戴正压式空气呼吸器",
        option_b="顺风撤离",
        option_c="启动碱液吸收装置",
        option_d="用水直接冲击泄漏点",
        answer="AC",
        points=4,
    ),
    QuestionCreate(
        bank=BANK,
        kind=QuestionKind.TRUE_FALSE,
        stem="甲醇闪点低于常温，属于甲类火灾危险性液体。",
        answer="对",
        points=2,
    ),
    QuestionCreate(
        bank=BANK,
        kind=QuestionKind.SINGLE,
        stem="重大危险源操作负责人履职检查的频次至少为？",
        option_a="每天",
        option_b="每周",
        option_c="每月",
        option_d="每季度",
        answer="B",
        points=2,
    ),
)


def load_training_demo(*, session: Session, today: date) -> int:
    """Courses, one plan and session, records for the demo employees, a bank and a paper; adds what is missing."""
    added = 0
    course_ids: dict[str, int] = {}
    for code, title, kind, hours in _COURSES:
        found = session.scalar(
            select(TrainingCourse).where(TrainingCourse.code == code, TrainingCourse.deleted_at.is_(None))
        )
        if found is None:
            found = service.courses.create(
                session=session, data=CourseCreate(code=code, title=title, training_type=kind, hours=hours), actor=ACTOR
            )
            added += 1
        course_ids[code] = found.id
    if session.scalar(select(TrainingRecord.id).where(TrainingRecord.created_by == ACTOR).limit(1)) is None:
        plan = service.plans.create(
            session=session,
            data=PlanCreate(
                year=today.year,
                title="液氯泄漏应急处置季度培训",
                training_type=TrainingType.ROUTINE,
                course_id=course_ids["KC-03"],
                planned_on=today - timedelta(days=10),
                audience="反应车间、储运车间全体",
                planned_hours=4,
                status="已完成",
            ),
            actor=ACTOR,
        )
        held = service.sessions.create(
            session=session,
            data=SessionCreate(
                title="液氯泄漏应急处置",
                training_type=TrainingType.ROUTINE,
                course_id=course_ids["KC-03"],
                plan_id=plan.id,
                held_on=today - timedelta(days=10),
                hours=4,
                trainer="刘安",
                location="培训室",
            ),
            actor=ACTOR,
        )
        for code in ("E201", "E202", "E101"):
            person = people.get_by_code(session=session, code=code)
            if person is None:
                continue
            service.records.create(
                session=session,
                data=RecordCreate(
                    person_id=person.id,
                    training_type=TrainingType.ROUTINE,
                    title=held.title,
                    trained_on=held.held_on,
                    hours=4,
                    session_id=held.id,
                    score=92,
                    passed=True,
                ),
                actor=ACTOR,
            )
            added += 1
        newcomer = people.get_by_code(session=session, code="E202")
        if newcomer is not None:
            levels: tuple[tuple[Level, int], ...] = (("厂级", 400), ("车间级", 398), ("班组级", 396))
            for level, days in levels:
                service.records.create(
                    session=session,
                    data=RecordCreate(
                        person_id=newcomer.id,
                        training_type=TrainingType.THREE_LEVEL,
                        title=f"三级安全教育（{level}）",
                        trained_on=today - timedelta(days=days),
                        hours=24 if level == "厂级" else 16,
                        level=level,
                        score=88,
                        passed=True,
                    ),
                    actor=ACTOR,
                )
                added += 1
    if session.scalar(select(Exam.id).where(Exam.created_by == ACTOR).limit(1)) is None:
        ids = [service.questions.create(session=session, data=q, actor=ACTOR).id for q in _QUESTIONS]
        service.exams.create(
            session=session,
            data=ExamCreate(
                title="液氯泄漏应急处置考试",
                training_type=TrainingType.ROUTINE,
                course_id=course_ids["KC-03"],
                question_ids=ids,
            ),
            actor=ACTOR,
        )
        added += len(ids) + 1
    return added
