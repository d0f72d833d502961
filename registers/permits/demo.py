"""Demo data of the permits register: a qualified crew and one job of hot work in a confined space.

``ensure_crew`` is what tests, the benchmark and ``safetwin demo`` share: the people a permit
needs (welder, guardian, the three approval levels) with valid certificates, plus a welder
whose certificate has lapsed and a worker without one, so refusals can be shown. Everything is
looked up by code first, so it is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.compliance import CertificateKind
from models.permit_rules import PLANT_TZ, WorkType
from registers.people import service as people
from registers.people.schemas import PersonCertificateCreate, PersonCreate
from registers.permits import service
from registers.permits.models import PermitJob
from registers.permits.schemas import JobPlanIn, TicketIn
from registers.process import service as process
from registers.process.models import Chemical
from registers.process.schemas import ChemicalCreate

ACTOR = "demo"
DEMO_JOB_TITLE = "T-101 储罐内壁补焊"


@dataclass(frozen=True)
class Crew:
    """Ids of the demo crew."""

    welder: int
    guardian: int
    unit_head: int
    safety: int
    principal: int
    untrained: int
    lapsed_welder: int


# code, name, position, full-time safety, principal, [(kind, category, days valid from today)]
_PEOPLE: tuple[tuple[str, str, str, bool, bool, list[tuple[CertificateKind, str | None, int]]], ...] = (
    ("PTW-W01", "焊工 李强", "检修焊工", False, False, [(CertificateKind.SPECIAL_OPERATION, "焊接与热切割作业", 700)]),
    ("PTW-G01", "监护人 王海", "安全员", False, False, [(CertificateKind.OTHER, "特殊作业监护人", 365)]),
    ("PTW-U01", "车间主任 赵军", "车间主任", False, False, []),
    ("PTW-S01", "安全部 钱敏", "安全管理部长", True, False, [(CertificateKind.SAFETY_QUALIFICATION, None, 900)]),
    ("PTW-P01", "总经理 孙伟", "总经理", False, True, [(CertificateKind.SAFETY_QUALIFICATION, None, 900)]),
    ("PTW-X01", "普工 周平", "辅助工", False, False, []),
    ("PTW-W02", "焊工 吴刚", "检修焊工", False, False, [(CertificateKind.SPECIAL_OPERATION, "焊接与热切割作业", -1)]),
)

_CHEMICALS = (
    ChemicalCreate(name="甲烷", cas="74-82-8", lel_pct=5.0, uel_pct=15.0, physical_state="气"),
    ChemicalCreate(name="硫化氢", cas="7783-06-4", mac_mg_m3=10.0, lel_pct=4.0, uel_pct=46.0, physical_state="气"),
)


def ensure_crew(*, session: Session, today: date, chemicals: bool = True) -> Crew:
    """The demo crew (and, with ``chemicals``, methane and H2S in the process register), created if missing.

    The caller commits. ``safetwin demo`` passes ``chemicals=False``: its plant has its own
    chemical list.
    """
    ids: list[int] = []
    for code, name, position, safety, principal, certs in _PEOPLE:
        person = people.get_by_code(session=session, code=code)
        if person is None:
            person = people.persons.create(
                session=session,
                data=PersonCreate(
                    code=code, name=name, position=position, full_time_safety=safety, principal=principal
                ),
                actor=ACTOR,
            )
            for kind, category, days in certs:
                people.certificates.create(
                    session=session,
                    data=PersonCertificateCreate(
                        person_id=person.id,
                        kind=kind,
                        category=category,
                        number=f"{code}-{kind.value[:2]}",
                        issue_date=today - timedelta(days=1000),
                        expiry_date=today + timedelta(days=days),
                    ),
                    actor=ACTOR,
                )
        ids.append(person.id)
    for chemical in _CHEMICALS if chemicals else ():
        if session.scalar(select(Chemical.id).where(Chemical.name == chemical.name)) is None:
            process.chemicals.create(session=session, data=chemical, actor=ACTOR)
    session.flush()
    return Crew(*ids)


def hot_work_in_tank(crew: Crew, *, start: datetime, hours: float = 6, area: str = "tank_farm") -> JobPlanIn:
    """The worked example: 二级 hot work inside tank T-101, so two linked tickets."""
    return JobPlanIn(
        title=DEMO_JOB_TITLE,
        content="T-101 储罐内壁腐蚀部位补焊，作业前置换、通风，盲板隔离进出料管线",
        area=area,
        location="罐区 T-101 人孔",
        x=10.0,
        y=20.0,
        planned_start=start,
        planned_end=start + timedelta(hours=hours),
        applicant_unit="储运车间",
        chemicals=["甲烷", "硫化氢"],
        guardian_id=crew.guardian,
        worker_ids=[crew.welder],
        tickets=[
            TicketIn(work_type=WorkType.HOT, grade="二级", hot_work_method="电焊"),
            TicketIn(work_type=WorkType.CONFINED),
        ],
    )


def load_permits_demo(*, session: Session, today: date) -> int:
    """One planned job (two linked draft tickets) on the next working day at 09:00; 0 if present."""
    crew = ensure_crew(session=session, today=today, chemicals=False)
    if session.scalar(select(PermitJob.id).where(PermitJob.title == DEMO_JOB_TITLE)) is not None:
        return 0
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = datetime.combine(day, time(9, 0), tzinfo=PLANT_TZ)
    data = hot_work_in_tank(crew, start=start).model_copy(update={"chemicals": ["甲醇"]})  # the demo's methanol tanks
    return len(service.plan_job(session=session, data=data, actor=ACTOR))
