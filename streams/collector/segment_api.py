"""The Segment/RudderStack HTTP API, so analytics.js-style trackers and server libraries can point here.

``POST /v1/{track,page,screen,identify,group,alias}`` (or their first letters, as Segment's browser SDK
posts them) take one message (its type is the path's), ``POST /v1/batch`` (and ``/v1/import``, ``/v1/b``,
``/beacon/v1/batch``)
``{"batch": [...], "context": {...}}``, and ``POST /v1/events``
the compact native form (below), one object or a list. Bodies are JSON whatever the
Content-Type says (sendBeacon sends text/plain). Answers: 200 ``{"success": true, ...}``; 400
with a reason per rejected event (the accepted ones went through); 401 for a missing or wrong
write key; 413 for a body over the limit or more events than the limit; 429 past a rate limit;
503 when Kafka did not take the events (retry).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from streams.collector.context import context_of
from streams.collector.edge import Unreadable
from streams.collector.hits import hit_of
from streams.collector.intake import Outcome, bot_headers
from streams.collector.limits import key_refusal
from streams.collector.write_keys import presented_key
from streams.collector import metrics
from streams.contracts.segment import RejectReason

SINGLE_TYPES = ("track", "page", "screen", "identify", "group", "alias")
# Segment's browser SDK (analytics-next) posts each call to /v1/ and its type's first letter, and a
# batch to /v1/b; RudderStack's posts to the full names and /v1/batch. Route name -> endpoint.
SHORT_PATHS = {event_type[0]: event_type for event_type in SINGLE_TYPES}
SHORT_BATCH_PATH = "b"
# RudderStack's SDK with useBeacon posts batches by sendBeacon to /beacon/v1/batch?writeKey=...
BEACON_BATCH = "beacon_batch"
ENDPOINT_OF_ROUTE = {**SHORT_PATHS, SHORT_BATCH_PATH: "batch", BEACON_BATCH: "batch"}
# The compact native form: short names for the Segment fields, nothing else.
NATIVE_FIELDS = {
    "type": "type", "id": "messageId", "user": "userId", "visitor": "anonymousId", "previous": "previousId",
    "at": "timestamp", "event": "event", "name": "name", "props": "properties", "traits": "traits",
    "context": "context", "group": "groupId",
}
NATIVE_PAGE_FIELDS = ("path", "url")


class BadRequest(Exception):
    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


async def read_json(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(RejectReason.MALFORMED_JSON, f"the body is not JSON: {exc}") from None


def unauthorized(request: web.Request, body: Any) -> web.Response | None:
    """401 unless the request presents a configured write key (or none are configured); 429 past its budget."""
    keys = context_of(request).config.write_keys
    if not keys.required:
        return None
    source = keys.source_of(presented_key(request.headers, request.query, body))
    if source is not None:
        return key_refusal(request, source)
    return web.json_response({"success": False, "error": "missing or wrong write key"}, status=401,
                             headers={"WWW-Authenticate": 'Basic realm="leadstream collector"'})


BOT_NOTE = ("taken as a bot by its user agent (context.userAgent; LEADSTREAM_COLLECTOR_BOT_PATTERNS): stored and"
            " counted, but the worker ignores it and no lead is scored from it")


def answer(outcome: Outcome) -> web.Response:
    if outcome.unavailable:
        return web.json_response({"success": False, "error": "Kafka did not take the events; retry"}, status=503,
                                 headers={"Retry-After": "1"})
    body: dict[str, Any] = {"success": not outcome.rejected_count, "accepted": outcome.accepted}
    if outcome.refused:
        body["consent_refused"] = outcome.refused
    if outcome.rejected_count:
        body["rejected"] = outcome.rejected  # the first ones only (LEADSTREAM_COLLECTOR_MAX_REJECTIONS_LISTED)
        body["rejected_count"] = outcome.rejected_count
    if outcome.bots:
        body["dropped_as_bot"] = outcome.bots
        body["note"] = BOT_NOTE
    return web.json_response(body, status=400 if outcome.rejected_count else 200, headers=bot_headers(outcome))


def too_many_events(request: web.Request, messages: list[Any]) -> web.Response | None:
    """413 for a request carrying more events than the limit: refused whole, before any is read."""
    limit = context_of(request).config.max_batch_events
    if len(messages) <= limit:
        return None
    metrics.EVENTS_RECEIVED.labels(source=metrics.SOURCE, type=metrics.UNKNOWN_TYPE).inc()
    metrics.EVENTS_REJECTED.labels(reason=metrics.TOO_MANY_EVENTS).inc()
    return web.json_response({"success": False, "accepted": 0, "error": f"at most {limit} events per request,"
                              f" got {len(messages)}: split the batch", "rejected_count": len(messages)}, status=413)


def bad_body(failure: BadRequest) -> web.Response:
    """A body that could not be read at all counts as one event received and rejected."""
    metrics.EVENTS_RECEIVED.labels(source=metrics.SOURCE, type=metrics.UNKNOWN_TYPE).inc()
    metrics.EVENTS_REJECTED.labels(reason=failure.reason.value).inc()
    return web.json_response({"success": False, "accepted": 0, "rejected": [
        {"index": None, "messageId": None, "reason": failure.reason.value, "detail": failure.detail[:200]}],
        "rejected_count": 1}, status=400)


async def _take(request: web.Request, endpoint: str, messages: list[Any], defaults: dict[str, Any]) -> web.Response:
    context = context_of(request)
    outcome = await context.intake.take(endpoint, messages, hit_of(request, context.config, defaults))
    return answer(outcome)


async def single(request: web.Request) -> web.Response:
    name = request.match_info.route.name  # the path's type: /v1/track (or /v1/t) is a track
    event_type = endpoint = SHORT_PATHS.get(name, name)
    try:
        body = await read_json(request)
    except BadRequest as failure:
        return unauthorized(request, None) or bad_body(failure)
    if (refusal := unauthorized(request, body)) is not None:
        return refusal
    message = {**body, "type": event_type} if isinstance(body, dict) else body
    return await _take(request, endpoint, [message], {})


async def batch(request: web.Request) -> web.Response:
    try:
        body = await read_json(request)
        if (refusal := unauthorized(request, body)) is not None:
            return refusal
        messages = body.get("batch") if isinstance(body, dict) else body
        if not isinstance(messages, list):
            raise BadRequest(RejectReason.INVALID_FIELD, 'expected {"batch": [...]}')
    except BadRequest as failure:
        return unauthorized(request, None) or bad_body(failure)
    if (refusal := too_many_events(request, messages)) is not None:
        return refusal
    defaults = {field: body[field] for field in ("context", "sentAt") if isinstance(body, dict) and field in body}
    if not isinstance(defaults.get("context", {}), dict):
        defaults.pop("context")
    return await _take(request, "batch", messages, defaults)


async def native(request: web.Request) -> web.Response:
    try:
        body = await read_json(request)
    except BadRequest as failure:
        return unauthorized(request, None) or bad_body(failure)
    if (refusal := unauthorized(request, body)) is not None:
        return refusal
    items = body if isinstance(body, list) else [body]
    if (refusal := too_many_events(request, items)) is not None:
        return refusal
    return await _take(request, "events", [from_native(item) for item in items], {})


def from_native(item: Any) -> Any:
    """``{"type": "page", "id": "m1", "visitor": "v1", "user": "u1", "at": "...", "path": "/pricing",
    "event": "...", "props": {...}, "traits": {...}}`` as the Segment message it stands for.

    An unknown field makes it invalid: a typo should not pass unnoticed.
    """
    if not isinstance(item, dict):
        return item
    if unknown := sorted(set(item) - set(NATIVE_FIELDS) - set(NATIVE_PAGE_FIELDS)):
        return Unreadable(RejectReason.INVALID_FIELD.value, f"unknown field {unknown[0][:64]!r} in the native form")
    message = {NATIVE_FIELDS[field]: value for field, value in item.items() if field in NATIVE_FIELDS}
    page = {field: item[field] for field in NATIVE_PAGE_FIELDS if field in item}
    if page:
        properties = message.get("properties", {})
        message["properties"] = {**properties, **page} if isinstance(properties, dict) else properties
    return message
