"""What the agents do with each batch of records: decode, decide through ``scoring``, then write and send.

Kept apart from the agent declarations so each agent stays a few lines long. Every decision is
made against a ``streams.worker.batch.Batch``, which holds each lead as this batch decided it and
writes and sends everything once the whole batch is decided. Each handler takes the worker's
``WorkerContext`` first (``streams.worker.wiring`` binds the worker's own; tests bind in-memory
ones): this module holds no state and registers nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence

import orjson
from aiokafka.structs import ConsumerRecord

from scoring import IgnoreReason, Ignored, interpret
from scoring.account_timer import cool_account, next_account_change
from scoring.accounts import AccountChange, AccountState, update_member
from streams.contracts import account_records, command_records, dead_letter_records, privacy, signal_records
from streams.contracts.partitioning import partition_for
from streams.contracts.segment import RejectReason, Rejection, decode_segment, id_too_long
from streams.worker import lead_summaries, metrics, outcome_join, shadow_lane
from streams.worker.batch import Batch
from streams.worker.census import Bucket
from streams.worker.context import WorkerContext
from streams.worker.lead_commands import run_command
from streams.worker.routing import route, stitch
from streams.worker.table_writes import TableWrites

log = logging.getLogger(__name__)
# Leads read between two yields to the event loop in a recount (about 0.1 s of work).
RECOUNT_SLICE = 40_000


async def recount_leads(context: WorkerContext, active: set[int]) -> list[bytes]:
    """After a rebalance's recovery: the census, the lead timer's index, the lead index and the revisit queue.

    Only the partitions newly owned are read (from the summaries kept beside the leads, where the store
    keeps them): those kept through the rebalance were kept in step by every batch, and a survivor
    taking over a dead worker's partitions reads those alone, not everything it holds. Returns the
    keys of the leads read that were last classified under another model version (leads stored
    before versions were kept are left to their next event).
    """
    model = context.model()
    current, unversioned = lead_summaries.version_mark(model.version), lead_summaries.version_mark(None)
    elsewhere: list[bytes] = []
    held = context.lead_index.partitions()
    fresh = active - held
    for partition in held - active:  # handed to another worker: its leads' timers go with them
        for key in context.lead_index.keys(partition):
            context.due_index.schedule(key, None)
            context.revisit_queue.discard(key)
    # Straight into the structures kept: lists of a tuple per lead, dropped after, left the worker resident at
    # their peak (the freed blocks sit among the kept ones), some 300 MB at a million leads.
    counted: dict[int, Counter[Bucket]] = {partition: Counter() for partition in fresh}
    entries: dict[int, dict[Bucket, dict[bytes, bytes]]] = {partition: {} for partition in fresh}
    due: dict[bytes, float] = {}
    revisits: dict[bytes, float] = {}
    for read, (key, partition, (bucket, due_at, revisit, standing, classified)) in enumerate(
            lead_summaries.owned_summaries(context.leads.data, fresh, context.partitions, model)):
        if read % RECOUNT_SLICE == 0:
            # Heartbeats and pages run meanwhile; nothing kept is touched before the swap below, and the
            # partitions read here fetch no event until the recovery's callbacks are done.
            await asyncio.sleep(0)
        counted[partition][bucket] += 1
        held_in = entries[partition].get(bucket)
        if held_in is None:
            held_in = entries[partition][bucket] = {}
        held_in[key] = standing
        if due_at is not None:
            due[key] = due_at
        if revisit is not None:
            revisits[key] = revisit
        if classified != current and classified != unversioned:
            elsewhere.append(key)
    context.census.replace_partitions(counted, active)
    context.lead_index.replace_partitions(entries, active)
    # Demotions and revisits that fell due while no worker owned these leads fire now, at their own times.
    context.due_index.extend(due.items())
    context.revisit_queue.extend(revisits.items())
    shadow_lane.rebuild_due(context.shadow, context.partitions, active)
    return elsewhere


def recount_accounts(context: WorkerContext, active: set[int]) -> None:
    """After a rebalance's recovery: when each account of the partitions now owned may next cool."""
    model = context.model()
    due = []
    for key, value in list(context.accounts.data.items()):
        if value and partition_for(key, context.partitions) in active:
            account = account_records.decode_account(key.decode(), value)
            due.append((account.domain, next_account_change(account, model.half_life_seconds, model.accounts)))
    # Coolings that fell due while no worker owned these accounts fire now, at their own times.
    context.account_due_index.rebuild(due)


async def send_due(context: WorkerContext) -> None:
    """One tick of the lead and account timers: a command for each lead and account due by now.

    An account is reclassified on its own partition of accounts.members, in order with its member
    updates, as a lead is on leads.signals.
    """
    clock, due_index, accounts_due = context.clock, context.due_index, context.account_due_index
    for key, due in due_index.pop_due(clock.now()):
        await context.outbox.send(context.topics.signals, key, command_records.encode_command(
            command_records.DECAY, key.decode(), clock.now(), due=due))
    for domain, due in accounts_due.pop_due(clock.now()):
        await context.outbox.send(context.topics.account_members, domain.encode(),
                                  account_records.encode_cooling(domain, due))
    for lead_id, due in context.shadow.due_index.pop_due(clock.now()):
        await context.outbox.send(context.topics.signals, lead_id.encode(), command_records.encode_command(
            command_records.SHADOW_DECAY, lead_id, clock.now(), due=due))
    metrics.DUE_LEADS.set(len(due_index))
    metrics.DUE_ACCOUNTS.set(len(accounts_due))
    metrics.REVISIT_QUEUE.set(len(context.revisit_queue))


def received_at(context: WorkerContext, record: ConsumerRecord) -> float:
    """When the broker took the record, in seconds on the worker's clock (the client gives wall milliseconds)."""
    return context.clock.at_wall(record.timestamp / 1000.0)


async def ingest(context: WorkerContext, records: Sequence[ConsumerRecord]) -> None:
    """A batch from the raw topic: each record dead-lettered, ignored, held, or scored."""
    batch = Batch(context)
    for record in records:
        ingest_one(batch, record)
    await batch.flush()


async def score_forwarded(context: WorkerContext, records: Sequence[ConsumerRecord]) -> None:
    """A batch from the signals topic: signals already keyed by lead or visitor id, and commands."""
    batch = Batch(context)
    for record in records:
        raw = record.value or b""
        try:
            if command_records.is_command(raw):
                command = orjson.loads(raw)
                if (problem := _id_problem(command, "lead_id", "visitor_id", "email")) is not None:
                    dead_letter(batch, record, raw, RejectReason.INVALID_FIELD.value, problem)
                else:
                    run_command(batch, command, record.partition)
            else:
                score_forwarded_one(batch, record)
        except Exception as exc:  # noqa: BLE001 — a bug on one lead must not lose the rest of the batch
            # Dead-lettered, the record is kept; raising would make the whole batch come again, forever.
            log.exception("unexpected failure on %s[%d]@%d", record.topic, record.partition, record.offset)
            dead_letter(batch, record, raw, RejectReason.UNPROCESSABLE.value, repr(exc))
    await batch.flush()


def ingest_one(batch: Batch, record: ConsumerRecord) -> None:
    ingested_at = received_at(batch.context, record)
    # Producers other than the collector may send whole client IPs: nothing past this point sees them.
    raw = privacy.truncate_ips(record.value or b"")
    try:
        decoded = decode_segment(raw, ingested_at, batch.max_event_bytes, batch.context.settings.consent)
        if isinstance(decoded, Rejection):
            batch.received["invalid"] += 1
            dead_letter(batch, record, raw, decoded.reason.value, decoded.detail)
            return
        interpreted = interpret(decoded, batch.model)
        batch.received[decoded.type.value] += 1
        if isinstance(interpreted, Ignored):
            batch.ignored[interpreted.reason.value] += 1
            if interpreted.reason is IgnoreReason.OUTCOME_ONLY:
                outcome_join.route(batch, decoded, record.partition)
            return
        route(batch, interpreted, ingested_at, record.partition)
        if interpreted.links_visitor:
            stitch(batch, interpreted.links_visitor, interpreted.lead_id, ingested_at, record.partition)
    except Exception as exc:  # noqa: BLE001 — hostile input (or a bug on one lead) must never stop the worker
        log.exception("unexpected failure on %s[%d]@%d", record.topic, record.partition, record.offset)
        batch.received["invalid"] += 1
        dead_letter(batch, record, raw, RejectReason.UNPROCESSABLE.value, repr(exc))


def score_forwarded_one(batch: Batch, record: ConsumerRecord) -> None:
    try:
        signal, ingested_at = signal_records.decode_signal(record.value)
    except (ValueError, KeyError, TypeError) as exc:
        # Only this app writes the topic, but a stray producer must not stop scoring.
        dead_letter(batch, record, record.value, RejectReason.UNPROCESSABLE.value,
                    f"not a leadstream signal: {exc!r}")
        return
    if (problem := _id_problem({"lead_id": signal.lead_id, "event_id": signal.event_id}, "lead_id", "event_id")):
        dead_letter(batch, record, record.value, RejectReason.INVALID_FIELD.value, problem)
        return
    route(batch, signal, ingested_at, record.partition)


def _id_problem(fields: dict, *names: str) -> str | None:
    """The edge's id limits, checked again for what any producer of leads.signals (or the lead API) sent."""
    for name in names:
        value = fields.get(name)
        if isinstance(value, str) and (problem := id_too_long(name, value)) is not None:
            return problem
    return None


async def score_accounts(context: WorkerContext, records: Sequence[ConsumerRecord]) -> None:
    """A batch of accounts.members records: each account reclassified per member update, written once.

    A record from the account timer (``cool_at``) carries no update: the account cools if it may by now.

    The accounts' changelog records leave before the account changes they caused, like a lead batch's.
    """
    model = context.model()
    stored = context.accounts.data
    accounts: dict[bytes, AccountState] = {}
    changes: list[tuple[bytes, AccountChange]] = []
    half_lives, rules = model.half_life_seconds, model.accounts
    for record in records:
        domain, updates, cool_at = account_records.decode_account_record(record.value)
        key = domain.encode()
        account = accounts.get(key) or account_records.decode_account(domain, stored.get(key))
        for lead_id, member in updates:
            account, change = update_member(account, member, lead_id, half_lives, rules)
            if change is not None:
                changes.append((key, change))
        if cool_at is not None:
            # Recomputed from the account held now: a member update since the timer asked may have moved it.
            due = next_account_change(account, half_lives, rules)
            if due is not None and due <= context.clock.now():
                account, change = cool_account(account, due, half_lives, rules)
                if change is not None:
                    changes.append((key, change))
        accounts[key] = account
    tables = TableWrites()
    for key, account in accounts.items():
        if account.members:
            tables.set(context.accounts, key, account_records.encode_account(account))
        else:
            tables.delete(context.accounts, key)
        context.account_due_index.schedule(account.domain, next_account_change(account, half_lives, rules))
    await tables.produce(context.outbox)
    for key, change in changes:
        metrics.ACCOUNT_CHANGES.labels(from_temperature=change.from_temperature.value,
                                       to_temperature=change.to_temperature.value).inc()
        await context.outbox.send(context.topics.account_qualification, key,
                                  account_records.encode_account_change(change, model.version, context.wall_clock()))


def dead_letter(batch: Batch, record: ConsumerRecord, value: bytes | None, reason: str, detail: str) -> None:
    """``value`` is the record's bytes with client IPs truncated, as is its key here."""
    key = privacy.truncate_ips(record.key) if record.key is not None else None
    metrics.EVENTS_DEAD_LETTERED.labels(reason=reason).inc()
    log.info("dead-lettered %s[%d]@%d: %s (%s)", record.topic, record.partition, record.offset, reason, detail)
    batch.send(batch.context.topics.dead_letters, key, dead_letter_records.encode_dead_letter(
        reason, detail, key, value, record.topic, record.partition, record.offset, received_at(batch.context, record),
        batch.context.wall_clock()))
