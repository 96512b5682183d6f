"""Checks a server command makes before it starts, so the usual start-up failures are one line, not a crash.

``leadstream worker`` hands its process to Faust, which reports a failure at start as a logged
traceback and exit status 1; checked here first, Kafka unreachable, Kafka refusing the client and
a taken port are each said plainly with their own exit status (streams/failures.py).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

from aiokafka import errors as kafka_errors
from aiokafka.conn import collect_hosts, create_conn

from streams.config.environment import Settings
from streams.errors import KafkaAccessRefused, KafkaUnreachable, PortTaken
from streams.failures import kafka_refused, kafka_unreachable

KAFKA_CHECK_TIMEOUT_S = 30.0  # a host that drops packets, not one that refuses: aiokafka alone waits 40 s per try


def check_port_free(host: str, port: int, how_to_change: str) -> None:
    """Refuse to start when ``host:port`` is taken; bound as the servers bind (SO_REUSEADDR, as aiohttp)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return  # not ours to judge (an address this host lacks): the server says it in its own words
            raise PortTaken(f"port {port} on {host} is already in use: stop what listens there, or choose"
                            f" another with {how_to_change}") from None


def check_kafka(config: Settings) -> None:
    """Refuse to start when no broker answers at KAFKA_BOOTSTRAP_SERVERS, or Kafka refuses our credentials."""
    if (problem := kafka_problem(config)) is not None:
        raise problem


async def check_kafka_answers(config: Settings) -> None:
    """``check_kafka`` from a command already running on an event loop."""
    if (problem := await _first_answer(config)) is not None:
        raise problem


def kafka_problem(config: Settings) -> KafkaUnreachable | KafkaAccessRefused | None:
    """Why no client gets through to Kafka, found by connecting as every client does; None if one does.

    aiokafka's own bootstrap turns every cause into "Unable to bootstrap" (the cause only logged),
    so each address is tried here, and a refusal told apart from silence.
    """
    # A loop of its own, not asyncio.run: that would leave the thread without the current loop Faust takes.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_first_answer(config))
    finally:
        loop.close()


async def _first_answer(config: Settings) -> KafkaUnreachable | KafkaAccessRefused | None:
    refusal: BaseException | None = None
    for host, port, _ in collect_hosts(config.bootstrap_servers):
        try:
            connection = await asyncio.wait_for(create_conn(
                host, port, client_id=f"{config.app_id}-preflight", **config.security.client_kwargs()),
                KAFKA_CHECK_TIMEOUT_S)
        except ssl.SSLError as exc:  # before OSError: a failed certificate check is both
            refusal = exc
        except (OSError, TimeoutError, kafka_errors.KafkaConnectionError):
            continue
        except kafka_errors.KafkaError as exc:  # SASL refused, mechanism not enabled, ...
            refusal = exc
        else:
            connection.close()
            return None
    if refusal is not None:
        return KafkaAccessRefused(kafka_refused(refusal))
    return KafkaUnreachable(kafka_unreachable())
