"""A lead as the API shows it: scores decayed to now, and why."""

from __future__ import annotations

from typing import Any

from scoring import LeadState, ScoringModel, VisitorState, assess, top_contributions
from scoring.explain import contributions_at
from scoring.grade import next_grade
from scoring.history import History, Occurrence, series
from scoring.revisit import awaiting_revisit, next_revisit
from streams.contracts.encoding import iso_time

TEMPERATURE_RANK = {"hot": 2, "warm": 1, "cold": 0}


def visitor_document(visitor: VisitorState, ttl_s: float) -> dict[str, Any]:
    """GET /leads/{id} for an id the worker knows only as an anonymous visitor (docs/api.md)."""
    kinds: dict[str, int] = {}
    for signal in visitor.held:
        name = signal.kind if signal.kind is not None else "identity_only"
        kinds[name] = kinds.get(name, 0) + 1
    linked = visitor.lead_id is not None
    return {
        "lead_id": visitor.visitor_id,
        "anonymous": True,
        "status": "linked" if linked else "held",
        "linked_lead_id": visitor.lead_id,
        "held_events": len(visitor.held),
        "held_by_signal": dict(sorted(kinds.items())),
        "held_since": iso_time(min(s.occurred_at for s in visitor.held)) if visitor.held else None,
        "last_seen": iso_time(visitor.last_seen),
        "expires_at": None if linked else iso_time(visitor.last_seen + ttl_s),
        "why": (f"this visitor became lead {visitor.lead_id}: ask for that id" if linked else
                "an anonymous visitor: its events are held, unscored, until an identify (or a form with an"
                " e-mail) names the lead they belong to; they are forgotten at expires_at if none does"),
    }


def lead_document(state: LeadState, model: ScoringModel, now: float) -> dict[str, Any]:
    at = max(now, state.as_of or now)
    assessment = assess(state, model, at)
    scores = assessment.scores

    def contribution(c: Any) -> dict[str, Any]:
        return {"signal": c.kind, "points_now": round(c.points_now, 4), "last_at": iso_time(c.last_at),
                "count": c.count}

    return {
        "lead_id": state.lead_id,
        "account": state.account,
        "stage": state.stage.value,
        "temperature": state.temperature.value,
        # At the scores shown, from the grade it holds (so with its hysteresis): decay can lower it between events.
        "grade": next_grade(state.grade, scores, model.grade),
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
        # Held back only by fit attributes nobody stated: enrich the profile to settle it.
        "needs_enrichment": state.needs_enrichment,
        "revisit": revisit_document(state, model),
        "profile": {field: fact.value for field, fact in state.profile.items()},
        "sequence": state.sequence,
        "model_version": model.version,
    }


def revisit_document(state: LeadState, model: ScoringModel) -> dict[str, Any]:
    """Where the lead stands on the revisit schedule (``scoring.revisit``)."""
    upcoming = next_revisit(state, model)
    return {
        "awaiting": awaiting_revisit(state, model),  # came due, and nobody has acted on it since
        "due_at": iso_time(state.revisited_at) if state.revisited_at is not None else None,  # the latest revisit
        "next_due_at": iso_time(upcoming) if upcoming is not None else None,
    }


def hotness(document: dict[str, Any]) -> tuple[int, float]:
    """How the list orders leads: hot before warm before cold, then by score."""
    return TEMPERATURE_RANK[document["temperature"]], document["score"]["total"]


def history_document(state: LeadState, history: History, model: ScoringModel, now: float) -> dict[str, Any]:
    """The lead (as GET /leads/{id} shows it) with its timeline and its scores over time, at one ``now``."""
    samples = series(history, state, model, now)

    def event(e: Occurrence) -> dict[str, Any]:
        rule = model.signals.get(e.kind) if e.kind else None
        return {"t": e.at, "at": iso_time(e.at), "signal": e.kind,
                "component": rule.component.value if rule else None, "points": rule.points if rule else None,
                "answers": {c: s.value for c, s in e.answers.items()}, "profile_fields": list(e.profile_fields)}

    ladders = model.qualification.ladders
    return {
        "lead": lead_document(state, model, now),
        "since": iso_time(history.since) if history.since is not None else None,
        "folded_events": history.folded_events,
        "events": [event(e) for e in history.events],
        "moves": [{"t": m.at, "at": iso_time(m.at), "from_stage": m.from_stage.value, "to_stage": m.to_stage.value,
                   "from_temperature": m.from_temperature.value, "to_temperature": m.to_temperature.value,
                   "cause": m.cause, "score_total": round(m.total, 4)} for m in history.moves],
        "series": {
            "t": [s.at for s in samples],
            **{part: [round(getattr(s.scores, part), 4) for s in samples]
               for part in ("interest", "intent", "negative", "total")},
        },
        "thresholds": [
            {"rung": "mql", "on": "interest", "promote": ladders.mql.promote, "demote": ladders.mql.demote},
            {"rung": "sql", "on": "intent", "promote": ladders.sql.promote, "demote": ladders.sql.demote},
            {"rung": "warm", "on": "total", "promote": ladders.warm.promote, "demote": ladders.warm.demote},
        ],
    }
