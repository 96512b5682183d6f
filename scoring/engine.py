"""Applying one signal to one lead as it stands: the functional core of scoring.

``step`` takes the held state and returns the new state plus the decision to emit, if any. It
folds the signal in at the lead's as-of time; ``scoring.arrival.apply`` (what the stream shell
calls) uses it for every input that arrives in event-time order, and replays the lead's journal
through it when one arrives late.
"""

from __future__ import annotations

from types import MappingProxyType

from msgspec import Struct
from msgspec.structs import replace

from scoring.changes import QualificationChange, change_id
from scoring.criteria import merge_answers
from scoring.decay import contribution_at
from scoring.dedupe import event_hash, remember
from scoring.explain import assess, top_contributions
from scoring.grade import next_grade
from scoring.model import ScoringModel
from scoring.profile import merge_facts
from scoring.qualification import Assessment, Levels, needs_enrichment, next_levels, stage_for, temperature_for
from scoring.sales import criteria_confirmed_at, held_back, qualified_since, sql_expires_at
from scoring.signals import Signal
from scoring.stages import Stage, Temperature
from scoring.state import KindTally, LeadState, Step, new_lead

# Changes kept per lead so a redelivered event re-emits what it caused: redeliveries come
# from the last uncommitted seconds, in which a lead rarely changes stage more than once or twice.
REMEMBERED_CHANGES = 4
TEMPERATURE_ORDER = tuple(Temperature)  # cold, warm, hot
PATH_KEPT = 16  # steps of stage history a lead keeps: as many as its history's timeline shows


class Decision(Struct, frozen=True, gc=False):
    state: LeadState
    change: QualificationChange | None  # to emit: new, or re-emitted for a redelivery
    duplicate: bool
    # The new state's assessment at its as_of, when one was made: its account needs the same one.
    assessment: Assessment | None = None


class Classified(Struct, frozen=True, gc=False):
    levels: Levels
    temperature: Temperature
    stage: Stage
    sql_ended_at: float | None  # moved to the bound when an SQL's inactivity bound passed
    held_back: bool
    needs_enrichment: bool
    grade: str


def step(state: LeadState | None, signal: Signal, model: ScoringModel, cause: str = "event",
         detail: str | None = None) -> Decision:
    """``cause``: what ``signal`` is (an event, or "feedback", "outcome", "decay", "model" with no kind);
    ``detail`` says more (the verdict, the deal outcome)."""
    if state is None:
        state = new_lead(signal.lead_id, signal.anonymous)
    hashed = event_hash(signal.event_id)
    if hashed in state.recent_event_ids:
        earlier = next((change for h, change in state.recent_changes if h == hashed), None)
        return Decision(state=state, change=earlier, duplicate=True)

    recorded = _record(state, signal, model, cause == "event")
    assert recorded.as_of is not None
    assessment = assess(recorded, model, recorded.as_of)
    # The inactivity bound runs from the activity before this event: an event after the bound passed
    # (no timer ran between) finds the SQL already ended, as the timer would have left it.
    classified = _classified(recorded, assessment, model, recorded.as_of, state.active_at)
    stage, temperature = classified.stage, classified.temperature
    if cause == "decay":
        cause = _timer_cause(state, recorded, classified, model)
    change = change_between(state, recorded, stage, temperature, classified.needs_enrichment, assessment,
                            signal.event_id, model, cause, detail, classified.grade)
    updated = LeadState(
        lead_id=recorded.lead_id, identified=recorded.identified, as_of=recorded.as_of, tallies=recorded.tallies,
        profile=recorded.profile, answers=recorded.answers, levels=classified.levels, grade=classified.grade,
        stage=stage,
        temperature=temperature, rejected_at=recorded.rejected_at, accepted_at=recorded.accepted_at,
        sql_ended_at=classified.sql_ended_at, active_at=recorded.active_at, renewed=recorded.renewed,
        flagged_at=recorded.flagged_at, needs_enrichment=classified.needs_enrichment,
        revisited_at=recorded.revisited_at, sequence=state.sequence + (change is not None),
        recent_event_ids=remember(state.recent_event_ids, hashed, model.dedupe_window),
        recent_changes=(*state.recent_changes, (hashed, change))[-REMEMBERED_CHANGES:]
        if change
        else state.recent_changes,
        reached=state.reached if stage in state.reached else state.reached | {stage},
        hottest=max(state.hottest, temperature, key=TEMPERATURE_ORDER.index),
        model_version=model.version,
        path=(*state.path, Step(change.event_time, stage, temperature, cause))[-PATH_KEPT:] if change else state.path,
        journal=state.journal,
    )
    return Decision(state=updated, change=change, duplicate=False, assessment=assessment)


def has_seen(state: LeadState | None, event_id: str) -> bool:
    return state is not None and event_hash(event_id) in state.recent_event_ids


def remember_event(state: LeadState, event_id: str, model: ScoringModel) -> LeadState:
    """Note ``event_id`` among the lead's recent ids without scoring anything (a release, say)."""
    return replace(state, recent_event_ids=remember(state.recent_event_ids, event_hash(event_id), model.dedupe_window))


def _timer_cause(before: LeadState, after: LeadState, classified: Classified, model: ScoringModel) -> str:
    """What a timer reclassification was: an SQL's inactivity bound, a rejection's hold lifting, or decay."""
    if classified.sql_ended_at != before.sql_ended_at and before.stage is Stage.SQL:
        return "inactivity"
    assert before.as_of is not None
    if (before.rejected_at is not None and not classified.held_back
            and held_back(before.rejected_at, before.renewed, model.signals, model.sales, before.as_of)):
        return "cooldown"
    return "decay"


def _record(state: LeadState, signal: Signal, model: ScoringModel, own_event: bool = True) -> LeadState:
    """Move the tallies to the later of the held and the event time, then add the signal.

    ``own_event``: the lead did something (not a timer, feedback or a model switch): it is active then.
    """
    as_of = signal.occurred_at if state.as_of is None else max(state.as_of, signal.occurred_at)
    if state.as_of is None:
        tallies = {}
    elif as_of == state.as_of:  # a late or simultaneous event: nothing to move (the factor would be 1)
        tallies = dict(state.tallies)
    else:
        # decayed_to, with its factor worked out once per half-life rather than once per kind.
        elapsed = as_of - state.as_of
        factors = {component: 2.0 ** (-elapsed / half_life) for component, half_life in model.half_life_seconds.items()}
        rules = model.signals
        # A kind the model does not define is kept as held, unscored, until a model defines it again.
        tallies = {
            kind: KindTally(tally.decayed * factors[rules[kind].component], tally.count, tally.last_at)
            if kind in rules else tally
            for kind, tally in state.tallies.items()
        }
    kind = signal.kind if signal.kind in model.signals else None  # one in flight across a model change
    if kind is not None:
        added = contribution_at(signal.occurred_at, as_of, model.half_life_of(kind))
        held = tallies.get(kind)
        tallies[kind] = KindTally(
            decayed=(held.decayed if held else 0.0) + added,
            count=(held.count if held else 0) + 1,
            last_at=max(held.last_at, signal.occurred_at) if held else signal.occurred_at,
        )
    profile = merge_facts(state.profile, signal.profile, signal.occurred_at)
    renewed, flagged = state.renewed, state.flagged_at
    if kind is not None:
        if state.rejected_at is not None and signal.occurred_at > state.rejected_at:
            renewed = MappingProxyType({**renewed, kind: renewed.get(kind, 0) + 1})
        if kind in model.disqualify.signals:
            # A bounce is the address's, not the person's: an address stated after it clears it.
            flagged = signal.occurred_at if flagged is None else max(flagged, signal.occurred_at)
    active_at = state.active_at
    if own_event:
        active_at = signal.occurred_at if active_at is None else max(active_at, signal.occurred_at)
    return LeadState(
        lead_id=state.lead_id,
        # Contact details make a visitor an information-qualified lead.
        identified=state.identified or "email" in profile,
        as_of=as_of,
        tallies=MappingProxyType(tallies),
        profile=profile,
        answers=merge_answers(state.answers, signal.answers, signal.occurred_at),
        levels=state.levels, grade=state.grade, stage=state.stage, temperature=state.temperature,
        rejected_at=state.rejected_at, accepted_at=state.accepted_at, sql_ended_at=state.sql_ended_at,
        active_at=active_at, renewed=renewed,
        flagged_at=flagged, needs_enrichment=state.needs_enrichment, revisited_at=state.revisited_at,
        sequence=state.sequence, recent_event_ids=state.recent_event_ids, recent_changes=state.recent_changes,
        reached=state.reached, hottest=state.hottest, model_version=state.model_version,
        path=state.path, journal=state.journal,
    )


def reclassify(state: LeadState, assessment: Assessment, model: ScoringModel) -> LeadState:
    """Stage and temperature for ``assessment``, with hysteresis from the held ladder levels."""
    assert state.as_of is not None
    classified = _classified(state, assessment, model, state.as_of)
    return replace(state, levels=classified.levels, temperature=classified.temperature, stage=classified.stage,
                   sql_ended_at=classified.sql_ended_at, needs_enrichment=classified.needs_enrichment,
                   grade=classified.grade)


def sales_qualified_until(state: LeadState, assessment: Assessment, model: ScoringModel,
                          active_at: float | None = None) -> float | None:
    """When the sales qualification the lead holds runs out by inactivity (counted from ``active_at``,
    else its own); None if it holds none."""
    confirmed = criteria_confirmed_at(state.answers, model.criteria.framework) if assessment.gates.sql else None
    since = qualified_since(state.accepted_at, confirmed, state.sql_ended_at)
    active = state.active_at if active_at is None else active_at
    return None if since is None else sql_expires_at(since, active, model.sales)


def _classified(state: LeadState, assessment: Assessment, model: ScoringModel, at: float,
                active_before: float | None = None) -> Classified:
    levels = next_levels(state.levels, assessment.scores, model.qualification.ladders)
    held = held_back(state.rejected_at, state.renewed, model.signals, model.sales, at)
    until = sales_qualified_until(state, assessment, model, active_before)
    ended_at = state.sql_ended_at
    if until is not None and at >= until:
        ended_at = until  # quiet past the inactivity bound: only sales, or new answers, qualify it again
    qualified = until is not None and at < until
    return Classified(
        levels=levels,
        temperature=temperature_for(levels, assessment, model.qualification, held),
        stage=stage_for(state.stage, state.identified, levels, assessment, qualified, held),
        sql_ended_at=ended_at, held_back=held,
        needs_enrichment=needs_enrichment(levels, assessment, qualified),
        grade=next_grade(state.grade, assessment.scores, model.grade),
    )


def change_between(
    before: LeadState, after: LeadState, stage: Stage, temperature: Temperature, enrichment_needed: bool,
    assessment: Assessment, cause_event_id: str, model: ScoringModel, cause: str, detail: str | None, grade: str | None,
) -> QualificationChange | None:
    """The change from ``before`` to ``after`` (whose classification is ``stage``, ``temperature`` and
    ``grade``). A move of the grade alone is no change: the grade rides on the next one."""
    if before.stage is stage and before.temperature is temperature:
        return None  # the explanation is built only for a change
    assert after.as_of is not None
    return QualificationChange(
        change_id=change_id(after.lead_id, cause_event_id),
        lead_id=after.lead_id,
        sequence=before.sequence + 1,
        account=after.account,
        from_stage=before.stage,
        to_stage=stage,
        from_temperature=before.temperature,
        to_temperature=temperature,
        scores=assessment.scores,
        reasons=top_contributions(after, model, after.as_of),
        fit_reasons=assessment.fit.matched,
        framework=model.criteria.framework.name,
        criteria=assessment.criteria,
        disqualified_by=assessment.disqualified_by,
        model_version=model.version,
        cause_event_id=cause_event_id,
        event_time=after.as_of,
        cause=cause,
        cause_detail=detail,
        needs_enrichment=enrichment_needed,
        grade=grade,
    )
