"""A shadow model beside the live one (`leadstream model shadow`): every lead classified again, deciding nothing.

The shadow keeps a state of its own per lead (the shadow_leads table), so its stage history,
ladder levels and demotions follow its own thresholds. It starts from the live held state: the
lead as the live model holds it, re-classified under the shadow at its as-of time (exact, as in
`model apply`, because held state is decayed counts per kind and the shadow's half-lives equal
the live ones). From then on it is told everything the live lead is told (events, sales feedback,
CRM outcomes) and its own timer demotes it. The live state, the live changes and everything sent
to alerts, accounts and the CRM are what they would be without it: the shadow only writes its own
table and leads.qualification.shadow, after the live batch has gone out.
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec.structs import replace

from scoring import LeadState, QualificationChange
from scoring.engine import Decision
from scoring.revisit import next_due, timer_step
from scoring.switch import reclassify_under
from streams.contracts import change_records, lead_records
from streams.contracts.partitioning import partition_for
from streams.worker import metrics
from streams.worker.context import ShadowLane, WorkerContext
from streams.worker.table_writes import TableWrites


def encode_shadow(cause: str, state: LeadState) -> bytes:
    """The shadow run it belongs to (its cause id) on a line of its own, then the state as the leads table keeps it."""
    return cause.encode() + b"\n" + lead_records.encode_state(state)


def held_shadow(lane: ShadowLane, key: bytes) -> LeadState | None:
    """The lead's shadow state as the table holds it, if it belongs to the shadow running now (else None).

    A state of an earlier run (the shadow switched off and on again, or another one) missed what came
    in between: the lead starts again from its live state.
    """
    raw = lane.leads.data.get(key)
    if not raw or lane.model is None:
        return None
    cause, _, record = raw.partition(b"\n")
    return lead_records.decode_state(key.decode(), record) if cause == lane.cause.encode() else None


def rebuild_due(lane: ShadowLane, partitions: int, active: set[int]) -> None:
    """After a rebalance's recovery: when each shadow state of the partitions now owned is next due."""
    model = lane.model
    if model is None:
        return
    due = []
    for key in list(lane.leads.data):
        if partition_for(key, partitions) in active and (state := held_shadow(lane, key)) is not None:
            due.append((state.lead_id, next_due(state, model)))
    lane.due_index.rebuild(due)


class ShadowBatch:
    """What one batch decided under the shadow: written and sent after the live batch (``flush``)."""

    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.lane: ShadowLane = context.shadow
        self.model = self.lane.model  # one shadow per batch, as one live model
        self._states: dict[bytes, LeadState | None] = {}
        self._dirty: dict[bytes, None] = {}
        self._forgotten: dict[bytes, None] = {}
        self._changes: list[tuple[QualificationChange, float | None]] = []

    @property
    def on(self) -> bool:
        return self.model is not None

    def state(self, key: bytes, live_before: LeadState | None) -> LeadState | None:
        """The lead under the shadow, started from ``live_before`` (the live held state) if it has none yet."""
        if key in self._states:
            return self._states[key]
        state = held_shadow(self.lane, key)
        if state is None and live_before is not None:
            assert self.model is not None
            # Its remembered changes are the live model's: a redelivery must not re-send them as the shadow's.
            started = reclassify_under(replace(live_before, recent_changes=()), self.model, self.lane.cause)
            state = started.state
            self._dirty[key] = None
            if started.change is not None:
                self._changes.append((started.change, None))
        self._states[key] = state
        return state

    def follow(self, key: bytes, live_before: LeadState | None,
               decide: Callable[[LeadState | None], Decision | None], ingested_at: float | None = None) -> None:
        """What the live lead was just told, told to the shadow lead: ``decide`` applies it under the shadow model."""
        if self.model is None:
            return
        decision = decide(self.state(key, live_before))
        if decision is None:
            return
        if not decision.duplicate:
            self._states[key] = decision.state
            self._dirty[key] = None
        if decision.change is not None:  # a duplicate's change goes again: a crash may have lost it
            self._changes.append((decision.change, ingested_at))

    def start(self, key: bytes, live: LeadState | None) -> None:
        """The shadow came on: start the lead now, so its own timer runs even if it hears nothing more."""
        if self.model is not None:
            self.state(key, live)

    def timer(self, key: bytes, live: LeadState | None) -> None:
        """The shadow's timer came due for the lead: its demotion or revisit, under its own thresholds."""
        if self.model is None:
            return
        model = self.model
        state = self.state(key, live)
        if state is None:
            return
        decision = timer_step(state, model, self.context.clock.now())
        if decision is None:
            self.lane.due_index.schedule(state.lead_id, next_due(state, model))
            return
        self.follow(key, live, lambda _: decision)

    def forget(self, key: bytes) -> None:
        """The lead was erased: its shadow state goes too, shadow or not."""
        self._states[key] = None
        self._dirty.pop(key, None)
        self._forgotten[key] = None

    async def flush(self) -> None:
        if not self._dirty and not self._forgotten and not self._changes:
            return
        context, lane, model = self.context, self.lane, self.model
        tables = TableWrites()
        for key in self._forgotten:
            tables.delete(lane.leads, key)
            lane.due_index.schedule(key.decode(), None)
        for key in self._dirty:
            state = self._states[key]
            assert state is not None and model is not None
            tables.set(lane.leads, key, encode_shadow(lane.cause, state))
            lane.due_index.schedule(state.lead_id, next_due(state, model))
        await tables.produce(context.outbox)
        for change, ingested_at in self._changes:
            await context.outbox.send(context.topics.shadow_qualification, change.lead_id.encode(),
                                      change_records.encode_change(change, context.wall_clock(), ingested_at))
        if self._changes:
            metrics.SHADOW_CHANGES.inc(len(self._changes))
