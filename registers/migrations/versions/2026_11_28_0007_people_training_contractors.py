"""people (企业人员/第三方人员), training (培训管理) and contractors (承包商)

Revision ID: 2026_11_28_0007
Revises: 2026_11_28_0001
Created: 2026-11-28 00:07:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_28_0007"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contractors",
        sa.Column("credit_code", sa.String(length=32), nullable=False, comment="统一社会信用代码"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="单位名称"),
        sa.Column("legal_representative", sa.String(length=64), nullable=True, comment="法定代表人"),
        sa.Column("contact_person", sa.String(length=64), nullable=True, comment="联系人"),
        sa.Column("phone", sa.String(length=32), nullable=True, comment="联系电话"),
        sa.Column("scope", sa.Text(), nullable=True, comment="承包范围"),
        sa.Column("qualification_level", sa.String(length=64), nullable=True, comment="资质等级"),
        sa.Column("admission_valid_until", sa.Date(), nullable=True, comment="准入有效期至"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("status", sa.String(length=16), nullable=False, comment="状态 (workflow)"),
        sa.Column("blacklist_reason", sa.Text(), nullable=True, comment="列入黑名单原因"),
        sa.Column("blacklisted_at", sa.DateTime(timezone=True), nullable=True, comment="列入黑名单时间"),
        sa.Column("last_score", sa.Float(), nullable=True, comment="最近评价得分"),
        sa.Column("last_grade", sa.String(length=16), nullable=True, comment="最近评价等级"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractors")),
    )
    op.create_index(
        op.f("ix_contractors_admission_valid_until"), "contractors", ["admission_valid_until"], unique=False
    )
    op.create_index(op.f("ix_contractors_credit_code"), "contractors", ["credit_code"], unique=False)
    op.create_index(op.f("ix_contractors_deleted_at"), "contractors", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_contractors_status"), "contractors", ["status"], unique=False)

    op.create_table(
        "exam_questions",
        sa.Column("bank", sa.String(length=64), nullable=False, comment="题库"),
        sa.Column("kind", sa.String(length=8), nullable=False, comment="题型: 单选/多选/判断"),
        sa.Column("stem", sa.Text(), nullable=False, comment="题干"),
        sa.Column("option_a", sa.String(length=200), nullable=True, comment="选项A"),
        sa.Column("option_b", sa.String(length=200), nullable=True, comment="选项B"),
        sa.Column("option_c", sa.String(length=200), nullable=True, comment="选项C"),
        sa.Column("option_d", sa.String(length=200), nullable=True, comment="选项D"),
        sa.Column("option_e", sa.String(length=200), nullable=True, comment="选项E"),
        sa.Column("answer", sa.String(length=16), nullable=False, comment="答案: A / AC / 对 / 错"),
        sa.Column("points", sa.Integer(), nullable=False, comment="分值"),
        sa.Column("explanation", sa.Text(), nullable=True, comment="解析"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_questions")),
    )
    op.create_index(op.f("ix_exam_questions_bank"), "exam_questions", ["bank"], unique=False)
    op.create_index(op.f("ix_exam_questions_deleted_at"), "exam_questions", ["deleted_at"], unique=False)

    op.create_table(
        "training_courses",
        sa.Column("code", sa.String(length=32), nullable=False, comment="课程编号"),
        sa.Column("title", sa.String(length=200), nullable=False, comment="课程名称"),
        sa.Column("training_type", sa.String(length=16), nullable=False, comment="培训类型"),
        sa.Column("hours", sa.Float(), nullable=False, comment="学时"),
        sa.Column("content", sa.Text(), nullable=True, comment="内容"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_courses")),
    )
    op.create_index(op.f("ix_training_courses_code"), "training_courses", ["code"], unique=False)
    op.create_index(op.f("ix_training_courses_deleted_at"), "training_courses", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_training_courses_training_type"), "training_courses", ["training_type"], unique=False)

    op.create_table(
        "contractor_documents",
        sa.Column("contractor_id", sa.Integer(), nullable=False, comment="承包商ID"),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="文件类型"),
        sa.Column("number", sa.String(length=64), nullable=True, comment="编号"),
        sa.Column("title", sa.String(length=200), nullable=True, comment="名称"),
        sa.Column("issuer", sa.String(length=200), nullable=True, comment="发证机关 / 签订方"),
        sa.Column("signed_on", sa.Date(), nullable=True, comment="发证 / 签订日期"),
        sa.Column("expiry_date", sa.Date(), nullable=True, comment="有效期至"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["contractors.id"], name=op.f("fk_contractor_documents_contractor_id_contractors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractor_documents")),
    )
    op.create_index(
        op.f("ix_contractor_documents_contractor_id"), "contractor_documents", ["contractor_id"], unique=False
    )
    op.create_index(op.f("ix_contractor_documents_deleted_at"), "contractor_documents", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_contractor_documents_expiry_date"), "contractor_documents", ["expiry_date"], unique=False)
    op.create_index(op.f("ix_contractor_documents_kind"), "contractor_documents", ["kind"], unique=False)

    op.create_table(
        "contractor_evaluations",
        sa.Column("contractor_id", sa.Integer(), nullable=False, comment="承包商ID"),
        sa.Column("period", sa.String(length=32), nullable=False, comment="评价周期, e.g. 2026Q4"),
        sa.Column("evaluated_on", sa.Date(), nullable=False, comment="评价日期"),
        sa.Column("scores", sa.JSON(), nullable=False, comment="{criterion: 0–100}"),
        sa.Column("total", sa.Float(), nullable=False, comment="加权总分"),
        sa.Column("grade", sa.String(length=16), nullable=False, comment="等级"),
        sa.Column("vetoed", sa.Text(), nullable=True, comment="一票否决原因"),
        sa.Column("evaluator", sa.String(length=64), nullable=True, comment="评价人"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["contractors.id"], name=op.f("fk_contractor_evaluations_contractor_id_contractors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractor_evaluations")),
    )
    op.create_index(
        op.f("ix_contractor_evaluations_contractor_id"), "contractor_evaluations", ["contractor_id"], unique=False
    )
    op.create_index(
        op.f("ix_contractor_evaluations_deleted_at"), "contractor_evaluations", ["deleted_at"], unique=False
    )

    op.create_table(
        "contractor_tools",
        sa.Column("contractor_id", sa.Integer(), nullable=False, comment="承包商ID"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="名称"),
        sa.Column("model", sa.String(length=64), nullable=True, comment="型号"),
        sa.Column("number", sa.String(length=64), nullable=True, comment="编号"),
        sa.Column("inspection_due", sa.Date(), nullable=True, comment="下次检验日期"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["contractors.id"], name=op.f("fk_contractor_tools_contractor_id_contractors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractor_tools")),
    )
    op.create_index(op.f("ix_contractor_tools_contractor_id"), "contractor_tools", ["contractor_id"], unique=False)
    op.create_index(op.f("ix_contractor_tools_deleted_at"), "contractor_tools", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_contractor_tools_inspection_due"), "contractor_tools", ["inspection_due"], unique=False)

    op.create_table(
        "contractor_violations",
        sa.Column("contractor_id", sa.Integer(), nullable=False, comment="承包商ID"),
        sa.Column("kind", sa.String(length=8), nullable=False, comment="类型: 违章 / 事故"),
        sa.Column("occurred_on", sa.Date(), nullable=False, comment="发生日期"),
        sa.Column("person_name", sa.String(length=64), nullable=True, comment="当事人"),
        sa.Column("severity", sa.String(length=8), nullable=False, comment="严重程度"),
        sa.Column("description", sa.Text(), nullable=False, comment="经过"),
        sa.Column("penalty_points", sa.Integer(), nullable=False, comment="扣分"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["contractors.id"], name=op.f("fk_contractor_violations_contractor_id_contractors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contractor_violations")),
    )
    op.create_index(
        op.f("ix_contractor_violations_contractor_id"), "contractor_violations", ["contractor_id"], unique=False
    )
    op.create_index(op.f("ix_contractor_violations_deleted_at"), "contractor_violations", ["deleted_at"], unique=False)
    op.create_index(
        op.f("ix_contractor_violations_occurred_on"), "contractor_violations", ["occurred_on"], unique=False
    )

    op.create_table(
        "exams",
        sa.Column("title", sa.String(length=200), nullable=False, comment="试卷名称"),
        sa.Column("training_type", sa.String(length=16), nullable=False, comment="培训类型"),
        sa.Column("course_id", sa.Integer(), nullable=True, comment="课程ID"),
        sa.Column("question_ids", sa.JSON(), nullable=False, comment="题目ID"),
        sa.Column("pass_mark", sa.Float(), nullable=True, comment="及格分 (默认总分80%)"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["training_courses.id"], name=op.f("fk_exams_course_id_training_courses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exams")),
    )
    op.create_index(op.f("ix_exams_deleted_at"), "exams", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_exams_training_type"), "exams", ["training_type"], unique=False)

    op.create_table(
        "people",
        sa.Column("code", sa.String(length=32), nullable=False, comment="人员编号 / 工号"),
        sa.Column("name", sa.String(length=64), nullable=False, comment="姓名"),
        sa.Column("category", sa.String(length=16), nullable=False, comment="人员类别 (PersonCategory)"),
        sa.Column("employer", sa.String(length=200), nullable=True, comment="所属单位 (third parties)"),
        sa.Column("contractor_id", sa.Integer(), nullable=True, comment="承包商 (承包商人员)"),
        sa.Column("department", sa.String(length=64), nullable=True, comment="部门 / 车间"),
        sa.Column("position", sa.String(length=64), nullable=True, comment="岗位"),
        sa.Column("phone", sa.String(length=32), nullable=True, comment="电话"),
        sa.Column(
            "full_time_safety",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
            comment="专职安全生产管理人员",
        ),
        sa.Column("principal", sa.Boolean(), server_default=sa.false(), nullable=False, comment="主要负责人"),
        sa.Column("special_operation", sa.String(length=64), nullable=True, comment="特种作业类别 (岗位要求)"),
        sa.Column("hired_on", sa.Date(), nullable=True, comment="入职 / 入场日期"),
        sa.Column("visit_until", sa.Date(), nullable=True, comment="准入截止 (访客/第三方)"),
        sa.Column("status", sa.String(length=8), nullable=False, comment="状态"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["contractors.id"], name=op.f("fk_people_contractor_id_contractors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_index(op.f("ix_people_category"), "people", ["category"], unique=False)
    op.create_index(op.f("ix_people_code"), "people", ["code"], unique=False)
    op.create_index(op.f("ix_people_contractor_id"), "people", ["contractor_id"], unique=False)
    op.create_index(op.f("ix_people_deleted_at"), "people", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_people_name"), "people", ["name"], unique=False)

    op.create_table(
        "training_plans",
        sa.Column("year", sa.Integer(), nullable=False, comment="年度"),
        sa.Column("title", sa.String(length=200), nullable=False, comment="计划名称"),
        sa.Column("training_type", sa.String(length=16), nullable=False, comment="培训类型"),
        sa.Column("course_id", sa.Integer(), nullable=True, comment="课程ID"),
        sa.Column("planned_on", sa.Date(), nullable=True, comment="计划日期"),
        sa.Column("audience", sa.String(length=200), nullable=True, comment="培训对象"),
        sa.Column("planned_hours", sa.Float(), nullable=False, comment="计划学时"),
        sa.Column("status", sa.String(length=8), nullable=False, comment="状态: 计划/已完成/取消"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["training_courses.id"], name=op.f("fk_training_plans_course_id_training_courses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_plans")),
    )
    op.create_index(op.f("ix_training_plans_deleted_at"), "training_plans", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_training_plans_planned_on"), "training_plans", ["planned_on"], unique=False)
    op.create_index(op.f("ix_training_plans_training_type"), "training_plans", ["training_type"], unique=False)
    op.create_index(op.f("ix_training_plans_year"), "training_plans", ["year"], unique=False)

    op.create_table(
        "exam_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False, comment="试卷ID"),
        sa.Column("person_id", sa.Integer(), nullable=False, comment="人员ID"),
        sa.Column("answers", sa.JSON(), nullable=False, comment="{question id: answer}"),
        sa.Column("score", sa.Float(), nullable=False, comment="得分"),
        sa.Column("total", sa.Float(), nullable=False, comment="总分"),
        sa.Column("passed", sa.Boolean(), nullable=False, comment="是否及格"),
        sa.Column("details", sa.JSON(), nullable=False, comment="逐题判分"),
        sa.Column("submitted_by", sa.String(length=64), nullable=True, comment="提交人"),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False, comment="提交时间"),
        sa.ForeignKeyConstraint(["exam_id"], ["exams.id"], name=op.f("fk_exam_attempts_exam_id_exams")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_exam_attempts_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_attempts")),
    )
    op.create_index(op.f("ix_exam_attempts_exam_id"), "exam_attempts", ["exam_id"], unique=False)
    op.create_index(op.f("ix_exam_attempts_person_id"), "exam_attempts", ["person_id"], unique=False)

    op.create_table(
        "person_certificates",
        sa.Column("person_id", sa.Integer(), nullable=False, comment="人员ID"),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="证书类型"),
        sa.Column("category", sa.String(length=64), nullable=True, comment="类别 / 作业类别 / 专业"),
        sa.Column("number", sa.String(length=64), nullable=True, comment="证书编号"),
        sa.Column("issuer", sa.String(length=200), nullable=True, comment="发证机关"),
        sa.Column("issue_date", sa.Date(), nullable=True, comment="发证日期"),
        sa.Column("expiry_date", sa.Date(), nullable=True, comment="有效期至"),
        sa.Column("review_due", sa.Date(), nullable=True, comment="复审日期"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_person_certificates_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_certificates")),
    )
    op.create_index(op.f("ix_person_certificates_deleted_at"), "person_certificates", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_person_certificates_expiry_date"), "person_certificates", ["expiry_date"], unique=False)
    op.create_index(op.f("ix_person_certificates_kind"), "person_certificates", ["kind"], unique=False)
    op.create_index(op.f("ix_person_certificates_number"), "person_certificates", ["number"], unique=False)
    op.create_index(op.f("ix_person_certificates_person_id"), "person_certificates", ["person_id"], unique=False)
    op.create_index(op.f("ix_person_certificates_review_due"), "person_certificates", ["review_due"], unique=False)

    op.create_table(
        "training_sessions",
        sa.Column("title", sa.String(length=200), nullable=False, comment="培训名称"),
        sa.Column("training_type", sa.String(length=16), nullable=False, comment="培训类型"),
        sa.Column("course_id", sa.Integer(), nullable=True, comment="课程ID"),
        sa.Column("plan_id", sa.Integer(), nullable=True, comment="计划ID"),
        sa.Column("held_on", sa.Date(), nullable=False, comment="培训日期"),
        sa.Column("hours", sa.Float(), nullable=False, comment="学时"),
        sa.Column("trainer", sa.String(length=64), nullable=True, comment="授课人"),
        sa.Column("location", sa.String(length=200), nullable=True, comment="地点"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["training_courses.id"], name=op.f("fk_training_sessions_course_id_training_courses")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["training_plans.id"], name=op.f("fk_training_sessions_plan_id_training_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_sessions")),
    )
    op.create_index(op.f("ix_training_sessions_deleted_at"), "training_sessions", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_training_sessions_held_on"), "training_sessions", ["held_on"], unique=False)
    op.create_index(op.f("ix_training_sessions_training_type"), "training_sessions", ["training_type"], unique=False)

    op.create_table(
        "training_records",
        sa.Column("person_id", sa.Integer(), nullable=False, comment="人员ID"),
        sa.Column("training_type", sa.String(length=16), nullable=False, comment="培训类型"),
        sa.Column("title", sa.String(length=200), nullable=False, comment="培训名称"),
        sa.Column("trained_on", sa.Date(), nullable=False, comment="培训日期"),
        sa.Column("hours", sa.Float(), nullable=False, comment="学时"),
        sa.Column("session_id", sa.Integer(), nullable=True, comment="培训场次ID"),
        sa.Column("level", sa.String(length=16), nullable=True, comment="三级教育级别: 厂级/车间级/班组级"),
        sa.Column("score", sa.Float(), nullable=True, comment="成绩"),
        sa.Column("passed", sa.Boolean(), nullable=True, comment="是否合格"),
        sa.Column("renews_certificate_id", sa.Integer(), nullable=True, comment="换证: 人员证书ID"),
        sa.Column("new_expiry_date", sa.Date(), nullable=True, comment="换证后有效期至"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_training_records_person_id_people")),
        sa.ForeignKeyConstraint(
            ["renews_certificate_id"],
            ["person_certificates.id"],
            name=op.f("fk_training_records_renews_certificate_id_person_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["training_sessions.id"], name=op.f("fk_training_records_session_id_training_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_records")),
    )
    op.create_index(op.f("ix_training_records_deleted_at"), "training_records", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_training_records_person_id"), "training_records", ["person_id"], unique=False)
    op.create_index(op.f("ix_training_records_trained_on"), "training_records", ["trained_on"], unique=False)
    op.create_index(op.f("ix_training_records_training_type"), "training_records", ["training_type"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_training_records_training_type"), table_name="training_records")
    op.drop_index(op.f("ix_training_records_trained_on"), table_name="training_records")
    op.drop_index(op.f("ix_training_records_person_id"), table_name="training_records")
    op.drop_index(op.f("ix_training_records_deleted_at"), table_name="training_records")

    op.drop_table("training_records")
    op.drop_index(op.f("ix_training_sessions_training_type"), table_name="training_sessions")
    op.drop_index(op.f("ix_training_sessions_held_on"), table_name="training_sessions")
    op.drop_index(op.f("ix_training_sessions_deleted_at"), table_name="training_sessions")

    op.drop_table("training_sessions")
    op.drop_index(op.f("ix_person_certificates_review_due"), table_name="person_certificates")
    op.drop_index(op.f("ix_person_certificates_person_id"), table_name="person_certificates")
    op.drop_index(op.f("ix_person_certificates_number"), table_name="person_certificates")
    op.drop_index(op.f("ix_person_certificates_kind"), table_name="person_certificates")
    op.drop_index(op.f("ix_person_certificates_expiry_date"), table_name="person_certificates")
    op.drop_index(op.f("ix_person_certificates_deleted_at"), table_name="person_certificates")

    op.drop_table("person_certificates")
    op.drop_index(op.f("ix_exam_attempts_person_id"), table_name="exam_attempts")
    op.drop_index(op.f("ix_exam_attempts_exam_id"), table_name="exam_attempts")

    op.drop_table("exam_attempts")
    op.drop_index(op.f("ix_training_plans_year"), table_name="training_plans")
    op.drop_index(op.f("ix_training_plans_training_type"), table_name="training_plans")
    op.drop_index(op.f("ix_training_plans_planned_on"), table_name="training_plans")
    op.drop_index(op.f("ix_training_plans_deleted_at"), table_name="training_plans")

    op.drop_table("training_plans")
    op.drop_index(op.f("ix_people_name"), table_name="people")
    op.drop_index(op.f("ix_people_deleted_at"), table_name="people")
    op.drop_index(op.f("ix_people_contractor_id"), table_name="people")
    op.drop_index(op.f("ix_people_code"), table_name="people")
    op.drop_index(op.f("ix_people_category"), table_name="people")

    op.drop_table("people")
    op.drop_index(op.f("ix_exams_training_type"), table_name="exams")
    op.drop_index(op.f("ix_exams_deleted_at"), table_name="exams")

    op.drop_table("exams")
    op.drop_index(op.f("ix_contractor_violations_occurred_on"), table_name="contractor_violations")
    op.drop_index(op.f("ix_contractor_violations_deleted_at"), table_name="contractor_violations")
    op.drop_index(op.f("ix_contractor_violations_contractor_id"), table_name="contractor_violations")

    op.drop_table("contractor_violations")
    op.drop_index(op.f("ix_contractor_tools_inspection_due"), table_name="contractor_tools")
    op.drop_index(op.f("ix_contractor_tools_deleted_at"), table_name="contractor_tools")
    op.drop_index(op.f("ix_contractor_tools_contractor_id"), table_name="contractor_tools")

    op.drop_table("contractor_tools")
    op.drop_index(op.f("ix_contractor_evaluations_deleted_at"), table_name="contractor_evaluations")
    op.drop_index(op.f("ix_contractor_evaluations_contractor_id"), table_name="contractor_evaluations")

    op.drop_table("contractor_evaluations")
    op.drop_index(op.f("ix_contractor_documents_kind"), table_name="contractor_documents")
    op.drop_index(op.f("ix_contractor_documents_expiry_date"), table_name="contractor_documents")
    op.drop_index(op.f("ix_contractor_documents_deleted_at"), table_name="contractor_documents")
    op.drop_index(op.f("ix_contractor_documents_contractor_id"), table_name="contractor_documents")

    op.drop_table("contractor_documents")
    op.drop_index(op.f("ix_training_courses_training_type"), table_name="training_courses")
    op.drop_index(op.f("ix_training_courses_deleted_at"), table_name="training_courses")
    op.drop_index(op.f("ix_training_courses_code"), table_name="training_courses")

    op.drop_table("training_courses")
    op.drop_index(op.f("ix_exam_questions_deleted_at"), table_name="exam_questions")
    op.drop_index(op.f("ix_exam_questions_bank"), table_name="exam_questions")

    op.drop_table("exam_questions")
    op.drop_index(op.f("ix_contractors_status"), table_name="contractors")
    op.drop_index(op.f("ix_contractors_deleted_at"), table_name="contractors")
    op.drop_index(op.f("ix_contractors_credit_code"), table_name="contractors")
    op.drop_index(op.f("ix_contractors_admission_valid_until"), table_name="contractors")

    op.drop_table("contractors")
