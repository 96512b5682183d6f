"""leadstream's scoring core: pure, deterministic functions over frozen records (msgspec Structs).

Time is always passed in; nothing here reads a clock, does I/O or imports the stream stack.
"""

from scoring.arrival import apply, apply_feedback
from scoring.changes import Contribution, QualificationChange, Scores
from scoring.engine import Decision, has_seen, remember_event
from scoring.errors import ModelError, ScoringError
from scoring.criteria import Framework, Status
from scoring.events import EventType, LeadEvent
from scoring.explain import assess, scores_at, top_contributions
from scoring.feedback import Verdict
from scoring.kinds import Component, IgnoreReason, SignalKind
from scoring.model import ScoringModel
from scoring.model_loading import load_model, parse_model
from scoring.signals import Ignored, Signal, interpret
from scoring.stages import Stage, Temperature
from scoring.state import LeadState
from scoring.visitors import Forward, Held, HoldLimits, Linked, VisitorState

__all__ = [
    "Component", "Contribution", "Decision", "EventType", "Forward", "Framework", "Held", "HoldLimits",
    "IgnoreReason", "Ignored", "LeadEvent", "LeadState", "Linked", "ModelError", "QualificationChange", "Scores",
    "ScoringError", "ScoringModel", "Signal", "SignalKind", "Stage", "Status", "Temperature", "Verdict",
    "VisitorState", "apply", "apply_feedback", "assess", "has_seen", "interpret", "remember_event",
    "load_model", "parse_model", "scores_at", "top_contributions",
]
