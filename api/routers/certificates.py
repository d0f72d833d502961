"""REST API of certificates and reports: the framework's routes plus approval (审核).

Mount in ``api/app.py`` with the other authenticated routers::

    from api.routers.certificates import router as certificates_router
    app.include_router(certificates_router, dependencies=protected)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.auth import SessionDep, SignedInUser, require
from api.register_router import RecordId, register_router, translate_errors
from registers.certificates import service
from registers.certificates.schemas import CertificateRead

RESOURCE = "certificate"

router = register_router(
    service.register, prefix="/api/v1/certificates", tags=["certificates 证照与报告"], resource=RESOURCE
)


@router.post("/{record_id}/approve", response_model=CertificateRead, summary="审核证照 (与原件核对)")
def approve_certificate(
    session: SessionDep, user: Annotated[SignedInUser, Depends(require("approve", RESOURCE))], record_id: RecordId
) -> CertificateRead:
    """Mark the record as checked against the original document by the current user."""
    with translate_errors():
        record = service.approve(session=session, record_id=record_id, actor=user.username)
    return service.register.to_read(record)
