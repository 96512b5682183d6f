"""Records the CRM refused for good: one JSON line each, with the API's reason (the alerts' file format).

A line holds the record as read (``change``: the lead's latest change, or the erasure notice),
what was written (``operation``, the ``crm``), the API's ``reason`` and ``code``, the HTTP
``status`` and when. The file is appended and fsynced before the offsets are committed; a
``lead_erased`` notice removes the lead's lines (streams.alerting.dead_letter.DeadLetters.forget).
"""

from __future__ import annotations

import orjson

from streams.alerting.dead_letter import DeadLetters
from streams.contracts.encoding import iso_time
from streams.crm.fields import LeadState
from streams.crm.results import RecordResult


class CrmDeadLetters(DeadLetters):
    async def refused(self, crm: str, state: LeadState, result: RecordResult, at: float) -> None:
        self._append(orjson.dumps({
            "change": dict(state.document),
            "lead_id": state.lead_id,
            "crm": crm,
            "operation": "clear" if state.clears else "upsert",
            "reason": result.reason,
            "code": result.code,
            "status": result.status,
            "dead_lettered_at": iso_time(at),
        }) + b"\n")
