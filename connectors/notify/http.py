r"""HTTP notification channels: an SMS gateway and the WeCom, DingTalk and Feishu group robots.

Each class posts the JSON its service documents and reads that service's own success field:
a robot answers HTTP 200 even when it refused the message (bad signature, too long, rate
limited), so HTTP status alone would log refused messages as delivered.

* SMS gateway (短信网关): any HTTP gateway; the body is a JSON *template* whose string leaves may
  contain ``{phone}``, ``{text}``, ``{title}``, ``{alarm_id}``; the values are inserted into
  the decoded structure, so quotes or braces in an alarm text cannot break the JSON.
* WeCom robot (企业微信群机器人): ``{"msgtype": "text", "text": {"content", "mentioned_mobile_list"}}``
  or ``{"msgtype": "markdown", "markdown": {"content"}}``; success ``errcode == 0``.
* DingTalk robot (钉钉自定义机器人): ``{"msgtype": "text", "text": {"content"}, "at": {...}}`` or
  markdown ``{"title", "text"}``; with a secret (加签) the URL gets ``timestamp`` (ms) and
  ``sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))``; success ``errcode == 0``.
* Feishu robot (飞书自定义机器人): ``{"msg_type": "text", "content": {"text"}}`` or an interactive
  card with a markdown element; with a secret the body gets ``timestamp`` (s) and
  ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``; success ``code == 0``
  (older deployments answer ``StatusCode == 0``).

No I/O happens in constructors; the ``httpx.Client`` is built on first send (or passed in to
share a connection pool) and closed by :meth:`close`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal

import httpx
from pydantic import SecretStr

from connectors.notify.base import (
    ChannelKind,
    DeliveryResult,
    Notification,
    Stopwatch,
    http_status_retryable,
    utf8_truncate,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S: Final = 5.0
WECOM_TEXT_MAX_BYTES: Final = 2048
WECOM_MARKDOWN_MAX_BYTES: Final = 4096
DINGTALK_MAX_BYTES: Final = 20000
FEISHU_MAX_BYTES: Final = 30000  # request body limit is 20 KB for cards; text is generous

_PLACEHOLDER = re.compile(r"\{(phone|text|title|alarm_id)\}")

MessageType = Literal["text", "markdown"]


def _secret(value: str | SecretStr | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def render_template(template: Any, values: Mapping[str, str]) -> Any:
    """Fill ``{phone}``-style placeholders in every string of a JSON-like template.

    Unknown ``{names}`` and other braces are left alone, so a gateway template may contain
    literal braces.

    Example:
        >>> render_template({"to": ["{phone}"], "msg": "【SafeTwin】{text}", "n": 1}, {"phone": "138", "text": "高"})
        {'to': ['138'], 'msg': '【SafeTwin】高', 'n': 1}
    """
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    if isinstance(template, Mapping):
        return {key: render_template(value, values) for key, value in template.items()}
    if isinstance(template, list | tuple):
        return [render_template(item, values) for item in template]
    return template


def json_path(document: Any, path: str) -> Any:
    """Value at a dotted path (``"result.code"``) of a decoded JSON document, or ``None``."""
    node = document
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def hmac_sign_dingtalk(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature (加签) for ``timestamp_ms``; not yet URL-encoded.

    Example:
        >>> hmac_sign_dingtalk("SEC123", 1_700_000_000_000)
        'lkcPI1uoxBY1gUnCnnPH1Kkru0Hqjo7rFpA3haIVhEQ='
    """
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def hmac_sign_feishu(secret: str, timestamp_s: int) -> str:
    r"""Feishu robot signature for ``timestamp_s``: the key is ``"{timestamp}\\n{secret}"``, the message empty.

    Example:
        >>> hmac_sign_feishu("SEC123", 1_700_000_000)
        'j/tImR0k8vYXRsYw0+GHVQkV1v/J/8obOuMU7PE/KDo='
    """
    key = f"{timestamp_s}\n{secret}".encode()
    digest = hmac.new(key, b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class _HttpChannel:
    """Shared plumbing: a lazily built client, one POST, failures turned into results."""

    _kind: ChannelKind

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        self._client = client
        self._owns_client = client is None
        self._clock = clock

    @property
    def kind(self) -> ChannelKind:
        """Which kind of channel this is."""
        return self._kind

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False)
        return self._client

    def close(self) -> None:
        """Close the HTTP client if this channel built it."""
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None

    def _accepted(self, document: Any) -> str | None:
        """``None`` when the service's JSON says it took the message, else the reason."""
        return None

    def _post(self, message: Notification, body: Any, *, params: Mapping[str, str] | None = None) -> DeliveryResult:
        watch = Stopwatch()
        address = message.address
        try:
            # Merge into the webhook URL's own query (key=, access_token=): httpx's ``params=``
            # would replace it, and an empty dict would silently drop the robot's key.
            url = httpx.URL(self.url).copy_merge_params(dict(params)) if params else self.url
            response = self._http().post(url, json=body, headers=self.headers, timeout=self.timeout_s)
        except httpx.TimeoutException as err:
            return DeliveryResult.failure(self.kind, address, f"超时 / timeout: {err!r}", elapsed_ms=watch.ms)
        except httpx.HTTPError as err:  # connection refused, DNS, protocol errors: worth retrying
            return DeliveryResult.failure(
                self.kind, address, f"连接失败 / {type(err).__name__}: {err}", elapsed_ms=watch.ms
            )
        except Exception as err:  # noqa: BLE001 - send() must never raise; the log keeps the reason
            log.exception("unexpected error sending %s notification", self.kind)
            return DeliveryResult.failure(
                self.kind, address, f"{type(err).__name__}: {err}", retryable=False, elapsed_ms=watch.ms
            )
        text = response.text
        if not response.is_success:
            return DeliveryResult.failure(
                self.kind,
                address,
                f"HTTP {response.status_code}",
                status_code=response.status_code,
                response=text,
                retryable=http_status_retryable(response.status_code),
                elapsed_ms=watch.ms,
            )
        try:
            document = response.json() if text.strip() else None
        except ValueError:
            document = None
        reason = self._accepted(document)
        if reason is not None:
            # The service answered but refused: a signature or content problem stays one on retry,
            # except rate limiting, which the subclasses report as retryable via the reason prefix.
            retry = reason.startswith("rate")
            return DeliveryResult.failure(
                self.kind,
                address,
                reason,
                status_code=response.status_code,
                response=text,
                retryable=retry,
                elapsed_ms=watch.ms,
            )
        return DeliveryResult.success(
            self.kind, address, status_code=response.status_code, response=text, elapsed_ms=watch.ms
        )


class SmsGatewayChannel(_HttpChannel):
    """SMS through an HTTP gateway (短信网关) with a configurable JSON body template.

    Args:
        url: the gateway endpoint.
        body_template: JSON-like structure; strings may contain ``{phone}``, ``{text}``,
            ``{title}``, ``{alarm_id}``.
        headers: e.g. ``{"Authorization": "Bearer ..."}``.
        success_path: dotted path of a success field in the JSON answer (``"code"``); when
            ``None`` any 2xx counts as delivered.
        success_value: the value that field holds on success (compared as strings, so ``0``
            and ``"0"`` agree).
        max_chars: SMS texts longer than this are cut (gateways bill or refuse long texts).

    Example:
        >>> ch = SmsGatewayChannel("http://gw/send", body_template={"mobile": "{phone}", "content": "{text}"})
        >>> ch.body(Notification(address="13800000000", title="t", text="高高报警"))
        {'mobile': '13800000000', 'content': '高高报警'}
    """

    _kind = ChannelKind.SMS

    def __init__(
        self,
        url: str,
        *,
        body_template: Any = None,
        headers: Mapping[str, str] | None = None,
        success_path: str | None = None,
        success_value: Any = None,
        max_chars: int = 300,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(url, headers=headers, timeout_s=timeout_s, client=client)
        self.body_template = body_template if body_template is not None else {"phone": "{phone}", "text": "{text}"}
        self.success_path = success_path
        self.success_value = success_value
        self.max_chars = max_chars

    def body(self, message: Notification) -> Any:
        """The JSON body for ``message``."""
        text = message.text if len(message.text) <= self.max_chars else message.text[: self.max_chars - 1] + "…"
        values = {"phone": message.address, "text": text, "title": message.title, "alarm_id": message.alarm_id}
        return render_template(self.body_template, values)

    def _accepted(self, document: Any) -> str | None:
        if self.success_path is None:
            return None
        found = json_path(document, self.success_path)
        if found is not None and str(found) == str(self.success_value):
            return None
        return f"网关拒绝 / gateway refused: {self.success_path}={found!r}, expected {self.success_value!r}"

    def send(self, message: Notification) -> DeliveryResult:
        """Post one SMS to the gateway."""
        if not message.address:
            return DeliveryResult.failure(self.kind, "", "没有手机号 / no phone number", retryable=False)
        return self._post(message, self.body(message))


def _errcode_reason(document: Any, *, field: str = "errcode", message_field: str = "errmsg") -> str | None:
    if not isinstance(document, Mapping):
        return f"应答不是 JSON 对象 / answer is not a JSON object: {document!r}"
    code = document.get(field)
    if code == 0:
        return None
    detail = document.get(message_field, "")
    # WeCom 45009 / DingTalk 130101 / Feishu 11232: too many messages: retry later helps.
    if code in (45009, 130101, 11232):
        return f"rate limited: {field}={code} {detail}"
    return f"机器人拒绝 / robot refused: {field}={code} {detail}"


class WeComRobotChannel(_HttpChannel):
    """WeCom group robot (企业微信群机器人); ``url`` is the full webhook URL with its ``key``.

    The notification's ``address`` (a mobile number) is @-mentioned in text mode.
    """

    _kind = ChannelKind.WECOM

    def __init__(
        self,
        url: str,
        *,
        msgtype: MessageType = "text",
        mention_all: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(url, timeout_s=timeout_s, client=client)
        self.msgtype = msgtype
        self.mention_all = mention_all

    def body(self, message: Notification) -> dict[str, Any]:
        """The robot JSON for ``message``."""
        if self.msgtype == "markdown":
            content = message.markdown or f"**{message.title}**\n{message.text}"
            return {"msgtype": "markdown", "markdown": {"content": utf8_truncate(content, WECOM_MARKDOWN_MAX_BYTES)}}
        mentions = [message.address] if message.address else []
        if self.mention_all:
            mentions.append("@all")
        text: dict[str, Any] = {"content": utf8_truncate(f"{message.title}\n{message.text}", WECOM_TEXT_MAX_BYTES)}
        if mentions:
            text["mentioned_mobile_list"] = mentions
        return {"msgtype": "text", "text": text}

    def _accepted(self, document: Any) -> str | None:
        return _errcode_reason(document)

    def send(self, message: Notification) -> DeliveryResult:
        """Post one message to the group."""
        return self._post(message, self.body(message))


class DingTalkRobotChannel(_HttpChannel):
    """DingTalk custom robot (钉钉自定义机器人), optionally signed (加签).

    ``url`` is the webhook with its ``access_token``; with ``secret`` each request adds the
    ``timestamp`` (epoch ms) and ``sign`` query parameters DingTalk checks (within one hour).
    """

    _kind = ChannelKind.DINGTALK

    def __init__(
        self,
        url: str,
        *,
        secret: str | SecretStr | None = None,
        msgtype: MessageType = "text",
        mention_all: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(url, timeout_s=timeout_s, client=client, clock=clock)
        self._secret = _secret(secret)
        self.msgtype = msgtype
        self.mention_all = mention_all

    def body(self, message: Notification) -> dict[str, Any]:
        """The robot JSON for ``message``; the mentioned mobile must also appear in the text."""
        mobiles = [message.address] if message.address else []
        at = {"atMobiles": mobiles, "isAtAll": self.mention_all}
        mention = "".join(f" @{m}" for m in mobiles)
        if self.msgtype == "markdown":
            text = (message.markdown or f"### {message.title}\n\n{message.text}") + mention
            markdown = {"title": message.title, "text": utf8_truncate(text, DINGTALK_MAX_BYTES)}
            return {"msgtype": "markdown", "markdown": markdown, "at": at}
        content = utf8_truncate(f"{message.title}\n{message.text}{mention}", DINGTALK_MAX_BYTES)
        return {"msgtype": "text", "text": {"content": content}, "at": at}

    def signed_params(self) -> dict[str, str]:
        """``timestamp`` and ``sign`` query parameters (empty without a secret)."""
        if not self._secret:
            return {}
        timestamp = int(self._clock() * 1000)
        return {"timestamp": str(timestamp), "sign": hmac_sign_dingtalk(self._secret, timestamp)}

    def _accepted(self, document: Any) -> str | None:
        return _errcode_reason(document)

    def send(self, message: Notification) -> DeliveryResult:
        """Post one message to the group (httpx URL-encodes ``sign``)."""
        return self._post(message, self.body(message), params=self.signed_params())


class FeishuRobotChannel(_HttpChannel):
    """Feishu / Lark custom robot (飞书自定义机器人), optionally with signature verification.

    Markdown mode sends an interactive card (red header for alarms) with one markdown element,
    the shape Feishu renders markdown in.
    """

    _kind = ChannelKind.FEISHU

    def __init__(
        self,
        url: str,
        *,
        secret: str | SecretStr | None = None,
        msgtype: MessageType = "text",
        card_template: str = "red",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(url, timeout_s=timeout_s, client=client, clock=clock)
        self._secret = _secret(secret)
        self.msgtype = msgtype
        self.card_template = card_template

    def body(self, message: Notification) -> dict[str, Any]:
        """The robot JSON for ``message``, signed when a secret is configured."""
        mention = f'<at user_id="{message.address}"></at>' if message.address.startswith("ou_") else ""
        body: dict[str, Any]
        if self.msgtype == "markdown":
            content = utf8_truncate(message.markdown or message.text, FEISHU_MAX_BYTES)
            if mention:
                content += f"\n{mention}"
            body = {
                "msg_type": "interactive",
                "card": {
                    "header": {
                        "title": {"tag": "plain_text", "content": message.title},
                        "template": self.card_template,
                    },
                    "elements": [{"tag": "markdown", "content": content}],
                },
            }
        else:
            text = utf8_truncate(f"{message.title}\n{message.text}", FEISHU_MAX_BYTES) + mention
            body = {"msg_type": "text", "content": {"text": text}}
        if self._secret:
            timestamp = int(self._clock())
            body = {"timestamp": str(timestamp), "sign": hmac_sign_feishu(self._secret, timestamp), **body}
        return body

    def _accepted(self, document: Any) -> str | None:
        if isinstance(document, Mapping) and "code" not in document and "StatusCode" in document:
            return _errcode_reason(document, field="StatusCode", message_field="StatusMessage")
        return _errcode_reason(document, field="code", message_field="msg")

    def send(self, message: Notification) -> DeliveryResult:
        """Post one message to the group."""
        return self._post(message, self.body(message))


__all__: Sequence[str] = (
    "DingTalkRobotChannel",
    "FeishuRobotChannel",
    "SmsGatewayChannel",
    "WeComRobotChannel",
    "hmac_sign_dingtalk",
    "hmac_sign_feishu",
    "json_path",
    "render_template",
)
