"""The worker's context: Faust's tables and producer wired in behind the pipeline's seams.

``faust_context`` builds a ``WorkerContext`` on the app's own tables; ``worker_context`` is the
one every agent, timer and page of this worker shares. Nothing is registered here:
``streams.worker.bootstrap`` registers the census collector and the recovery callbacks, and
``bench.topology`` builds its own context here with an outbox that keeps what it is given.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from functools import partial
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError
from faust.types import AppT

from scoring.due_index import DueIndex
from streams.config.environment import scoring_model, settings
from streams.contracts import dead_letter_records
from streams.contracts.partitioning import partition_for
from streams.worker import faults, lead_summaries, metrics, pipeline, stitching
from streams.worker.app import app
from streams.worker.memory_release import release_free_memory
from streams.worker.census import HeldCount, LeadCensus
from streams.worker.context import Outbox, ShadowLane, TopicNames, WorkerContext
from streams.worker.tables import (
    accounts_table, emails_table, erasures_table, leads_table, shadow_leads_table, visitors_table,
)

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

    A record Kafka refuses as too large, whether the client does at once or the broker does
    later, is dead-lettered (``record_too_large``) and the worker goes on: raising would stop
    the worker, and the redelivered batch would build the same record again at every restart.
    """

    def __init__(self, app: AppT, dead_letters: str, partitions: int) -> None:
        self.app = app
        self.dead_letters = dead_letters
        self.partitions = partitions
        self._refusals: set[asyncio.Future[None]] = set()  # dead letters for the broker's refusals, in flight

    async def send(self, topic: str, key: bytes | None, value: bytes | None,
                   delivered: Callable[[int, int], None] | None = None) -> None:
        try:
            delivery = await self.app.producer.send(topic, key, value, None, None, None)
        except ProducerSendError as exc:
            if not too_large(exc.__cause__):
                raise
            await self._refused(topic, key, value, exc.__cause__)
            return
        delivery.add_done_callback(partial(self._delivered, topic, key, value, delivered))

    def _delivered(self, topic: str, key: bytes | None, value: bytes | None,
                   delivered: Callable[[int, int], None] | None, delivery: asyncio.Future[Any]) -> None:
        if delivery.cancelled():
            return
        if (error := delivery.exception()) is None:
            if delivered is not None:
                metadata = delivery.result()
                delivered(metadata.partition, metadata.offset)
            return
        if not too_large(error):
            log.error("sending a record to %s failed: %r", topic, error)
            return
        refusal = asyncio.ensure_future(self._refused(topic, key, value, error))
        self._refusals.add(refusal)
        refusal.add_done_callback(self._refusals.discard)

    async def _refused(self, topic: str, key: bytes | None, value: bytes | None, error: BaseException) -> None:
        metrics.OUTPUTS_DEAD_LETTERED.labels(topic=topic).inc()
        size = len(value or b"") + len(key or b"")
        log.error("Kafka refused a record of %d bytes for %s as too large; dead-lettered instead: %r",
                  size, topic, error)
        if topic == self.dead_letters:
            return  # a dead letter is bounded well under the limit; never loop on one
        letter = dead_letter_records.encode_dead_letter(
            dead_letter_records.RECORD_TOO_LARGE, f"{size} bytes refused: {error!r}", key, value, topic,
            partition_for(key, self.partitions) if key is not None else 0, dead_letter_records.UNWRITTEN_OFFSET,
            time.time(), time.time())
        try:
            await self.app.producer.send(self.dead_letters, key, letter, None, None, None)
        except ProducerSendError as exc:
            log.error("dead-lettering a refused record for %s failed too: %r", topic, exc)


def too_large(error: BaseException | None) -> bool:
    """The client's check (max request size) or the broker's answer (message.max.bytes) refused the record."""
    return isinstance(error, MessageSizeTooLargeError | RecordListTooLargeError | RecordTooLargeError)


def faust_context(app: AppT, outbox: Outbox | None = None) -> WorkerContext:
    """The worker's tables and (unless ``outbox`` replaces it) its producer, as the pipeline's context."""
    config = settings()
    topics = TopicNames.for_prefix(config.topic_prefix)
    return WorkerContext(
        settings=config, model=scoring_model, topics=topics,
        leads=FaustTable(leads_table), erasures=FaustTable(erasures_table), accounts=FaustTable(accounts_table),
        visitors=FaustTable(visitors_table), emails=FaustTable(emails_table),
        outbox=outbox if outbox is not None else ProducerOutbox(app, topics.dead_letters, config.partitions),
        census=LeadCensus(table_size=partial(table_keys, leads_table)), due_index=DueIndex(), held=HeldCount(),
        clock=config.clock, shadow=ShadowLane(FaustTable(shadow_leads_table)), crash_point=faults.crash_point if config.fault_crash_at is not None else None,
    )


def table_keys(table: Any) -> int:
    """The keys in the table's local store; on RocksDB its estimate, as counting would read every key."""
    estimated_size = getattr(table.data, "estimated_size", None)
    return estimated_size() if estimated_size is not None else len(table)


def active_partitions(table: Any) -> set[int]:
    """The partitions of ``table`` this worker actively owns (standby copies are not its to count)."""
    changelog = table.changelog_topic.get_topic_name()
    return {tp.partition for tp in table.app.assignor.assigned_actives() if tp.topic == changelog}


def summary_of_record(context: WorkerContext, key: bytes, record: bytes) -> bytes | None:
    """A lead record's summary under the model running now, for the store to keep beside it."""
    return lead_summaries.summary_of_record(key, record, context.model())


async def recount_leads(context: WorkerContext, reclassify: Callable[[list[bytes]], Awaitable[None]]) -> None:
    """After every rebalance's recovery: count the leads of the partitions now owned, and ``reclassify`` those
    of them last classified under another model."""
    # Faust's recovery loop swallows an exception here and retries forever, so never raise.
    try:
        elsewhere = await pipeline.recount_leads(context, active_partitions(leads_table))
    except Exception:  # noqa: BLE001
        log.exception("recounting leads after recovery failed; leads per stage may be off until the next one")
        return
    finally:
        release_free_memory()
    await reclassify(elsewhere)


async def recount_accounts(context: WorkerContext) -> None:
    """After every rebalance's recovery: the account timer's index, for the accounts now owned."""
    try:
        pipeline.recount_accounts(context, active_partitions(accounts_table))
    except Exception:  # noqa: BLE001 — Faust's recovery loop would retry forever
        log.exception("recounting accounts after recovery failed; accounts cool on their next member update")


async def recount_held(context: WorkerContext) -> None:
    """After every rebalance's recovery: count what the visitors of the partitions now owned hold."""
    try:
        stitching.recount_held(context, active_partitions(visitors_table))
    except Exception:  # noqa: BLE001
        log.exception("recounting held anonymous events failed; the held count may be off until the next one")
    release_free_memory()


# The one context of this worker process: its agents, timers and pages all read and write through it.
worker_context = faust_context(app)
