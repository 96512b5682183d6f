"""The Faust application and the ``leadstream`` console entry point."""

from __future__ import annotations

import sys

import faust

import streams.faust_fixes  # noqa: F401 — before any faust service starts
from scoring import ScoringError
from streams.config import scoring_model, settings
from streams.errors import StreamsError
from streams.faust_settings import apply_settings
from streams.partitioning import kafka_partitioner


class LeadstreamApp(faust.App):
    async def on_first_start(self) -> None:
        # Topics are created explicitly with their partition counts before the consumer
        # subscribes: auto-creation would give the broker's default count and break co-partitioning.
        from streams.rollout import adopt_applied_model
        from streams.topic_admin import ensure_topics

        await ensure_topics(settings())
        # Before any event is scored: a model applied with `leadstream model apply` wins over the file's.
        await adopt_applied_model()
        await super().on_first_start()


PRODUCER_LINGER_S = 0.002
PRODUCER_MAX_BATCH_BYTES = 256 * 1024

app = LeadstreamApp(
    "leadstream",
    origin="streams",
    autodiscover=[
        "streams.agents", "streams.views", "streams.leads_api", "streams.board.views", "streams.timers",
        "streams.commands", "streams.rollout",
    ],
)


@app.on_configured.connect
def configure(app: faust.App, conf: faust.Settings, **kwargs: object) -> None:
    """Settings are read from the environment when Faust first needs them, not at import."""
    config = settings()
    apply_settings(conf, config)
    # Faust derives this from its own defaults before we configure it; the lead API routes
    # requests to the owning worker by it, so it must be the address we really serve on.
    conf.canonical_url = config.advertised_url
    # aiokafka keeps one produce request in flight per broker and one open batch per partition;
    # a little linger and room per batch turn a request per record into a request per batch.
    conf.producer_linger = PRODUCER_LINGER_S
    conf.producer_max_batch_size = PRODUCER_MAX_BATCH_BYTES
    # Every record the worker sends is keyed: aiokafka's default partitioner hashes each key in
    # pure Python at about 10 µs; this one places it identically for a fraction of that.
    conf.producer_partitioner = kafka_partitioner


# Commands that run the app need valid settings and a valid model before Faust starts.
COMMANDS_NEEDING_THE_MODEL = {"worker"}


def main() -> None:
    try:
        settings()
        if COMMANDS_NEEDING_THE_MODEL & set(sys.argv[1:2]):
            scoring_model()
        if sys.argv[1:2] == ["collector"]:
            from streams.collector import collector_settings

            collector_settings()
        app.main()
    except (StreamsError, ScoringError) as exc:
        print(f"leadstream: {exc}", file=sys.stderr)
        sys.exit(2)

