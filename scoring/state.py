"""What is held per lead: decayed counts per signal kind (never points), profile and answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from msgspec import Struct, field

from scoring.changes import QualificationChange
from scoring.criteria import Answer
from scoring.kinds import SignalKind
from scoring.profile import Fact, email_domain
from scoring.qualification import Levels
from scoring.signals import Signal
from scoring.stages import Stage, Temperature

_EMPTY: Mapping = MappingProxyType({})


class KindTally(Struct, frozen=True, gc=False, array_like=True):
    """One signal kind's history for one lead."""

    decayed: float  # Σ 2^(−(as_of − t_i)/half_life) over its occurrences, at the lead's as_of
    count: int
    last_at: float


class LeadState(Struct, frozen=True, gc=False):
    lead_id: str
    identified: bool
    as_of: float | None = None  # the latest event time seen; tallies are held at this time
    tallies: Mapping[SignalKind, KindTally] = field(default_factory=lambda: _EMPTY)
    profile: Mapping[str, Fact] = field(default_factory=lambda: _EMPTY)
    answers: Mapping[str, Answer] = field(default_factory=lambda: _EMPTY)
    levels: Levels = Levels()
    # The letter grade it holds (scoring.grade): its hysteresis needs it; None until it is first graded.
    grade: str | None = None
    stage: Stage = Stage.NEW
    temperature: Temperature = Temperature.COLD
    rejected_at: float | None = None  # sales rejected or recycled it then; held back (scoring.sales)
    accepted_at: float | None = None  # sales accepted it then (feedback, or a CRM opportunity)
    sql_ended_at: float | None = None  # a sales qualification ended then (rejection, deal closed, inactivity)
    active_at: float | None = None  # its latest own event: the SQL inactivity bound runs from it
    # Signals shown since the rejection, by kind: the intent among them lifts the hold.
    renewed: Mapping[SignalKind, int] = field(default_factory=lambda: _EMPTY)
    flagged_at: float | None = None  # the latest disqualifying signal (a hard bounce): a later address clears it
    needs_enrichment: bool = False  # a gate its behaviour reaches is decided by fit attributes nobody stated
    revisited_at: float | None = None  # the due time of its latest revisit (scoring.revisit): each fires once
    sequence: int = 0  # qualification changes emitted so far: orders them per lead
    recent_event_ids: tuple[int, ...] = ()  # hashed ids of the latest events, oldest first
    # (event hash, change it caused), oldest first; a tuple, or a sequence the table's codec reads when used
    recent_changes: Sequence[tuple[int, QualificationChange]] = ()
    # Its stage history, which outcomes join to: every stage held so far and the hottest temperature.
    reached: frozenset[Stage] = frozenset()
    hottest: Temperature = Temperature.COLD
    model_version: str | None = None  # of the model it was last classified under (None: not recorded)
    # Its stage history in event time, oldest first (the latest PATH_KEPT steps): a late event rewrites it.
    path: tuple[Step, ...] = ()
    # What it was told lately, to re-derive its stage in event time when something arrives late
    # (scoring.arrival); None until the next input starts one from this state.
    journal: Journal | None = None

    @property
    def account(self) -> str | None:
        return email_domain(self.profile)

    @property
    def seen(self) -> Mapping[SignalKind, int]:
        return {kind: tally.count for kind, tally in self.tallies.items()}


class Step(Struct, frozen=True, gc=False, array_like=True):
    """One move of the lead's stage or temperature, at the event time it happened."""

    at: float
    stage: Stage  # the stage and temperature it moved to
    temperature: Temperature
    cause: str  # as the change said: "event", "feedback", "decay", ...


class SalesWord(Struct, frozen=True, gc=False, array_like=True, tag=1):
    """Sales feedback, or a CRM outcome, as the lead's journal keeps it."""

    word_id: str  # the feedback id, or the outcome event's id
    at: float
    word: str  # the verdict (accepted, rejected, recycle) or the outcome (opportunity, won, lost)
    outcome: bool  # a CRM outcome rather than feedback
    serial: int  # its place among what sales said: words given at one instant keep the order they were given in


# One thing the lead was told: its own event, or what sales said about it.
Input = Signal | SalesWord


class Journal(Struct, frozen=True, gc=False):
    """The lead's latest inputs in event-time order, and the lead as it stood before them.

    ``middle`` is the lead right after the first HALF inputs (scoring.arrival), so the window can
    move on by half without replaying anything: ``base`` becomes ``middle``.
    """

    base: LeadState  # journal-less, and without its arrival-order bookkeeping (dedupe ids, remembered changes)
    inputs: tuple[Input, ...] = ()
    middle: LeadState | None = None
    serials: int = 0  # sales words numbered so far


def new_lead(lead_id: str, anonymous: bool) -> LeadState:
    return LeadState(lead_id=lead_id, identified=not anonymous)
