"""Taking a request's events in: admit each at the edge, produce the accepted ones, count everything.

Every event read ends in one bucket of the collector's accounting: accepted (produced),
rejected (answered with its reason; ``unavailable`` when Kafka did not take it), or
consent_refused. A rejected event never holds back the others of its batch.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from streams.collector import metrics
from streams.collector.edge import Accepted, Hit, Refused, Rejected, admit
from streams.collector.producer import ProduceFailed, RawProducer

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    accepted: int = 0
    refused: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"index", "messageId", "reason", "detail"}
    unavailable: bool = False  # Kafka did not take them: the client should retry


class Intake:
    def __init__(self, producer: RawProducer, max_event_bytes: int) -> None:
        self.producer = producer
        self.max_event_bytes = max_event_bytes
        self._background: set[asyncio.Task[None]] = set()

    def _admitted(self, endpoint: str, messages: list[Any], hit: Hit, outcome: Outcome) -> list[Accepted]:
        accepted = []
        for index, message in enumerate(messages):
            decision = admit(message, hit, self.max_event_bytes)
            metrics.EVENTS_RECEIVED.labels(source=metrics.SOURCE, type=decision.type).inc()
            if isinstance(decision, Refused):
                metrics.CONSENT_REFUSED.labels(endpoint=endpoint).inc()
                outcome.refused += 1
            elif isinstance(decision, Rejected):
                metrics.EVENTS_REJECTED.labels(reason=decision.reason).inc()
                outcome.rejected.append({"index": index, "messageId": _message_id(message),
                                         "reason": decision.reason, "detail": decision.detail})
            else:
                if decision.bot:
                    metrics.BOT_EVENTS.labels(endpoint=endpoint).inc()
                if decision.clamped:
                    metrics.CLOCK_SKEW_CLAMPED.inc()
                accepted.append(decision)
        return accepted

    async def take(self, endpoint: str, messages: list[Any], hit: Hit) -> Outcome:
        """Admit and produce, answering once Kafka has every accepted event."""
        outcome = Outcome()
        accepted = self._admitted(endpoint, messages, hit, outcome)
        if not accepted:
            return outcome
        try:
            await self.producer.send_all((event.key, event.value) for event in accepted)
        except ProduceFailed as failure:
            log.warning("producing %d events failed: %s", len(accepted), failure)
            metrics.EVENTS_REJECTED.labels(reason=metrics.UNAVAILABLE).inc(len(accepted))
            outcome.unavailable = True
            return outcome
        for event in accepted:
            metrics.EVENTS_ACCEPTED.labels(type=event.type).inc()
        outcome.accepted = len(accepted)
        return outcome

    def take_soon(self, endpoint: str, message: dict[str, Any], hit: Hit) -> None:
        """Admit now, produce in the background: the pixel has its answer before Kafka has the event."""
        outcome = Outcome()
        for event in self._admitted(endpoint, [message], hit, outcome):
            task = asyncio.create_task(self._produce(event))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _produce(self, event: Accepted) -> None:
        try:
            delivery = await self.producer.send_soon(event.key, event.value)
            await asyncio.wait_for(delivery, timeout=30.0)
        except Exception as exc:  # noqa: BLE001 — a lost pixel must not take the collector down
            log.warning("producing a pixel event failed: %r", exc)
            metrics.EVENTS_REJECTED.labels(reason=metrics.UNAVAILABLE).inc()
        else:
            metrics.EVENTS_ACCEPTED.labels(type=event.type).inc()

    async def drain(self) -> None:
        """On shutdown: let pixel events already admitted reach Kafka."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


def _message_id(message: Any) -> str | None:
    value = message.get("messageId") if isinstance(message, dict) else None
    return str(value)[:256] if isinstance(value, str | int) and not isinstance(value, bool) else None
