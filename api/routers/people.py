"""People API (企业人员 / 第三方人员): persons, certificates, staffing self-diagnosis.

The framework's routes serve persons and their certificates; added are the staffing
compliance self-diagnosis and each person's certificates and duty-roster lines.

Mount in ``api/app.py`` with the other authenticated routers::

    for leaf in people.routers:  # flat: see ``routers`` below
        app.include_router(leaf, dependencies=protected)

The extra routes are added before the framework's, so ``/api/v1/people/compliance`` is not
taken for a record id.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import SessionDep, SignedInUser, require
from api.register_router import RecordId, register_router, translate_errors
from registers.framework.reminders import LOCAL_TZ
from registers.people import service
from registers.people.schemas import ComplianceRead, PersonCertificateRead, RosterLineRead, RuleResultRead

RESOURCE = "person"
Reader = Annotated[SignedInUser, Depends(require("read", RESOURCE))]

extra = APIRouter(prefix="/api/v1/people", tags=["people 人员"])


def local_today() -> date:
    """Today on the plant's calendar (a certificate expires on a Chinese date)."""
    return datetime.now(LOCAL_TZ).date()


@extra.get("/compliance", response_model=ComplianceRead, summary="人员配备合规自诊断")
def compliance(
    session: SessionDep,
    user: Reader,
    employees: Annotated[
        int | None, Query(ge=0, le=10_000_000, description="从业人员数 (默认: 台账在岗企业人员数)")
    ] = None,
    on: Annotated[date | None, Query(description="判断日期 (默认今天)")] = None,
    ruleset: Annotated[str | None, Query(max_length=32, description="规则版本")] = None,
) -> ComplianceRead:
    """Which staffing rule fails and why (专职安全管理人员, 注册安全工程师, 持证)."""
    with translate_errors():
        rules = service.ruleset(ruleset)
        result = service.diagnose_staffing(session=session, on=on or local_today(), employees=employees, rules=rules)
    return ComplianceRead(
        employees=result.employees,
        on=result.on,
        ruleset=result.ruleset,
        passed=result.passed,
        rules=[
            RuleResultRead(
                code=r.code,
                title=r.title,
                passed=r.passed,
                actual=r.actual,
                required=r.required,
                reason=r.reason,
                basis=r.basis,
                ruleset=r.ruleset,
                people=list(r.people),
            )
            for r in result.rules
        ],
    )


@extra.get("/{record_id}/certificates", response_model=list[PersonCertificateRead], summary="个人证书")
def person_certificates(session: SessionDep, user: Reader, record_id: RecordId) -> list[PersonCertificateRead]:
    """The person's live certificates, soonest expiry first."""
    with translate_errors():
        rows = service.certificates_of(session=session, person_id=record_id)
    return [service.certificates.to_read(r) for r in rows]


@extra.get("/{record_id}/duty-roster", response_model=list[RosterLineRead], summary="值班安排")
def duty_roster(session: SessionDep, user: Reader, record_id: RecordId) -> list[RosterLineRead]:
    """The person's lines of the alarm duty roster (kept by the notifications register)."""
    with translate_errors():
        rows = service.duty_roster(session=session, person_id=record_id)
    return [RosterLineRead.model_validate(r) for r in rows]


# ``routers`` are the leaf routers, in matching order; ``api/app.py`` includes them one by one.
# FastAPI analyses every route again at each level of nested ``include_router``; flat keeps
# start-up fast. ``router`` (all of them, one level deep) is for tests and other apps.
routers: tuple[APIRouter, ...] = (
    extra,
    register_router(service.persons, prefix="/api/v1/people", tags=["people 人员"], resource=RESOURCE),
    register_router(
        service.certificates, prefix="/api/v1/person-certificates", tags=["people 人员证书"], resource=RESOURCE
    ),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
