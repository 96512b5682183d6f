"""Tiny builders for the scoring core's unit tests: signals, events, journeys and models."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from scoring import (
    Contact,
    Decision,
    EventType,
    LeadEvent,
    LeadState,
    QualificationChange,
    ScoringModel,
    Signal,
    SignalKind,
    apply,
    load_model,
)
from scoring.model import default_model_text

T0 = 1_700_000_000.0  # a fixed epoch (2023-11-14T22:13:20Z): tests never read the clock
DAY = 86_400.0

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


def _next_id() -> str:
    return f"evt-{next(_ids)}"


def signal(
    kind: SignalKind | str | None,
    at: float,
    lead: str = "lead-1",
    event_id: str | None = None,
    anonymous: bool = False,
    contact: Contact | None = None,
) -> Signal:
    return Signal(
        event_id=event_id or _next_id(),
        lead_id=lead,
        anonymous=anonymous,
        kind=SignalKind(kind) if kind is not None else None,
        occurred_at=at,
        contact=contact,
    )


def identify(at: float, email: str, lead: str = "lead-1", event_id: str | None = None, **traits: str) -> Signal:
    return signal(None, at, lead=lead, event_id=event_id, contact=Contact(email=email, **traits))


def event(
    type: EventType | str,
    at: float = T0,
    lead: str = "lead-1",
    event_id: str | None = None,
    **fields: object,
) -> LeadEvent:
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
