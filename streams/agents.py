"""The stream processors. Each takes its topic in batches and hands them to ``streams.batch``."""

from __future__ import annotations

from streams import batch
from streams.app import app
from streams.topics import raw_events_topic, signals_topic


@app.agent(raw_events_topic)
async def ingest(stream):
    """Validate inbound events; score those already keyed by lead id, forward the rest."""
    async for events in stream.take_events(batch.MAX_EVENTS, within=batch.WITHIN_S):
        await batch.ingest(events)


@app.agent(signals_topic)
async def score(stream):
    """Score events repartitioned by lead id, and run erasure and feedback commands in order."""
    async for events in stream.take_events(batch.MAX_EVENTS, within=batch.WITHIN_S):
        await batch.score_forwarded(events)
