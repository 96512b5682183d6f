"""The stream processors. Each topic is read in bulk (streams.worker.bulk_intake) and its batches handed to the pipeline.

streams/worker/bootstrap.py hands ``intake`` to the fetch loop (streams/faust_ext/bulk_fetch.py).
"""

from __future__ import annotations

from functools import partial

from streams.worker import pipeline
from streams.worker.app import app
from streams.worker.bulk_intake import BulkIntake
from streams.config.environment import settings
from streams.worker.gc_pause import freeze_loaded_objects, time_pauses
from streams.worker.topics import account_members_topic, raw_events_topic, signals_topic
from streams.worker.wiring import worker_context

intake = BulkIntake(settings().max_batch_records)
# Validate inbound events; score those already keyed by lead id, forward the rest.
intake.read(raw_events_topic, partial(pipeline.ingest, worker_context))
# Score events repartitioned by lead id, and run the commands sent to a lead's partition in order.
intake.read(signals_topic, partial(pipeline.score_forwarded, worker_context))
# Keep each account's buying committee, keyed by company domain.
intake.read(account_members_topic, partial(pipeline.score_accounts, worker_context))
intake.subscribe(app)


@app.task
async def handle_batches() -> None:
    """Every batch the fetcher queued, handed to its topic's handler in turn."""
    time_pauses()
    freeze_loaded_objects()  # the worker is loaded: see streams/worker/gc_pause.py
    await intake.run(app)
