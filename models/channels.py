"""Notification channels (通知渠道) as domain values: notification rules pick them, connectors speak them."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ChannelKind(StrEnum):
    """The ways SafeTwin can reach a person (通知渠道)."""

    SMS = "sms"  # 短信网关
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉群机器人
    FEISHU = "feishu"  # 飞书群机器人
    EMAIL = "email"  # 电子邮件


CHANNEL_LABELS: Final[dict[ChannelKind, str]] = {
    ChannelKind.SMS: "短信",
    ChannelKind.WECOM: "企业微信",
    ChannelKind.DINGTALK: "钉钉",
    ChannelKind.FEISHU: "飞书",
    ChannelKind.EMAIL: "邮件",
}
