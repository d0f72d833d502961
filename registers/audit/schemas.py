"""Pydantic schemas of the audit log as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Result = Literal["success", "failure", "denied"]


class AuditRead(BaseModel):
    """One audit entry (审计记录)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ts: datetime = Field(description="时间 (UTC)")
    actor: str = Field(description="操作人")
    roles: str = Field(description="角色")
    ip: str = Field(description="来源地址")
    action: str = Field(description="操作")
    object_type: str = Field(description="对象类型")
    object_id: str = Field(description="对象")
    result: str = Field(description="结果 success | failure | denied")
    detail: str = Field(description="详情")
    hash: str = Field(description="SHA-256 链哈希")


class AuditPage(BaseModel):
    """One page of audit entries, newest first."""

    items: list[AuditRead]
    total: int


class VerifyRead(BaseModel):
    """Result of checking the hash chain (完整性校验)."""

    ok: bool
    checked: int = Field(description="entries checked")
    first_bad_id: int | None = Field(default=None, description="first entry that does not fit the chain")
    reason: str = ""
    last_hash: str = Field(description="hash of the last good entry; keep it elsewhere to detect a cut tail")
