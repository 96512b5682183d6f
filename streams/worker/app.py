"""The Faust application: built and configured here, nothing else (streams/worker/bootstrap.py wires the rest)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import faust

from streams.config.environment import settings
from streams.contracts.partitioning import kafka_partitioner
from streams.worker.faust_settings import apply_settings

StartHook = Callable[[], Awaitable[None]]


class LeadstreamApp(faust.App):
    """A Faust app that runs its start hooks, in order, before its first consumer subscribes."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.start_hooks: list[StartHook] = []

    def before_first_start(self, hook: StartHook) -> StartHook:
        self.start_hooks.append(hook)
        return hook

    async def on_first_start(self) -> None:
        for hook in self.start_hooks:
            await hook()
        await super().on_first_start()


PRODUCER_LINGER_S = 0.002
PRODUCER_MAX_BATCH_BYTES = 256 * 1024

# No autodiscovery: streams.worker.bootstrap imports every agent, timer and page explicitly.
app = LeadstreamApp("leadstream", origin="streams.worker")


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
