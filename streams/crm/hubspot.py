"""HubSpot: contacts upserted in batches through the CRM v3 batch upsert endpoint, matched by a unique property.

Writes: ``POST /crm/v3/objects/contacts/batch/upsert`` with up to 100 inputs, each
``{"idProperty", "id", "objectWriteTraceId", "properties"}``. The answer is 200 with ``results``
when every input went through, or 207 with ``errors`` beside the ``results``: each error names
the inputs it concerns by their ``objectWriteTraceId`` in its ``context``, so only those are
dead-lettered. Clears (erasure) go through ``POST /crm/v3/objects/contacts/batch/update`` with
the same idProperty and empty strings (HubSpot clears a property given ""): an update never
creates a contact, and one that does not exist is reported ``OBJECT_NOT_FOUND``, which is fine.

``leadstream crm setup`` reads ``GET /crm/v3/properties/contacts/groups`` and
``GET /crm/v3/properties/contacts`` and creates the ``leadstream`` group and whichever of the
properties is missing (``POST`` to the same paths). docs/crm.md lists every shape relied on.
"""

from __future__ import annotations

from typing import Any

from streams.crm.errors import CrmError
from streams.crm.fields import FIELDS, LeadState
from streams.crm.http import ApiCaller
from streams.crm.options import CrmOptions
from streams.crm.results import ApiClient, BatchRefused, RecordResult

CONTACTS = "/crm/v3/objects/contacts"
PROPERTIES = "/crm/v3/properties/contacts"
GROUP = "leadstream"
NOT_FOUND = "OBJECT_NOT_FOUND"
STAGES = ("new", "iql", "recycled", "mql", "pql", "sql", "disqualified")
TEMPERATURES = ("cold", "warm", "hot")
GRADES = tuple(f"{fit}{engagement}" for fit in "ABC" for engagement in "123")

# Neutral field → (property name, label, type, fieldType, options)
PROPERTY_DEFINITIONS: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "score": ("leadstream_score", "Leadstream score", "number", "number", ()),
    "stage": ("leadstream_stage", "Leadstream stage", "enumeration", "select", STAGES),
    "temperature": ("leadstream_temperature", "Leadstream temperature", "enumeration", "select", TEMPERATURES),
    "grade": ("leadstream_grade", "Leadstream grade", "enumeration", "select", GRADES),
    "top_reasons": ("leadstream_top_reasons", "Leadstream top reasons", "string", "textarea", ()),
    "model_version": ("leadstream_model_version", "Leadstream model version", "string", "text", ()),
    "last_change_at": ("leadstream_last_change_at", "Leadstream last change", "datetime", "date", ()),
}
PROPERTY_NAMES = {name: definition[0] for name, definition in PROPERTY_DEFINITIONS.items()}
assert set(PROPERTY_NAMES) == set(FIELDS)


class HubSpotClient(ApiClient):
    name = "hubspot"

    def __init__(self, options: CrmOptions, caller: ApiCaller) -> None:
        super().__init__(options, caller)
        self.id_property = options.id_property

    def identifies(self, lead_id: str) -> bool:
        return self.id_property != "email" or "@" in lead_id

    async def write(self, states: list[LeadState]) -> list[RecordResult]:
        clearing = states[0].clears
        inputs = [{"idProperty": self.id_property, "id": state.lead_id, "objectWriteTraceId": str(index),
                   "properties": properties(state)} for index, state in enumerate(states)]
        path, operation = (f"{CONTACTS}/batch/update", "clear") if clearing else (f"{CONTACTS}/batch/upsert", "upsert")
        reply = await self._caller.call("POST", path, {"inputs": inputs}, operation)
        if reply.status not in (200, 207):
            refused = _error(reply.body)
            if clearing and reply.status == 404 and len(states) == 1:
                return [RecordResult(states[0].lead_id, True, nothing_there=True)]
            raise BatchRefused(reply.status, refused.get("category"), refused.get("message") or str(reply.body))
        failed: dict[str, dict[str, Any]] = {}
        for error in (reply.body or {}).get("errors") or ():
            traces = ((error.get("context") or {}).get("objectWriteTraceId") or ())
            if not traces:  # an error we cannot pin on an input: treat the request as refused, and split it
                raise BatchRefused(reply.status, error.get("category"), error.get("message") or "unattributed error")
            for trace in traces:
                failed[str(trace)] = error
        results = []
        for index, state in enumerate(states):
            error = failed.get(str(index))
            if error is None:
                results.append(RecordResult(state.lead_id, True))
            elif clearing and error.get("category") == NOT_FOUND:
                results.append(RecordResult(state.lead_id, True, nothing_there=True))
            else:
                results.append(RecordResult(state.lead_id, False, error.get("message"), error.get("category"),
                                            reply.status))
        return results

    async def setup(self) -> list[str]:
        done = []
        groups = await self._caller.call("GET", f"{PROPERTIES}/groups", operation="setup")
        _must_succeed(groups, "reading the contact property groups")
        if GROUP not in {group.get("name") for group in groups.body.get("results", ())}:
            created = await self._caller.call("POST", f"{PROPERTIES}/groups", {
                "name": GROUP, "label": "leadstream", "displayOrder": -1}, "setup")
            _must_succeed(created, f"creating the property group {GROUP}")
            done.append(f"created the property group {GROUP}")
        existing = await self._caller.call("GET", PROPERTIES, operation="setup")
        _must_succeed(existing, "reading the contact properties")
        names = {prop.get("name") for prop in existing.body.get("results", ())}
        for name, label, kind, field_type, choices in PROPERTY_DEFINITIONS.values():
            if name in names:
                done.append(f"property {name} already exists")
                continue
            definition: dict[str, Any] = {"name": name, "label": label, "type": kind, "fieldType": field_type,
                                          "groupName": GROUP, "description": "Written by leadstream crm"}
            if choices:
                definition["options"] = [{"label": _label(choice), "value": choice, "displayOrder": order}
                                         for order, choice in enumerate(choices)]
            created = await self._caller.call("POST", PROPERTIES, definition, "setup")
            _must_succeed(created, f"creating the property {name}")
            done.append(f"created property {name}")
        return done


def properties(state: LeadState) -> dict[str, str]:
    """HubSpot property values (strings); a clear sets each of leadstream's properties to ""."""
    if state.values is None:
        return {name: "" for name in PROPERTY_NAMES.values()}
    return {PROPERTY_NAMES[field]: _text(value) for field, value in state.values.items() if value is not None}


def _label(choice: str) -> str:
    """What a rep sees in the select: MQL, Hot, A1."""
    return choice.upper() if choice in STAGES else choice.capitalize()


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _error(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}


def _must_succeed(reply, what: str) -> None:
    if not reply.ok:
        body = _error(reply.body)
        raise CrmError(f"hubspot: {what} failed: HTTP {reply.status} {body.get('category', '')}"
                       f" {body.get('message', reply.body)} (the token needs the crm.schemas.contacts.write scope)")
