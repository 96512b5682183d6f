"""The CRM consumer: qualification changes in, each lead's latest state written to the CRM, offsets after the writes.

Records are read in partition order and folded into the coalescer (a lead's newer state replaces
its waiting one). Whenever leads come due (their window passed) they are written in batches
through the CRM client; each record's result is final: written, cleared, or dead-lettered with
the API's reason. Only then are offsets committed, up to the oldest record whose write is not
done, so a crash or restart re-reads and re-writes whatever was not finished (writes set
absolute values: a repeat leaves the same record). A 401 stops the consumer with
:class:`TokenRejected`; a stop during a retry pause leaves those writes uncommitted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError

from streams.alerting.change import decode_change
from streams.alerting.errors import UnreadableChange
from streams.crm.coalesce import Coalescer, Due
from streams.crm.dead_letter import CrmDeadLetters
from streams.crm.errors import SimulatedCrash, WriteAbandoned
from streams.crm.fields import LeadState, cleared, state_of
from streams.crm.http import ApiCaller
from streams.crm.hubspot import HubSpotClient
from streams.crm.metrics import (
    CRM_CHANGES_COALESCED,
    CRM_LEADS_WAITING,
    CRM_RECORDS_DEAD_LETTERED,
    CRM_RECORDS_SKIPPED,
    CRM_RECORDS_WRITTEN,
    start_at_zero,
)
from streams.crm.options import HUBSPOT, CrmOptions
from streams.crm.results import CrmClient
from streams.crm.salesforce import SalesforceClient
from streams.crm.writer import write_states
from streams.log_redaction import lead_ref

log = logging.getLogger(__name__)

FETCH_WAIT_MS = 200  # the longest a fetch waits: also how soon a due lead or a stop is noticed
MAX_RECORDS_PER_FETCH = 500
# Writes wait out outages and rate limits between fetches; the group must not evict the consumer meanwhile
# (an eviction is harmless, as offsets follow the writes, but it re-reads and rewrites for nothing).
MAX_POLL_INTERVAL_MS = 3_600_000
LEAD_ERASED = "lead_erased"


@dataclass
class CrmStats:
    """What one run did with the records it read: ``read`` = coalesced + skipped + the leads' writes' records."""

    read: int = 0
    coalesced: int = 0  # replaced by a newer state of the same lead before being written
    skipped: int = 0  # unreadable, another kind, or a lead the CRM cannot match
    written: int = 0  # lead records upserted
    cleared: int = 0  # lead records cleared on erasure (including ones the CRM did not hold)
    dead_lettered: int = 0


def client_for(options: CrmOptions, stop: asyncio.Event) -> CrmClient:
    caller = ApiCaller(options, stop)
    return HubSpotClient(options, caller) if options.crm == HUBSPOT else SalesforceClient(options, caller)


async def run_crm(options: CrmOptions, stop: asyncio.Event | None = None) -> CrmStats:
    """Consumes the qualification topic until ``stop`` is set; raises TokenRejected on a 401."""
    stop = stop or asyncio.Event()
    stats = CrmStats()
    client = client_for(options, stop)
    start_at_zero(client.name)
    consumer = AIOKafkaConsumer(
        options.topic, bootstrap_servers=options.bootstrap, group_id=options.group_id,
        client_id=f"{options.group_id}-consumer", enable_auto_commit=False, auto_offset_reset="earliest",
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS, **options.security.client_kwargs(),
    )
    coalescer = Coalescer(options.window_s)
    run = _Run(options, client, coalescer, CrmDeadLetters(options.dead_letter_path), stats, consumer)
    try:
        await client.start()
        await consumer.start()
        log.info("crm: consuming %s as group %s, writing to %s", options.topic, options.group_id, client.name)
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=MAX_RECORDS_PER_FETCH)
            for records in fetched.values():
                for record in records:
                    await run.fold(record)
            CRM_LEADS_WAITING.set(len(coalescer))
            if not await run.write_due():
                break  # stopped mid-retry: what was not written stays uncommitted
            await run.commit()
    finally:
        CRM_LEADS_WAITING.set(0)
        await consumer.stop()  # never commits: auto-commit is off
        await client.close()
    log.info("crm: stopped; %s", stats)
    return stats


@dataclass
class _Run:
    options: CrmOptions
    client: CrmClient
    coalescer: Coalescer
    dead_letters: CrmDeadLetters
    stats: CrmStats
    consumer: AIOKafkaConsumer

    async def fold(self, record: ConsumerRecord) -> None:
        self.stats.read += 1
        state = self._state(record)
        if state is None:
            self.coalescer.read(record.partition, record.offset)
            self.stats.skipped += 1
            return
        if self.coalescer.add(state, record.partition, record.offset, time.monotonic()):
            CRM_CHANGES_COALESCED.labels(self.client.name).inc()
            self.stats.coalesced += 1

    def _state(self, record: ConsumerRecord) -> LeadState | None:
        try:
            change = decode_change(record.value)
        except UnreadableChange as bad:
            notice = _erasure(record.value) if bad.reason == "wrong_kind" else None
            if notice is not None:
                return cleared(notice["lead_id"], notice)
            reason = "not_a_change" if bad.reason == "wrong_kind" else "unreadable"
            if reason == "unreadable":
                log.warning("crm: skipping %s[%d]@%d: %s", record.topic, record.partition, record.offset, bad)
            CRM_RECORDS_SKIPPED.labels(self.client.name, reason).inc()
            return None
        if not self.client.identifies(change.lead_id):
            CRM_RECORDS_SKIPPED.labels(self.client.name, "no_identity").inc()
            return None
        return state_of(change)

    async def write_due(self, everything: bool = False) -> bool:
        """Writes the leads now due; False when stopped mid-retry (those leads wait again, uncommitted)."""
        due = self.coalescer.due(time.monotonic(), everything)
        if not due:
            return True
        by_lead = {item.state.lead_id: item for item in due}
        try:
            results = await write_states(self.client, [item.state for item in due])
        except WriteAbandoned as abandoned:
            log.warning("crm: %s", abandoned)
            for item in due:
                self.coalescer.give_back(item, time.monotonic())
            return False
        for result in results:
            await self._settle(by_lead[result.lead_id], result)
        if self.options.crash_after_write:
            raise SimulatedCrash(f"crash_after_write: stopped after writing {len(results)} lead(s), before the commit")
        return True

    async def _settle(self, due: Due, result) -> None:
        state = due.state
        operation = "clear" if state.clears else "upsert"
        if state.clears:
            await self.dead_letters.forget(state.lead_id)  # erasure: what leadstream kept of the lead goes too
        if result.ok:
            CRM_RECORDS_WRITTEN.labels(self.client.name, operation).inc()
            if state.clears:
                self.stats.cleared += 1
            else:
                self.stats.written += 1
        else:
            await self.dead_letters.refused(self.client.name, state, result, time.time())
            CRM_RECORDS_DEAD_LETTERED.labels(self.client.name).inc()
            self.stats.dead_lettered += 1
            log.error("crm: %s refused %s for lead %s: %s %s", self.client.name, operation, lead_ref(state.lead_id),
                      result.code, result.reason)
        self.coalescer.done(state.lead_id)

    async def commit(self) -> None:
        offsets = {TopicPartition(self.options.topic, partition): offset
                   for partition, offset in self.coalescer.committable().items()}
        committed = {tp: offset for tp, offset in offsets.items() if self._committed.get(tp) != offset}
        if not committed:
            return
        try:
            await self.consumer.commit(committed)
            self._committed.update(committed)
        except CommitFailedError as exc:
            # A rebalance took a partition: its new owner re-reads from the last commit and rewrites the same values.
            log.warning("crm: commit failed: %s", exc)

    def __post_init__(self) -> None:
        self._committed: dict[TopicPartition, int] = {}


def _erasure(raw: bytes | None) -> dict | None:
    data = orjson.loads(raw or b"null")
    if isinstance(data, dict) and data.get("kind") == LEAD_ERASED and isinstance(data.get("lead_id"), str):
        return data
    return None
