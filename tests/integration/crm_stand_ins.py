"""Contract stand-ins for HubSpot's and Salesforce's APIs: real aiohttp servers on 127.0.0.1 for the CRM tests.

They are not HubSpot or Salesforce. Each speaks the part of its vendor's documented contract that
``leadstream crm`` relies on (docs/crm.md): the endpoints, the per-request limits refused with
the documented error, per-record results, 401 for an expired token, 429 with ``Retry-After``;
and keeps the records it holds, every write it took (with a monotonic time) and every request,
so a test can compare the CRM's fields with each lead's latest state.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.integration.alert_fixtures import LocalServer

TOKEN = "pat-na1-test-0000"  # the only token the stand-ins accept


@dataclass(frozen=True)
class Scripted:
    """A whole-request answer the stand-in gives instead of serving, once, to the next write."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """A request as the stand-in saw it."""

    method: str
    path: str
    records: int
    status: int
    at: float


@dataclass(frozen=True)
class Written:
    """One record written (or cleared) by one request."""

    record_id: str
    values: dict[str, Any]
    at: float


class _StandIn(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Seen] = []
        self.writes: list[Written] = []
        self.script: list[Scripted] = []
        self.token_expired = False

    @property
    def url(self) -> str:
        return self.url_of("").rstrip("/")

    def answer_next(self, *answers: Scripted) -> None:
        self.script.extend(answers)

    def writes_of(self, record_id: str) -> list[Written]:
        return [write for write in self.writes if write.record_id == record_id]

    def _respond(self, request: web.Request, records: int, status: int, body: Any,
                 headers: dict[str, str] | None = None) -> web.Response:
        self.requests.append(Seen(request.method, request.path, records, status, time.monotonic()))
        return web.Response(status=status, body=orjson.dumps(body), headers=headers or {},
                            content_type="application/json")

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {TOKEN}" and not self.token_expired


class HubSpotStandIn(_StandIn):
    """Contract stand-in for HubSpot's CRM v3 contacts and properties APIs (not HubSpot).

    ``POST /crm/v3/objects/contacts/batch/upsert`` and ``.../batch/update``: more than 100 inputs is
    400 VALIDATION_ERROR; an input whose e-mail is in ``invalid_emails`` fails with a 207
    multi-status error naming its ``objectWriteTraceId``; an update of a contact that does not
    exist fails with OBJECT_NOT_FOUND. A token marked expired gets 401 EXPIRED_AUTHENTICATION.
    """

    BATCH_LIMIT = 100

    def __init__(self) -> None:
        super().__init__()
        self.contacts: dict[str, dict[str, str]] = {}  # by e-mail (the idProperty), their properties
        self.invalid_emails: set[str] = set()
        self.groups: set[str] = set()
        self.properties: dict[str, dict[str, Any]] = {"email": {"name": "email", "type": "string"}}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/crm/v3/objects/contacts/batch/upsert", self._upsert)
        app.router.add_post("/crm/v3/objects/contacts/batch/update", self._update)
        app.router.add_get("/crm/v3/properties/contacts/groups", self._list_groups)
        app.router.add_post("/crm/v3/properties/contacts/groups", self._create_group)
        app.router.add_get("/crm/v3/properties/contacts", self._list_properties)
        app.router.add_post("/crm/v3/properties/contacts", self._create_property)

    async def _upsert(self, request: web.Request) -> web.Response:
        return await self._batch(request, create=True)

    async def _update(self, request: web.Request) -> web.Response:
        return await self._batch(request, create=False)

    async def _batch(self, request: web.Request, create: bool) -> web.Response:
        inputs = (orjson.loads(await request.read())).get("inputs", [])
        refused = self._refusal(request, len(inputs))
        if refused is not None:
            return refused
        if len(inputs) > self.BATCH_LIMIT:
            return self._respond(request, len(inputs), 400, _hubspot_error(
                "VALIDATION_ERROR", f"Batch input size must be no more than {self.BATCH_LIMIT}, got {len(inputs)}"))
        now = time.monotonic()
        results, errors = [], []
        for item in inputs:
            email, trace = item["id"], item.get("objectWriteTraceId")
            if item.get("idProperty") != "email":
                errors.append(_hubspot_error("VALIDATION_ERROR", "unknown idProperty", trace))
            elif email in self.invalid_emails:
                errors.append(_hubspot_error("VALIDATION_ERROR", f"Property values were not valid: email {email!r}"
                                             f" is not a valid email address", trace))
            elif not create and email not in self.contacts:
                errors.append(_hubspot_error("OBJECT_NOT_FOUND", f"No contact with email {email}", trace))
            else:
                unknown = set(item["properties"]) - set(self.properties)
                if unknown:
                    errors.append(_hubspot_error("VALIDATION_ERROR", f"Property {sorted(unknown)} does not exist",
                                                 trace))
                    continue
                contact = self.contacts.setdefault(email, {"email": email})
                contact.update(item["properties"])
                self.writes.append(Written(email, dict(item["properties"]), now))
                results.append({"id": str(abs(hash(email)) % 10**9), "properties": dict(contact),
                                "new": False, "archived": False})
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": "2026-12-06T00:00:00Z",
                                "completedAt": "2026-12-06T00:00:00Z"}
        if errors:
            body.update(numErrors=len(errors), errors=errors)
        return self._respond(request, len(inputs), 207 if errors else 200, body)

    def _refusal(self, request: web.Request, records: int) -> web.Response | None:
        if not self._authorized(request):
            return self._respond(request, records, 401, _hubspot_error(
                "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired 1 hour(s) ago."))
        if self.script:
            scripted = self.script.pop(0)
            return self._respond(request, records, scripted.status, scripted.body, scripted.headers)
        return None

    async def _list_groups(self, request: web.Request) -> web.Response:
        return self._respond(request, 0, 200, {"results": [{"name": name} for name in sorted(self.groups)]})

    async def _create_group(self, request: web.Request) -> web.Response:
        group = orjson.loads(await request.read())
        if group["name"] in self.groups:
            return self._respond(request, 1, 409, _hubspot_error("CONFLICT", "group exists"))
        self.groups.add(group["name"])
        return self._respond(request, 1, 201, group)

    async def _list_properties(self, request: web.Request) -> web.Response:
        return self._respond(request, 0, 200, {"results": list(self.properties.values())})

    async def _create_property(self, request: web.Request) -> web.Response:
        prop = orjson.loads(await request.read())
        if prop["name"] in self.properties:
            return self._respond(request, 1, 409, _hubspot_error("CONFLICT", f"{prop['name']} exists"))
        if prop.get("groupName") not in self.groups:
            return self._respond(request, 1, 400, _hubspot_error("VALIDATION_ERROR", "no such group"))
        if prop["type"] == "enumeration" and not prop.get("options"):
            return self._respond(request, 1, 400, _hubspot_error("VALIDATION_ERROR", "enumeration needs options"))
        self.properties[prop["name"]] = prop
        return self._respond(request, 1, 201, prop)


def _hubspot_error(category: str, message: str, trace: str | None = None) -> dict[str, Any]:
    """HubSpot's error object: status, message, correlationId, category, context (all optional to a reader)."""
    error: dict[str, Any] = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                             "category": category}
    if trace is not None:
        error["context"] = {"objectWriteTraceId": [trace]}
    return error


class SalesforceStandIn(_StandIn):
    """Contract stand-in for Salesforce's REST API, sObject Collections upsert and describe (not Salesforce).

    ``PATCH /services/data/vXX.X/composite/sobjects/<Lead>/<ExternalIdField>`` with allOrNone false:
    more than 200 records is 400 EXCEEDED_ID_LIMIT; otherwise 200 with one UpsertResult per record,
    in order. A record that does not exist yet is created only with LastName and Company (else
    REQUIRED_FIELD_MISSING, as Salesforce's Lead requires), and a record whose external id is in
    ``rejected`` fails a validation rule. An expired token gets 401 INVALID_SESSION_ID.
    """

    BATCH_LIMIT = 200

    def __init__(self, external_id_field: str = "Leadstream_Lead_Id__c", fields: Iterable[str] = ()) -> None:
        super().__init__()
        self.external_id_field = external_id_field
        self.fields = {"Id", "LastName", "Company", "Email", external_id_field, *fields}
        self.leads: dict[str, dict[str, Any]] = {}  # by external id
        self.rejected: set[str] = set()

    def holds(self, *external_ids: str) -> None:
        """Leads that already exist in the org (created by sales, with their required fields)."""
        for external_id in external_ids:
            self.leads[external_id] = {"Id": f"00Q{len(self.leads):012d}", "LastName": "Doe", "Company": "Acme",
                                       self.external_id_field: external_id}

    def routes(self, app: web.Application) -> None:
        app.router.add_route("PATCH", "/services/data/{version}/composite/sobjects/{sobject}/{external}", self._upsert)
        app.router.add_get("/services/data/{version}/sobjects/{sobject}/describe", self._describe)

    async def _upsert(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        records = body.get("records", [])
        if not self._authorized(request):
            return self._respond(request, len(records), 401, [
                {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        if self.script:
            scripted = self.script.pop(0)
            return self._respond(request, len(records), scripted.status, scripted.body, scripted.headers)
        if len(records) > self.BATCH_LIMIT:
            return self._respond(request, len(records), 400, [{
                "message": f"record limit reached. cannot submit more than {self.BATCH_LIMIT} records into this call",
                "errorCode": "EXCEEDED_ID_LIMIT"}])
        external = request.match_info["external"]
        if external != self.external_id_field or request.match_info["sobject"] != "Lead":
            return self._respond(request, len(records), 404, [
                {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
        if body.get("allOrNone") is not False:
            return self._respond(request, len(records), 400, [
                {"message": "leadstream must send allOrNone false", "errorCode": "INVALID_FIELD"}])
        now, results = time.monotonic(), []
        for record in records:
            key = record.get(external)
            values = {name: value for name, value in record.items() if name not in ("attributes", external)}
            unknown = set(values) - self.fields
            if record.get("attributes", {}).get("type") != "Lead" or not key:
                results.append(_failed("INVALID_FIELD", "attributes.type and the external id are required"))
            elif unknown:
                results.append(_failed("INVALID_FIELD", f"No such column '{sorted(unknown)[0]}' on sobject of type"
                                                        f" Lead"))
            elif key in self.rejected:
                results.append(_failed("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Leads from this domain are blocked"))
            elif key not in self.leads and not ({"LastName", "Company"} <= set(values)):
                results.append(_failed("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName, Company]",
                                       ["LastName", "Company"]))
            else:
                created = key not in self.leads
                lead = self.leads.setdefault(key, {"Id": f"00Q{len(self.leads):012d}", external: key})
                lead.update(values)
                self.writes.append(Written(key, values, now))
                results.append({"id": lead["Id"], "success": True, "errors": [], "created": created})
        return self._respond(request, len(records), 200, results)

    async def _describe(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._respond(request, 0, 401, [{"message": "Session expired or invalid",
                                                    "errorCode": "INVALID_SESSION_ID"}])
        return self._respond(request, 0, 200, {"name": request.match_info["sobject"], "fields": [
            {"name": name, "externalId": name == self.external_id_field} for name in sorted(self.fields)]})


def _failed(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"id": None, "success": False, "errors": [{"statusCode": code, "message": message, "fields": fields or []}],
            "created": False}
