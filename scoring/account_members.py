"""What a lead contributes to its account: its scores now, its role, the criteria it has met."""

from __future__ import annotations

from scoring.accounts import Member
from scoring.criteria import Status, criteria_status
from scoring.explain import assess
from scoring.model import ScoringModel
from scoring.qualification import Assessment
from scoring.state import LeadState

_MET = Status.MET  # read through its enum class, a member costs a descriptor call on Python 3.11


def account_member(state: LeadState, cause_event_id: str, model: ScoringModel,
                   assessment: Assessment | None = None) -> Member | None:
    """The lead as a member of its account; None when it belongs to none (personal domain, out of market).

    ``assessment``: the state's own at its ``as_of``, when the caller has it (scoring made it).
    """
    domain = state.account
    if domain is None or state.as_of is None or domain in model.fit.free_mail_domains:
        return None
    if assessment is None:
        assessment = assess(state, model, state.as_of)
    if assessment.disqualified_by:
        return None  # competitors and students are not a buying committee
    criteria = criteria_status(state.answers, model.criteria.framework)
    return Member(
        lead_id=state.lead_id,
        interest=assessment.scores.interest,
        intent=assessment.scores.intent,
        as_of=state.as_of,
        role=assessment.fit.role,
        criteria_met=frozenset(c for c, status in criteria.items() if status is _MET),
        cause_event_id=cause_event_id,
    )
