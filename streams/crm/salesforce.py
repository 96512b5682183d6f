"""Salesforce: Lead (or Contact) records upserted through sObject Collections by an external-id field.

Writes: ``PATCH /services/data/vXX.X/composite/sobjects/<Lead|Contact>/<ExternalIdField>`` with
``{"allOrNone": false, "records": [...]}``, up to 200 records, each carrying
``"attributes": {"type": ...}`` and the external id. The answer is 200 with one UpsertResult per
record, in order (``{"id", "success", "errors": [{"statusCode", "message", "fields"}], "created"}``),
so a record refused (a validation rule, a missing required field) is dead-lettered with
Salesforce's reason while the others are written. A malformed request is 400 with an error array
(``[{"message", "errorCode"}]``); an expired session 401 ``INVALID_SESSION_ID``.

Clears set leadstream's fields to null through the same upsert. An upsert that finds no record
would create one, and a new Lead needs LastName and Company, which leadstream never writes: so a
clear for a lead Salesforce does not hold fails with REQUIRED_FIELD_MISSING, meaning "nothing
there to clear", and nothing is created. ``leadstream crm setup`` reads
``GET /services/data/vXX.X/sobjects/<object>/describe`` and lists the custom fields to create
(Salesforce creates fields through its Metadata API or Setup, not the REST data API).
"""

from __future__ import annotations

from typing import Any

from streams.crm.errors import CrmError
from streams.crm.fields import FIELDS, LeadState
from streams.crm.http import ApiCaller
from streams.crm.options import CrmOptions
from streams.crm.results import ApiClient, BatchRefused, RecordResult

# Neutral field → (API name, the field type to create it as in Setup)
FIELD_DEFINITIONS: dict[str, tuple[str, str]] = {
    "score": ("Leadstream_Score__c", "Number(6, 1)"),
    "stage": ("Leadstream_Stage__c", "Text(20)"),
    "temperature": ("Leadstream_Temperature__c", "Text(10)"),
    "grade": ("Leadstream_Grade__c", "Text(2)"),
    "top_reasons": ("Leadstream_Top_Reasons__c", "Text Area(255)"),
    "model_version": ("Leadstream_Model_Version__c", "Text(80)"),
    "last_change_at": ("Leadstream_Last_Change_At__c", "Date/Time"),
}
FIELD_NAMES = {name: definition[0] for name, definition in FIELD_DEFINITIONS.items()}
assert set(FIELD_NAMES) == set(FIELDS)
NOTHING_THERE = "REQUIRED_FIELD_MISSING"


class SalesforceClient(ApiClient):
    name = "salesforce"

    def __init__(self, options: CrmOptions, caller: ApiCaller) -> None:
        super().__init__(options, caller)
        self.sobject = options.sobject
        self.external_id_field = options.external_id_field
        self._data = f"/services/data/{options.api_version}"

    def identifies(self, lead_id: str) -> bool:
        return True  # the external id holds the lead id itself

    async def write(self, states: list[LeadState]) -> list[RecordResult]:
        clearing = states[0].clears
        records = [{"attributes": {"type": self.sobject}, self.external_id_field: state.lead_id, **fields(state)}
                   for state in states]
        reply = await self._caller.call(
            "PATCH", f"{self._data}/composite/sobjects/{self.sobject}/{self.external_id_field}",
            {"allOrNone": False, "records": records}, "clear" if clearing else "upsert")
        if not reply.ok:
            code, message = _first_error(reply.body)
            if reply.status == 404 or (reply.status == 403 and code != "REQUEST_LIMIT_EXCEEDED"):
                raise CrmError(f"salesforce refused every write (HTTP {reply.status} {code}: {message}): check"
                               f" LEADSTREAM_CRM_OBJECT, LEADSTREAM_CRM_EXTERNAL_ID_FIELD and the user's permissions")
            raise BatchRefused(reply.status, code, message)
        answers = reply.body if isinstance(reply.body, list) else []
        if len(answers) != len(states):
            raise BatchRefused(reply.status, "UNEXPECTED_ANSWER",
                               f"{len(answers)} results for {len(states)} records")
        results = []
        for state, answer in zip(states, answers):
            errors = answer.get("errors") or []
            if answer.get("success"):
                results.append(RecordResult(state.lead_id, True))
            elif clearing and any(error.get("statusCode") == NOTHING_THERE for error in errors):
                results.append(RecordResult(state.lead_id, True, nothing_there=True))
            else:
                first = errors[0] if errors else {}
                results.append(RecordResult(state.lead_id, False, first.get("message") or "refused",
                                            first.get("statusCode"), reply.status))
        return results

    async def setup(self) -> list[str]:
        reply = await self._caller.call("GET", f"{self._data}/sobjects/{self.sobject}/describe", operation="setup")
        if not reply.ok:
            code, message = _first_error(reply.body)
            raise CrmError(f"salesforce: describing {self.sobject} failed: HTTP {reply.status} {code}: {message}")
        present = {field.get("name"): field for field in reply.body.get("fields", ())}
        lines = []
        external = present.get(self.external_id_field)
        if external is None or not external.get("externalId"):
            lines.append(f"missing: {self.external_id_field} (Text(255), External ID, Unique) on {self.sobject}")
        for name, kind in FIELD_DEFINITIONS.values():
            lines.append(f"{'present' if name in present else 'missing'}: {name} ({kind}) on {self.sobject}")
        return lines


def fields(state: LeadState) -> dict[str, Any]:
    """Salesforce field values; a clear sets each of leadstream's fields to null."""
    if state.values is None:
        return {name: None for name in FIELD_NAMES.values()}
    return {FIELD_NAMES[field]: value for field, value in state.values.items()}


def _first_error(body: Any) -> tuple[str | None, str]:
    items = body if isinstance(body, list) else [body]
    for item in items:
        if isinstance(item, dict):
            return item.get("errorCode"), str(item.get("message") or item)
    return None, str(body)
