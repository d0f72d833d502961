"""Tables of the people register: persons (企业人员 and 第三方人员) and their certificates."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base
from registers.framework.models import RegisterMixin


class PersonCategory(StrEnum):
    """Who the person is to the enterprise; the values are what the ledger says."""

    EMPLOYEE = "企业人员"
    CONTRACTOR_STAFF = "承包商人员"
    SUPPLIER = "供应商"
    VISITOR = "访客"


class PersonStatus(StrEnum):
    """Whether the person is currently on the job / allowed on site."""

    ACTIVE = "在岗"
    LEFT = "离岗"


class Person(RegisterMixin, Base):
    """One person on the enterprise's books (一人一档's head record).

    Third parties are in the same table (``category``), so a contractor's worker, a supplier's
    driver and an employee share one certificate ledger, one training file and one QR code.
    ``contractor_id`` ties 承包商人员 to their contractor's file (一企一档).
    ``education``, ``related_major``, ``chem_title``, ``chem_technician`` and ``key_manager``
    are what the 学历 rules of the staffing self-diagnosis (:mod:`models.compliance`) judge
    key persons and safety staff on; a ledger without them cannot show compliance.
    """

    __tablename__ = "people"

    code: Mapped[str] = mapped_column(String(32), index=True, comment="人员编号 / 工号")
    name: Mapped[str] = mapped_column(String(64), index=True, comment="姓名")
    category: Mapped[str] = mapped_column(String(16), index=True, comment="人员类别 (PersonCategory)")
    employer: Mapped[str | None] = mapped_column(String(200), comment="所属单位 (third parties)")
    contractor_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("contractors.id"), index=True, comment="承包商 (承包商人员)"
    )
    department: Mapped[str | None] = mapped_column(String(64), comment="部门 / 车间")
    position: Mapped[str | None] = mapped_column(String(64), comment="岗位")
    phone: Mapped[str | None] = mapped_column(String(32), comment="电话")
    full_time_safety: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="专职安全生产管理人员"
    )
    principal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), comment="主要负责人")
    key_manager: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="主管生产/设备/技术/安全的负责人 (分管负责人)"
    )
    education: Mapped[str | None] = mapped_column(String(16), comment="学历 (models.compliance.Education)")
    related_major: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="所学专业为化学、化工、安全等相关专业"
    )
    chem_title: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="化工类中级及以上专业技术职称"
    )
    chem_technician: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), comment="化工安全相关工种技师及以上技能等级"
    )
    special_operation: Mapped[str | None] = mapped_column(String(64), comment="特种作业类别 (岗位要求)")
    hired_on: Mapped[date | None] = mapped_column(Date, comment="入职 / 入场日期")
    visit_until: Mapped[date | None] = mapped_column(Date, comment="准入截止 (访客/第三方)")
    status: Mapped[str] = mapped_column(String(8), default=PersonStatus.ACTIVE, comment="状态")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")


class PersonCertificate(RegisterMixin, Base):
    """A personal certificate: 安全资格证, 特种作业操作证, 注册安全工程师 or another.

    ``kind`` takes the values of :class:`models.compliance.CertificateKind`, so the
    compliance rules read the ledger directly. ``review_due`` is the 复审 date of a special
    operation certificate (every 3 years), which lapses the certificate as surely as expiry.
    """

    __tablename__ = "person_certificates"

    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"), index=True, comment="人员ID")
    kind: Mapped[str] = mapped_column(String(16), index=True, comment="证书类型")
    category: Mapped[str | None] = mapped_column(String(64), comment="类别 / 作业类别 / 专业")
    grade: Mapped[str | None] = mapped_column(
        String(8), comment="级别 (注册安全工程师, models.compliance.EngineerGrade)"
    )
    number: Mapped[str | None] = mapped_column(String(64), index=True, comment="证书编号")
    issuer: Mapped[str | None] = mapped_column(String(200), comment="发证机关")
    issue_date: Mapped[date | None] = mapped_column(Date, comment="发证日期")
    expiry_date: Mapped[date | None] = mapped_column(Date, index=True, comment="有效期至")
    review_due: Mapped[date | None] = mapped_column(Date, index=True, comment="复审日期")
    remarks: Mapped[str | None] = mapped_column(Text, comment="备注")
