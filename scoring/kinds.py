"""The vocabulary of the scoring core: score components, ignore reasons; signal kinds are the model's names."""

from enum import Enum


class Component(str, Enum):
    """A separately decaying part of a lead's score."""

    INTEREST = "interest"  # engagement with content: separates MQL from IQL
    INTENT = "intent"  # buying signals (pricing, demo, trial): fades faster, separates SQL from MQL
    NEGATIVE = "negative"  # unsubscribes, bounces: subtracted from engagement, decays on its own


# A signal kind is a name the scoring model defines under [signals] (default_model.toml ships the
# built-in ones): any name, so a model can score behaviour of its own. Stored records, reasons and
# the board carry the name as written.
SignalKind = str


class IgnoreReason(str, Enum):
    """Why an event was accounted for without being scored (a small fixed set: metric labels)."""

    BOT = "bot"
    NO_CONSENT = "no_consent"
    UNMAPPED_EVENT = "unmapped_event"
    OUTCOME_ONLY = "outcome_only"
    EXPIRED_ANONYMOUS = "expired_anonymous"
    ERASED_LEAD = "erased_lead"
    BRIEF_VISIT = "brief_visit"  # a page-leave report under the model's dwell minimum


class DealOutcome(str, Enum):
    """What a CRM outcome event says about a lead's deal: used for calibration, never scored."""

    OPPORTUNITY = "opportunity"  # an opportunity was opened: sales took the lead on
    WON = "won"
    LOST = "lost"
