"""One path whatever the order: what a lead is told, applied in event time however it arrives.

Scores are sums of decayed counts, the same whatever order events arrive in; stage and
temperature are not, since the ladders' hysteresis, sales' holds and the timers' crossings
depend on what came before. So each lead keeps a journal (``scoring.state.Journal``): its latest
inputs (its own events, sales feedback, CRM outcomes) in event-time order and the lead as it
stood before them. An input that arrives in order is applied as it stands (``scoring.engine``)
and appended. One that arrives late (earlier than the lead's as-of, or before a held input of the
same time) is slotted in where it belongs, and the lead is re-derived from before it: the inputs
applied in event time, each after the demotions due by its own time (as the timer would have
made them), then the demotions due up to the as-of the lead had reached. The lead then holds the
stage, temperature and stage history (``LeadState.path``) it would have had had everything come
in order, and the change from what it held (if any) says ``cause = "late"``.

Within the journal only: an input older than its base (more than HALF to 2·HALF inputs back) is
folded into the base as it stands, its scores exact but its stage as if it came at the base's time.
"""

from __future__ import annotations

from msgspec.structs import replace

from scoring.changes import QualificationChange
from scoring.dedupe import event_hash, remember
from scoring.engine import REMEMBERED_CHANGES, Decision, change_between, step
from scoring.explain import assess
from scoring.feedback import Verdict, feedback_step, outcome_step
from scoring.kinds import DealOutcome
from scoring.model import ScoringModel
from scoring.revisit import timer_step
from scoring.signals import Signal
from scoring.state import Input, Journal, LeadState, SalesWord, new_lead

# The journal holds the latest HALF to 2·HALF inputs (once the lead has had HALF): a late event
# is re-derived exactly if it is no older than that; mobile and offline batches rarely are.
HALF = 32
# Timer steps one lead can take between two of its inputs: a demotion per rung (there are five), and a
# revisit per interval of silence (years of it, at the shipped 90 days).
MAX_TIMER_STEPS_PER_GAP = 64
LATE = "late"  # the cause of a change re-derived for a late input


def apply(state: LeadState | None, signal: Signal, model: ScoringModel, cause: str = "event",
          detail: str | None = None) -> Decision:
    """The lead after ``signal``, in event time; ``cause`` other than "event" (a timer's crossing
    at its due time, a model switch) reclassifies the lead as it stands (``scoring.engine.step``)."""
    if cause != "event":
        return step(state, signal, model, cause, detail)
    if state is None:
        state = new_lead(signal.lead_id, signal.anonymous)
    if signal.links_visitor is not None:
        signal = replace(signal, links_visitor=None)  # the stream shell's business, not the journal's
    return _take(state, signal, model)


def apply_feedback(state: LeadState, verdict: Verdict, at: float, feedback_id: str, model: ScoringModel) -> Decision:
    """Record the verdict and reclassify; the change, if any, is caused by the feedback."""
    return _take(state, SalesWord(feedback_id, at, verdict.value, False, _journal_of(state).serials), model)


def apply_outcome(state: LeadState, outcome: DealOutcome, at: float, event_id: str, model: ScoringModel) -> Decision:
    """A CRM outcome for the lead: an opportunity is sales accepting it; a won or lost deal ends its SQL."""
    return _take(state, SalesWord(event_id, at, outcome.value, True, _journal_of(state).serials), model)


def cooled(state: LeadState, now: float, model: ScoringModel) -> tuple[LeadState, list[QualificationChange]]:
    """The lead after the demotions and revisits due by ``now``, each at its own time (as the worker's
    lead timer makes them, ``scoring.revisit.timer_step``)."""
    changes: list[QualificationChange] = []
    for _ in range(MAX_TIMER_STEPS_PER_GAP):
        decision = timer_step(state, model, now)
        if decision is None or decision.duplicate:
            break
        state = decision.state
        if decision.change is not None:
            changes.append(decision.change)
    return state, changes


def _take(state: LeadState, item: Input, model: ScoringModel) -> Decision:
    hashed = event_hash(_id(item))
    if hashed in state.recent_event_ids:  # a redelivery: re-emit what it caused
        earlier = next((change for h, change in state.recent_changes if h == hashed), None)
        return Decision(state=state, change=earlier, duplicate=True)
    journal = _journal_of(state)
    if isinstance(item, SalesWord):
        journal = replace(journal, serials=journal.serials + 1)
    if not _late(state, journal, item):
        decision = _step(state, item, model)
        return replace(decision, state=replace(decision.state, journal=_appended(journal, item, decision.state)))
    if any(_id(held) == _id(item) for held in journal.inputs):
        return Decision(state=state, change=None, duplicate=True)  # redelivered after the dedupe window forgot it
    return _rederived(state, journal, item, model)


def _rederived(state: LeadState, journal: Journal, item: Input, model: ScoringModel) -> Decision:
    base, inputs, middle = journal.base, journal.inputs, journal.middle
    start = 0
    if base.as_of is not None and _at(item) < base.as_of:
        # Older than anything the journal holds: folded into its base as it stands, scores exact.
        base = _bare(_step(base, item, model).state)
        middle = None
    else:
        position = len(inputs)
        while position > 0 and _key(inputs[position - 1]) > _key(item):
            position -= 1
        inputs = (*inputs[:position], item, *inputs[position:])
        if middle is not None and position >= HALF:
            start = HALF  # the lead after the first half stands as it was
    derived, middle, last = _derive(base if start == 0 else middle, inputs, start, middle, model)
    # Demotions and revisits the timer made up to where the lead had got to, re-derived too.
    derived = cooled(derived, _reached(state), model)[0]
    if len(inputs) >= 2 * HALF:
        assert middle is not None
        journal = Journal(middle, inputs[HALF:], _bare(last), journal.serials)
    else:
        journal = Journal(base, inputs, middle if len(inputs) >= HALF else None, journal.serials)
    assert derived.as_of is not None
    assessment = assess(derived, model, derived.as_of)
    cause_id = _id(item)
    change = change_between(state, derived, derived.stage, derived.temperature, derived.needs_enrichment,
                            assessment, cause_id, model, LATE, _cause_of(item), derived.grade)
    hashed = event_hash(cause_id)
    updated = replace(
        derived, sequence=state.sequence + (change is not None),
        recent_event_ids=remember(state.recent_event_ids, hashed, model.dedupe_window),
        recent_changes=(*state.recent_changes, (hashed, change))[-REMEMBERED_CHANGES:] if change
        else state.recent_changes,
        model_version=model.version, journal=journal,
    )
    return Decision(state=updated, change=change, duplicate=False, assessment=assessment)


def _derive(start: LeadState | None, inputs: tuple[Input, ...], first: int, middle: LeadState | None,
            model: ScoringModel) -> tuple[LeadState, LeadState | None, LeadState]:
    """``inputs[first:]`` applied in order from ``start``, each after the demotions due by its time:
    the lead then, the lead right after the first HALF inputs, and right after the last one."""
    assert start is not None
    state = start
    for index in range(first, len(inputs)):
        held = inputs[index]
        state = _step(cooled(state, _at(held), model)[0], held, model).state
        if index == HALF - 1:
            middle = _bare(state)
    return state, middle, state


def _step(state: LeadState, item: Input, model: ScoringModel) -> Decision:
    if isinstance(item, Signal):
        return step(state, item, model)
    if item.outcome:
        return outcome_step(state, DealOutcome(item.word), item.at, item.word_id, model)
    return feedback_step(state, Verdict(item.word), item.at, item.word_id, model)


def _appended(journal: Journal, item: Input, after: LeadState) -> Journal:
    """The journal with an input that came in order; ``after`` is the lead once it was applied."""
    inputs = (*journal.inputs, item)
    if len(inputs) >= 2 * HALF:  # move on by half: the lead after the first half becomes the base
        assert journal.middle is not None
        return Journal(journal.middle, inputs[HALF:], _bare(after), journal.serials)
    middle = _bare(after) if len(inputs) == HALF else journal.middle
    return Journal(journal.base, inputs, middle, journal.serials)


def _journal_of(state: LeadState) -> Journal:
    return state.journal if state.journal is not None else Journal(_bare(state))


def _bare(state: LeadState) -> LeadState:
    """The lead as a journal holds it: no journal of its own, no arrival-order bookkeeping."""
    return replace(state, journal=None, recent_event_ids=(), recent_changes=())


def _late(state: LeadState, journal: Journal, item: Input) -> bool:
    if state.as_of is None:
        return False
    return _at(item) < _reached(state) or (bool(journal.inputs) and _key(item) < _key(journal.inputs[-1]))


def _reached(state: LeadState) -> float:
    """How far the lead's own clock got: its as-of time, or a revisit's due time after it (a revisit
    leaves the as-of time where it was). An input before that was preceded by the revisit, so it is late."""
    assert state.as_of is not None
    return state.as_of if state.revisited_at is None else max(state.as_of, state.revisited_at)


def _at(item: Input) -> float:
    return item.occurred_at if isinstance(item, Signal) else item.at


def _id(item: Input) -> str:
    return item.event_id if isinstance(item, Signal) else item.word_id


def _key(item: Input) -> tuple[float, int, str, int]:
    """Event-time order: events at one instant by id, after them what sales said, in the order said."""
    if isinstance(item, Signal):
        return item.occurred_at, 0, item.event_id, 0
    return item.at, 1, "", item.serial


def _cause_of(item: Input) -> str:
    """What the late input was, for the change it re-derived: "event", "feedback:rejected", "outcome:won"."""
    if isinstance(item, Signal):
        return "event"
    return f"{'outcome' if item.outcome else 'feedback'}:{item.word}"
