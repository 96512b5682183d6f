"""leadstream's scoring core: pure, deterministic functions over frozen dataclasses.

Time is always passed in; nothing here reads a clock, does I/O or imports the stream stack.
"""

from scoring.changes import Contribution, QualificationChange, Scores
from scoring.engine import Decision, apply
from scoring.errors import ModelError, ScoringError
from scoring.events import Contact, EventType, LeadEvent
from scoring.explain import scores_at, top_contributions
from scoring.kinds import Component, IgnoreReason, SignalKind
from scoring.model import ScoringModel, load_model, parse_model
from scoring.signals import Ignored, Signal, interpret
from scoring.stages import Stage, Temperature
from scoring.state import LeadState

__all__ = [
    "Component", "Contact", "Contribution", "Decision", "EventType", "IgnoreReason", "Ignored",
    "LeadEvent", "LeadState", "ModelError", "QualificationChange", "Scores", "ScoringError",
    "ScoringModel", "Signal", "SignalKind", "Stage", "Temperature", "apply", "interpret",
    "load_model", "parse_model", "scores_at", "top_contributions",
]
