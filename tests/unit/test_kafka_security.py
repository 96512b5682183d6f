"""Managed-Kafka settings: KAFKA_SECURITY_PROTOCOL / KAFKA_SASL_* / KAFKA_SSL_* parsed, and handed on.

Parsing errors name the variable (and the allowed values); the parsed KafkaSecurity becomes the
same settings for aiokafka (client_kwargs) and Faust (faust_credentials), and reaches the
worker's Settings and ``leadstream alerts``' options. The broker side is proven in
tests/integration/test_managed_kafka.py.
"""

from __future__ import annotations

import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path

import faust
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faust.types.auth import AuthProtocol, SASLMechanism

from streams.config.environment import settings_from
from streams.errors import ConfigError
from streams.config.kafka_security import MECHANISMS, PROTOCOLS, KafkaSecurity, security_from
from streams.worker.faust_settings import faust_credentials

SASL_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "PLAIN",
    "KAFKA_SASL_USERNAME": "alice",
    "KAFKA_SASL_PASSWORD": "secret",
}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key (the certificate doubles as the CA bundle).

    Made in-process with `cryptography` (a test extra), so the TLS tests never depend on an
    `openssl` binary being installed.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leadstream-test")])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)  # self-signed
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "client.pem", folder / "client.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


# --- parsing ------------------------------------------------------------------------------------


def test_no_variables_mean_plaintext():
    security = security_from({})

    assert security == KafkaSecurity()
    assert security.protocol == "PLAINTEXT"
    assert not security.uses_sasl and not security.uses_tls
    assert security.sasl_mechanism is None and security.sasl_username is None


def test_an_empty_protocol_is_plaintext_and_names_are_case_insensitive():
    assert security_from({"KAFKA_SECURITY_PROTOCOL": "  "}).protocol == "PLAINTEXT"
    security = security_from({**SASL_ENV, "KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
                              "KAFKA_SASL_MECHANISM": "scram-sha-512"})
    assert (security.protocol, security.sasl_mechanism) == ("SASL_PLAINTEXT", "SCRAM-SHA-512")


def test_the_mechanism_defaults_to_plain():
    env = {key: value for key, value in SASL_ENV.items() if key != "KAFKA_SASL_MECHANISM"}
    assert security_from(env).sasl_mechanism == "PLAIN"


def test_an_unknown_protocol_is_named_with_the_allowed_values():
    with pytest.raises(ConfigError) as error:
        security_from({"KAFKA_SECURITY_PROTOCOL": "SASL_TLS"})

    message = str(error.value)
    assert message.startswith("KAFKA_SECURITY_PROTOCOL:")
    assert "'SASL_TLS'" in message
    assert all(protocol in message for protocol in PROTOCOLS)


def test_an_unknown_mechanism_is_named_with_the_allowed_values():
    with pytest.raises(ConfigError) as error:
        security_from({**SASL_ENV, "KAFKA_SASL_MECHANISM": "GSSAPI"})

    message = str(error.value)
    assert message.startswith("KAFKA_SASL_MECHANISM:")
    assert "'GSSAPI'" in message
    assert all(mechanism in message for mechanism in MECHANISMS)


def test_the_mechanism_is_not_checked_without_sasl():
    """A leftover KAFKA_SASL_* does not break a PLAINTEXT or SSL deployment."""
    security = security_from({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SASL_MECHANISM": "nonsense"})
    assert security.sasl_mechanism is None


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
@pytest.mark.parametrize("missing", ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
def test_sasl_without_username_or_password_names_the_missing_variable(protocol: str, missing: str):
    env = {**SASL_ENV, "KAFKA_SECURITY_PROTOCOL": protocol}
    del env[missing]

    with pytest.raises(ConfigError) as error:
        security_from(env)

    assert str(error.value).startswith(f"{missing}:")
    assert protocol in str(error.value)


def test_an_empty_password_counts_as_missing():
    with pytest.raises(ConfigError, match=r"^KAFKA_SASL_PASSWORD:"):
        security_from({**SASL_ENV, "KAFKA_SASL_PASSWORD": ""})


@pytest.mark.parametrize("variable", ["KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE"])
def test_a_missing_tls_file_names_the_variable(variable: str, tmp_path: Path):
    absent = tmp_path / "absent.pem"

    with pytest.raises(ConfigError) as error:
        security_from({"KAFKA_SECURITY_PROTOCOL": "SSL", variable: str(absent)})

    assert str(error.value).startswith(f"{variable}:")
    assert str(absent) in str(error.value)


def test_a_key_without_a_certificate_is_refused(tls_files: tuple[Path, Path]):
    _, key = tls_files
    with pytest.raises(ConfigError, match=r"^KAFKA_SSL_KEYFILE:.*KAFKA_SSL_CERTFILE"):
        security_from({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEYFILE": str(key)})


@pytest.mark.parametrize(("raw", "expected"), [(None, True), ("true", True), ("false", False),
                                               ("0", False), ("No", False), ("1", True)])
def test_hostname_checking_is_on_unless_turned_off(raw: str | None, expected: bool):
    env = {"KAFKA_SECURITY_PROTOCOL": "SSL"} | ({"KAFKA_SSL_CHECK_HOSTNAME": raw} if raw is not None else {})
    security = security_from(env)

    assert security.ssl_check_hostname is expected
    assert security.ssl_context().check_hostname is expected


# --- aiokafka -----------------------------------------------------------------------------------


def test_plaintext_client_kwargs_name_only_the_protocol():
    assert KafkaSecurity().client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert KafkaSecurity().ssl_context() is None


def test_ssl_client_kwargs_carry_a_verifying_context(tls_files: tuple[Path, Path]):
    cert, key = tls_files
    security = security_from({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(cert),
                              "KAFKA_SSL_CERTFILE": str(cert), "KAFKA_SSL_KEYFILE": str(key)})

    kwargs = security.client_kwargs()

    assert set(kwargs) == {"security_protocol", "ssl_context"}
    assert kwargs["security_protocol"] == "SSL"
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    # Only the given CA bundle is trusted: the self-signed certificate, by its subject.
    assert [dict(pair[0] for pair in ca["subject"]) for ca in context.get_ca_certs()] == [
        {"commonName": "leadstream-test"}
    ]


def test_ssl_without_a_ca_file_trusts_the_system_store():
    context = security_from({"KAFKA_SECURITY_PROTOCOL": "SSL"}).client_kwargs()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_plaintext_client_kwargs_carry_the_mechanism_and_credentials(mechanism: str):
    security = security_from({**SASL_ENV, "KAFKA_SASL_MECHANISM": mechanism})

    assert security.client_kwargs() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "alice",
        "sasl_plain_password": "secret",
    }


def test_sasl_ssl_client_kwargs_carry_both(tls_files: tuple[Path, Path]):
    cert, _ = tls_files
    security = security_from({**SASL_ENV, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                              "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "KAFKA_SSL_CAFILE": str(cert)})

    kwargs = security.client_kwargs()

    assert kwargs["security_protocol"] == "SASL_SSL"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert (kwargs["sasl_mechanism"], kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == (
        "SCRAM-SHA-256", "alice", "secret")


async def test_client_kwargs_are_accepted_by_aiokafka():
    """The keyword names are aiokafka's: a typo would only surface against a managed cluster."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient

    kwargs = security_from({**SASL_ENV, "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"}).client_kwargs()
    admin = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:1", **kwargs)
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **kwargs)
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", **kwargs)
    try:
        assert producer.client._sasl_mechanism == consumer._client._sasl_mechanism == "SCRAM-SHA-512"
        assert producer.client._security_protocol == "SASL_PLAINTEXT"
    finally:  # never started, so nothing connects; closing keeps aiokafka from warning
        await admin.close()
        await producer.stop()
        await consumer.stop()


# --- Faust --------------------------------------------------------------------------------------


def test_plaintext_gives_faust_no_credentials():
    assert faust_credentials(KafkaSecurity()) is None


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_plaintext_gives_faust_sasl_credentials_with_the_mechanism(mechanism: str):
    credentials = faust_credentials(security_from({**SASL_ENV, "KAFKA_SASL_MECHANISM": mechanism}))

    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism is SASLMechanism(mechanism)
    assert (credentials.username, credentials.password) == ("alice", "secret")
    assert credentials.ssl_context is None
    assert credentials.protocol is AuthProtocol.SASL_PLAINTEXT


def test_sasl_ssl_gives_faust_sasl_credentials_over_tls(tls_files: tuple[Path, Path]):
    cert, _ = tls_files
    credentials = faust_credentials(security_from({**SASL_ENV, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                                                   "KAFKA_SSL_CAFILE": str(cert)}))

    assert isinstance(credentials, faust.SASLCredentials)
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert credentials.protocol is AuthProtocol.SASL_SSL  # Faust derives it from the context


def test_ssl_gives_faust_ssl_credentials(tls_files: tuple[Path, Path]):
    cert, _ = tls_files
    credentials = faust_credentials(security_from({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(cert)}))

    assert isinstance(credentials, faust.SSLCredentials)
    assert not isinstance(credentials, faust.SASLCredentials)
    assert isinstance(credentials.context, ssl.SSLContext)
    assert credentials.protocol is AuthProtocol.SSL


def test_faust_hands_aiokafka_the_same_settings_as_client_kwargs():
    """Faust's aiokafka driver turns the credentials into the kwargs our own clients get."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    for env in ({}, SASL_ENV, {**SASL_ENV, "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"}):
        security = security_from(env)
        through_faust = credentials_to_aiokafka_auth(faust_credentials(security))
        assert {key: value for key, value in through_faust.items() if value is not None} == security.client_kwargs()


# --- where the settings go ----------------------------------------------------------------------


def test_settings_from_carries_the_security():
    settings = settings_from({**SASL_ENV, "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"})

    assert settings.security == KafkaSecurity(
        protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256", sasl_username="alice", sasl_password="secret",
    )
    assert settings_from({}).security == KafkaSecurity()


def test_settings_from_reports_a_bad_security_variable():
    with pytest.raises(ConfigError, match=r"^KAFKA_SASL_USERNAME:"):
        settings_from({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "secret"})


def test_alert_options_carry_the_security(tmp_path: Path):
    """``leadstream alerts`` connects with the same settings as the worker."""
    from streams.alerting import alert_options_from

    settings = settings_from({**SASL_ENV, "LEADSTREAM_DATA_DIR": str(tmp_path)})
    options = alert_options_from(settings)

    assert options.security == settings.security
    assert options.security.client_kwargs()["sasl_plain_username"] == "alice"
    assert alert_options_from(settings_from({"LEADSTREAM_DATA_DIR": str(tmp_path)})).security == KafkaSecurity()
