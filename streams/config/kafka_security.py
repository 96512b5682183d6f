"""TLS and SASL settings for managed Kafka, shared by Faust and every aiokafka client we create.

No Faust import: the collector and ``leadstream alerts`` read these settings without the stream
stack; the worker turns them into Faust's credentials (``streams.worker.faust_settings``).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.errors import ConfigError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)  # a secret: never in a repr or log
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile:
            context.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None)
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password)
        return options


def _file(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"{name}: no such file: {value}")
    return path


def security_from(env: Mapping[str, str]) -> KafkaSecurity:
    protocol = env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").strip().upper() or "PLAINTEXT"
    if protocol not in PROTOCOLS:
        raise ConfigError(f"KAFKA_SECURITY_PROTOCOL: {protocol!r} is not one of: {', '.join(PROTOCOLS)}")
    mechanism = username = password = None
    if protocol.startswith("SASL_"):
        mechanism = env.get("KAFKA_SASL_MECHANISM", "PLAIN").strip().upper()
        if mechanism not in MECHANISMS:
            raise ConfigError(f"KAFKA_SASL_MECHANISM: {mechanism!r} is not one of: {', '.join(MECHANISMS)}")
        username, password = env.get("KAFKA_SASL_USERNAME", ""), env.get("KAFKA_SASL_PASSWORD", "")
        if not username:
            raise ConfigError(f"KAFKA_SASL_USERNAME: required with KAFKA_SECURITY_PROTOCOL={protocol}")
        if not password:
            raise ConfigError(f"KAFKA_SASL_PASSWORD: required with KAFKA_SECURITY_PROTOCOL={protocol}")
    certfile, keyfile = _file(env, "KAFKA_SSL_CERTFILE"), _file(env, "KAFKA_SSL_KEYFILE")
    if keyfile and not certfile:
        raise ConfigError("KAFKA_SSL_KEYFILE: given without KAFKA_SSL_CERTFILE")
    return KafkaSecurity(
        protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username=username,
        sasl_password=password,
        ssl_cafile=_file(env, "KAFKA_SSL_CAFILE"),
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        ssl_check_hostname=env.get("KAFKA_SSL_CHECK_HOSTNAME", "true").strip().lower() not in ("0", "false", "no"),
    )
