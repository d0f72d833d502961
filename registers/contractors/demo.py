"""Demo contractors: one on site with its file complete, one blacklisted (for ``safetwin demo``)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from registers.contractors import service
from registers.contractors.models import DocumentKind, Severity, ViolationKind
from registers.contractors.schemas import ContractorCreate, DocumentCreate, ToolCreate, ViolationCreate
from registers.contractors.workflow import ContractorStatus

ACTOR = "demo"
ON_SITE_CODE = "91440101MA5DEMO01X"
BLACKLISTED_CODE = "91440101MA5DEMO02Y"


def load_contractors_demo(*, session: Session, today: date) -> int:
    """Two contractors: 华安检修 (admitted, on site) and 速达防腐 (blacklisted after a violation)."""
    added = 0
    if service.get_by_credit_code(session=session, credit_code=ON_SITE_CODE) is None:
        record = service.contractors.create(
            session=session,
            data=ContractorCreate(
                credit_code=ON_SITE_CODE,
                name="华安检修工程有限公司",
                legal_representative="周华",
                contact_person="吴工",
                phone="020-88880001",
                scope="储罐及管道检维修、动火与受限空间作业",
                qualification_level="石油化工工程施工总承包二级",
            ),
            actor=ACTOR,
        )
        for kind, number, expiry in (
            (DocumentKind.QUALIFICATION, "D244012345", today + timedelta(days=700)),
            (DocumentKind.SAFETY_LICENCE, "(粤)JZ安许证字[2024]010001", today + timedelta(days=500)),
            (DocumentKind.CONTRACT, "HT-2026-031", today + timedelta(days=200)),
            (DocumentKind.SAFETY_AGREEMENT, "AQXY-2026-031", today + timedelta(days=200)),
        ):
            service.documents.create(
                session=session,
                data=DocumentCreate(
                    contractor_id=record.id,
                    kind=kind,
                    number=number,
                    signed_on=today - timedelta(days=30),
                    expiry_date=expiry,
                ),
                actor=ACTOR,
            )
        service.tools.create(
            session=session,
            data=ToolCreate(
                contractor_id=record.id,
                name="电焊机",
                model="ZX7-400",
                number="HJ-07",
                inspection_due=today + timedelta(days=5),
            ),
            actor=ACTOR,
        )
        service.admit(
            session=session, contractor_id=record.id, valid_until=today + timedelta(days=180), on=today, actor=ACTOR
        )
        added += 1
    if service.get_by_credit_code(session=session, credit_code=BLACKLISTED_CODE) is None:
        record = service.contractors.create(
            session=session,
            data=ContractorCreate(
                credit_code=BLACKLISTED_CODE,
                name="速达防腐保温有限公司",
                contact_person="郑工",
                scope="设备防腐保温",
            ),
            actor=ACTOR,
        )
        service.violations.create(
            session=session,
            data=ViolationCreate(
                contractor_id=record.id,
                kind=ViolationKind.VIOLATION,
                occurred_on=today - timedelta(days=40),
                person_name="钱某",
                severity=Severity.SERIOUS,
                description="未办理作业票在甲醇罐区进行动火作业",
                penalty_points=12,
            ),
            actor=ACTOR,
        )
        service.blacklist(session=session, contractor_id=record.id, reason="无票动火作业（较大违章）", actor=ACTOR)
        added += 1
    return added


def enter_on_site_contractor(*, session: Session, today: date) -> None:
    """Let 华安检修 on site once its people are registered (people load after contractors)."""
    record = service.get_by_credit_code(session=session, credit_code=ON_SITE_CODE)
    if record is not None and record.status == ContractorStatus.ADMITTED:
        service.enter(session=session, contractor_id=record.id, on=today, actor=ACTOR)
