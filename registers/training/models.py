"""Tables of the training register: courses, plans, sessions, records, question bank, exams, attempts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime, utcnow
from registers.framework.models import RegisterMixin


class TrainingType(StrEnum):
    """Training types the ledgers are queried by; the values are what people call them."""

    CERTIFICATION = "取换证"  # 取证/换证/复审 training for 安全资格证 and 特种作业操作证
    FOUR_NEW = "四新"  # new process, technology, material, equipment
    THREE_LEVEL = "三级教育"  # 厂级/车间级/班组级 induction
    TRANSFER = "转岗"
    RETURN = "复岗"
    OCCUPATIONAL_HEALTH = "职业健康"
    ROUTINE = "日常"


class TrainingCourse(RegisterMixin, Base):
    """A course (课程) that sessions teach and exams test."""

    __tablename__ = "training_courses"

    code: Mapped[str] = mapped_column(String(32), index=True, comment="课程编号")
    title: Mapped[str] = mapped_column(String(200), comment="课程名称")
    training_type: Mapped[str] = mapped_column(String(16), index=True, comment="培训类型")
    hours: Mapped[float] = mapped_column(Float, default=0.0, comment="学时")
    content: Mapped[str | None] = mapped_column(Text, comment="内容")


class TrainingPlan(RegisterMixin, Base):
    """A planned training (培训计划) of the year's plan."""

    __tablename__ = "training_plans"

    year: Mapped[int] = mapped_column(Integer, index=True, comment="年度")
    title: Mapped[str] = mapped_column(String(200), comment="计划名称")
    training_type: Mapped[str] = mapped_column(String(16), index=True, comment="培训类型")
    course_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("training_courses.id"), comment="课程ID")
    planned_on: Mapped[date | None] = mapped_column(Date, index=True, comment="计划日期")
    audience: Mapped[str | None] = mapped_column(String(200), comment="培训对象")
    planned_hours: Mapped[float] = mapped_column(Float, default=0.0, comment="计划学时")
    status: Mapped[str] = mapped_column(String(8), default="计划", comment="状态: 计划/已完成/取消")


class TrainingSession(RegisterMixin, Base):
    """A session held (培训实施): when, who taught, how long."""

    __tablename__ = "training_sessions"

    title: Mapped[str] = mapped_column(String(200), comment="培训名称")
    training_type: Mapped[str] = mapped_column(String(16), index=True, comment="培训类型")
    course_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("training_courses.id"), comment="课程ID")
    plan_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("training_plans.id"), comment="计划ID")
    held_on: Mapped[date] = mapped_column(Date, index=True, comment="培训日期")
    hours: Mapped[float] = mapped_column(Float, default=0.0, comment="学时")
    trainer: Mapped[str | None] = mapped_column(String(64), comment="授课人")
    location: Mapped[str | None] = mapped_column(String(200), comment="地点")


class TrainingRecord(RegisterMixin, Base):
    """One person's participation in one training (一人一档's entries), with result and renewal."""

    __tablename__ = "training_records"

    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"), index=True, comment="人员ID")
    training_type: Mapped[str] = mapped_column(String(16), index=True, comment="培训类型")
    title: Mapped[str] = mapped_column(String(200), comment="培训名称")
    trained_on: Mapped[date] = mapped_column(Date, index=True, comment="培训日期")
    hours: Mapped[float] = mapped_column(Float, default=0.0, comment="学时")
    session_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("training_sessions.id"), comment="培训场次ID")
    level: Mapped[str | None] = mapped_column(String(16), comment="三级教育级别: 厂级/车间级/班组级")
    score: Mapped[float | None] = mapped_column(Float, comment="成绩")
    passed: Mapped[bool | None] = mapped_column(Boolean, comment="是否合格")
    renews_certificate_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("person_certificates.id"), comment="换证: 人员证书ID"
    )
    new_expiry_date: Mapped[date | None] = mapped_column(Date, comment="换证后有效期至")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")


class ExamQuestion(RegisterMixin, Base):
    """A question of the bank (题库), in the columns a question-bank spreadsheet has."""

    __tablename__ = "exam_questions"

    bank: Mapped[str] = mapped_column(String(64), index=True, comment="题库")
    kind: Mapped[str] = mapped_column(String(8), comment="题型: 单选/多选/判断")
    stem: Mapped[str] = mapped_column(Text, comment="题干")
    option_a: Mapped[str | None] = mapped_column(String(200), comment="选项A")
    option_b: Mapped[str | None] = mapped_column(String(200), comment="选项B")
    option_c: Mapped[str | None] = mapped_column(String(200), comment="选项C")
    option_d: Mapped[str | None] = mapped_column(String(200), comment="选项D")
    option_e: Mapped[str | None] = mapped_column(String(200), comment="选项E")
    answer: Mapped[str] = mapped_column(String(16), comment="答案: A / AC / 对 / 错")
    points: Mapped[int] = mapped_column(Integer, default=1, comment="分值")
    explanation: Mapped[str | None] = mapped_column(Text, comment="解析")


class Exam(RegisterMixin, Base):
    """An exam paper (试卷): which questions, pass mark."""

    __tablename__ = "exams"

    title: Mapped[str] = mapped_column(String(200), comment="试卷名称")
    training_type: Mapped[str] = mapped_column(String(16), index=True, comment="培训类型")
    course_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("training_courses.id"), comment="课程ID")
    question_ids: Mapped[list[int]] = mapped_column(JSON, default=list, comment="题目ID")
    pass_mark: Mapped[float | None] = mapped_column(Float, comment="及格分 (默认总分80%)")


class ExamAttempt(Base):
    """A marked answer sheet (考试成绩). Immutable: a re-sit is a new attempt."""

    __tablename__ = "exam_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(Integer, ForeignKey("exams.id"), index=True, comment="试卷ID")
    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"), index=True, comment="人员ID")
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, comment="{question id: answer}")
    score: Mapped[float] = mapped_column(Float, comment="得分")
    total: Mapped[float] = mapped_column(Float, comment="总分")
    passed: Mapped[bool] = mapped_column(Boolean, comment="是否及格")
    details: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, comment="逐题判分")
    submitted_by: Mapped[str | None] = mapped_column(String(64), comment="提交人")
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, comment="提交时间")
