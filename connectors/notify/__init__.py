"""Notification channels (通知渠道): SMS gateway, WeCom / DingTalk / Feishu robots, e-mail.

Protocol I/O only: one channel sends one message and reports a :class:`DeliveryResult`.
Routing (who is on duty), retries and the delivery log live in ``registers.notifications``.
"""

from connectors.notify.base import (
    CHANNEL_LABELS,
    Channel,
    ChannelKind,
    DeliveryResult,
    Notification,
)
from connectors.notify.email import EmailChannel
from connectors.notify.http import (
    DingTalkRobotChannel,
    FeishuRobotChannel,
    SmsGatewayChannel,
    WeComRobotChannel,
    hmac_sign_dingtalk,
    hmac_sign_feishu,
)

__all__ = [
    "CHANNEL_LABELS",
    "Channel",
    "ChannelKind",
    "DeliveryResult",
    "DingTalkRobotChannel",
    "EmailChannel",
    "FeishuRobotChannel",
    "Notification",
    "SmsGatewayChannel",
    "WeComRobotChannel",
    "hmac_sign_dingtalk",
    "hmac_sign_feishu",
]
