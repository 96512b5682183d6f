"""Inbound destinations: Segment's "Webhooks (Actions)" and RudderStack's webhook post their events here.

``POST /v1/webhooks/segment`` takes what Segment's Send action posts with its default Data mapping
(the whole event): one event, or with batching on, a JSON array of them; ``X-Signature`` must be
the HMAC Segment computes with the shared secret (streams/collector/webhook_auth.py).
``POST /v1/webhooks/rudderstack`` takes RudderStack's webhook payload, one event as RudderStack
received it, carrying the header and secret the user set in the destination's Headers.

Once authenticated, the events are taken exactly as ``/v1/batch`` takes them: the same checks,
accounting buckets, dead-letter reasons and answers, and the worker deduplicates them by
``messageId`` with those that reached us any other way. A refused request reads no event: it is
answered 401 with its reason and counted in ``leadstream_collector_webhook_refused_total``.
The sender is Segment's or RudderStack's server, not the visitor, so its address is not written
into the events (they carry the visitor's own ``context.ip``) and its requests are limited under
the destination's own rate bucket (the write-key limit), not as one client address.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from aiohttp import web

from streams.collector import metrics
from streams.collector.context import context_of
from streams.collector.edge import Hit
from streams.collector.limits import key_refusal
from streams.collector.segment_api import BadRequest, answer, bad_body, too_many_events
from streams.collector.webhook_auth import (
    NOT_CONFIGURED, RUDDERSTACK_SECRET_VARIABLE, SEGMENT_SECRET_VARIABLE, SIGNATURE_HEADER, rudderstack_refusal,
    segment_refusal,
)
from streams.contracts.segment import RejectReason

log = logging.getLogger(__name__)
REFUSAL_TEXT = {
    "not_configured": "this destination is not set up on the collector ({variable} is unset)",
    "missing_signature": f"no {SIGNATURE_HEADER} header: set the destination's Shared Secret",
    "bad_signature": f"{SIGNATURE_HEADER} is not the HMAC-SHA1 of the body with the shared secret",
    "missing_secret": "no {header} header: add it under the destination's Headers",
    "wrong_secret": "the {header} header does not hold the configured secret",
}


def _refused(destination: str, reason: str, **words: str) -> web.Response:
    metrics.WEBHOOK_REFUSED.labels(destination=destination, reason=reason).inc()
    if reason == NOT_CONFIGURED:
        log.warning("a %s webhook request arrived, but %s is unset", destination, words.get("variable"))
    return web.json_response({"success": False, "reason": reason, "error": REFUSAL_TEXT[reason].format(**words)},
                             status=401)


def _events(raw: bytes) -> list[Any]:
    """One event (an object) or a batch (an array of them)."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(RejectReason.MALFORMED_JSON, f"the body is not JSON: {exc}") from None
    return body if isinstance(body, list) else [body]


async def _take(request: web.Request, endpoint: str, destination: str, raw: bytes) -> web.Response:
    # "webhook:segment": a colon never appears in a write key's source name, so the buckets stay apart.
    if (refusal := key_refusal(request, f"webhook:{destination}")) is not None:
        return refusal
    try:
        events = _events(raw)
    except BadRequest as failure:
        return bad_body(failure)
    if (refusal := too_many_events(request, events)) is not None:
        return refusal
    context = context_of(request)
    # No request-level consent or address: the sender is a server relaying what the visitor's browser said.
    hit = Hit(received_at=time.time(), policy=context.config.consent)
    return answer(await context.intake.take(endpoint, events, hit))


async def segment_webhook(request: web.Request) -> web.Response:
    raw = await request.read()
    secret = context_of(request).config.destinations.segment
    if (reason := segment_refusal(secret, raw, request.headers.get(SIGNATURE_HEADER))) is not None:
        return _refused("segment", reason, variable=SEGMENT_SECRET_VARIABLE)
    return await _take(request, "segment_webhook", "segment", raw)


async def rudderstack_webhook(request: web.Request) -> web.Response:
    settings = context_of(request).config.destinations
    header = settings.rudderstack_header
    if (reason := rudderstack_refusal(settings.rudderstack, request.headers.get(header))) is not None:
        return _refused("rudderstack", reason, variable=RUDDERSTACK_SECRET_VARIABLE, header=header)
    return await _take(request, "rudderstack_webhook", "rudderstack", await request.read())
