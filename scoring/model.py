"""The scoring model: typed, read-only objects every scoring function reads.

``scoring.model_loading`` builds them from the TOML file, field by field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

from scoring.accounts import AccountRules
from scoring.answer_reading import AnswerReading
from scoring.criteria import Framework
from scoring.fit import DisqualifyRules, FitRules
from scoring.grade import GradeRules
from scoring.kinds import Component, DealOutcome, SignalKind
from scoring.qualification import QualificationRules
from scoring.sales import DEFAULT_SALES, SalesRules

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class SignalRule:
    """How much one occurrence of a signal kind is worth, which component it feeds, and its cap."""

    kind: SignalKind
    component: Component
    points: float
    cap: float | None  # most points this kind can contribute, however often it occurs


@dataclass(frozen=True)
class CriteriaRules:
    framework: Framework  # the active one
    frameworks: Mapping[str, Framework]
    answer_fields: Mapping[str, str]  # form field -> criterion
    reading: AnswerReading  # how free-text answers are read (word lists per language, limits)

    @cached_property  # read for every event: computed once per model (frozen: it never changes)
    def known(self) -> frozenset[str]:
        """Every criterion of every framework: answers to all of them are kept."""
        return frozenset(c for framework in self.frameworks.values() for c in framework.criteria)


@dataclass(frozen=True)
class PageRule:
    """Page views whose path starts with ``prefix`` count as ``kind``."""

    prefix: str
    kind: SignalKind


@dataclass(frozen=True)
class DwellRule:
    """A page read this long (a page-leave report's ``dwell_seconds``) counts as ``kind``, an interest signal."""

    kind: SignalKind
    minimum_seconds: float


@dataclass(frozen=True)
class RevisitRules:
    """Weak leads come due for another look on a schedule (``scoring.revisit``)."""

    interval_s: float  # a recycled or cold lead left alone this long is due; and again after as long
    fit_minimum: float  # ... when its fit (0–100, from what it stated) is at least this


@dataclass(frozen=True)
class ScoringModel:
    version: str
    half_life_seconds: Mapping[Component, float]
    signals: Mapping[SignalKind, SignalRule]
    track_events: Mapping[str, SignalKind]  # keyed by normalised event name
    outcome_events: frozenset[str]  # normalised names, used for calibration only
    deal_outcomes: Mapping[str, DealOutcome]  # normalised outcome name -> what it says about the deal
    page_rules: tuple[PageRule, ...]  # longest prefix first
    default_page_kind: SignalKind
    dwell: DwellRule | None  # None: dwell time is not scored (a model file without [page_views] dwell)
    qualification: QualificationRules
    fit: FitRules
    disqualify: DisqualifyRules
    criteria: CriteriaRules
    accounts: AccountRules
    dedupe_window: int
    top_reasons: int
    grade: GradeRules  # the fit × engagement letter grade's rungs ([grade])
    sales: SalesRules = DEFAULT_SALES
    revisit: RevisitRules | None = None  # None: no revisits (a model file without [revisit])

    def rule(self, kind: SignalKind) -> SignalRule:
        return self.signals[kind]

    def half_life_of(self, kind: SignalKind) -> float:
        return self.half_life_seconds[self.signals[kind].component]


def normalise_event_name(name: str) -> str:
    """'Demo Requested', 'demo_requested' and 'demo-requested' name the same event."""
    # Names repeat (a site sends a few dozen): short ones are normalised once each.
    return _normalised(name) if len(name) <= 128 else _normalise(name)


@lru_cache(maxsize=1024)
def _normalised(name: str) -> str:
    return _normalise(name)


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip()).lower()
