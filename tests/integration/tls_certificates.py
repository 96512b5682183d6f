"""A throwaway certificate authority for the TLS tests, made in-process with `cryptography`.

No `openssl` or `keytool` binary is needed: the CA, the node's certificate (127.0.0.1 and
localhost), a certificate for another host (what a hostname check must refuse) and a client
certificate for mutual TLS are written as PEM files, which Kafka 4.x reads directly.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from streams.devtools.brokers import BrokerTls

WRONG_HOST = "kafka.elsewhere.invalid"


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate: clients' KAFKA_SSL_CAFILE, the node's truststore
    broker: BrokerTls
    client_cert: Path  # KAFKA_SSL_CERTFILE / KAFKA_SSL_KEYFILE for mutual TLS
    client_key: Path
    stranger_cert: Path  # a client certificate from a CA the node does not trust
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
                 *, ca: bool = False, hosts: tuple[str, ...] = (), client: bool = False) -> x509.Certificate:
    now = datetime.now(timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject)).issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False), critical=True)
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if hosts or client:
        usage = [ExtendedKeyUsageOID.SERVER_AUTH] if hosts else [ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Unencrypted PKCS#8: what Kafka's PEM keystore reads without ssl.key.password.
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_tls_files(folder: Path) -> TlsFiles:
    """Writes a CA and the certificates it signs into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("leadstream test CA", ca_key, "leadstream test CA", ca_key, ca=True)

    def issued(name: str, **options: object) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        return _certificate(name, key, "leadstream test CA", ca_key, **options), key  # type: ignore[arg-type]

    broker, broker_key = issued("kafka", hosts=("127.0.0.1", "localhost"))
    wrong_host, wrong_host_key = issued(WRONG_HOST, hosts=(WRONG_HOST,))
    client, client_key = issued("leadstream-app", client=True)
    stranger_ca_key = ec.generate_private_key(ec.SECP256R1())
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _certificate("stranger", stranger_key, "another CA", stranger_ca_key, client=True)

    paths = {name: folder / name for name in (
        "ca.pem", "broker-keystore.pem", "wrong-host-keystore.pem", "client.pem", "client.key",
        "stranger.pem", "stranger.key")}
    paths["ca.pem"].write_bytes(_pem(ca))
    # Kafka's PEM keystore: the private key, then the certificate chain up to the CA.
    paths["broker-keystore.pem"].write_bytes(_key_pem(broker_key) + _pem(broker) + _pem(ca))
    paths["wrong-host-keystore.pem"].write_bytes(_key_pem(wrong_host_key) + _pem(wrong_host) + _pem(ca))
    paths["client.pem"].write_bytes(_pem(client) + _pem(ca))
    paths["client.key"].write_bytes(_key_pem(client_key))
    paths["stranger.pem"].write_bytes(_pem(stranger))
    paths["stranger.key"].write_bytes(_key_pem(stranger_key))
    return TlsFiles(
        ca=paths["ca.pem"],
        broker=BrokerTls(ca_file=paths["ca.pem"], keystore_file=paths["broker-keystore.pem"],
                         wrong_host_keystore_file=paths["wrong-host-keystore.pem"]),
        client_cert=paths["client.pem"], client_key=paths["client.key"],
        stranger_cert=paths["stranger.pem"], stranger_key=paths["stranger.key"],
    )
