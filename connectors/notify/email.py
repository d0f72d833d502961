"""E-mail notifications over SMTP (smtplib), with optional STARTTLS or implicit TLS and login.

The message is built with :class:`email.message.EmailMessage` and the default policy, so a
Chinese subject is RFC 2047-encoded and the body goes out as UTF-8; mail clients in the plant
show 【报警】 instead of mojibake. Blocking smtplib is used on purpose: the dispatcher runs in a
worker thread or a scheduled job, never inside an event loop.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final

from pydantic import SecretStr

from connectors.notify.base import ChannelKind, DeliveryResult, Notification, Stopwatch

log = logging.getLogger(__name__)

DEFAULT_SENDER_NAME: Final = "SafeTwin 报警通知"


class EmailChannel:
    """Send notifications as e-mail through one SMTP server.

    Args:
        host: SMTP server.
        port: 25/587 for plain or STARTTLS, 465 for implicit TLS.
        sender: envelope and ``From`` address.
        sender_name: display name in ``From`` (Chinese allowed).
        username: login name; no AUTH when ``None``.
        password: login password.
        starttls: upgrade the connection with STARTTLS before login (required by most servers).
        use_ssl: implicit TLS from the first byte (port 465); excludes ``starttls``.
        ssl_context: trust settings for TLS (default: the system's CA store).
        timeout_s: socket timeout for connect and every command.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        sender: str,
        sender_name: str = DEFAULT_SENDER_NAME,
        username: str | None = None,
        password: str | SecretStr | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if starttls and use_ssl:
            msg = "starttls and use_ssl exclude each other: pick STARTTLS (587) or implicit TLS (465)"
            raise ValueError(msg)
        self.host = host
        self.port = port
        self.sender = sender
        self.sender_name = sender_name
        self.username = username
        self._password = password.get_secret_value() if isinstance(password, SecretStr) else password
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.ssl_context = ssl_context
        self.timeout_s = timeout_s

    @property
    def kind(self) -> ChannelKind:
        """Always :attr:`ChannelKind.EMAIL`."""
        return ChannelKind.EMAIL

    def build(self, message: Notification) -> EmailMessage:
        """The MIME message for ``message`` (UTF-8 text, plus the alarm id as a header)."""
        mail = EmailMessage()
        local, _, domain = self.sender.partition("@")
        mail["From"] = Address(display_name=self.sender_name, username=local, domain=domain)
        mail["To"] = message.address
        mail["Subject"] = message.title
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=domain or None)
        if message.alarm_id:
            mail["X-SafeTwin-Alarm"] = message.alarm_id
        mail.set_content(message.text, charset="utf-8", cte="base64")
        return mail

    def _connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        if self.use_ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: Notification) -> DeliveryResult:
        """Deliver one e-mail; SMTP and network failures come back as results, never raised."""
        watch = Stopwatch()
        address = message.address
        if "@" not in address:
            return DeliveryResult.failure(self.kind, address, "邮箱地址无效 / invalid e-mail address", retryable=False)
        try:
            mail = self.build(message)
            with self._connect() as smtp:
                if self.username:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as err:
            return DeliveryResult.failure(
                self.kind,
                address,
                f"收件人被拒绝 / recipient refused: {err.recipients}",
                retryable=False,
                elapsed_ms=watch.ms,
            )
        except smtplib.SMTPAuthenticationError as err:
            return DeliveryResult.failure(
                self.kind,
                address,
                f"SMTP 登录失败 / authentication failed: {err.smtp_code}",
                status_code=err.smtp_code,
                retryable=False,
                elapsed_ms=watch.ms,
            )
        except smtplib.SMTPResponseException as err:
            # 4xx replies are temporary by definition (RFC 5321), 5xx permanent.
            return DeliveryResult.failure(
                self.kind,
                address,
                f"SMTP {err.smtp_code}: {err.smtp_error!r}",
                status_code=err.smtp_code,
                retryable=400 <= err.smtp_code < 500,
                elapsed_ms=watch.ms,
            )
        except (smtplib.SMTPException, OSError) as err:  # connect refused, timeout, TLS failure, disconnects
            return DeliveryResult.failure(self.kind, address, f"{type(err).__name__}: {err}", elapsed_ms=watch.ms)
        except Exception as err:  # noqa: BLE001 - send() must never raise; the log keeps the reason
            log.exception("unexpected error sending e-mail notification")
            return DeliveryResult.failure(
                self.kind, address, f"{type(err).__name__}: {err}", retryable=False, elapsed_ms=watch.ms
            )
        if refused:
            return DeliveryResult.failure(
                self.kind, address, f"收件人被拒绝 / recipient refused: {refused}", retryable=False, elapsed_ms=watch.ms
            )
        return DeliveryResult.success(self.kind, address, status_code=250, response="250 OK", elapsed_ms=watch.ms)
