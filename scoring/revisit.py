"""Revisiting weak leads on a schedule (the fourth article, section 6): when a quiet lead is due for another look.

A lead that is recycled (by sales or by decay), or cold, and whose fit is good is worth another
look once it has been left alone for the model's interval (``[revisit] after_days``): no event of
its own, no sales verdict, no earlier revisit. Nothing the lead does makes it due; time does, so
the rule gives the time and the worker's lead timer (the one that demotes) fires it. The lead
remembers the due time of its latest revisit (``LeadState.revisited_at``): a timer tick, a
repeated command or a restart finds that revisit done, and the next one is an interval later.

``next_due`` is the lead's one timer: the earlier of its next demotion and its next revisit.
"""

from __future__ import annotations

from msgspec.structs import replace

from scoring.changes import QualificationChange, change_id
from scoring.crossing import demotion_due_by, next_demotion
from scoring.dedupe import event_hash, remember
from scoring.engine import REMEMBERED_CHANGES, Decision, step
from scoring.explain import assess, top_contributions
from scoring.fit import assess_fit
from scoring.grade import next_grade
from scoring.model import ScoringModel
from scoring.signals import Signal
from scoring.stages import Stage, Temperature
from scoring.state import LeadState

REVISIT = "revisit"  # the cause of a revisit's change
RECYCLED, COLD = "recycled", "cold"  # why the lead is in the pool (the change's reason)
# Sales owns an SQL, an anonymous visitor cannot be contacted, a disqualified lead is out of market.
_NEVER_REVISITED = frozenset({Stage.NEW, Stage.SQL, Stage.DISQUALIFIED})


def revisit_reason(state: LeadState, model: ScoringModel) -> str | None:
    """Why the lead belongs to the revisit pool (recycled, or cold), with good fit; None if it does not."""
    rules = model.revisit
    if rules is None or state.as_of is None or not state.identified or state.stage in _NEVER_REVISITED:
        return None
    if state.stage is Stage.RECYCLED:
        reason = RECYCLED
    elif state.temperature is Temperature.COLD:
        reason = COLD
    else:
        return None
    return reason if assess_fit(state.profile, model.fit).score >= rules.fit_minimum else None


def last_touched(state: LeadState) -> float | None:
    """The latest time anyone acted on the lead: its own event, or a sales verdict (None: never)."""
    times = [t for t in (state.active_at, state.accepted_at, state.rejected_at) if t is not None]
    return max(times) if times else None


def next_revisit(state: LeadState, model: ScoringModel) -> float | None:
    """When the lead is next due for a revisit, if it stays as it is; None if it is not in the pool.

    An interval after it was last touched or last revisited, whichever is later; never before a
    rejection's cooldown ends; and never before its as-of time (a lead that goes cold long after
    its last event is due the moment it does).
    """
    rules = model.revisit
    if rules is None or revisit_reason(state, model) is None:
        return None
    assert state.as_of is not None
    since = max((t for t in (last_touched(state), state.revisited_at) if t is not None), default=state.as_of)
    due = since + rules.interval_s
    if state.rejected_at is not None:
        due = max(due, state.rejected_at + model.sales.rejection_cooldown_s)
    return max(due, state.as_of)


def awaiting_revisit(state: LeadState, model: ScoringModel) -> bool:
    """Came due for a revisit and nobody has acted on it since, and still in the pool: the board's queue."""
    if state.revisited_at is None or revisit_reason(state, model) is None:
        return False
    touched = last_touched(state)
    return touched is None or touched <= state.revisited_at


def apply_revisit(state: LeadState, due: float, model: ScoringModel) -> Decision:
    """The lead due for a revisit at ``due`` (a time ``next_revisit`` gave): a ``revisit`` change, once.

    Stage and temperature stay as they are; the change carries the scores at ``due`` and the
    reason. A second call for the same ``due`` is a duplicate and hands back the change it made.
    """
    cause_event_id = f"{REVISIT}:{due!r}"
    hashed = event_hash(cause_event_id)
    if hashed in state.recent_event_ids or (state.revisited_at is not None and due <= state.revisited_at):
        earlier = next((change for h, change in state.recent_changes if h == hashed), None)
        return Decision(state=state, change=earlier, duplicate=True)
    assessment = assess(state, model, due)
    grade = next_grade(state.grade, assessment.scores, model.grade)  # at the scores it carries
    change = QualificationChange(
        change_id=change_id(state.lead_id, cause_event_id), lead_id=state.lead_id, sequence=state.sequence + 1,
        account=state.account, from_stage=state.stage, to_stage=state.stage,
        from_temperature=state.temperature, to_temperature=state.temperature,
        scores=assessment.scores, reasons=top_contributions(state, model, due), fit_reasons=assessment.fit.matched,
        framework=model.criteria.framework.name, criteria=assessment.criteria,
        disqualified_by=assessment.disqualified_by, model_version=model.version, cause_event_id=cause_event_id,
        event_time=due, cause=REVISIT, cause_detail=revisit_reason(state, model),
        needs_enrichment=state.needs_enrichment, grade=grade,
    )
    revisited = replace(
        state, revisited_at=due, sequence=change.sequence, grade=grade,
        recent_event_ids=remember(state.recent_event_ids, hashed, model.dedupe_window),
        recent_changes=(*state.recent_changes, (hashed, change))[-REMEMBERED_CHANGES:],
    )
    return Decision(state=revisited, change=change, duplicate=False)


def revisit_made(state: LeadState, due: float) -> QualificationChange | None:
    """The change of the revisit due at ``due``, if the lead made it and still remembers it."""
    hashed = event_hash(f"{REVISIT}:{due!r}")
    if hashed not in state.recent_event_ids:
        return None
    return next((change for h, change in state.recent_changes if h == hashed), None)


def next_due(state: LeadState, model: ScoringModel) -> float | None:
    """The lead's next timer time: the earlier of its next demotion and its next revisit."""
    times = [t for t in (next_demotion(state, model), next_revisit(state, model)) if t is not None]
    return min(times) if times else None


def timer_step(state: LeadState, model: ScoringModel, now: float) -> Decision | None:
    """What the lead timer does by ``now``: the earliest due demotion or revisit, None when nothing is due.

    A demotion due at the same time as a revisit goes first: the revisit is decided on the lead it leaves.
    Both apply to the lead as it stands (``scoring.engine.step``), at their own times: time passing is
    never late. ``demotion_due_by`` rules out rungs that cannot give way by ``now`` without searching
    for their crossings, which a re-derivation (``scoring.arrival``) asks before every input.
    """
    demotion, revisit = demotion_due_by(state, model, now), next_revisit(state, model)
    if demotion is not None and (revisit is None or demotion <= revisit):
        crossing = Signal(event_id=f"decay:{demotion!r}", lead_id=state.lead_id, anonymous=not state.identified,
                          kind=None, occurred_at=demotion)
        return step(state, crossing, model, cause="decay")
    if revisit is not None and revisit <= now:
        return apply_revisit(state, revisit, model)
    return None
