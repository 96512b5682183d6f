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
    # The first rejections, {"index", "messageId", "reason", "detail"}: at most the listing bound, so a
    # hostile batch cannot make the answer many times larger than the request.
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0
    unavailable: bool = False  # Kafka did not take them: the client should retry
    bots: int = 0  # taken as a bot by the user agent: produced, and ignored by the worker (the answer says so)


class Intake:
    def __init__(self, producer: RawProducer, max_event_bytes: int, max_rejections_listed: int = 20,
                 max_pending: int = 10_000) -> None:
        self.producer = producer
        self.max_event_bytes = max_event_bytes
        self.max_rejections_listed = max_rejections_listed
        self.max_pending = max_pending  # pixel events admitted and not yet confirmed: never an unbounded pile
        self._background: set[asyncio.Task[None]] = set()

    @property
    def saturated(self) -> bool:
        return len(self._background) >= self.max_pending

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
                outcome.rejected_count += 1
                if len(outcome.rejected) < self.max_rejections_listed:
                    outcome.rejected.append({"index": index, "messageId": _message_id(message),
                                             "reason": decision.reason, "detail": decision.detail[:200]})
            else:
                if decision.bot:
                    metrics.BOT_EVENTS.labels(endpoint=endpoint).inc()
                    outcome.bots += 1
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

    def take_soon(self, endpoint: str, message: dict[str, Any], hit: Hit) -> Outcome | None:
        """Admit now, produce in the background: the pixel has its answer before Kafka has the event.

        None (the event counted as rejected, ``busy``) while ``max_pending`` events are still on their way.
        """
        if self.saturated:
            metrics.EVENTS_RECEIVED.labels(source=metrics.SOURCE, type=metrics.UNKNOWN_TYPE).inc()
            metrics.EVENTS_REJECTED.labels(reason=metrics.BUSY).inc()
            return None
        outcome = Outcome()
        for event in self._admitted(endpoint, [message], hit, outcome):
            task = asyncio.create_task(self._produce(event))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return outcome

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


DROPPED_HEADER = "X-Leadstream-Dropped"


def bot_headers(outcome: Outcome) -> dict[str, str]:
    """Said on every answer: events taken as a bot are stored but will never score (docs/collector.md, Bots)."""
    return {DROPPED_HEADER: "bot"} if outcome.bots else {}
