"""The leads.qualification contract: a lead's qualification change, as consumers downstream read it.

Its shape is documented as JSON Schema in ``schemas/``; tests validate what is written against it.
"""

from __future__ import annotations

from typing import Any

import orjson

from scoring import (
    QualificationChange,
)
from scoring.revisit import REVISIT
from streams import PRODUCER
from streams.contracts.encoding import iso_time, rounded


QUALIFICATION_CHANGE = "qualification_change"
# A lead due for another look (scoring.revisit): the same record, stage and temperature unchanged.
REVISIT_DUE = "revisit_due"
# Causes with no event behind them: the lead was reclassified (or came due) at a time the model computed.
TIMED_CAUSES = frozenset({"decay", "inactivity", "cooldown", REVISIT})


def change_to_dict(change: QualificationChange, emitted_at: float, ingested_at: float | None) -> dict[str, Any]:
    revisit = change.cause == REVISIT
    return {
        "kind": REVISIT_DUE if revisit else QUALIFICATION_CHANGE,
        "change_id": change.change_id,
        "lead_id": change.lead_id,
        "sequence": change.sequence,
        "account": change.account,
        "from_stage": change.from_stage.value,
        "to_stage": change.to_stage.value,
        "from_temperature": change.from_temperature.value,
        "to_temperature": change.to_temperature.value,
        "score": {
            "total": rounded(change.scores.total),
            "interest": rounded(change.scores.interest),
            "intent": rounded(change.scores.intent),
            "negative": rounded(change.scores.negative),
            "product": rounded(change.scores.product),
            "fit": rounded(change.scores.fit),
        },
        "reasons": [
            {"signal": c.kind, "points_now": rounded(c.points_now), "last_at": iso_time(c.last_at),
             "count": c.count}
            for c in change.reasons
        ],
        "fit_reasons": [{"match": what, "points": points} for what, points in change.fit_reasons],
        "framework": change.framework,
        "criteria": {criterion: status.value for criterion, status in change.criteria.items()},
        "disqualified_by": list(change.disqualified_by),
        "model_version": change.model_version,
        "producer": PRODUCER,
        "cause": {"type": change.cause, "event_id": change.cause_event_id,
                  **({"crossing_time": iso_time(change.event_time)} if change.cause in TIMED_CAUSES else {}),
                  **({"detail": change.cause_detail} if change.cause_detail else {})},
        "needs_enrichment": change.needs_enrichment,
        "grade": change.grade,
        **({"revisit": {"reason": change.cause_detail, "due_at": iso_time(change.event_time)}} if revisit else {}),
        "event_time": iso_time(change.event_time),
        "ingested_at": iso_time(ingested_at) if ingested_at is not None else None,
        "emitted_at": iso_time(emitted_at),
    }


def encode_change(change: QualificationChange, emitted_at: float, ingested_at: float | None) -> bytes:
    return orjson.dumps(change_to_dict(change, emitted_at, ingested_at))
