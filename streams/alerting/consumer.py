"""The alerts consumer: qualification changes in, alerts out, each at least once and recorded once.

For each record, in partition order: decode it, skip it unless it is a promotion the rule
alerts on, skip it if its change_id is already in the store, else deliver it through the sink
(a failure for good goes to the dead letters), record the outcome in the store, and only then
let its offset be committed. Offsets are committed per partition after each fetched batch,
so a skipped record is committed with the records around it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import orjson

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError

from streams.config.kafka_security import KafkaSecurity
from streams.contracts.compaction_bound import bound_compaction
from streams.contracts.topic_admin import COMPACTION_CONFIGS
from streams.alerting.change import decode_change
from streams.alerting.dead_letter import DeadLetters
from streams.alerting.errors import AlertingError, SimulatedCrash, UnreadableChange
from streams.alerting.metrics import (
    ALERT_DELIVERY_SECONDS,
    ALERTS_DEAD_LETTERED,
    ALERTS_DELIVERED,
    ALERTS_DEDUPLICATED,
    CHANGES_UNREADABLE,
    start_at_zero,
)
from streams.alerting.options import AlertOptions
from streams.alerting.rules import promotion
from streams.alerting.sinks import ConsoleSink, Result, Sink, WebhookSink
from streams.alerting.store import AlertStore, Outcome

log = logging.getLogger(__name__)

FETCH_WAIT_MS = 250  # how long a fetch may wait: also how soon a stop is noticed when idle
MAX_RECORDS_PER_FETCH = 200
DLQ_RETENTION_MS = 30 * 86_400_000
TOPIC_ALREADY_EXISTS = 36  # Kafka error code: another instance created it first


@dataclass
class AlertStats:
    """What one run did with the records it read; ``read`` is the sum of the others."""

    read: int = 0
    unreadable: int = 0
    not_alerting: int = 0
    deduplicated: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    abandoned: int = 0  # stopped mid-retry: left uncommitted for the next run
    erased: int = 0  # lead_erased notices: the lead's dead letters were removed


def sink_for(options: AlertOptions) -> Sink:
    if options.webhook_url is None:
        return ConsoleSink()
    return WebhookSink(options.webhook_url, attempts=options.attempts, backoff_base_s=options.backoff_base_s,
                       request_timeout_s=options.request_timeout_s, max_retry_after_s=options.max_retry_after_s)


async def run_alerts(options: AlertOptions, stop: asyncio.Event | None = None) -> AlertStats:
    """Consumes the qualification topic until ``stop`` is set (or the task is cancelled)."""
    stop = stop or asyncio.Event()
    stats = AlertStats()
    sink = sink_for(options)
    start_at_zero(sink.name)
    store = AlertStore(options.store_path)
    producer: AIOKafkaProducer | None = None
    consumer = AIOKafkaConsumer(
        options.topic, bootstrap_servers=options.bootstrap, group_id=options.group_id,
        client_id=f"{options.group_id}-consumer", enable_auto_commit=False, auto_offset_reset="earliest",
        **options.security.client_kwargs(),
    )
    try:
        await sink.start()
        if options.dlq_topic:
            await ensure_topic(options.bootstrap, options.dlq_topic, options.replication_factor, options.security)
            producer = AIOKafkaProducer(bootstrap_servers=options.bootstrap, acks="all", enable_idempotence=True,
                                        client_id=f"{options.group_id}-dlq", **options.security.client_kwargs())
            await producer.start()
        handler = _Handler(options, sink, store, DeadLetters(options.dead_letter_path, producer, options.dlq_topic),
                           stats, stop)
        await consumer.start()
        log.info("alerts: consuming %s as group %s, sending to %s", options.topic, options.group_id, sink.name)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=MAX_RECORDS_PER_FETCH)
            for partition, records in batches.items():
                handled = None
                for record in records:
                    if stop.is_set() or not await handler.handle(record):
                        break
                    handled = record.offset + 1
                if handled is not None:
                    await _commit(consumer, partition, handled)
                if stop.is_set():
                    break
    finally:
        await consumer.stop()  # never commits: auto-commit is off
        if producer is not None:
            await producer.stop()
        await sink.close()
        store.close()
    log.info("alerts: stopped; %s", stats)
    return stats


@dataclass
class _Handler:
    options: AlertOptions
    sink: Sink
    store: AlertStore
    dead_letters: DeadLetters
    stats: AlertStats
    stop: asyncio.Event

    async def handle(self, record: ConsumerRecord) -> bool:
        """Deals with one record; False when stopped before it was dealt with (leave it uncommitted)."""
        self.stats.read += 1
        try:
            change = decode_change(record.value)
        except UnreadableChange as bad:
            if bad.reason == "wrong_kind":
                # The topic also carries erasure notices: they never alert, and what alerting kept goes.
                if (erased := erased_lead(record.value)) is not None:
                    await self.dead_letters.forget(erased)
                    self.stats.erased += 1
                else:
                    self.stats.not_alerting += 1
                return True
            log.warning("alerts: skipping %s[%d]@%d: %s", record.topic, record.partition, record.offset, bad)
            CHANGES_UNREADABLE.labels(bad.reason).inc()
            self.stats.unreadable += 1
            return True
        entered = promotion(change, self.options.rule)
        if entered is None:
            self.stats.not_alerting += 1
            return True
        if self.store.already_handled(change.change_id):
            ALERTS_DEDUPLICATED.inc()
            self.stats.deduplicated += 1
            return True
        started = time.monotonic()
        delivery = await self.sink.deliver(change, entered, self.stop)
        if delivery.result is Result.ABANDONED:
            self.stats.abandoned += 1
            return False
        if delivery.delivered:
            ALERTS_DELIVERED.labels(self.sink.name).inc()
            ALERT_DELIVERY_SECONDS.observe(time.monotonic() - started)
            outcome = Outcome.DELIVERED
            self.stats.delivered += 1
        else:
            await self.dead_letters.write(change, delivery, self.sink.name, time.time())
            log.error("alerts: dead-lettered %s after %d attempt(s): %s", change.change_id, delivery.attempts,
                      delivery.last_error)
            ALERTS_DEAD_LETTERED.labels(self.sink.name).inc()
            outcome = Outcome.DEAD_LETTERED
            self.stats.dead_lettered += 1
        # The window for a second POST: a crash after the 2xx and before this line.
        self.store.record(change.change_id, outcome, time.time())
        if self.options.crash_after_record:
            raise SimulatedCrash(f"crash_after_record: stopped after recording {change.change_id}, before the commit")
        return True


def erased_lead(raw: bytes | None) -> str | None:
    """The lead id of a ``lead_erased`` notice (the store holds only change ids, hashes: nothing to remove there)."""
    data = orjson.loads(raw or b"null")
    if isinstance(data, dict) and data.get("kind") == "lead_erased" and isinstance(data.get("lead_id"), str):
        return data["lead_id"]
    return None


async def _commit(consumer: AIOKafkaConsumer, partition: TopicPartition, offset: int) -> None:
    try:
        await consumer.commit({partition: offset})
    except CommitFailedError as exc:
        # A rebalance took the partition: its new owner re-reads from the last commit, and the
        # store (or the receiver's Idempotency-Key check) keeps what was handled from repeating.
        log.warning("alerts: commit of %s@%d failed: %s", partition, offset, exc)


async def ensure_topic(bootstrap: str, name: str, replication_factor: int, security: KafkaSecurity = KafkaSecurity()) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadstream-alerts-admin",
                                **security.client_kwargs())
    await admin.start()
    try:
        configs = {"retention.ms": str(DLQ_RETENTION_MS), "cleanup.policy": "compact,delete", **COMPACTION_CONFIGS}
        if name in set(await admin.list_topics()):
            await bound_compaction(admin, {name: configs})  # an older version's topic: erasure needs the bound
        else:
            response = await admin.create_topics([NewTopic(
                name=name, num_partitions=1, replication_factor=replication_factor, topic_configs=configs)])
            for topic, code, *message in response.topic_errors:
                if code == TOPIC_ALREADY_EXISTS:  # made meanwhile, or not yet in this client's metadata
                    await bound_compaction(admin, {name: configs})
                elif code:
                    raise AlertingError(f"creating the DLQ topic {topic} failed: error {code} {message}")
                else:
                    log.info("alerts: created topic %s", name)
    finally:
        await admin.close()
