"""Commands run on a lead's own partition, in order with its events: erase, feedback, decay, re-classify, and more.

Each arrives on leads.signals keyed by the lead (or the visitor), sent by another partition, a
timer, the lead API or a model rollout; each decides against the batch like an event does.
"""

from __future__ import annotations

from typing import Any

import orjson

from scoring import LeadState, Verdict, apply_feedback
from scoring.revisit import next_due, revisit_made, timer_step
from scoring.switch import reclassify_under
from streams.contracts import command_records, email_index, lead_event_records, signal_records
from streams.worker import metrics, outcome_join, stitching
from streams.worker.batch import Batch
from streams.worker.routing import linked, score_release, stitch


def run_command(batch: Batch, command: dict[str, Any], partition: int) -> None:
    """Work that must run on the partition owning its key, in order with that key's events."""
    match command["command"]:
        case command_records.STITCH:
            stitch(batch, command["visitor_id"], command["lead_id"], command["issued_at"], partition)
        case command_records.RELEASE:
            signals = tuple(signal_records.signal_from_dict(signal) for signal in command["signals"])
            score_release(batch, command["lead_id"], command["release_id"], signals, command["issued_at"],
                          command["visitor_id"])
        case command_records.EXPIRE:
            stitching.expire(batch.context, batch.tables, command["visitor_id"], command["issued_at"])
        case command_records.ERASE:
            erase(batch, command["lead_id"].encode(), command["issued_at"])
        case command_records.EMAIL:
            index_email(batch, command["email"], command["lead_id"], command["stated"], command["issued_at"])
        case command_records.LINKED:
            linked(batch, command["lead_id"].encode(), command["visitor_id"], command["issued_at"])
        case command_records.FEEDBACK:
            key = command["lead_id"].encode()
            if (state := batch.state(key)) is not None:
                record_feedback(batch, key, state, command)
        case command_records.DECAY:
            key = command["lead_id"].encode()
            if (state := batch.state(key)) is not None:
                demote(batch, key, state, command.get("due"))
        case command_records.OUTCOME:
            outcome_join.join_command(batch, command["lead_id"].encode(), command)
        case command_records.RECLASSIFY:
            key = command["lead_id"].encode()
            if (state := batch.state(key)) is not None:
                reclassify(batch, key, state, command)
        case command_records.SHADOW_START:
            key = command["lead_id"].encode()
            batch.shadow.start(key, batch.state(key))
        case command_records.SHADOW_DECAY:
            key = command["lead_id"].encode()
            if (state := batch.state(key)) is not None:
                batch.shadow.timer(key, state)


def erase(batch: Batch, key: bytes, issued_at: float) -> None:
    """Erase whatever the id names, on its own partition: a lead (by its id, or the e-mail that names it),
    an anonymous visitor, or nothing yet, and record it so that later events for it are ignored.

    A lead takes its history, its account entry and its feedback records with it, and each visitor
    linked to it is erased in turn on its own partition; a visitor takes its held events, and the
    lead it was linked to; an e-mail takes every lead whose profile states it (its index entry).
    Repeating it (or the cascade coming back) finds nothing left to do.
    """
    context, state = batch.context, batch.state(key)
    visitors, feedback = batch.links(key) if state is not None else ([], [])
    if state is not None:
        # Even when the erasure is recorded already: a crash may have lost the tombstone but not the record.
        batch.forget(key)
        for feedback_id in feedback:
            batch.send(context.topics.feedback, lead_event_records.feedback_key(key.decode(), feedback_id), None)
        if feedback:  # verdicts written before they had keys of their own were keyed by the lead id alone
            batch.send(context.topics.feedback, key, None)
    visitor = stitching.forget(context, batch.tables, key.decode())
    linked_to = [visitor.lead_id] if visitor is not None and visitor.lead_id else []
    stating = _leads_stating(batch, key.decode(), issued_at)
    for other in (*visitors, *linked_to, *stating):
        if other != key.decode():
            batch.send(context.topics.signals, other.encode(),
                       command_records.encode_command(command_records.ERASE, other, issued_at))
    marker = lead_event_records.erasure_key(key, batch.partitions)
    if marker in batch.erased:
        return  # erased already: the request was repeated
    batch.tables.delete(context.erasures, key)  # erased before suppressions were digests: keep the digest only
    summary = lead_event_records.erasure_summary(
        state, issued_at, visitor_record=visitor is not None, held_anonymous_events=len(visitor.held) if visitor else 0,
        linked_visitors=len(visitors), feedback=len(feedback), leads_stating_email=len(stating))
    batch.tables.set(context.erasures, marker, orjson.dumps(summary))
    batch.send(context.topics.qualification, key, lead_event_records.encode_erasure_event(key.decode(), summary))


def _leads_stating(batch: Batch, subject: str, issued_at: float) -> list[str]:
    """If ``subject`` is an e-mail: the leads its index entry names, the entry tombstoned (erasure runs each in turn).

    An e-mail written in another case is erased as the profile holds it too, on that spelling's partition.
    """
    email = email_index.normalised_email(subject)
    if email is None:
        return []
    if email != subject:
        batch.send(batch.context.topics.signals, email.encode(),
                   command_records.encode_command(command_records.ERASE, email, issued_at))
        return []
    key, emails = email_index.index_key(email, batch.partitions), batch.context.emails
    stating = email_index.decode_entry(emails.data.get(key))
    batch.tables.delete(emails, key)
    return stating


def index_email(batch: Batch, email: str, lead_id: str, stated: bool, issued_at: float) -> None:
    """On the e-mail's partition: the lead now states it (``stated``), or no longer does.

    A lead that states an e-mail already erased is erased in turn, as a visitor linked to an erased lead is.
    """
    key, emails = email_index.index_key(email, batch.partitions), batch.context.emails
    stating = email_index.decode_entry(emails.data.get(key))
    if stated and batch.is_erased(email.encode()):
        batch.send(batch.context.topics.signals, lead_id.encode(),
                   command_records.encode_command(command_records.ERASE, lead_id, issued_at))
        return
    if stated == (lead_id in stating):
        return  # a repeat
    if stated:
        stating.append(lead_id)
    else:
        stating.remove(lead_id)
    if stating:
        batch.tables.set(emails, key, email_index.encode_entry(stating))
    else:
        batch.tables.delete(emails, key)


def record_feedback(batch: Batch, key: bytes, state: LeadState, command: dict[str, Any]) -> None:
    verdict, at, feedback_id = Verdict(command["verdict"]), command["issued_at"], command["feedback_id"]
    decision = apply_feedback(state, verdict, at, feedback_id, batch.model)
    if batch.shadow.on:
        shadow_model = batch.shadow.model
        batch.shadow.follow(key, state, lambda shadow: None if shadow is None else apply_feedback(
            shadow, verdict, at, feedback_id, shadow_model), at)
    if not decision.duplicate:
        batch.store(key, decision.state, None, decision.change)
        batch.link(key, feedback_id=command["feedback_id"])  # for its erasure to tombstone the record
        batch.send(batch.context.topics.feedback, lead_event_records.feedback_key(key.decode(), command["feedback_id"]),
                   lead_event_records.encode_feedback_event(key.decode(), command, decision.state))
    if decision.change is not None:
        batch.emit(decision.change, command["issued_at"], first_time=not decision.duplicate)


def demote(batch: Batch, key: bytes, state: LeadState, due: float | None = None) -> None:
    """The lead's timer came due: a score decayed past a threshold, or a revisit (``scoring.revisit``).

    Runs in the stream (the timer only sends this command), so the write lands on the lead's own
    partition in order with its events. What is due is recomputed from the state held now: an
    event that arrived meanwhile may have moved it, and then nothing is due yet. ``due``, the time
    the timer sent: a redelivered command for a revisit already made re-emits it under the same id.
    """
    model = batch.model
    decision = timer_step(state, model, batch.context.clock.now())
    if decision is None:
        if due is not None and (made := revisit_made(state, due)) is not None:
            batch.emit(made, None, first_time=False)  # the state landed before a crash may have lost the emit
        batch.context.due_index.schedule(key, next_due(state, model))
        return
    if decision.duplicate:
        return
    batch.store(key, decision.state, None, decision.change)
    if decision.change is not None:
        batch.emit(decision.change, None)  # caused by time passing: nothing was ingested


def reclassify(batch: Batch, key: bytes, state: LeadState, command: dict[str, Any]) -> None:
    """In the stream, on the lead's partition: the lead under the model in use now (streams/worker/model_rollout.py)."""
    model = batch.model  # read at the batch's start; a switch cannot land while a batch decides
    if command["version"] != model.version or state.model_version == model.version:
        return  # another switch came since (it sends its own), or an event re-classified it already
    decision = reclassify_under(state, model, command["cause"])
    if decision.duplicate:
        if decision.change is not None:
            batch.emit(decision.change, None, first_time=False)  # the state landed before a crash may have lost the emit
        return
    # The board's timeline shows the move, caused by the model; the account hears the lead's new standing.
    batch.store(key, decision.state, None, decision.change, report_cause=command["cause"])
    metrics.MODEL_RECLASSIFIED.inc()
    if decision.change is not None:
        batch.emit(decision.change, None)
