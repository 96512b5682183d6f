"""Tiny builders for the scoring core's unit tests: signals, profiles, answers, events, journeys, models."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from scoring import (
    Decision,
    EventType,
    LeadEvent,
    LeadState,
    QualificationChange,
    ScoringModel,
    Signal,
    SignalKind,
    Status,
    apply,
    load_model,
    parse_model,
)
from scoring.criteria import status_of
from scoring.model_loading import default_model_text
from scoring.profile import Scalar, facts_from

T0 = 1_700_000_000.0  # a fixed epoch (2023-11-14T22:13:20Z): tests never read the clock
DAY = 86_400.0
HOUR = 3_600.0

# A profile that matches every part of the default ICP: 25 + 25 + 20 + 30 = 100 fit points.
ICP_FIT: Mapping[str, Scalar] = MappingProxyType({
    "company": "Acme", "industry": "Software", "employees": 200, "country": "US", "title": "VP Marketing",
})
ICP_FIT_REASONS = (
    ("industry software", 25.0), ("company size 200", 25.0), ("country US", 20.0), ("title decision_maker", 30.0),
)
BANT = ("budget", "authority", "need", "timeline")
MEDDIC = ("metrics", "economic_buyer", "decision_criteria", "decision_process", "identify_pain", "champion")
BANT_MET: Mapping[str, Scalar] = MappingProxyType({criterion: "met" for criterion in BANT})

_DEFAULT_MODEL = load_model()
_ids = itertools.count(1)


def days(n: float) -> float:
    return n * DAY


def model() -> ScoringModel:
    """The shipped default model (read-only, so one instance serves every test)."""
    return _DEFAULT_MODEL


def model_text(*edits: tuple[str, str]) -> str:
    """The default model's text with each (old, new) edit applied; an edit that misses fails loudly."""
    text = default_model_text()
    for old, new in edits:
        assert old in text, f"edit target not in the default model: {old!r}"
        text = text.replace(old, new, 1)
    return text


def model_with(*edits: tuple[str, str]) -> ScoringModel:
    """The default model with each (old, new) text edit applied, parsed and validated."""
    return parse_model(model_text(*edits), source="test model")


def meddic_model() -> ScoringModel:
    return model_with(('framework = "bant"', 'framework = "meddic"'))


def _next_id() -> str:
    return f"evt-{next(_ids)}"


def signal(
    kind: SignalKind | str | None,
    at: float,
    lead: str = "lead-1",
    event_id: str | None = None,
    anonymous: bool = False,
    profile: Mapping[str, Scalar] | None = None,
    answers: Mapping[str, Status | Scalar] | None = None,
) -> Signal:
    """A signal as ``interpret`` would make it; profile values and answers are normalised the same way."""
    return Signal(
        event_id=event_id or _next_id(),
        lead_id=lead,
        anonymous=anonymous,
        kind=kind,
        occurred_at=at,
        profile=MappingProxyType(facts_from(profile or {})),
        # An empty answer says nothing, exactly as answers_from() leaves it out.
        answers=MappingProxyType({criterion: status for criterion, value in (answers or {}).items()
                                  if (status := status_of(value, _DEFAULT_MODEL.criteria.reading, criterion, at))
                                  is not None}),
    )


def identify(
    at: float, email: str, lead: str = "lead-1", event_id: str | None = None, anonymous: bool = False,
    **profile: Scalar,
) -> Signal:
    """An identify: the email plus any other profile traits (company, title, industry, employees, country)."""
    return signal(None, at, lead=lead, event_id=event_id, anonymous=anonymous, profile={"email": email, **profile})


def answer(at: float, lead: str = "lead-1", event_id: str | None = None, **criteria: Status | Scalar) -> Signal:
    """A form or sales note answering criteria: ``answer(at, budget="yes", timeline=Status.NOT_MET)``."""
    return signal(None, at, lead=lead, event_id=event_id, answers=criteria)


def event(
    type: EventType | str,
    at: float = T0,
    lead: str = "lead-1",
    event_id: str | None = None,
    **fields: object,
) -> LeadEvent:
    if "attributes" in fields:
        fields["attributes"] = MappingProxyType(dict(fields["attributes"]))  # type: ignore[call-overload]
    return LeadEvent(
        event_id=event_id or _next_id(),
        lead_id=lead,
        anonymous=bool(fields.pop("anonymous", False)),
        type=EventType(type),
        occurred_at=at,
        **fields,  # type: ignore[arg-type]
    )


def journey(
    signals: Iterable[Signal], scoring_model: ScoringModel | None = None, state: LeadState | None = None
) -> list[Decision]:
    """Apply ``signals`` in order to one lead's state; return every decision."""
    decisions = []
    for each in signals:
        decision = apply(state, each, scoring_model or model())
        decisions.append(decision)
        state = decision.state
    return decisions


def final_state(decisions: list[Decision]) -> LeadState:
    return decisions[-1].state


def changes(decisions: list[Decision]) -> list[QualificationChange]:
    return [d.change for d in decisions if d.change is not None and not d.duplicate]


def transitions(decisions: list[Decision]) -> list[tuple]:
    """(from stage, to stage, from temperature, to temperature) of every emitted change."""
    return [(c.from_stage, c.to_stage, c.from_temperature, c.to_temperature) for c in changes(decisions)]


def scripted_journey(lead: str = "lead-1"):
    """An anonymous visitor reads, identifies as a fitting lead, engages, confirms BANT, then asks for a demo."""
    return [
        signal("blog_view", T0, lead=lead, anonymous=True, event_id=f"{lead}-blog"),
        identify(T0 + HOUR, "ada@acme.com", lead=lead, event_id=f"{lead}-identify", **ICP_FIT),
        signal("case_study_download", T0 + days(1), lead=lead, event_id=f"{lead}-case-study"),
        signal("webinar_attended", T0 + days(2), lead=lead, event_id=f"{lead}-webinar"),
        signal("pricing_view", T0 + days(3), lead=lead, event_id=f"{lead}-pricing"),
        answer(T0 + days(3) + HOUR / 2, lead=lead, event_id=f"{lead}-answers", **BANT_MET),
        signal("demo_request", T0 + days(3) + HOUR, lead=lead, event_id=f"{lead}-demo"),
    ]
