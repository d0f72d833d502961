"""Pydantic schemas of notifications: rules, roster entries and the delivery log.

Families as elsewhere: ``NotifyRuleCreate / NotifyRuleUpdate / NotifyRuleRead / NotifyRulePage``,
``RosterEntryCreate / ... / RosterEntryPage``, ``DeliveryRead / DeliveryPage``. Addresses are
checked here (a mobile number for SMS and the @-mentions, an e-mail address for e-mail), so a
typo fails when the roster is edited, not at three in the morning when an alarm needs it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.channels import ChannelKind
from models.contracts import AlarmPriority
from registers.framework.schemas import LocalTime

MOBILE_PATTERN = re.compile(r"^\+?\d[\d-]{5,19}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MOBILE_KINDS = frozenset({ChannelKind.SMS, ChannelKind.WECOM, ChannelKind.DINGTALK})

Name = Annotated[str, Field(min_length=1, max_length=64)]
DeliveryStatus = Literal["sent", "failed", "unrouted"]


def _check_addresses(addresses: dict[ChannelKind, str]) -> dict[ChannelKind, str]:
    cleaned: dict[ChannelKind, str] = {}
    for kind, raw in addresses.items():
        value = raw.strip()
        if not value:
            continue
        if kind in _MOBILE_KINDS and not MOBILE_PATTERN.match(value):
            msg = f"{kind.value} 需要手机号 / {kind.value} needs a mobile number, got {value!r}"
            raise ValueError(msg)
        if kind is ChannelKind.EMAIL and not EMAIL_PATTERN.match(value):
            msg = f"邮箱地址无效 / invalid e-mail address {value!r}"
            raise ValueError(msg)
        cleaned[kind] = value
    return cleaned


class NotifyRuleCreate(BaseModel):
    """A new routing rule."""

    name: str = Field(min_length=1, max_length=128, description="规则名称")
    areas: list[Name] = Field(default_factory=list, description="区域；空 = 全厂")
    min_priority: AlarmPriority = Field(default=AlarmPriority.LOW, description="最低通知优先级")
    roles: list[Name] = Field(min_length=1, description="通知的值班角色")
    channels: list[ChannelKind] = Field(min_length=1, description="通知渠道")
    notify_return: bool = Field(default=False, description="恢复时也通知")
    enabled: bool = True


class NotifyRuleUpdate(BaseModel):
    """Fields to change; ``None`` leaves a field as it is."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    areas: list[Name] | None = None
    min_priority: AlarmPriority | None = None
    roles: list[Name] | None = Field(default=None, min_length=1)
    channels: list[ChannelKind] | None = Field(default=None, min_length=1)
    notify_return: bool | None = None
    enabled: bool | None = None


class NotifyRuleRead(NotifyRuleCreate):
    """A rule as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    updated_at: datetime | None = None
    updated_by: str | None = None


class NotifyRulePage(BaseModel):
    """All rules (there are few)."""

    items: list[NotifyRuleRead]
    total: int


class RosterEntryCreate(BaseModel):
    """A new line of the duty roster (值班表); shift times are Asia/Shanghai local time."""

    person: Name = Field(description="值班人员")
    role: Name = Field(description="角色：operator 操作员 / shift_leader 值班长 / safety_manager 安全管理人员")
    area: str | None = Field(default=None, max_length=64, description="负责区域；空 = 全厂")
    shift_start: LocalTime = Field(description="班次开始（北京时间）")
    shift_end: LocalTime = Field(description="班次结束（北京时间），不晚于开始表示跨夜")
    on_date: date | None = Field(default=None, description="值班日期；空 = 每天")
    addresses: dict[ChannelKind, str] = Field(default_factory=dict, description="渠道 -> 手机号/邮箱/open_id")
    enabled: bool = True

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: dict[ChannelKind, str]) -> dict[ChannelKind, str]:
        return _check_addresses(value)


class RosterEntryUpdate(BaseModel):
    """Fields to change; ``None`` leaves a field as it is (use ``area: ""`` for every area)."""

    person: Name | None = None
    role: Name | None = None
    area: str | None = Field(default=None, max_length=64)
    shift_start: LocalTime | None = None
    shift_end: LocalTime | None = None
    on_date: date | None = None
    addresses: dict[ChannelKind, str] | None = None
    enabled: bool | None = None

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: dict[ChannelKind, str] | None) -> dict[ChannelKind, str] | None:
        return None if value is None else _check_addresses(value)


class RosterEntryRead(RosterEntryCreate):
    """A roster line as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int


class RosterEntryPage(BaseModel):
    """One page of the roster."""

    items: list[RosterEntryRead]
    total: int


class DeliveryRead(BaseModel):
    """One send attempt of the delivery log (发送记录)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    alarm_id: str
    level: int
    recipient: str
    role: str
    channel: str
    address: str
    attempt: int
    status: DeliveryStatus
    status_code: int | None
    error: str | None
    response: str
    title: str
    sent_at: datetime
    elapsed_ms: float | None


class DeliveryPage(BaseModel):
    """One page of the delivery log, newest first."""

    items: list[DeliveryRead]
    total: int
