"""CRM outcomes joined, on the lead's own partition, to its stage history, and counted as metrics.

An outcome is accounted for as ignored (``outcome_only``) where it is received, like before; the
join reads the lead's state as it stood, then the outcome is sales speaking (``scoring.arrival.apply_outcome``):
an opportunity makes the lead SQL, a won or lost deal ends that, and the change goes out like any other. An outcome whose raw key
did not place it on the lead's partition goes there as a command on leads.signals, like erasure
and feedback, so it meets the lead in order with its events. Counts are per process, like every
metric; a record redelivered after a crash may count twice. ``leadstream report`` counts the same
joins from history, exactly.
"""

from __future__ import annotations

from typing import Any

from scoring import LeadEvent
from scoring.arrival import apply_outcome
from scoring.kinds import DealOutcome
from scoring.outcomes import OutcomeJoin, join_outcome, outcome_of
from streams.contracts import command_records
from streams.contracts.partitioning import partition_for
from streams.worker import metrics
from streams.worker.batch import Batch


def route(batch: Batch, event: LeadEvent, partition: int) -> None:
    """Join an outcome received on ``partition`` here, or send it to the lead's partition."""
    outcome = outcome_of(event, batch.model)
    if outcome is None:
        return
    key = event.lead_id.encode()
    if partition_for(key, batch.partitions) == partition:
        join(batch, key, outcome, event.event_id, event.occurred_at)
    else:
        batch.send(batch.context.topics.signals, key, command_records.encode_command(
            command_records.OUTCOME, event.lead_id, event.occurred_at, outcome=outcome.value, event_id=event.event_id))


def join_command(batch: Batch, key: bytes, command: dict[str, Any]) -> None:
    join(batch, key, DealOutcome(command["outcome"]), command["event_id"], command["issued_at"])


def join(batch: Batch, key: bytes, outcome: DealOutcome, event_id: str, at: float) -> None:
    if batch.state(key) is None and batch.is_erased(key):
        return  # erased: nothing about the person is kept, not even in a count by stage
    state = batch.state(key)
    count(join_outcome(state, key.decode(), event_id, outcome, at))
    if state is None:
        return  # a lead nobody scored: nothing for sales to qualify
    decision = apply_outcome(state, outcome, at, event_id, batch.model)
    if batch.shadow.on:
        shadow_model = batch.shadow.model
        batch.shadow.follow(key, state, lambda shadow: None if shadow is None else apply_outcome(
            shadow, outcome, at, event_id, shadow_model), at)
    if not decision.duplicate:
        batch.store(key, decision.state, None, decision.change, report_cause=event_id, assessment=decision.assessment)
    if decision.change is not None:
        batch.emit(decision.change, at, first_time=not decision.duplicate)


def count(joined: OutcomeJoin) -> None:
    outcome = joined.outcome.value
    metrics.OUTCOMES.labels(outcome=outcome).inc()
    for stage in joined.reached:
        metrics.OUTCOMES_BY_STAGE.labels(outcome=outcome, stage=stage.value).inc()
    if joined.hottest is not None:
        metrics.OUTCOMES_BY_TEMPERATURE.labels(outcome=outcome, temperature=joined.hottest.value).inc()
    for kind in joined.signals:
        metrics.OUTCOMES_BY_SIGNAL.labels(outcome=outcome, signal=kind).inc()
