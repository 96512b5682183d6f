"""The framework limit: one Faust agent on the raw topic that takes batches and does nothing else.

Raw-bytes codec, ``stream.take(1000, within=...)``, no decoding, no table, no sends: what
Faust itself costs per event on this machine. Run by the benchmark as
``python -m bench.noop_app worker`` with the worker's environment (LEADSTREAM_*).
"""

from __future__ import annotations

import faust

from bench.progress import Progress, configure_comparison_app, serve_progress
from streams.config.environment import settings

app = faust.App("leadstream-bench-noop", autodiscover=False)
configure_comparison_app(app)
raw_events_topic = app.topic(settings().topic_prefix + "leads.events.raw", key_serializer="raw",
                             value_serializer="raw")
progress = Progress()


@app.agent(raw_events_topic)
async def count(stream):
    async for batch in stream.take(1000, within=0.05):
        progress.add(len(batch))


serve_progress(app, progress, wait_for_recovery=False)


if __name__ == "__main__":
    app.main()
