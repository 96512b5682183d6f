"""GET /p.gif: a 1x1 GIF answered at once; the page view or email open it records follows.

Query parameters (all optional): ``t`` page (default), email_open or track; ``uid`` (userId),
``aid`` (anonymousId; else the visitor cookie, set if absent), ``email``, ``e`` (a track
event's name), ``url``, ``path``, ``title``, ``ref``, ``campaign``, ``mid`` (messageId),
``ts`` (ISO 8601 time), ``consent=false`` or ``dnt=1``. The page defaults to the Referer.
With write keys set, ``uid``, ``email`` and ``t=track`` need a signature (streams/collector/pixel_signing.py).
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from multidict import MultiMapping

from scoring.signals import is_bot
from streams.collector import metrics
from streams.collector.context import context_of
from streams.collector.intake import bot_headers
from streams.collector.hits import (
    forget_visitor_cookie, hit_of, is_secure, new_visitor_id, set_visitor_cookie, visitor_cookie,
)
from streams.collector.pixel_signing import needs_signature, signed_by

log = logging.getLogger(__name__)

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {
    "Cache-Control": "no-cache, no-store, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
}
EMAIL_OPENED = "Email Opened"
MAX_PARAMETER = 2048  # a query value longer than this is cut: URLs are not documents
PROPERTY_PARAMETERS = {"title": "title", "ref": "referrer", "campaign": "campaign", "email": "email",
                       "utm_source": "utm_source", "utm_medium": "utm_medium", "utm_campaign": "utm_campaign"}


def _text(query: MultiMapping[str], *names: str) -> str | None:
    for name in names:
        value = query.get(name)
        if value and value.strip():
            return value.strip()[:MAX_PARAMETER]
    return None


def pixel_event(query: MultiMapping[str], referer: str | None, user_agent: str | None,
                visitor_id: str | None) -> dict[str, Any]:
    """The Segment message a pixel hit stands for."""
    kind = (_text(query, "t", "type") or "page").lower()
    url = _text(query, "url") or (referer[:MAX_PARAMETER] if referer else None)
    path = _text(query, "path") or (urlsplit(url).path or "/" if url else None)
    properties: dict[str, Any] = {target: value for name, target in PROPERTY_PARAMETERS.items()
                                  if (value := _text(query, name)) is not None}
    message: dict[str, Any] = {"messageId": _text(query, "mid", "messageId") or f"pixel-{uuid.uuid4().hex}"}
    if kind in ("email_open", "open", "email"):
        message |= {"type": "track", "event": EMAIL_OPENED}
    elif kind == "track":
        message |= {"type": "track", "event": _text(query, "e", "event") or ""}
    else:
        message |= {"type": "page"}
        properties |= {key: value for key, value in (("url", url), ("path", path)) if value}
    for field, names in (("userId", ("uid", "userId")), ("anonymousId", ("aid", "anonymousId"))):
        if (value := _text(query, *names)) is not None:
            message[field] = value
    if visitor_id and "anonymousId" not in message:
        message["anonymousId"] = visitor_id
    if (timestamp := _text(query, "ts")) is not None:
        message["timestamp"] = timestamp
    context: dict[str, Any] = {"library": {"name": "leadstream-pixel", "version": "1"}}
    if user_agent:
        context["userAgent"] = user_agent[:MAX_PARAMETER]
    if url:
        context["page"] = {"url": url, **({"path": path} if path else {})}
    return {**message, "properties": properties, "context": context}


def _unsigned_claim(request: web.Request) -> web.Response | None:
    """With write keys set, a hit naming a lead or a track event needs a pixel key's signature: 403 without.

    The body is still the GIF, so a page shows no broken image; the event is counted as rejected.
    """
    config = context_of(request).config
    pairs = list(request.query.items())
    if not config.write_keys.required or not needs_signature(pairs):
        return None
    if signed_by(config.pixel_keys, pairs, time.time()) is not None:
        return None
    metrics.EVENTS_RECEIVED.labels(source=metrics.SOURCE, type=metrics.UNKNOWN_TYPE).inc()
    metrics.EVENTS_REJECTED.labels(reason=metrics.UNSIGNED_CLAIM).inc()
    return web.Response(status=403, body=GIF, content_type="image/gif", headers=NO_CACHE)


async def pixel(request: web.Request) -> web.Response:
    """The GIF, at once, whatever the query holds; the event is admitted now and produced after."""
    context = context_of(request)
    response = web.Response(body=GIF, content_type="image/gif", headers=NO_CACHE)
    try:
        if (refused := _unsigned_claim(request)) is not None:
            return refused
        hit = hit_of(request, context.config)
        user_agent = request.headers.get("User-Agent")
        visitor = visitor_cookie(request)
        # An id for a visitor who consents and is a browser; a crawler's hit gets a throwaway one.
        fresh = visitor is None and hit.consents and not is_bot(user_agent)
        visitor_id = visitor or new_visitor_id()
        message = pixel_event(request.query, request.headers.get("Referer"), user_agent, visitor_id)
        outcome = context.intake.take_soon("pixel", message, hit)
        if outcome is None:
            return web.Response(status=503, body=GIF, content_type="image/gif", headers={**NO_CACHE, "Retry-After": "1"})
        response.headers.update(bot_headers(outcome))
        if fresh:
            set_visitor_cookie(response, visitor_id, is_secure(request, context.config))
        elif not hit.consents and visitor is not None:
            forget_visitor_cookie(response)
    except Exception:  # noqa: BLE001 — the page embedding the pixel must always get its image
        log.exception("a pixel hit could not be read")
    return response
