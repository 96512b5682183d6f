"""The stream processors. Each takes its topic in batches and hands them to the pipeline."""

from __future__ import annotations

from streams import pipeline
from streams.app import app
from streams.batch import MAX_EVENTS, WITHIN_S
from streams.topics import account_members_topic, raw_events_topic, signals_topic


@app.agent(raw_events_topic)
async def ingest(stream):
    """Validate inbound events; score those already keyed by lead id, forward the rest."""
    async for events in stream.take_events(MAX_EVENTS, within=WITHIN_S):
        await pipeline.ingest(events)


@app.agent(signals_topic)
async def score(stream):
    """Score events repartitioned by lead id, and run the commands sent to a lead's partition in order."""
    async for events in stream.take_events(MAX_EVENTS, within=WITHIN_S):
        await pipeline.score_forwarded(events)


@app.agent(account_members_topic)
async def roll_up_accounts(stream):
    """Keep each account's buying committee, keyed by company domain."""
    async for events in stream.take_events(MAX_EVENTS, within=WITHIN_S):
        await pipeline.score_accounts(events)
