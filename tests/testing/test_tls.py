"""The throwaway CA: a client that trusts its CA file reaches a server it certified."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from pushrelay.testing.tls import CertificateAuthority


async def test_client_trusting_the_ca_file_completes_a_tls_handshake_with_alpn_h2(tmp_path: Path) -> None:
    """The fakes speak TLS with ALPN h2 on 127.0.0.1; clients are given the CA as `ca_file`."""
    authority = CertificateAuthority()
    ca_file = authority.write_ca_file(tmp_path / "ca.pem")
    server = await asyncio.start_server(
        lambda r, w: w.close(), "127.0.0.1", 0, ssl=authority.server_ssl_context()
    )
    port = server.sockets[0].getsockname()[1]
    client = ssl.create_default_context(cafile=str(ca_file))
    client.set_alpn_protocols(["h2"])
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_server_sees_the_client_certificate_it_asked_for() -> None:
    """APNs certificate auth: the server reads the client's certificate after the handshake."""
    authority = CertificateAuthority()
    client_cert = authority.issue_client_certificate("Apple Push Services: chat.app", user_id="chat.app")
    seen: list[dict[str, object]] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(writer.get_extra_info("peercert"))
        writer.close()

    server = await asyncio.start_server(
        on_connect, "127.0.0.1", 0, ssl=authority.server_ssl_context(verify_clients=True)
    )
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=authority.client_ssl_context(client_cert)
        )
        await reader.read()
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert seen[0]["subject"] == (
        (("userId", "chat.app"),),
        (("commonName", "Apple Push Services: chat.app"),),
    )


def test_pkcs12_bundle_round_trips_with_its_password() -> None:
    """APNs certificates are often exported from Keychain as password-protected .p12 files."""
    issued = CertificateAuthority().issue_client_certificate(
        "Apple Push Services: chat.app", user_id="chat.app"
    )
    key, cert, _ = pkcs12.load_key_and_certificates(issued.to_pkcs12(b"secret"), b"secret")
    assert cert is not None and key is not None
    uid = cert.subject.get_attributes_for_oid(NameOID.USER_ID)[0].value
    assert uid == "chat.app"
    assert isinstance(cert, x509.Certificate)
