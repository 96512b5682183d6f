"""A naive scorer, written as the Faust tutorial would: the baseline the production topology must beat.

One agent, ``faust.Record`` values (Faust's JSON codec), the model's points table, and
``table[lead] = ...`` on every event (so one changelog record per event). It knows nothing of
decay, fit, criteria, stages, dedupe or dead letters: it only adds points. Run by the
benchmark as ``python -m bench.naive_app worker`` with the worker's environment.
"""

from __future__ import annotations

from typing import Any

import faust

from bench.progress import Progress, configure_comparison_app, serve_progress
from scoring.model import normalise_event_name
from streams.config.environment import scoring_model, settings

app = faust.App("leadstream-bench-naive", autodiscover=False)
configure_comparison_app(app)


class SegmentEvent(faust.Record, serializer="json"):
    type: str
    messageId: str | None = None
    userId: str | None = None
    anonymousId: str | None = None
    event: str | None = None
    timestamp: str | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


raw_events_topic = app.topic(settings().topic_prefix + "leads.events.raw", value_type=SegmentEvent)
points_table = app.Table("points", default=float)
progress = Progress()

# The same points per signal kind as the production model.
MODEL = scoring_model()
TRACK_POINTS = {name: MODEL.rule(kind).points for name, kind in MODEL.track_events.items()}
PAGE_POINTS = [(rule.prefix, MODEL.rule(rule.kind).points) for rule in MODEL.page_rules]
DEFAULT_PAGE_POINTS = MODEL.rule(MODEL.default_page_kind).points


def points_for(event: SegmentEvent) -> float:
    if event.type == "track":
        return TRACK_POINTS.get(normalise_event_name(event.event or ""), 0.0)
    if event.type == "page":
        path = (event.properties or {}).get("path") or "/"
        return next((points for prefix, points in PAGE_POINTS if path.startswith(prefix)), DEFAULT_PAGE_POINTS)
    return 0.0


@app.agent(raw_events_topic)
async def score(events):
    async for event in events:
        lead = event.userId or event.anonymousId
        if lead:
            points_table[lead] = points_table[lead] + points_for(event)
        progress.add(1)


serve_progress(app, progress, wait_for_recovery=True)


if __name__ == "__main__":
    app.main()
