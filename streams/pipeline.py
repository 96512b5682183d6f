"""What the agents do with each record: decode, decide through ``scoring``, store, send.

Kept apart from the agent declarations so each agent stays a few lines long.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from faust.types import EventT

from prometheus_client import REGISTRY

from scoring import (
    IgnoreReason, Ignored, LeadState, QualificationChange, Signal, Verdict, apply, apply_feedback, has_seen, interpret,
    remember_event,
)
from scoring.account_members import account_member
from scoring.accounts import update_member
from scoring.crossing import next_demotion
from scoring.due_index import DueIndex
from streams import codecs, faults, metrics, privacy, stitching
from streams.app import app
from streams.census import Bucket, CensusCollector, LeadCensus
from streams.config import scoring_model, settings
from streams.lead_history import forget_history, record_history
from streams.partitioning import partition_for
from streams.segment import RejectReason, Rejection, decode_segment
from streams.tables import accounts_table, erasures_table, leads_table, visitors_table
from streams.topics import (
    account_members_topic, account_qualification_topic, dead_letters_topic, feedback_topic, qualification_topic,
    signals_topic,
)

log = logging.getLogger(__name__)


lead_census = LeadCensus(table_size=lambda: len(leads_table))
REGISTRY.register(CensusCollector(lead_census))
# When each lead this worker owns next crosses a demotion threshold (see streams/timers.py).
due_index = DueIndex()


def held_state(key: bytes) -> LeadState | None:
    """The lead's state, or None; a deleted key can read back as an empty value after recovery."""
    held = leads_table.get(key)
    return codecs.decode_state(key.decode(), held) if held else None


def held_states() -> list[LeadState]:
    return [codecs.decode_state(key.decode(), value) for key, value in list(leads_table.items()) if value]


@leads_table.on_recover
async def recount_leads() -> None:
    """After every rebalance's recovery: count the leads of the partitions now owned."""
    # Faust's recovery loop swallows an exception here and retries forever, so never raise.
    try:
        partitions = settings().partitions
        changelog = leads_table.changelog_topic.get_topic_name()
        active = {tp.partition for tp in leads_table.app.assignor.assigned_actives() if tp.topic == changelog}
        owned = [state for state in held_states() if partition_for(state.lead_id.encode(), partitions) in active]
        lead_census.rebuild(((partition_for(s.lead_id.encode(), partitions), _bucket(s)) for s in owned), active)
        # Demotions that fell due while no worker owned these leads fire now, with their own crossing times.
        model = scoring_model()
        due_index.rebuild((s.lead_id, next_demotion(s, model)) for s in owned)
    except Exception:  # noqa: BLE001
        log.exception("recounting leads after recovery failed; leads per stage may be off until the next one")


def _bucket(state: LeadState) -> Bucket:
    return state.stage.value, state.temperature.value


async def ingest(event: EventT) -> None:
    """One record from the raw topic: dead-letter it, ignore it, hold it, or score it."""
    message = event.message
    received_at = message.timestamp
    # Producers other than the collector may send whole client IPs: nothing past this point sees them.
    raw = privacy.truncate_ips(message.value or b"")
    try:
        decoded = decode_segment(raw, received_at, settings().max_event_bytes)
        interpreted = interpret(decoded, scoring_model()) if not isinstance(decoded, Rejection) else None
    except Exception as exc:  # noqa: BLE001 — hostile input must never stop the worker
        log.exception("unexpected failure decoding %s[%d]@%d", message.topic, message.partition, message.offset)
        metrics.EVENTS_RECEIVED.labels(source=metrics.RAW_TOPIC, type="invalid").inc()
        await dead_letter(event, raw, RejectReason.UNPROCESSABLE.value, repr(exc))
        return
    event_type = "invalid" if isinstance(decoded, Rejection) else decoded.type.value
    metrics.EVENTS_RECEIVED.labels(source=metrics.RAW_TOPIC, type=event_type).inc()
    if isinstance(decoded, Rejection):
        await dead_letter(event, raw, decoded.reason.value, decoded.detail)
        return
    if isinstance(interpreted, Ignored):
        metrics.EVENTS_IGNORED.labels(reason=interpreted.reason.value).inc()
        return
    await route(interpreted, received_at, message.partition)
    if interpreted.links_visitor:
        await stitch(interpreted.links_visitor, interpreted.lead_id, received_at, message.partition)


async def route(signal: Signal, ingested_at: float, partition: int) -> None:
    """Handle the signal here if this partition owns its key (the lead, or an anonymous visitor), else send it there."""
    key = signal.lead_id.encode()
    if partition_for(key, settings().partitions) != partition:
        metrics.SIGNALS_FORWARDED.inc()
        await signals_topic.send(key=key, value=codecs.encode_signal(signal, ingested_at))
    elif not signal.anonymous:
        await score(signal, ingested_at)
    elif (for_lead := stitching.hold(signal, ingested_at)) is not None:
        await route(for_lead, ingested_at, partition)  # the visitor was identified: the lead's now


async def score_forwarded(event: EventT) -> None:
    """One record from the signals topic, already validated and keyed by lead or visitor id (or a command)."""
    if codecs.is_command(event.message.value or b""):
        await run_command(orjson.loads(event.message.value), event.message.partition)
        return
    try:
        signal, ingested_at = codecs.decode_signal(event.message.value)
    except (ValueError, KeyError, TypeError) as exc:
        # Only this app writes the topic, but a stray producer must not stop scoring.
        await dead_letter(event, event.message.value, RejectReason.UNPROCESSABLE.value,
                          f"not a leadstream signal: {exc!r}")
        return
    await route(signal, ingested_at, event.message.partition)


async def score(signal: Signal, ingested_at: float) -> None:
    key = signal.lead_id.encode()
    if key in erasures_table:
        metrics.EVENTS_IGNORED.labels(reason=IgnoreReason.ERASED_LEAD.value).inc()
        return
    state = held_state(key)
    decision = apply(state, signal, scoring_model())
    if decision.duplicate:
        metrics.EVENTS_DEDUPLICATED.inc()
        # The state may have landed before a crash lost what was to be sent after it: send it
        # again. The account's update is idempotent, the change keeps its id.
        await report_to_account(state, signal.event_id)
        if decision.change is not None:
            metrics.QUALIFICATION_REEMITTED.inc()
            await emit(decision.change, ingested_at)
        return
    store(key, state, decision.state)
    record_history(key, state, signal, decision.change)
    await faults.crash_point("after-store", signal.lead_id)
    metrics.EVENTS_SCORED.inc()
    await report_to_account(decision.state, signal.event_id)
    if decision.change is not None:
        change = decision.change
        metrics.QUALIFICATION_CHANGES.labels(
            from_stage=change.from_stage.value, to_stage=change.to_stage.value,
            from_temperature=change.from_temperature.value, to_temperature=change.to_temperature.value,
        ).inc()
        emitted_at = await emit(change, ingested_at)
        metrics.EVENT_LATENCY.observe(max(emitted_at - change.event_time, 0.0))
        metrics.INGEST_LATENCY.observe(max(emitted_at - ingested_at, 0.0))


def store(key: bytes, before: LeadState | None, after: LeadState) -> None:
    """Write the lead's new state, and keep the census and the due-time index in step with it."""
    leads_table[key] = codecs.encode_state(after)
    lead_census.moved(partition_for(key, settings().partitions), before and _bucket(before), _bucket(after))
    due_index.schedule(after.lead_id, next_demotion(after, scoring_model()))


async def report_to_account(state: LeadState, cause_event_id: str) -> None:
    """Tell the lead's account (keyed by its domain, on another partition) where the lead stands."""
    member = account_member(state, cause_event_id, scoring_model())
    domain = state.account
    if domain is not None and (member is not None or domain not in scoring_model().fit.free_mail_domains):
        await account_members_topic.send(key=domain.encode(),
                                          value=codecs.encode_member(domain, state.lead_id, member))


async def score_account(event: EventT) -> None:
    """One member update on accounts.members: reclassify the account, emit when its temperature moves."""
    domain, lead_id, member = codecs.decode_member(event.message.value)
    key = domain.encode()
    model = scoring_model()
    account = codecs.decode_account(domain, accounts_table.get(key))
    updated, change = update_member(account, member, lead_id, model.half_life_seconds, model.accounts)
    if updated.members:
        accounts_table[key] = codecs.encode_account(updated)
    elif key in accounts_table:
        del accounts_table[key]
    if change is not None:
        metrics.ACCOUNT_CHANGES.labels(from_temperature=change.from_temperature.value,
                                       to_temperature=change.to_temperature.value).inc()
        await account_qualification_topic.send(
            key=key, value=codecs.encode_account_change(change, model.version, time.time()))


# --- identity stitching: the visitor's partition links, the lead's partition scores ----------

async def stitch(visitor_id: str, lead_id: str, at: float, partition: int) -> None:
    """Identify linked the visitor to the lead: the visitor's partition releases what it held."""
    if partition_for(visitor_id.encode(), settings().partitions) != partition:
        await signals_topic.send(key=visitor_id.encode(),
                                 value=codecs.encode_command(codecs.STITCH, lead_id, at, visitor_id=visitor_id))
        return
    release = stitching.stitch(visitor_id, lead_id, at)
    if release is None:
        return
    if partition_for(lead_id.encode(), settings().partitions) == partition:
        await score_release(lead_id, release.release_id, release.signals, at)
    else:
        await signals_topic.send(key=lead_id.encode(), value=codecs.encode_release(
            lead_id, visitor_id, release.release_id, release.signals, at))


async def score_release(lead_id: str, release_id: str, signals: tuple[Signal, ...], ingested_at: float) -> None:
    """A visitor's held history, scored for the lead once: a redelivered release is recognised by its id."""
    key = lead_id.encode()
    if has_seen(held_state(key), release_id):
        metrics.EVENTS_DEDUPLICATED.inc(len(signals))
        return
    # Ingest latency runs from the identify that released them, not from the visits themselves.
    for signal in sorted(signals, key=lambda held: held.occurred_at):
        await score(signal, ingested_at)
    state = held_state(key)
    if state is not None and key not in erasures_table:
        leads_table[key] = codecs.encode_state(remember_event(state, release_id, scoring_model()))


async def expire_due(now: float) -> None:
    """Ask each expired visitor's partition (this worker's own) to forget it, in order with its events."""
    changelog = visitors_table.changelog_topic.get_topic_name()
    active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == changelog}
    for visitor_id in stitching.due_for_expiry(now, active):
        await signals_topic.send(key=visitor_id.encode(), value=codecs.encode_command(
            codecs.EXPIRE, None, now, visitor_id=visitor_id))


async def run_command(command: dict[str, Any], partition: int) -> None:
    """Work that must run on the partition owning its key, in order with that key's events."""
    match command["command"]:
        case codecs.STITCH:
            await stitch(command["visitor_id"], command["lead_id"], command["issued_at"], partition)
        case codecs.RELEASE:
            signals = tuple(codecs.signal_from_dict(signal) for signal in command["signals"])
            await score_release(command["lead_id"], command["release_id"], signals, command["issued_at"])
        case codecs.EXPIRE:
            stitching.expire(command["visitor_id"], command["issued_at"])
        case codecs.ERASE:
            key = command["lead_id"].encode()
            await erase(key, held_state(key), command["issued_at"])
        case codecs.FEEDBACK:
            key = command["lead_id"].encode()
            if (state := held_state(key)) is not None:
                await record_feedback(key, state, command)
        case codecs.DECAY:
            key = command["lead_id"].encode()
            if (state := held_state(key)) is not None:
                await demote(key, state)


async def erase(key: bytes, state: LeadState | None, issued_at: float) -> None:
    if key in erasures_table:
        return  # erased already: the request was repeated
    summary = codecs.erasure_summary(state, issued_at)
    if state is not None:
        del leads_table[key]  # a tombstone: the changelog forgets the lead too
        forget_history(key)
        lead_census.removed(partition_for(key, settings().partitions), _bucket(state))
        due_index.schedule(state.lead_id, None)
        if state.account is not None:  # the account forgets the person too
            await account_members_topic.send(key=state.account.encode(),
                                              value=codecs.encode_member(state.account, state.lead_id, None))
    erasures_table[key] = orjson.dumps(summary)
    await qualification_topic.send(key=key, value=codecs.encode_erasure_event(key.decode(), summary))


async def record_feedback(key: bytes, state: LeadState, command: dict[str, Any]) -> None:
    decision = apply_feedback(state, Verdict(command["verdict"]), command["issued_at"], command["feedback_id"],
                              scoring_model())
    if not decision.duplicate:
        store(key, state, decision.state)
        record_history(key, state, None, decision.change)
        await feedback_topic.send(key=key, value=codecs.encode_feedback_event(key.decode(), command, decision.state))
    if decision.change is not None:
        await emit(decision.change, command["issued_at"])


async def demote(key: bytes, state: LeadState) -> None:
    """The lead's scores decayed past a threshold: reclassify it at the crossing time itself.

    Runs in the stream (the timer only sends this command), so the write lands on the lead's own
    partition in order with its events. The crossing time is recomputed from the state held now:
    an event that arrived meanwhile may have moved it, and then nothing is due yet.
    """
    model = scoring_model()
    due = next_demotion(state, model)
    if due is None or due > settings().clock.now():
        due_index.schedule(state.lead_id, due)
        return
    crossing = Signal(event_id=f"decay:{due!r}", lead_id=state.lead_id, anonymous=not state.identified,
                      kind=None, occurred_at=due)
    decision = apply(state, crossing, model, cause="decay")
    if decision.duplicate:
        return
    store(key, state, decision.state)
    record_history(key, state, None, decision.change)
    if decision.change is not None:
        metrics.QUALIFICATION_CHANGES.labels(
            from_stage=decision.change.from_stage.value, to_stage=decision.change.to_stage.value,
            from_temperature=decision.change.from_temperature.value,
            to_temperature=decision.change.to_temperature.value,
        ).inc()
        metrics.DEMOTIONS.inc()
        await emit(decision.change, None)  # caused by time passing: nothing was ingested


async def emit(change: QualificationChange, ingested_at: float | None) -> float:
    """Send the change; returns when it was handed to the producer (its emitted_at)."""
    emitted_at = time.time()
    await qualification_topic.send(
        key=change.lead_id.encode(), value=codecs.encode_change(change, emitted_at, ingested_at)
    )
    return emitted_at


async def dead_letter(event: EventT, value: bytes | None, reason: str, detail: str) -> None:
    """``value`` is the record's bytes with client IPs truncated, as is its key here."""
    message = event.message
    key = privacy.truncate_ips(message.key) if message.key is not None else None
    metrics.EVENTS_DEAD_LETTERED.labels(reason=reason).inc()
    log.info("dead-lettered %s[%d]@%d: %s (%s)", message.topic, message.partition, message.offset, reason, detail)
    await dead_letters_topic.send(
        key=key,
        value=codecs.encode_dead_letter(
            reason, detail, key, value, message.topic, message.partition,
            message.offset, message.timestamp, time.time(),
        ),
    )
