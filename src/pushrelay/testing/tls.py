"""A throwaway certificate authority for the fakes, the tests, the benchmark and `demo`.

One `CertificateAuthority` per run: it signs a server certificate for 127.0.0.1/localhost
(so the fakes can speak TLS with ALPN h2, as APNs and FCM do) and, for APNs certificate
authentication, client certificates whose subject carries the app's bundle id in `UID`,
as Apple's push certificates do. Clients trust it through a CA file (`ca_file` in the
provider settings). Keys are P-256: quick to make, and nothing here outlives the run.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOCAL_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate and its private key."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write_pem(self, path: Path) -> Path:
        """Write certificate and key into one PEM file (what `cert_file` accepts)."""
        path.write_bytes(self.cert_pem + self.key_pem)
        return path

    def to_pkcs12(self, password: bytes | None = None, name: bytes = b"pushrelay") -> bytes:
        """The certificate and key as a PKCS#12 bundle, as Keychain exports push certificates."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return pkcs12.serialize_key_and_certificates(
            name, self.private_key, self.certificate, None, encryption
        )

    def load_into(self, context: ssl.SSLContext) -> None:
        """`SSLContext.load_cert_chain` only reads files: go through a private temporary one."""
        with tempfile.TemporaryDirectory(prefix="pushrelay-tls-") as directory:
            chain = self.write_pem(Path(directory) / "chain.pem")
            context.load_cert_chain(chain)


class CertificateAuthority:
    """A self-signed CA living for one run; see the module docstring."""

    def __init__(self, common_name: str = "pushrelay throwaway CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        builder = _validity(x509.CertificateBuilder()).subject_name(name).issuer_name(name)
        builder = builder.public_key(self._key.public_key()).serial_number(x509.random_serial_number())
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        builder = builder.add_extension(_key_usage(ca=True), critical=True)
        self.certificate = builder.sign(self._key, hashes.SHA256())

    @property
    def ca_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write_ca_file(self, path: Path) -> Path:
        """Write the CA certificate where a client can be given it as `ca_file`."""
        path.write_bytes(self.ca_pem)
        return path

    def issue_server_certificate(self, hosts: Sequence[str] = LOCAL_HOSTS) -> IssuedCertificate:
        """A TLS server certificate valid for `hosts` (IP addresses or DNS names)."""
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
        extensions: list[x509.ExtensionType] = [
            x509.SubjectAlternativeName(names),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
        ]
        return self._issue(subject, extensions)

    def issue_client_certificate(self, common_name: str, user_id: str | None = None) -> IssuedCertificate:
        """A TLS client certificate; APNs push certificates carry the bundle id as `UID`."""
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if user_id is not None:
            attributes.insert(0, x509.NameAttribute(NameOID.USER_ID, user_id))
        extensions: list[x509.ExtensionType] = [x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])]
        return self._issue(x509.Name(attributes), extensions)

    def server_ssl_context(
        self,
        certificate: IssuedCertificate | None = None,
        alpn: Sequence[str] = ("h2",),
        verify_clients: bool = False,
    ) -> ssl.SSLContext:
        """A server context; `verify_clients` asks for (but does not require) a client certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        (certificate or self.issue_server_certificate()).load_into(context)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        if verify_clients:
            context.verify_mode = ssl.CERT_OPTIONAL
            context.load_verify_locations(cadata=self.ca_pem.decode())
        return context

    def client_ssl_context(
        self, certificate: IssuedCertificate | None = None, alpn: Sequence[str] = ("h2",)
    ) -> ssl.SSLContext:
        """A client context that trusts this CA and presents `certificate` if given."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        if certificate is not None:
            certificate.load_into(context)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        return context

    def _issue(self, subject: x509.Name, extensions: Sequence[x509.ExtensionType]) -> IssuedCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _validity(x509.CertificateBuilder()).subject_name(subject)
        builder = builder.issuer_name(self.certificate.subject).public_key(key.public_key())
        builder = builder.serial_number(x509.random_serial_number())
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(_key_usage(ca=False), critical=True)
        for extension in extensions:
            builder = builder.add_extension(extension, critical=False)
        return IssuedCertificate(builder.sign(self._key, hashes.SHA256()), key)


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + VALIDITY)


def _key_usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
