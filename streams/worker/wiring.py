"""The worker's context: Faust's tables and producer wired in behind the pipeline's seams.

``faust_context`` builds a ``WorkerContext`` on the app's own tables; ``worker_context`` is the
one every agent, timer and page of this worker shares. Nothing is registered here:
``streams.worker.bootstrap`` registers the census collector and the recovery callbacks, and
``bench.topology`` builds its own context here with an outbox that keeps what it is given.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from faust.types import AppT

from scoring.due_index import DueIndex
from streams.config.environment import scoring_model, settings
from streams.worker import faults, pipeline, stitching
from streams.worker.app import app
from streams.worker.census import HeldCount, LeadCensus
from streams.worker.context import Outbox, TopicNames, WorkerContext
from streams.worker.tables import accounts_table, erasures_table, leads_table, visitors_table

log = logging.getLogger(__name__)


class FaustTable:
    """A Faust table as the pipeline sees it: looked up when used, as Faust makes its store on first use."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.name: str = table.name
        self._changelog: str | None = None

    @property
    def changelog(self) -> str:
        if self._changelog is None:
            self._changelog = self.table.changelog_topic.get_topic_name()
        return self._changelog

    @property
    def data(self) -> MutableMapping[bytes, bytes]:
        return self.table.data  # the store itself: Faust's own get and set add sensor calls per access


class ProducerOutbox:
    """Hands each record to the Kafka client (which batches and sends it), partitioned by key.

    Faust's ``Topic.send`` costs several times more per record (a future message, sensors);
    the worker's own records are already encoded bytes and need none of it.
    """

    def __init__(self, app: AppT) -> None:
        self.app = app

    async def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        await self.app.producer.send(topic, key, value, None, None, None)


def faust_context(app: AppT, outbox: Outbox | None = None) -> WorkerContext:
    """The worker's tables and (unless ``outbox`` replaces it) its producer, as the pipeline's context."""
    config = settings()
    return WorkerContext(
        settings=config, model=scoring_model, topics=TopicNames.for_prefix(config.topic_prefix),
        leads=FaustTable(leads_table), erasures=FaustTable(erasures_table), accounts=FaustTable(accounts_table),
        visitors=FaustTable(visitors_table), outbox=outbox if outbox is not None else ProducerOutbox(app),
        census=LeadCensus(table_size=lambda: len(leads_table)), due_index=DueIndex(), held=HeldCount(),
        clock=config.clock, crash_point=faults.crash_point if config.fault_crash_at is not None else None,
    )


def active_partitions(table: Any) -> set[int]:
    """The partitions of ``table`` this worker actively owns (standby copies are not its to count)."""
    changelog = table.changelog_topic.get_topic_name()
    return {tp.partition for tp in table.app.assignor.assigned_actives() if tp.topic == changelog}


async def recount_leads(context: WorkerContext) -> None:
    """After every rebalance's recovery: count the leads of the partitions now owned."""
    # Faust's recovery loop swallows an exception here and retries forever, so never raise.
    try:
        pipeline.recount_leads(context, active_partitions(leads_table))
    except Exception:  # noqa: BLE001
        log.exception("recounting leads after recovery failed; leads per stage may be off until the next one")


async def recount_held(context: WorkerContext) -> None:
    """After every rebalance's recovery: count what the visitors of the partitions now owned hold."""
    try:
        stitching.recount_held(context, active_partitions(visitors_table))
    except Exception:  # noqa: BLE001
        log.exception("recounting held anonymous events failed; the held count may be off until the next one")


# The one context of this worker process: its agents, timers and pages all read and write through it.
worker_context = faust_context(app)
