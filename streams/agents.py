"""The stream processors. Each iterates its topic and hands every record to the pipeline."""

from __future__ import annotations

from streams import pipeline
from streams.app import app
from streams.topics import account_members_topic, raw_events_topic, signals_topic


@app.agent(raw_events_topic)
async def ingest(stream):
    """Validate inbound events; score those already keyed by lead id, forward the rest."""
    async for event in stream.events():
        await pipeline.ingest(event)


@app.agent(signals_topic)
async def score(stream):
    """Score events repartitioned by lead id."""
    async for event in stream.events():
        await pipeline.score_forwarded(event)


@app.agent(account_members_topic)
async def roll_up_accounts(stream):
    """Keep each account's buying committee, keyed by company domain."""
    async for event in stream.events():
        await pipeline.score_account(event)
