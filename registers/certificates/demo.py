"""Demo certificates and reports (证照与报告) of the demo enterprise, for ``safetwin demo``.

What a hazardous-chemical enterprise keeps in this ledger: its 安全生产许可证, 危险化学品登记证,
安全生产标准化证书, the current 安全评价报告 (现状评价, every three years) and the 三同时
documents of its latest project. Dates are relative to the demo's today, so the ledger always
shows the situation a safety manager meets in practice: the licence renewal under way because
it lapses within three months, and the safety evaluation report due within a month, both
flagged as expiring; the rest valid for years. Personal certificates (特种作业证 …) belong to
the people register (``registers.people.demo``).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from registers.certificates import service
from registers.certificates.models import Certificate, CertificateKind, CertificateStatus
from registers.certificates.schemas import CertificateCreate

__all__ = ["HOLDER", "demo_certificates", "load_certificates_demo"]

ACTOR = "demo"
HOLDER = "示范化工有限公司"
_ISSUER_PROVINCE = "广东省应急管理厅"
_ISSUER_CITY = "广州市应急管理局"
_MANAGER = "钱立"


def demo_certificates(today: date) -> list[CertificateCreate]:
    """The ledger's rows, dated from ``today`` (two expire within 90 days, one is being renewed)."""
    return [
        CertificateCreate(
            kind=CertificateKind.SAFETY_LICENCE,
            number="(粤)WH安许证字〔2023〕0158",
            name="安全生产许可证",
            holder=HOLDER,
            issuer=_ISSUER_PROVINCE,
            issue_date=today + timedelta(days=62) - timedelta(days=3 * 365),
            expiry_date=today + timedelta(days=62),
            scope="液氯 2000吨/年、甲醇 5000吨/年、液化石油气（储存）；氯化工艺装置",
            status=CertificateStatus.RENEWING,
            responsible_person=_MANAGER,
            remarks="延期申请材料已于本月报送省应急管理厅，待现场核查",
        ),
        CertificateCreate(
            kind=CertificateKind.HAZCHEM_REGISTRATION,
            number="44012300158",
            name="危险化学品登记证",
            holder=HOLDER,
            issuer="应急管理部化学品登记中心 / 广东省危险化学品登记办公室",
            issue_date=today - timedelta(days=400),
            expiry_date=today - timedelta(days=400) + timedelta(days=3 * 365),
            scope="液氯（7782-50-5）、甲醇（67-56-1）、液化石油气（68476-85-7）、氢氧化钠溶液",
            responsible_person=_MANAGER,
        ),
        CertificateCreate(
            kind=CertificateKind.STANDARDISATION,
            number="粤AQBWHII202400087",
            name="安全生产标准化二级企业证书",
            holder=HOLDER,
            issuer=_ISSUER_PROVINCE,
            grade="二级",
            issue_date=today - timedelta(days=300),
            expiry_date=today - timedelta(days=300) + timedelta(days=3 * 365),
            scope="危险化学品生产企业安全生产标准化",
            responsible_person=_MANAGER,
        ),
        CertificateCreate(
            kind=CertificateKind.SAFETY_EVALUATION,
            number="GDAP-XZ-2023-0412",
            name="示范化工有限公司安全现状评价报告",
            holder=HOLDER,
            issuer="广东安评技术服务有限公司（甲级资质 APJ-(粤)-021）",
            issue_date=today + timedelta(days=24) - timedelta(days=3 * 365),
            expiry_date=today + timedelta(days=24),
            scope="全厂：罐区、氯化反应装置、甲类仓库及公用工程（每三年一次现状评价）",
            responsible_person=_MANAGER,
            remarks="新一轮现状评价已委托，现场勘查已完成",
        ),
        CertificateCreate(
            kind=CertificateKind.THREE_SIMULTANEITIES,
            number="GZYJ-SJ-2025-036",
            name="氯化装置自动化提升改造项目安全设施设计专篇",
            holder=HOLDER,
            issuer=_ISSUER_CITY,
            issue_date=today - timedelta(days=420),
            project="氯化装置自动化提升改造项目",
            stage="设计专篇",
            scope="SIS系统、紧急冷却及氯气吸收中和系统改造",
            responsible_person="李志华",
        ),
        CertificateCreate(
            kind=CertificateKind.THREE_SIMULTANEITIES,
            number="GZYJ-YS-2025-051",
            name="氯化装置自动化提升改造项目安全设施竣工验收评价报告",
            holder=HOLDER,
            issuer="广东安评技术服务有限公司",
            issue_date=today - timedelta(days=150),
            project="氯化装置自动化提升改造项目",
            stage="竣工验收",
            scope="安全设施竣工验收，专家组评审通过",
            responsible_person="李志华",
        ),
    ]


def load_certificates_demo(*, session: Session, today: date) -> int:
    """Add the demo ledger's rows that are missing (keyed on the document number); return how many."""
    have = set(session.scalars(select(Certificate.number).where(Certificate.deleted_at.is_(None))))
    added = 0
    for data in demo_certificates(today):
        if data.number in have:
            continue
        service.register.create(session=session, data=data, actor=ACTOR)
        added += 1
    return added
