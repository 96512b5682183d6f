"""Producing to leads.events.raw: acknowledged by every in-sync replica, idempotent, bounded in time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.config.environment import Settings
from streams.contracts.topics import RAW_EVENTS

log = logging.getLogger(__name__)
# An HTTP client waits for the answer: better a 503 it can retry than a hung request.
SEND_TIMEOUT_S = 10.0
# /healthz asks Kafka for metadata: a health check must answer well within its own timeout.
HEALTH_PROBE_TIMEOUT_S = 2.0


class ProduceFailed(Exception):
    """Kafka did not confirm the events in time.

    They may still be written (the producer keeps retrying its batches once the broker is back):
    the client, told to retry, sends them again, and the worker deduplicates them by messageId.
    """


class RawProducer:
    def __init__(self, config: Settings, idempotent: bool = True) -> None:
        self.topic = config.topic_prefix + RAW_EVENTS
        self._producer = AIOKafkaProducer(
            bootstrap_servers=config.bootstrap_servers, client_id=f"{config.app_id}-collector",
            acks="all", enable_idempotence=idempotent, linger_ms=5, request_timeout_ms=int(SEND_TIMEOUT_S * 1000),
            **config.security.client_kwargs(),
        )
        self.started = False

    async def start(self) -> None:
        await self._producer.start()
        self.started = True

    async def stop(self) -> None:
        self.started = False
        await self._producer.stop()

    async def reaches_kafka(self) -> bool:
        """Whether a broker answers a metadata request now: a started producer may have lost Kafka since."""
        if not self.started:
            return False
        try:
            async with asyncio.timeout(HEALTH_PROBE_TIMEOUT_S):
                await self._producer.client.fetch_all_metadata()
        except (KafkaError, TimeoutError):
            return False
        return True

    async def send_all(self, records: Iterable[tuple[bytes, bytes]]) -> None:
        """Produce (key, value) records and wait until Kafka has them all."""
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                deliveries = [await self._producer.send(self.topic, value, key=key or None) for key, value in records]
                await asyncio.gather(*deliveries)
        except (KafkaError, TimeoutError) as exc:
            raise ProduceFailed(repr(exc)) from exc

    async def send_soon(self, key: bytes, value: bytes) -> asyncio.Future:
        """Hand the record to the producer without waiting for Kafka (the pixel has answered already)."""
        return await self._producer.send(self.topic, value, key=key or None)
