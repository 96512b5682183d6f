"""What the agents do with each record: decode, decide through ``scoring``, store, send.

Kept apart from the agent declarations so each agent stays a few lines long.
"""

from __future__ import annotations

import logging
import time

from faust.types import EventT

from scoring import Ignored, QualificationChange, Signal, apply, interpret
from streams import codecs, metrics
from streams.config import scoring_model, settings
from streams.partitioning import partition_for
from streams.segment import RejectReason, Rejection, decode_segment
from streams.tables import leads_table
from streams.topics import dead_letters_topic, qualification_topic, signals_topic

log = logging.getLogger(__name__)


async def ingest(event: EventT) -> None:
    """One record from the raw topic: dead-letter it, ignore it, or score it."""
    message = event.message
    metrics.EVENTS_RECEIVED.inc()
    received_at = message.timestamp
    try:
        decoded = decode_segment(message.value or b"", received_at, settings().max_event_bytes)
        interpreted = interpret(decoded, scoring_model()) if not isinstance(decoded, Rejection) else None
    except Exception as exc:  # noqa: BLE001 — hostile input must never stop the worker
        log.exception("unexpected failure decoding %s[%d]@%d", message.topic, message.partition, message.offset)
        await dead_letter(event, RejectReason.UNPROCESSABLE.value, repr(exc))
        return
    if isinstance(decoded, Rejection):
        await dead_letter(event, decoded.reason.value, decoded.detail)
        return
    if isinstance(interpreted, Ignored):
        metrics.EVENTS_IGNORED.labels(reason=interpreted.reason.value).inc()
        return
    key = interpreted.lead_id.encode()
    if partition_for(key, settings().partitions) == message.partition:
        # Already on the partition that owns the lead (keyed by lead id): skip the hop.
        await score(interpreted, received_at)
    else:
        metrics.SIGNALS_FORWARDED.inc()
        await signals_topic.send(key=key, value=codecs.encode_signal(interpreted, received_at))


async def score_forwarded(event: EventT) -> None:
    """One record from the signals topic, already validated and keyed by lead id."""
    try:
        signal, ingested_at = codecs.decode_signal(event.message.value)
    except (ValueError, KeyError, TypeError) as exc:
        # Only this app writes the topic, but a stray producer must not stop scoring.
        await dead_letter(event, RejectReason.UNPROCESSABLE.value, f"not a leadstream signal: {exc!r}")
        return
    await score(signal, ingested_at)


async def score(signal: Signal, ingested_at: float) -> None:
    key = signal.lead_id.encode()
    held = leads_table.get(key)
    state = codecs.decode_state(signal.lead_id, held) if held is not None else None
    decision = apply(state, signal, scoring_model())
    if decision.duplicate:
        metrics.EVENTS_DEDUPLICATED.inc()
        if decision.change is not None:
            # The state landed before a crash may have lost the emit: send it again, same id.
            metrics.QUALIFICATION_REEMITTED.inc()
            await emit(decision.change, ingested_at)
        return
    leads_table[key] = codecs.encode_state(decision.state)
    metrics.EVENTS_SCORED.inc()
    if decision.change is not None:
        change = decision.change
        metrics.QUALIFICATION_CHANGES.labels(
            from_stage=change.from_stage.value, to_stage=change.to_stage.value,
            from_temperature=change.from_temperature.value, to_temperature=change.to_temperature.value,
        ).inc()
        await emit(change, ingested_at)


async def emit(change: QualificationChange, ingested_at: float) -> None:
    await qualification_topic.send(
        key=change.lead_id.encode(), value=codecs.encode_change(change, time.time(), ingested_at)
    )


async def dead_letter(event: EventT, reason: str, detail: str) -> None:
    message = event.message
    metrics.EVENTS_DEAD_LETTERED.labels(reason=reason).inc()
    log.info("dead-lettered %s[%d]@%d: %s (%s)", message.topic, message.partition, message.offset, reason, detail)
    await dead_letters_topic.send(
        key=message.key,
        value=codecs.encode_dead_letter(
            reason, detail, message.key, message.value, message.topic, message.partition,
            message.offset, message.timestamp, time.time(),
        ),
    )
