"""A lead as the API shows it: scores decayed to now, and why."""

from __future__ import annotations

from typing import Any

from scoring import LeadState, ScoringModel, assess, top_contributions
from scoring.explain import contributions_at
from streams.codecs import iso_time

TEMPERATURE_RANK = {"hot": 2, "warm": 1, "cold": 0}


def lead_document(state: LeadState, model: ScoringModel, now: float) -> dict[str, Any]:
    at = max(now, state.as_of or now)
    assessment = assess(state, model, at)
    scores = assessment.scores

    def contribution(c: Any) -> dict[str, Any]:
        return {"signal": c.kind.value, "points_now": round(c.points_now, 4), "last_at": iso_time(c.last_at),
                "count": c.count}

    return {
        "lead_id": state.lead_id,
        "account": state.account,
        "stage": state.stage.value,
        "temperature": state.temperature.value,
        "as_of": iso_time(state.as_of) if state.as_of is not None else None,
        "scored_at": iso_time(at),
        "score": {"total": round(scores.total, 4), "interest": round(scores.interest, 4),
                  "intent": round(scores.intent, 4), "negative": round(scores.negative, 4),
                  "product": round(scores.product, 4), "fit": round(scores.fit, 4)},
        "top_contributions": [contribution(c) for c in top_contributions(state, model, at)],
        "contributions": [contribution(c) for c in sorted(contributions_at(state, model, at),
                                                           key=lambda c: -c.points_now)],
        "fit_reasons": [{"match": what, "points": points} for what, points in assessment.fit.matched],
        "framework": model.criteria.framework.name,
        "criteria": {criterion: status.value for criterion, status in assessment.criteria.items()},
        "disqualified_by": list(assessment.disqualified_by),
        "profile": {field: fact.value for field, fact in state.profile.items()},
        "sequence": state.sequence,
        "model_version": model.version,
    }


def hotness(document: dict[str, Any]) -> tuple[int, float]:
    """How the list orders leads: hot before warm before cold, then by score."""
    return TEMPERATURE_RANK[document["temperature"]], document["score"]["total"]
