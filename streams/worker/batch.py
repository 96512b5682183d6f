"""One batch of records: each lead read from its table once, written back once, then everything sent.

The agents decide a whole batch without awaiting (``streams.worker.pipeline``), against the states
held here; ``flush`` then writes every touched lead's state and history once (one changelog
record per lead per batch instead of one per event), keeps the census, the demotion index and
the lead index in step, tells each touched lead's account where it stands once, and only then sends the
forwards, dead letters and qualification changes, in the order they were decided.

Nothing awaits between reading a state and writing it back, so another agent sharing the
table can never interleave a write this batch would overwrite. A batch spans partitions, so
every table is written with the producer's partitioner (``streams.worker.tables``): a key's
changelog record lands on the key's own partition, not on the partition of whichever event
Faust considers current.

Everything a batch reads and writes comes from its ``WorkerContext`` (``streams.worker.context``),
and everything it produces leaves through the context's outbox, changelog records first.

Crash safety is the per-event path's: offsets are acked only after the batch, a commit
flushes the producer first, and a redelivered event is recognised by its id (``scoring.apply``
re-emits its change with the same change id).
"""

from __future__ import annotations

from collections import Counter

from scoring import LeadState, QualificationChange, Signal
from scoring.account_members import account_member
from scoring.accounts import Member
from scoring.qualification import Assessment
from scoring.revisit import REVISIT
from streams.contracts import account_records, change_records, email_index, lead_event_records, lead_records
from streams.contracts.partitioning import partition_for
from streams.worker import metrics
from streams.worker.census import bucket
from streams.worker.context import WorkerContext
from streams.worker.history_draft import HistoryDraft
from streams.worker.shadow_lane import ShadowBatch
from streams.worker import lead_summaries, table_writes
from streams.worker.table_writes import TableWrites

_UNREAD = object()


def stored_state(key: bytes, record: bytes | None) -> LeadState | None:
    """The state in a lead's table record, or None; a deleted key can read back as an empty value after recovery."""
    return lead_records.decode_state(key.decode(), record) if record else None


class Batch:
    """What one batch decided, before it is written and sent."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.model = context.model()  # one model per batch, though a rollout may swap it between batches
        self.partitions = context.settings.partitions
        self.max_event_bytes = context.settings.max_event_bytes
        self._leads = context.leads
        self._lead_records = context.leads.data  # the store itself: Faust's get adds sensor calls per read
        self.erased = context.erasures.data  # erased ids (as digests): their events are ignored
        self._read: dict[bytes, LeadState | None] = {}  # each lead as the table held it
        self._records: dict[bytes, bytes | None] = {}  # ... and its record's bytes, history line included
        self._states: dict[bytes, LeadState | None] = {}  # ... and as this batch decided it
        self._histories: dict[bytes, HistoryDraft] = {}
        self._dirty: dict[bytes, None] = {}  # leads to write back, in first-touched order
        self._reports: dict[bytes, str] = {}  # leads whose account must hear, and the event that moved them
        self._assessments: dict[bytes, Assessment] = {}  # ... and the assessment scoring made of the state stored
        self._forgotten: dict[bytes, None] = {}  # erased leads: a tombstone each
        self._links: dict[bytes, tuple[list[str], list[str]]] = {}  # leads whose visitor or feedback ids changed
        # Per account domain, its members' updates: one accounts.members record per account per batch.
        self._member_updates: dict[str, list[tuple[str, Member | None]]] = {}
        # Topic records and changes, in the order decided; sent after the table writes they follow from.
        self._outbox: list[tuple[str, bytes | None, bytes] | tuple[QualificationChange, float | None, bool]] = []
        self.tables = TableWrites()  # every table write this batch makes, produced at flush
        self.shadow = ShadowBatch(context)  # the same inputs under the shadow model, if one runs
        self.received: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.scored = self.deduplicated = 0

    # --- deciding (synchronous) -----------------------------------------------------------------

    def state(self, key: bytes) -> LeadState | None:
        state = self._states.get(key, _UNREAD)
        if state is _UNREAD:
            held = self._lead_records.get(key)
            state = stored_state(key, held)
            self._read[key] = self._states[key] = state
            self._records[key] = held or None
        return state  # type: ignore[return-value]

    def store(self, key: bytes, after: LeadState, signal: Signal | None = None,
              change: QualificationChange | None = None, report_cause: str | None = None,
              assessment: Assessment | None = None) -> None:
        """The lead's new state, and what goes on its timeline; ``report_cause`` tells its account.

        ``assessment``: the one scoring made of ``after`` at its as_of, so the account's report
        need not make it again.
        """
        before = self.state(key)
        if signal is not None or change is not None:
            history = self._histories.get(key)
            if history is None:
                history = self._histories[key] = HistoryDraft.of_record(self._records[key], before)
            history.record(signal, change, self.model)
        self._states[key] = after
        self._dirty[key] = None
        self._forgotten.pop(key, None)
        if assessment is not None:
            self._assessments[key] = assessment
        else:
            self._assessments.pop(key, None)
        if report_cause is not None:
            self._reports[key] = report_cause

    def is_erased(self, key: bytes) -> bool:
        """Was this lead or visitor id erased? Only asked of ids with no record: an erased one has none."""
        erased = self.erased
        if not erased:
            return False
        return key in erased or lead_event_records.erasure_key(key, self.partitions) in erased  # the first: before digests

    def links(self, key: bytes) -> tuple[list[str], list[str]]:
        """The lead's linked visitor ids and feedback ids, as this batch holds them."""
        links = self._links.get(key)
        if links is None:
            self.state(key)
            links = lead_records.decode_links(lead_records.links_of(self._records.get(key)))
        return links

    def link(self, key: bytes, visitor_id: str | None = None, feedback_id: str | None = None) -> None:
        """Remember, with the lead, a visitor linked to it or a verdict given on it; the lead must exist."""
        state = self.state(key)
        assert state is not None
        visitors, feedback = self.links(key)
        changed = False
        if visitor_id is not None and visitor_id not in visitors:
            visitors.append(visitor_id)
            changed = True
        if feedback_id is not None and feedback_id not in feedback:
            feedback.append(feedback_id)
            changed = True
        self._links[key] = (visitors, feedback)
        if changed:  # a repeated link (an identify seen again) rewrites nothing
            self._dirty[key] = None

    def report(self, key: bytes, cause_event_id: str) -> None:
        """Tell the lead's account where it stands, though nothing about it changed (a redelivery).

        The e-mail's partition hears again that the lead states it: a crash after the state landed
        may have lost that too, and erasure by the e-mail would then miss the lead (a repeat is a no-op there).
        """
        if (state := self.state(key)) is not None:
            self._reports[key] = cause_event_id
            if (email := _stated_email(key, state)) is not None:
                self.send(self.context.topics.signals,
                          *email_index.index_command(email, key.decode(), self.context.wall_clock(), stated=True))

    def forget(self, key: bytes) -> None:
        """The lead was erased: its record (state and history) goes, and its account forgets it."""
        state = self.state(key)
        self._states[key] = None
        self._dirty.pop(key, None)
        self._histories.pop(key, None)
        self._reports.pop(key, None)
        self._links.pop(key, None)
        self._forgotten[key] = None
        self.shadow.forget(key)
        if state is not None and state.account is not None:
            self._member_updates.setdefault(state.account, []).append((state.lead_id, None))

    def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """``topic``: a broker name (``context.topics``); sent at ``flush``, after the table writes."""
        self._outbox.append((topic, key, value))

    def emit(self, change: QualificationChange, ingested_at: float | None, first_time: bool = True) -> None:
        """``first_time`` False: a re-emit after a crash, counted and timed when it was first decided."""
        self._outbox.append((change, ingested_at, first_time))

    # --- writing and sending ----------------------------------------------------------------------

    async def flush(self) -> None:
        """Write every table, then send in decision order: a change never leaves before the state it follows from."""
        self._write()
        self._count()
        context = self.context
        outbox = context.outbox
        budget = context.settings.max_record_bytes
        for domain, updates in self._member_updates.items():
            for record in account_records.encode_member_updates_within(domain, updates, budget):
                self.send(context.topics.account_members, domain.encode(), record)
        await self.tables.produce(outbox)
        if context.crash_point is not None:  # fault tests only: the state is out, nothing else is
            for key in self._dirty:
                await context.crash_point("after-store", key.decode())
        for item in self._outbox:
            if isinstance(item[0], QualificationChange):
                await _emit(context, *item)  # type: ignore[arg-type]
            else:
                await outbox.send(*item)  # type: ignore[arg-type]
        await self.shadow.flush()  # after everything live: the shadow can neither delay nor change it

    def _write(self) -> None:
        """Each touched lead's entries once, with the census, the demotion and lead indexes and its account."""
        census, due_index, lead_index, leads = (self.context.census, self.context.due_index,
                                                self.context.lead_index, self._leads)
        keeps_summaries = table_writes.keeps_summaries(leads)
        for key in self._forgotten:
            before = self._read.get(key)
            if before is not None:
                self.tables.delete(leads, key)
                partition = partition_for(key, self.partitions)
                census.removed(partition, bucket(before))
                lead_index.remove(partition, key, bucket(before))
                self._index_email(key, before, None)  # as stored: an e-mail this batch gave it was never indexed
            due_index.schedule(key, None)
            self.context.revisit_queue.discard(key)
        for key in self._dirty:
            after = self._states[key]
            assert after is not None
            history = self._histories.get(key)
            if history is not None:
                history_bytes = history.encode()
            else:  # untouched: carried over as read
                history_bytes = lead_records.history_of(self._records.get(key))
            links = self._links.get(key)
            links_bytes = lead_records.encode_links(*links) if links is not None \
                else lead_records.links_of(self._records.get(key))
            record = lead_records.encode_lead(after, history_bytes, links_bytes)
            summary = lead_summaries.summarize(after, self.model)
            self.tables.set(leads, key, record,
                            lead_summaries.encode(summary, self.model) if keeps_summaries else None)
            before = self._read.get(key)
            partition, before_bucket = partition_for(key, self.partitions), before and bucket(before)
            census.moved(partition, before_bucket, summary.bucket)
            lead_index.put(partition, key, before_bucket, summary.bucket, summary.standing)
            due_index.schedule(key, summary.due)
            self.context.revisit_queue.put(key, summary.revisit)
            self._index_email(key, before, after)
        for key, cause in self._reports.items():
            if (state := self._states[key]) is not None:
                self._report_to_account(state, cause, self._assessments.get(key))

    def _index_email(self, key: bytes, before: LeadState | None, after: LeadState | None) -> None:
        """The e-mail's partition hears that the lead now states its e-mail, or no longer does (its erasure finds it)."""
        stated_before, stated_after = _stated_email(key, before), _stated_email(key, after)
        if stated_before == stated_after:
            return
        at, lead_id = self.context.wall_clock(), key.decode()
        if stated_before is not None:
            self.send(self.context.topics.signals, *email_index.index_command(stated_before, lead_id, at, stated=False))
        if stated_after is not None:
            self.send(self.context.topics.signals, *email_index.index_command(stated_after, lead_id, at, stated=True))

    def _report_to_account(self, state: LeadState, cause_event_id: str, assessment: Assessment | None) -> None:
        """Tell the lead's account (keyed by its domain, on another partition) where the lead stands."""
        domain = state.account
        if domain is None:
            return
        member = account_member(state, cause_event_id, self.model, assessment)
        if member is not None or domain not in self.model.fit.free_mail_domains:
            self._member_updates.setdefault(domain, []).append((state.lead_id, member))

    def _count(self) -> None:
        for event_type, count in self.received.items():
            metrics.EVENTS_RECEIVED.labels(source=metrics.RAW_TOPIC, type=event_type).inc(count)
        for reason, count in self.ignored.items():
            metrics.EVENTS_IGNORED.labels(reason=reason).inc(count)
        if self.scored:
            metrics.EVENTS_SCORED.inc(self.scored)
        if self.deduplicated:
            metrics.EVENTS_DEDUPLICATED.inc(self.deduplicated)


def _stated_email(key: bytes, state: LeadState | None) -> str | None:
    """The e-mail the lead's profile states, unless it is the lead's own id (erasure by it finds the lead directly)."""
    fact = state.profile.get("email") if state is not None else None
    if fact is None or not isinstance(fact.value, str) or fact.value.encode() == key:
        return None
    return fact.value


async def _emit(context: WorkerContext, change: QualificationChange, ingested_at: float | None,
                first_time: bool) -> None:
    emitted_at = context.wall_clock()
    await context.outbox.send(context.topics.qualification, change.lead_id.encode(),
                              change_records.encode_change(change, emitted_at, ingested_at))
    if not first_time:
        metrics.QUALIFICATION_REEMITTED.inc()
        return
    if change.cause == REVISIT:  # moves nothing: counted as what it is
        metrics.REVISITS_DUE.labels(reason=change.cause_detail or "").inc()
        return
    metrics.QUALIFICATION_CHANGES.labels(
        from_stage=change.from_stage.value, to_stage=change.to_stage.value,
        from_temperature=change.from_temperature.value, to_temperature=change.to_temperature.value,
    ).inc()
    if change.cause == "decay":
        metrics.DEMOTIONS.inc()
    elif change.cause == "event" and ingested_at is not None:
        metrics.EVENT_LATENCY.observe(max(emitted_at - change.event_time, 0.0))
        metrics.INGEST_LATENCY.observe(max(emitted_at - ingested_at, 0.0))
