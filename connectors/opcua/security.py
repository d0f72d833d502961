"""OPC UA transport security: Basic256Sha256 with certificates, anonymous login off (等保2.0 L3).

Two sides, both plain data plus one ``apply`` function, so the subscriber, the simulated
field server and a test configure them the same way:

* :class:`ClientSecurity` for :class:`~connectors.opcua.client.OpcUaSubscriber`: the
  application certificate and key, the mode (``Sign`` or ``SignAndEncrypt``), optionally the
  server certificate to pin and a username/password identity;
* :class:`ServerSecurity` for an asyncua ``Server``: its certificate and key, the modes it
  offers (never ``None``), the client certificates it trusts, the users it admits, and
  whether anonymous sessions are allowed (off unless configured).

:func:`make_self_signed` writes a key (PEM, 0600) and a self-signed application certificate
(DER) with the application URI in its subjectAltName, which OPC UA requires; a real plant
uses certificates issued by its own CA instead.

Example:
    >>> ClientSecurity(certificate=Path("c.der"), private_key=Path("c.pem")).mode
    'SignAndEncrypt'
"""

from __future__ import annotations

import hmac
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from asyncua import ua
from asyncua.crypto import cert_gen
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

if TYPE_CHECKING:
    from asyncua.client.client import Client
    from asyncua.server.server import Server

Mode = Literal["Sign", "SignAndEncrypt"]

_CLIENT_MODES: Mapping[str, ua.MessageSecurityMode] = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
_SERVER_POLICIES: Mapping[str, ua.SecurityPolicyType] = {
    "Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


@dataclass(frozen=True, slots=True)
class ClientSecurity:
    """How the subscriber secures its channel and who it logs in as.

    Args:
        certificate: the client's application certificate (DER or PEM).
        private_key: its private key (PEM or DER).
        mode: ``Sign`` (integrity) or ``SignAndEncrypt`` (integrity and confidentiality).
        server_certificate: the server certificate to pin; ``None`` takes the one the
            endpoint presents (trust on first use).
        application_uri: must equal the URI in the certificate's subjectAltName.
        username: a username identity; ``None`` logs in with the certificate (X509 token).
        password: the password of ``username`` (never logged, not in ``repr``).
    """

    certificate: Path
    private_key: Path
    mode: Mode = "SignAndEncrypt"
    server_certificate: Path | None = None
    application_uri: str = "urn:safetwin:client"
    username: str | None = None
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ServerSecurity:
    """What an OPC UA server offers and whom it admits.

    Args:
        certificate: the server's application certificate (DER or PEM).
        private_key: its private key.
        modes: the Basic256Sha256 modes offered; security mode None is never offered.
        trusted_client_certificates: a folder of client certificates (DER/PEM) the server
            accepts; ``None`` accepts any well-formed, in-date certificate whose URI matches.
        users: username -> password for username identities (compared in constant time).
        allow_anonymous: admit sessions without an identity (off unless configured).
    """

    certificate: Path
    private_key: Path
    modes: tuple[Mode, ...] = ("SignAndEncrypt",)
    trusted_client_certificates: Path | None = None
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    allow_anonymous: bool = False


async def apply_client_security(client: Client, security: ClientSecurity) -> None:
    """Configure ``client`` (before ``connect()``) for Basic256Sha256 and its identity."""
    client.application_uri = security.application_uri
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        str(security.certificate),
        str(security.private_key),
        server_certificate=str(security.server_certificate) if security.server_certificate else None,
        mode=_CLIENT_MODES[security.mode],
    )
    if security.username is not None:
        client.set_user(security.username)
        client.set_password(security.password or "")
    else:  # identity by the application certificate (X509 token), never anonymous
        await client.load_client_certificate(str(security.certificate))
        await client.load_private_key(security.private_key)


class _PasswordUsers(UserManager):
    """asyncua user manager: known username/password pairs and certificate identities.

    asyncua calls ``get_user`` for every ActivateSession; ``None`` refuses the session
    (BadUserAccessDenied). Certificate identities have already passed the channel's
    certificate check, so a certificate is admitted; anonymous sessions only when allowed.
    """

    def __init__(self, users: Mapping[str, str], *, allow_anonymous: bool) -> None:
        self._users = dict(users)
        self._allow_anonymous = allow_anonymous

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is not None:
            expected = self._users.get(username)
            if expected is None or not hmac.compare_digest(expected.encode(), (password or "").encode()):
                return None
            return User(role=UserRole.User, name=username)
        if certificate is not None:
            return User(role=UserRole.User)
        return User(role=UserRole.User) if self._allow_anonymous else None


async def apply_server_security(server: Server, security: ServerSecurity) -> None:
    """Configure ``server`` (after ``init()``, before ``start()``): certificate, modes, identities."""
    if not security.modes:
        msg = "ServerSecurity.modes must offer at least one of Sign, SignAndEncrypt"
        raise ValueError(msg)
    await server.load_certificate(str(security.certificate))
    await server.load_private_key(str(security.private_key))
    server.set_security_policy([_SERVER_POLICIES[mode] for mode in security.modes])
    tokens: list[type] = [ua.X509IdentityToken]
    if security.users:
        tokens.append(ua.UserNameIdentityToken)
    if security.allow_anonymous:
        tokens.append(ua.AnonymousIdentityToken)
    server.set_identity_tokens(tokens)
    server.iserver.set_user_manager(_PasswordUsers(security.users, allow_anonymous=security.allow_anonymous))
    if security.trusted_client_certificates is not None:
        store = TrustStore([security.trusted_client_certificates], [])
        await store.load()
        options = CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
        server.set_certificate_validator(CertificateValidator(options, store))


def make_self_signed(
    directory: Path, name: str, *, application_uri: str, hostname: str | None = None, server: bool = False
) -> tuple[Path, Path]:
    """Write ``<name>.der`` (certificate) and ``<name>.pem`` (key, 0600) into ``directory``.

    The certificate is valid for a year, carries ``application_uri`` and ``hostname`` in its
    subjectAltName and the key usages OPC UA checks (client or server authentication).

    Returns:
        ``(certificate, private_key)`` paths.
    """
    directory.mkdir(parents=True, exist_ok=True)
    host = hostname or socket.gethostname()
    key = cert_gen.generate_private_key()
    key_path = directory / f"{name}.pem"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(cert_gen.dump_private_key_as_pem(key))
    cert = cert_gen.generate_self_signed_app_certificate(
        key,
        name,
        {"organizationName": "SafeTwin"},
        [x509.UniformResourceIdentifier(application_uri), x509.DNSName(host)],
        extended=[ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH],
        days=365,
    )
    cert_path = directory / f"{name}.der"
    cert_path.write_bytes(cert.public_bytes(encoding=Encoding.DER))
    return cert_path, key_path
