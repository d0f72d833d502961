"""OPC UA security against a real asyncua server: Basic256Sha256 with self-signed certificates.

The certificates are generated in the test (``connectors.opcua.security.make_self_signed``).
What an operator would notice: a secured subscriber receives readings; a client without
security, an anonymous client, a wrong password and an untrusted certificate are refused.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asyncua import Client, Server, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from connectors.opcua.client import NodePoint, OpcUaError, OpcUaSubscriber
from connectors.opcua.security import (
    ClientSecurity,
    Mode,
    ServerSecurity,
    apply_server_security,
    make_self_signed,
)
from models.contracts import SensorReading
from tests.conftest import free_port
from twin.field import stop_opcua_server

NS = "urn:safetwin:test-secure"
POINT = NodePoint(tag="PT-1", node_id="ns=2;s=PT-1")
CLIENT_URI = "urn:safetwin:client"
SERVER_URI = "urn:safetwin:field-server"


@dataclass
class Pki:
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path
    rogue_key: Path
    trusted: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("opcua-pki")
    server_cert, server_key = make_self_signed(
        root, "server", application_uri=SERVER_URI, hostname="127.0.0.1", server=True
    )
    client_cert, client_key = make_self_signed(root, "client", application_uri=CLIENT_URI)
    rogue_cert, rogue_key = make_self_signed(root / "rogue", "rogue", application_uri=CLIENT_URI)
    trusted = root / "trusted"
    trusted.mkdir()
    shutil.copy(client_cert, trusted / "client.der")
    return Pki(server_cert, server_key, client_cert, client_key, rogue_cert, rogue_key, trusted)


class SecureServer:
    def __init__(self, security: ServerSecurity) -> None:
        self.url = f"opc.tcp://127.0.0.1:{free_port()}/secure/"
        self.security = security
        self.server = Server()
        self.node: ua.NodeId | None = None

    async def start(self) -> None:
        await self.server.init()
        self.server.set_endpoint(self.url)
        self.server.set_server_name("SafeTwin secure test server")
        await self.server.set_application_uri(SERVER_URI)
        await apply_server_security(self.server, self.security)
        idx = await self.server.register_namespace(NS)
        obj = await self.server.nodes.objects.add_object(idx, "V-1")
        var = await obj.add_variable(ua.NodeId("PT-1", idx), "PT-1", 0.0, varianttype=ua.VariantType.Double)
        self.node = var.nodeid
        await self.server.start()

    async def write(self, value: float) -> None:
        assert self.node is not None
        dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double), SourceTimestamp=datetime.now(UTC))
        await self.server.write_attribute_value(self.node, dv)

    async def stop(self) -> None:
        await stop_opcua_server(self.server)


@pytest.fixture
async def server(pki: Pki) -> AsyncIterator[SecureServer]:
    security = ServerSecurity(
        certificate=pki.server_cert,
        private_key=pki.server_key,
        modes=("Sign", "SignAndEncrypt"),
        trusted_client_certificates=pki.trusted,
        users={"plant-gw": "Gw-Secret-2024!"},
    )
    s = SecureServer(security)
    await s.start()
    yield s
    await s.stop()


def _client_security(pki: Pki, *, mode: Mode = "SignAndEncrypt", **kw: object) -> ClientSecurity:
    return ClientSecurity(
        certificate=pki.client_cert,
        private_key=pki.client_key,
        mode=mode,
        server_certificate=pki.server_cert,
        application_uri=CLIENT_URI,
        **kw,  # type: ignore[arg-type]
    )


async def _first_reading(server: SecureServer, security: ClientSecurity | None) -> SensorReading:
    got: list[SensorReading] = []
    sub = OpcUaSubscriber(server.url, [POINT], got.extend, publishing_interval_ms=50, security=security)
    await sub.start()
    try:
        await server.write(4.25)
        for _ in range(100):
            if any(r.value == 4.25 for r in got):  # noqa: PLR2004
                break
            await server.write(4.25)
            await _sleep(0.05)
        return next(r for r in got if r.value == 4.25)  # noqa: PLR2004
    finally:
        await sub.stop()


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


async def test_the_server_offers_basic256sha256_only(server: SecureServer) -> None:
    client = Client(server.url)
    endpoints = await client.connect_and_get_server_endpoints()
    offered = {(e.SecurityPolicyUri.rsplit("#", 1)[-1], e.SecurityMode) for e in endpoints}
    assert offered == {
        ("Basic256Sha256", ua.MessageSecurityMode.Sign),
        ("Basic256Sha256", ua.MessageSecurityMode.SignAndEncrypt),
    }
    tokens = {t.TokenType for e in endpoints for t in e.UserIdentityTokens}
    assert ua.UserTokenType.Anonymous not in tokens


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
async def test_a_secured_subscriber_receives_readings_with_a_certificate_identity(
    server: SecureServer, pki: Pki, mode: Mode
) -> None:
    reading = await _first_reading(server, _client_security(pki, mode=mode))
    assert reading.tag == "PT-1"


async def test_a_secured_subscriber_logs_in_with_username_and_password(server: SecureServer, pki: Pki) -> None:
    security = _client_security(pki, username="plant-gw", password="Gw-Secret-2024!")
    assert "Gw-Secret" not in repr(security)
    reading = await _first_reading(server, security)
    assert reading.value == 4.25  # noqa: PLR2004


async def test_a_client_without_security_is_refused(server: SecureServer) -> None:
    sub = OpcUaSubscriber(server.url, [POINT], lambda _: None, security=None)
    with pytest.raises(OpcUaError):
        await sub.start()
    await sub.stop()


async def test_a_wrong_password_is_refused(server: SecureServer, pki: Pki) -> None:
    security = _client_security(pki, username="plant-gw", password="wrong-Password-1")
    sub = OpcUaSubscriber(server.url, [POINT], lambda _: None, security=security)
    with pytest.raises(OpcUaError, match="BadUserAccessDenied|BadIdentityToken"):
        await sub.start()
    await sub.stop()


async def test_an_anonymous_session_on_a_secure_channel_is_refused(server: SecureServer, pki: Pki) -> None:
    client = Client(server.url, timeout=2)
    client.application_uri = CLIENT_URI
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        str(pki.client_cert),
        str(pki.client_key),
        server_certificate=str(pki.server_cert),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    with pytest.raises(ua.UaStatusCodeError, match="BadIdentityTokenRejected"):
        await client.connect()  # a failed activation closes the socket itself


async def test_an_untrusted_client_certificate_is_refused(server: SecureServer, pki: Pki) -> None:
    rogue = ClientSecurity(
        certificate=pki.rogue_cert,
        private_key=pki.rogue_key,
        server_certificate=pki.server_cert,
        application_uri=CLIENT_URI,
    )
    sub = OpcUaSubscriber(server.url, [POINT], lambda _: None, security=rogue)
    with pytest.raises(OpcUaError):
        await sub.start()
    await sub.stop()


async def test_anonymous_is_admitted_only_when_configured(pki: Pki) -> None:
    security = ServerSecurity(certificate=pki.server_cert, private_key=pki.server_key, allow_anonymous=True)
    s = SecureServer(security)
    await s.start()
    try:
        client = Client(s.url, timeout=2)
        client.application_uri = CLIENT_URI
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            str(pki.client_cert),
            str(pki.client_key),
            server_certificate=str(pki.server_cert),
        )
        async with client:
            assert await client.nodes.server.read_browse_name()
    finally:
        await s.stop()


def test_the_private_key_is_written_0600(pki: Pki) -> None:
    assert pki.client_key.stat().st_mode & 0o777 == 0o600
    assert pki.server_key.stat().st_mode & 0o777 == 0o600
