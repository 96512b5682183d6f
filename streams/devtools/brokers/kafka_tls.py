"""TLS listeners for the single-node Apache Kafka: SSL, mutual TLS, SASL_SSL, and a wrong-host one.

Managed clusters speak TLS, so the tests need a node that does too. Every certificate and key is
PEM (Kafka 4.x reads `ssl.keystore.type=PEM` files), made by whoever starts the node. The node's
own traffic and its readiness probe stay on the plaintext (or SASL_PLAINTEXT) client listener.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SSL_LISTENER = "SSL"
MTLS_LISTENER = "MTLS"  # SSL that requires a client certificate signed by the CA
SASL_SSL_LISTENER = "SASL_SSL"  # only on a node with sasl_users
# SSL with a certificate issued by the same CA to another host name: a client checking the
# host name must refuse it, one told not to check accepts it.
WRONG_HOST_LISTENER = "WRONG_HOST"


@dataclass(frozen=True)
class BrokerTls:
    """The PEM files the TLS listeners use.

    `ca_file`: the CA certificate(s) the node trusts for client certificates (mutual TLS).
    `keystore_file`: the node's private key (PKCS#8, unencrypted) followed by its certificate
    chain, naming 127.0.0.1 in its subject alternative names.
    `wrong_host_keystore_file`: the same for a certificate that names another host.
    """

    ca_file: Path
    keystore_file: Path
    wrong_host_keystore_file: Path

    def listeners(self, with_sasl: bool) -> tuple[str, ...]:
        return (SSL_LISTENER, MTLS_LISTENER, *((SASL_SSL_LISTENER,) if with_sasl else ()), WRONG_HOST_LISTENER)


def tls_protocols(listeners: tuple[str, ...]) -> dict[str, str]:
    """Each TLS listener's security protocol, for `listener.security.protocol.map`."""
    return {name: "SASL_SSL" if name == SASL_SSL_LISTENER else "SSL" for name in listeners}


def tls_properties(tls: BrokerTls) -> dict[str, str]:
    """The node-wide keystore and truststore, and what sets the MTLS and WRONG_HOST listeners apart."""
    wrong_host = f"listener.name.{WRONG_HOST_LISTENER.lower()}"
    return {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.keystore_file),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca_file),
        f"listener.name.{MTLS_LISTENER.lower()}.ssl.client.auth": "required",
        f"{wrong_host}.ssl.keystore.type": "PEM",
        f"{wrong_host}.ssl.keystore.location": str(tls.wrong_host_keystore_file),
    }


def listener_list(addresses: Mapping[str, str]) -> str:
    """`NAME://host:port,...` for `listeners` and `advertised.listeners`."""
    return ",".join(f"{name}://{address}" for name, address in addresses.items())
