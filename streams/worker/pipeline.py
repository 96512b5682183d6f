"""What the agents do with each batch of records: decode, decide through ``scoring``, then write and send.

Kept apart from the agent declarations so each agent stays a few lines long. Every decision is
made against a ``streams.worker.batch.Batch``, which holds each lead as this batch decided it and
writes and sends everything once the whole batch is decided.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord
from prometheus_client import REGISTRY

from scoring import (
    IgnoreReason, Ignored, LeadState, Signal, Verdict, apply, apply_feedback, has_seen, interpret, remember_event,
)
from scoring.accounts import AccountChange, AccountState, update_member
from scoring.crossing import next_demotion
from scoring.due_index import DueIndex
from streams.contracts import account_records, command_records, dead_letter_records, lead_event_records, privacy, signal_records
from streams.worker import metrics, model_rollout, outcome_join, stitching
from streams.worker.app import app
from streams.worker.batch import Batch, bucket, stored_state
from streams.worker.census import CensusCollector, LeadCensus
from streams.config.environment import scoring_model, settings
from streams.contracts.partitioning import partition_for
from streams.contracts.segment import RejectReason, Rejection, decode_segment
from streams.worker.tables import TableWrites, accounts_table, erasures_table, leads_table, visitors_table
from streams.worker.topics import (
    account_qualification_topic, dead_letters_topic, feedback_topic, qualification_topic, signals_topic,
)

log = logging.getLogger(__name__)


lead_census = LeadCensus(table_size=lambda: len(leads_table))
REGISTRY.register(CensusCollector(lead_census))
# When each lead this worker owns next crosses a demotion threshold (see streams/worker/timers.py).
due_index = DueIndex()


def held_state(key: bytes) -> LeadState | None:
    """The lead's state as its table holds it now, or None."""
    return stored_state(key, leads_table.get(key))


def held_states() -> Iterator[LeadState]:
    """Every lead held, decoded one at a time (all at once would hold several KB per lead)."""
    for key, value in list(leads_table.items()):
        if (state := stored_state(key, value)) is not None:
            yield state


@leads_table.on_recover
async def recount_leads() -> None:
    """After every rebalance's recovery: count the leads of the partitions now owned."""
    # Faust's recovery loop swallows an exception here and retries forever, so never raise.
    try:
        partitions = settings().partitions
        changelog = leads_table.changelog_topic.get_topic_name()
        active = {tp.partition for tp in leads_table.app.assignor.assigned_actives() if tp.topic == changelog}
        model = scoring_model()
        buckets, due = [], []
        for state in held_states():
            if (partition := partition_for(state.lead_id.encode(), partitions)) in active:
                buckets.append((partition, bucket(state)))
                due.append((state.lead_id, next_demotion(state, model)))
        lead_census.rebuild(buckets, active)
        # Demotions that fell due while no worker owned these leads fire now, with their own crossing times.
        due_index.rebuild(due)
    except Exception:  # noqa: BLE001
        log.exception("recounting leads after recovery failed; leads per stage may be off until the next one")


def received_at(record: ConsumerRecord) -> float:
    """When the broker took the record, in seconds (the client gives milliseconds)."""
    return record.timestamp / 1000.0


async def ingest(records: Sequence[ConsumerRecord]) -> None:
    """A batch from the raw topic: each record dead-lettered, ignored, held, or scored."""
    batch = new_batch()
    for record in records:
        ingest_one(batch, record)
    await batch.flush()


async def score_forwarded(records: Sequence[ConsumerRecord]) -> None:
    """A batch from the signals topic: signals already keyed by lead or visitor id, and commands."""
    batch = new_batch()
    for record in records:
        raw = record.value or b""
        try:
            if command_records.is_command(raw):
                run_command(batch, orjson.loads(raw), record.partition)
            else:
                score_forwarded_one(batch, record)
        except Exception as exc:  # noqa: BLE001 — a bug on one lead must not lose the rest of the batch
            # Dead-lettered, the record is kept; raising would make the whole batch come again, forever.
            log.exception("unexpected failure on %s[%d]@%d", record.topic, record.partition, record.offset)
            dead_letter(batch, record, raw, RejectReason.UNPROCESSABLE.value, repr(exc))
    await batch.flush()


def new_batch() -> Batch:
    return Batch(lead_census, due_index)


def ingest_one(batch: Batch, record: ConsumerRecord) -> None:
    ingested_at = received_at(record)
    # Producers other than the collector may send whole client IPs: nothing past this point sees them.
    raw = privacy.truncate_ips(record.value or b"")
    try:
        decoded = decode_segment(raw, ingested_at, batch.max_event_bytes)
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
    route(batch, signal, ingested_at, record.partition)


def route(batch: Batch, signal: Signal, ingested_at: float, partition: int) -> None:
    """Handle the signal here if this partition owns its key (the lead, or an anonymous visitor), else send it there."""
    key = signal.lead_id.encode()
    if partition_for(key, batch.partitions) != partition:
        metrics.SIGNALS_FORWARDED.inc()
        batch.send(signals_topic, key, signal_records.encode_signal(signal, ingested_at))
    elif not signal.anonymous:
        score(batch, signal, ingested_at)
    elif (for_lead := stitching.hold(batch.tables, signal, ingested_at)) is not None:
        route(batch, for_lead, ingested_at, partition)  # the visitor was identified: the lead's now


def score(batch: Batch, signal: Signal, ingested_at: float) -> None:
    key = signal.lead_id.encode()
    if key in erasures_table:
        batch.ignored[IgnoreReason.ERASED_LEAD.value] += 1
        return
    decision = apply(batch.state(key), signal, batch.model)
    if decision.duplicate:
        batch.deduplicated += 1
        # The state may have landed before a crash lost what was to be sent after it: send it
        # again. The account's update is idempotent, the change keeps its id.
        batch.report(key, signal.event_id)
        if decision.change is not None:
            batch.emit(decision.change, ingested_at, first_time=False)
        return
    batch.store(key, decision.state, signal, decision.change, report_cause=signal.event_id,
                assessment=decision.assessment)
    batch.scored += 1
    if decision.change is not None:
        batch.emit(decision.change, ingested_at)


async def score_accounts(records: Sequence[ConsumerRecord]) -> None:
    """A batch of accounts.members records: each account reclassified per member update, written once."""
    model = scoring_model()
    accounts: dict[bytes, AccountState] = {}
    changes: list[tuple[bytes, AccountChange]] = []
    for record in records:
        domain, updates = account_records.decode_member_updates(record.value)
        key = domain.encode()
        account = accounts.get(key) or account_records.decode_account(domain, accounts_table.data.get(key))
        for lead_id, member in updates:
            account, change = update_member(account, member, lead_id, model.half_life_seconds, model.accounts)
            if change is not None:
                changes.append((key, change))
        accounts[key] = account
    tables = TableWrites()
    for key, account in accounts.items():
        if account.members:
            tables.set(accounts_table, key, account_records.encode_account(account))
        else:
            tables.delete(accounts_table, key)
    await tables.produce()
    for key, change in changes:
        metrics.ACCOUNT_CHANGES.labels(from_temperature=change.from_temperature.value,
                                       to_temperature=change.to_temperature.value).inc()
        await account_qualification_topic.send(
            key=key, value=account_records.encode_account_change(change, model.version, time.time()))


# --- identity stitching: the visitor's partition links, the lead's partition scores ----------

def stitch(batch: Batch, visitor_id: str, lead_id: str, at: float, partition: int) -> None:
    """Identify linked the visitor to the lead: the visitor's partition releases what it held."""
    if partition_for(visitor_id.encode(), batch.partitions) != partition:
        batch.send(signals_topic, visitor_id.encode(),
                   command_records.encode_command(command_records.STITCH, lead_id, at, visitor_id=visitor_id))
        return
    release = stitching.stitch(batch.tables, visitor_id, lead_id, at)
    if release is None:
        return
    if partition_for(lead_id.encode(), batch.partitions) == partition:
        score_release(batch, lead_id, release.release_id, release.signals, at)
    else:
        batch.send(signals_topic, lead_id.encode(),
                   command_records.encode_release(lead_id, visitor_id, release.release_id, release.signals, at))


def score_release(batch: Batch, lead_id: str, release_id: str, signals: tuple[Signal, ...], ingested_at: float) -> None:
    """A visitor's held history, scored for the lead once: a redelivered release is recognised by its id."""
    key = lead_id.encode()
    if has_seen(batch.state(key), release_id):
        batch.deduplicated += len(signals)
        return
    # Ingest latency runs from the identify that released them, not from the visits themselves.
    for signal in sorted(signals, key=lambda held: held.occurred_at):
        score(batch, signal, ingested_at)
    state = batch.state(key)
    if state is not None and key not in erasures_table:
        batch.store(key, remember_event(state, release_id, batch.model))


async def expire_due(now: float) -> None:
    """Ask each expired visitor's partition (this worker's own) to forget it, in order with its events."""
    changelog = visitors_table.changelog_topic.get_topic_name()
    active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}
    for visitor_id in stitching.due_for_expiry(now, active):
        await signals_topic.send(key=visitor_id.encode(), value=command_records.encode_command(
            command_records.EXPIRE, None, now, visitor_id=visitor_id))


def run_command(batch: Batch, command: dict[str, Any], partition: int) -> None:
    """Work that must run on the partition owning its key, in order with that key's events."""
    match command["command"]:
        case command_records.STITCH:
            stitch(batch, command["visitor_id"], command["lead_id"], command["issued_at"], partition)
        case command_records.RELEASE:
            signals = tuple(signal_records.signal_from_dict(signal) for signal in command["signals"])
            score_release(batch, command["lead_id"], command["release_id"], signals, command["issued_at"])
        case command_records.EXPIRE:
            stitching.expire(batch.tables, command["visitor_id"], command["issued_at"])
        case command_records.ERASE:
            erase(batch, command["lead_id"].encode(), command["issued_at"])
        case command_records.FEEDBACK:
            key = command["lead_id"].encode()
            if (state := batch.state(key)) is not None:
                record_feedback(batch, key, state, command)
        case command_records.DECAY:
            key = command["lead_id"].encode()
            if (state := batch.state(key)) is not None:
                demote(batch, key, state)
        case command_records.OUTCOME:
            outcome_join.join_command(batch, command["lead_id"].encode(), command)
        case command_records.RECLASSIFY:
            key = command["lead_id"].encode()
            if (state := batch.state(key)) is not None:
                model_rollout.reclassify(batch, key, state, command)


def erase(batch: Batch, key: bytes, issued_at: float) -> None:
    state = batch.state(key)
    if state is not None:
        # Even when the erasure is recorded already: a crash may have lost the tombstone but not the record.
        batch.forget(key)
    if key in erasures_table:
        return  # erased already: the request was repeated
    summary = lead_event_records.erasure_summary(state, issued_at)
    batch.tables.set(erasures_table, key, orjson.dumps(summary))
    batch.send(qualification_topic, key, lead_event_records.encode_erasure_event(key.decode(), summary))


def record_feedback(batch: Batch, key: bytes, state: LeadState, command: dict[str, Any]) -> None:
    decision = apply_feedback(state, Verdict(command["verdict"]), command["issued_at"], command["feedback_id"],
                              batch.model)
    if not decision.duplicate:
        batch.store(key, decision.state, None, decision.change)
        batch.send(feedback_topic, key, lead_event_records.encode_feedback_event(key.decode(), command, decision.state))
    if decision.change is not None:
        batch.emit(decision.change, command["issued_at"], first_time=not decision.duplicate)


def demote(batch: Batch, key: bytes, state: LeadState) -> None:
    """The lead's scores decayed past a threshold: reclassify it at the crossing time itself.

    Runs in the stream (the timer only sends this command), so the write lands on the lead's own
    partition in order with its events. The crossing time is recomputed from the state held now:
    an event that arrived meanwhile may have moved it, and then nothing is due yet.
    """
    due = next_demotion(state, batch.model)
    if due is None or due > settings().clock.now():
        due_index.schedule(state.lead_id, due)
        return
    crossing = Signal(event_id=f"decay:{due!r}", lead_id=state.lead_id, anonymous=not state.identified,
                      kind=None, occurred_at=due)
    decision = apply(state, crossing, batch.model, cause="decay")
    if decision.duplicate:
        return
    batch.store(key, decision.state, None, decision.change)
    if decision.change is not None:
        batch.emit(decision.change, None)  # caused by time passing: nothing was ingested


def dead_letter(batch: Batch, record: ConsumerRecord, value: bytes | None, reason: str, detail: str) -> None:
    """``value`` is the record's bytes with client IPs truncated, as is its key here."""
    key = privacy.truncate_ips(record.key) if record.key is not None else None
    metrics.EVENTS_DEAD_LETTERED.labels(reason=reason).inc()
    log.info("dead-lettered %s[%d]@%d: %s (%s)", record.topic, record.partition, record.offset, reason, detail)
    batch.send(dead_letters_topic, key, dead_letter_records.encode_dead_letter(
        reason, detail, key, value, record.topic, record.partition, record.offset, received_at(record), time.time()))
