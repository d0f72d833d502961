"""Notification channels against real local receivers: an HTTP server and an SMTP server in-process.

Nothing is mocked: each channel opens a real TCP connection to a receiver started by the
test, and the test asserts what arrived (the exact JSON of the robot APIs, signatures that
verify with the shared secret, a Chinese subject decoded from the wire).
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from connectors.notify import (
    ChannelKind,
    DingTalkRobotChannel,
    EmailChannel,
    FeishuRobotChannel,
    Notification,
    SmsGatewayChannel,
    WeComRobotChannel,
)
from tests.conftest import free_port

# --- a local HTTP receiver -------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class LocalHttpReceiver:
    """A real HTTP server on a free local port that records requests and answers from a script.

    ``answers`` is consumed one per request; when empty, ``default`` is used. An answer is
    ``(status, json_body)`` or ``(status, json_body, delay_s)``.
    """

    default: tuple[Any, ...] = (200, {"errcode": 0, "errmsg": "ok"})
    answers: list[tuple[Any, ...]] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalHttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                split = urlsplit(self.path)
                receiver.requests.append(
                    Received(
                        "POST",
                        split.path,
                        parse_qs(split.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                status, body, *rest = answer
                if rest:
                    time.sleep(rest[0])
                data = json.dumps(body, ensure_ascii=False).encode() if not isinstance(body, bytes) else body
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out first
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[LocalHttpReceiver]:
    server = LocalHttpReceiver().start()
    yield server
    server.stop()


MESSAGE = Notification(
    address="13800000001",
    title="【高级报警】PT-101 HH",
    text='报警：液氯储罐压力高高 "1.8 MPa" {危险}\n区域：液氯库',
    alarm_id="PT-101:HH",
)


# --- SMS gateway -----------------------------------------------------------------------------


def test_sms_gateway_posts_the_rendered_template_with_auth(receiver: LocalHttpReceiver) -> None:
    receiver.default = (200, {"result": {"code": "0"}, "msg": "提交成功"})
    channel = SmsGatewayChannel(
        f"{receiver.url}/sms/send",
        body_template={
            "mobiles": ["{phone}"],
            "content": "【SafeTwin】{text}",
            "sign": "安全管控",
            "ref": "{alarm_id}",
        },
        headers={"Authorization": "Bearer sms-token"},
        success_path="result.code",
        success_value=0,
    )
    result = channel.send(MESSAGE)
    channel.close()

    assert result.ok, result
    assert result.status_code == 200
    [req] = receiver.requests
    assert req.path == "/sms/send"
    assert req.headers["authorization"] == "Bearer sms-token"
    assert req.headers["content-type"] == "application/json"
    # quotes and braces in the alarm text survive: values are inserted after parsing the template
    assert req.json() == {
        "mobiles": ["13800000001"],
        "content": f"【SafeTwin】{MESSAGE.text}",
        "sign": "安全管控",
        "ref": "PT-101:HH",
    }


def test_sms_gateway_refusal_in_json_is_a_failure_not_worth_retrying(receiver: LocalHttpReceiver) -> None:
    receiver.default = (200, {"code": 1001, "msg": "签名未审核"})
    channel = SmsGatewayChannel(receiver.url, success_path="code", success_value="0")
    result = channel.send(MESSAGE)
    assert not result.ok
    assert not result.retryable
    assert "code=1001" in (result.error or "")
    assert "签名未审核" in result.response


def test_sms_gateway_server_error_is_retryable_and_client_error_is_not(receiver: LocalHttpReceiver) -> None:
    receiver.answers = [(503, {"error": "busy"}), (400, {"error": "bad phone"})]
    channel = SmsGatewayChannel(receiver.url)
    busy, bad = channel.send(MESSAGE), channel.send(MESSAGE)
    assert (busy.ok, busy.status_code, busy.retryable) == (False, 503, True)
    assert (bad.ok, bad.status_code, bad.retryable) == (False, 400, False)


def test_unreachable_gateway_and_timeout_come_back_as_results() -> None:
    refused = SmsGatewayChannel(f"http://127.0.0.1:{free_port()}/send", timeout_s=1).send(MESSAGE)
    assert not refused.ok and refused.retryable
    assert "ConnectError" in (refused.error or "")

    slow = LocalHttpReceiver(default=(200, {}, 1.0)).start()
    try:
        result = SmsGatewayChannel(slow.url, timeout_s=0.2).send(MESSAGE)
    finally:
        slow.stop()
    assert not result.ok and result.retryable
    assert "timeout" in (result.error or "")


# --- robots ----------------------------------------------------------------------------------


def test_wecom_text_and_markdown_shapes(receiver: LocalHttpReceiver) -> None:
    text = WeComRobotChannel(f"{receiver.url}/cgi-bin/webhook/send?key=abc")
    markdown = WeComRobotChannel(f"{receiver.url}/cgi-bin/webhook/send?key=abc", msgtype="markdown")
    assert text.send(MESSAGE).ok
    assert markdown.send(Notification(address="", title="T", text="x", markdown="### 报警\n- 压力高")).ok

    first, second = receiver.requests
    assert first.query == {"key": ["abc"]}
    assert first.json() == {
        "msgtype": "text",
        "text": {"content": f"{MESSAGE.title}\n{MESSAGE.text}", "mentioned_mobile_list": ["13800000001"]},
    }
    assert second.json() == {"msgtype": "markdown", "markdown": {"content": "### 报警\n- 压力高"}}


def test_wecom_text_is_cut_to_its_byte_limit(receiver: LocalHttpReceiver) -> None:
    long = Notification(address="", title="长", text="液" * 2000)
    assert WeComRobotChannel(receiver.url).send(long).ok
    content = receiver.requests[0].json()["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert content.endswith("…")


def test_robot_errcode_is_a_failure_even_with_http_200(receiver: LocalHttpReceiver) -> None:
    receiver.answers = [(200, {"errcode": 93000, "errmsg": "invalid webhook url"}), (200, {"errcode": 45009})]
    channel = WeComRobotChannel(receiver.url)
    refused, limited = channel.send(MESSAGE), channel.send(MESSAGE)
    assert not refused.ok and not refused.retryable and "93000" in (refused.error or "")
    assert not limited.ok and limited.retryable  # rate limited: later may work


def test_dingtalk_signed_text_verifies_with_the_secret(receiver: LocalHttpReceiver) -> None:
    secret = "SEC0123456789abcdef"
    channel = DingTalkRobotChannel(f"{receiver.url}/robot/send?access_token=tok", secret=secret)
    before = int(time.time() * 1000)
    assert channel.send(MESSAGE).ok

    [req] = receiver.requests
    assert req.query["access_token"] == ["tok"]
    timestamp = req.query["timestamp"][0]
    assert before <= int(timestamp) <= int(time.time() * 1000)
    # what DingTalk does on its side: HMAC-SHA256 of "timestamp\nsecret" keyed by the secret
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert req.query["sign"] == [expected]  # parse_qs undid the URL encoding of + / =
    assert req.json() == {
        "msgtype": "text",
        "text": {"content": f"{MESSAGE.title}\n{MESSAGE.text} @13800000001"},
        "at": {"atMobiles": ["13800000001"], "isAtAll": False},
    }


def test_dingtalk_markdown_without_secret_has_no_signature(receiver: LocalHttpReceiver) -> None:
    channel = DingTalkRobotChannel(f"{receiver.url}/robot/send?access_token=tok", msgtype="markdown")
    assert channel.send(Notification(address="", title="报警", text="x", markdown="### 报警")).ok
    [req] = receiver.requests
    assert set(req.query) == {"access_token"}
    assert req.json() == {
        "msgtype": "markdown",
        "markdown": {"title": "报警", "text": "### 报警"},
        "at": {"atMobiles": [], "isAtAll": False},
    }


def test_feishu_signed_text_and_card_shapes(receiver: LocalHttpReceiver) -> None:
    receiver.default = (200, {"code": 0, "msg": "success", "data": {}})
    secret = "feishu-secret"
    clock = 1_764_300_000.7
    text = FeishuRobotChannel(f"{receiver.url}/open-apis/bot/v2/hook/h1", secret=secret, clock=lambda: clock)
    card = FeishuRobotChannel(f"{receiver.url}/open-apis/bot/v2/hook/h1", msgtype="markdown")
    assert text.send(MESSAGE).ok
    assert card.send(Notification(address="ou_abc", title="【报警】", text="t", markdown="**压力高**")).ok

    first, second = (r.json() for r in receiver.requests)
    key = f"{int(clock)}\n{secret}".encode()
    assert first == {
        "timestamp": str(int(clock)),
        "sign": base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode(),
        "msg_type": "text",
        "content": {"text": f"{MESSAGE.title}\n{MESSAGE.text}"},
    }
    assert second == {
        "msg_type": "interactive",
        "card": {
            "header": {"title": {"tag": "plain_text", "content": "【报警】"}, "template": "red"},
            "elements": [{"tag": "markdown", "content": '**压力高**\n<at user_id="ou_abc"></at>'}],
        },
    }


def test_feishu_refusal_old_and_new_answer_shapes(receiver: LocalHttpReceiver) -> None:
    receiver.answers = [
        (200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}),
        (200, {"StatusCode": 0, "StatusMessage": "success"}),
    ]
    channel = FeishuRobotChannel(receiver.url, secret="x")
    refused, ok = channel.send(MESSAGE), channel.send(MESSAGE)
    assert not refused.ok and "19021" in (refused.error or "")
    assert ok.ok


@pytest.mark.parametrize(
    "channel",
    [
        SmsGatewayChannel("http://127.0.0.1:9/x"),
        WeComRobotChannel("http://127.0.0.1:9/x"),
        DingTalkRobotChannel("http://127.0.0.1:9/x", secret="s"),
        FeishuRobotChannel("http://127.0.0.1:9/x", secret="s"),
        EmailChannel("127.0.0.1", 9, sender="alarm@plant.example"),
    ],
    ids=lambda c: c.kind.value,
)
def test_every_channel_reports_its_kind_and_never_raises(channel: Any) -> None:
    result = channel.send(Notification(address="ops@plant.example", title="t", text="t"))
    assert result.channel is channel.kind
    assert not result.ok
    assert result.error


# --- e-mail ----------------------------------------------------------------------------------


class RecordingHandler:
    def __init__(self, reply: str = "250 Message accepted for delivery") -> None:
        self.reply = reply
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        parsed = email.message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.raw.append(envelope.original_content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return self.reply


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, RecordingHandler]]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


def test_email_arrives_with_chinese_subject_and_body(smtp_server: tuple[Controller, RecordingHandler]) -> None:
    controller, handler = smtp_server
    channel = EmailChannel("127.0.0.1", controller.port, sender="alarm@plant.example")
    result = channel.send(
        Notification(address="safety@plant.example", title=MESSAGE.title, text=MESSAGE.text, alarm_id="PT-101:HH")
    )

    assert result.ok, result
    [(mail_from, rcpt, message)] = handler.messages
    assert mail_from == "alarm@plant.example"
    assert rcpt == ["safety@plant.example"]
    assert message["Subject"] == "【高级报警】PT-101 HH"
    assert message["From"].addresses[0].display_name == "SafeTwin 报警通知"
    assert message["X-SafeTwin-Alarm"] == "PT-101:HH"
    assert message.get_content().replace("\r\n", "\n").rstrip("\n") == MESSAGE.text  # SMTP sends CRLF
    assert handler.raw[0].isascii()  # RFC 2047 subject and base64 body: safe through any relay
    assert message.get_content_charset() == "utf-8"


def test_email_temporary_refusal_is_retryable_permanent_is_not() -> None:
    for reply, retryable in (("451 4.3.0 try again later", True), ("554 5.7.1 rejected", False)):
        controller = Controller(RecordingHandler(reply), hostname="127.0.0.1", port=free_port())
        controller.start()
        try:
            result = EmailChannel("127.0.0.1", controller.port, sender="a@plant.example").send(
                Notification(address="b@plant.example", title="t", text="t")
            )
        finally:
            controller.stop()
        assert not result.ok
        assert result.retryable is retryable
        assert result.status_code == int(reply[:3])


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_email_starttls_and_login(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret!Pw", handled=False)

    handler = RecordingHandler()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))
        common = {"sender": "alarm@plant.example", "username": "alarm", "ssl_context": client_tls}
        message = Notification(address="leader@plant.example", title="【报警升级·2级】", text="未确认 5 分钟")
        plain = EmailChannel("127.0.0.1", controller.port, password="s3cret!Pw", **common).send(message)
        wrong = EmailChannel("127.0.0.1", controller.port, password="nope", starttls=True, **common).send(message)
        ok = EmailChannel("127.0.0.1", controller.port, password="s3cret!Pw", starttls=True, **common).send(message)
    finally:
        controller.stop()

    assert not plain.ok  # the server demands STARTTLS first
    assert not wrong.ok and not wrong.retryable and "authentication" in (wrong.error or "")
    assert ok.ok, ok
    # the password went out once, over TLS: the plain-text attempt never reached AUTH
    assert logins[-1] == ("alarm", "s3cret!Pw")
    assert logins.count(("alarm", "s3cret!Pw")) == 1
    assert set(logins[:-1]) == {("alarm", "nope")}  # smtplib tries PLAIN, then LOGIN
    [(_, _, received)] = handler.messages
    assert received["Subject"] == "【报警升级·2级】"


def test_email_config_refuses_both_tls_modes() -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        EmailChannel("h", sender="a@b.c", starttls=True, use_ssl=True)


def test_kind_values_are_stable() -> None:
    # stored in rules, roster addresses and the delivery log
    assert [k.value for k in ChannelKind] == ["sms", "wecom", "dingtalk", "feishu", "email"]
