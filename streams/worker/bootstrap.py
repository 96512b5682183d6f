"""The worker's wiring: Faust's overrides, then every topic, table, agent, timer and page, the start hooks,
and what the worker's context (streams/worker/wiring.py) publishes and recounts.

``leadstream worker`` imports this module and nothing else of the worker before handing the
command line to Faust; the app module itself knows none of what is registered on it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import partial

from prometheus_client import REGISTRY

from streams import faust_ext

faust_ext.install()  # before any Faust service exists; refuses Faust internals it was not written against

from streams.api import health, leads, revisits  # noqa: E402,F401 — pages register on import
from streams.api import web_guard  # noqa: E402
from streams.api.board import views  # noqa: E402,F401
from scoring.signals import use_bot_patterns  # noqa: E402
from streams.config.environment import settings  # noqa: E402
from streams.contracts.topic_admin import ensure_topics  # noqa: E402
from streams.worker import agents, model_rollout, timers  # noqa: E402,F401 — agents and timers register on import
from streams.worker.app import app  # noqa: E402
from streams.worker import metrics, visitor_summaries, wiring  # noqa: E402
from streams.worker.census import CensusMetrics  # noqa: E402
from streams.worker.state_store import SUMMARIZERS  # noqa: E402
from streams.worker.tables import accounts_table, leads_table, visitors_table  # noqa: E402

# The collector and the worker take the same user agents as bots (docs/collector.md, Bots).
if settings().bot_patterns:
    use_bot_patterns(settings().bot_patterns)

# What the worker's shared context counts is published, and recounted after every recovery.
context = wiring.worker_context
REGISTRY.register(CensusMetrics(context.census))
metrics.EVENTS_HELD.set_function(context.held.total)
# On RocksDB each lead's summary is kept beside it, so the recount reads summaries (streams/worker/lead_summaries.py).
SUMMARIZERS[leads_table.name] = partial(wiring.summary_of_record, context)
# And each visitor's (when last seen, how many events held): the held counts and the expiry index are rebuilt from them.
SUMMARIZERS[visitors_table.name] = visitor_summaries.summary_of_record
leads_table.on_recover(partial(wiring.recount_leads, context, model_rollout.reclassify_stale_leads))
visitors_table.on_recover(partial(wiring.recount_held, context))
accounts_table.on_recover(partial(wiring.recount_accounts, context))

# Host allow-list, JSON-only changes and security headers in front of every page (streams/api/web_guard.py).
web_guard.install(app)

# The fetch loop queues the records of the intake's topics for it, instead of one message each.
faust_ext.hand_over_bulk_intake(agents.intake)


@app.before_first_start
async def say_when_time_is_not_the_wall() -> None:
    """A demo's fast clock in production would demote every lead within minutes: the log says so at start."""
    clock = settings().clock
    if clock.kind == "scaled":
        # Not clock.setting(): its speed@origin reads as an e-mail address to the log's redaction.
        logging.getLogger(__name__).warning(
            "!!! LEADSTREAM_CLOCK is scaled: scores decay %s times faster than real time since %s"
            " (a demo clock, not for production)", f"{clock.speed:g}",
            datetime.fromtimestamp(clock.started_wall, timezone.utc).isoformat(timespec="seconds"))


@app.before_first_start
async def create_topics() -> None:
    """Topics are created with their partition counts before the consumer subscribes.

    Auto-creation would give the broker's default count and break co-partitioning.
    """
    await ensure_topics(settings())


# Before any event is scored: a model applied with `leadstream model apply` wins over the file's.
app.before_first_start(model_rollout.adopt_applied_model)
