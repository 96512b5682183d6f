"""POST /v1/form: a plain HTML form posts here and the browser is sent back (303) to the page.

Fields become the track event's properties (an ``email`` field makes the visitor a known lead,
named by it), except the person fields of ``FORM_PERSON_FIELDS``: a form's visitor typed those about
themselves, so they travel as ``context.traits`` (the Segment spec's traits of the acting user),
the one place besides identify and group that says who a lead is; fields starting with ``_`` steer: ``_event`` the event's name (default "Form
Submitted"; map it in the model file), ``_redirect`` where to go after (a path, or a URL on the
referring page's own site), ``_writeKey`` (or ``writeKey``) when write keys are required.
Passwords and files are never read.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from aiohttp import web

from scoring.signals import is_bot
from streams.collector.intake import bot_headers
from streams.collector.consent import CONSENT_GIVEN
from streams.collector.context import context_of
from streams.collector.limits import key_refusal
from streams.collector.hits import hit_of, is_secure, new_visitor_id, set_visitor_cookie, visitor_cookie
from streams.collector.pixel import MAX_PARAMETER
from streams.collector.write_keys import presented_key

DEFAULT_EVENT = "Form Submitted"
MAX_FIELDS = 50
NEVER_READ = ("password", "passwd", "card", "cvv", "cvc", "iban", "ssn")
# The person fields a form may set (docs/collector.md): the visitor's own name, email, job title
# and company facts. Any other field (an answer, a plan, a product) stays a property of the event.
FORM_PERSON_FIELDS = frozenset({
    "email", "name", "company", "company_name", "title", "job_title", "jobtitle", "industry", "employees",
    "company_size", "country", "country_code",
})
THANKS = "<!doctype html><title>Thank you</title><p>Thank you. You can close this page.</p>"


async def form(request: web.Request) -> web.StreamResponse:
    context = context_of(request)
    fields = await request.post()
    key = presented_key(request.headers, request.query, {"writeKey": fields.get("_writeKey") or fields.get("writeKey")})
    if context.config.write_keys.required:
        source = context.config.write_keys.source_of(key)
        if source is None:
            return web.Response(status=401, text="missing or wrong write key", headers={
                "WWW-Authenticate": 'Basic realm="leadstream collector"'})
        if (limited := key_refusal(request, source)) is not None:
            return limited
    hit = hit_of(request, context.config)
    if hit.consent is None and str(fields.get("_consent", "")).strip().lower() in CONSENT_GIVEN:
        hit = replace(hit, consent=True)  # a consent checkbox on the form: its yes covers this submission
    visitor = visitor_cookie(request)
    # No id for a visitor who withholds consent, nor for a crawler.
    fresh = visitor is None and hit.consents and not is_bot(request.headers.get("User-Agent"))
    message = form_event(fields, request.headers.get("Referer"), request.headers.get("User-Agent"),
                         visitor or new_visitor_id())
    outcome = await context.intake.take("form", [message], hit)
    if outcome.unavailable:
        return web.Response(status=503, text="please try again in a moment", headers={"Retry-After": "1"})
    response = _back(request.headers.get("Referer"), _text(fields.get("_redirect")))
    response.headers.update(bot_headers(outcome))
    if fresh and outcome.accepted:
        set_visitor_cookie(response, message["anonymousId"], is_secure(request, context.config))
    return response


def form_event(fields: Any, referer: str | None, user_agent: str | None, visitor_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, value in fields.items():
        if len(properties) >= MAX_FIELDS or name.startswith("_") or name == "writeKey":
            continue
        if any(word in name.lower() for word in NEVER_READ) or not isinstance(value, str):
            continue  # a file upload is a FileField, never read
        properties[name[:64]] = value[:MAX_PARAMETER]
    context: dict[str, Any] = {"library": {"name": "leadstream-form", "version": "1"}}
    traits = {name: value for name, value in properties.items() if name.lower() in FORM_PERSON_FIELDS}
    if traits:
        context["traits"] = traits
    if user_agent:
        context["userAgent"] = user_agent[:MAX_PARAMETER]
    if referer:
        context["page"] = {"url": referer[:MAX_PARAMETER], "path": urlsplit(referer).path or "/"}
    return {"type": "track", "messageId": f"form-{uuid.uuid4().hex}", "anonymousId": visitor_id,
            "event": _text(fields.get("_event")) or DEFAULT_EVENT, "properties": properties, "context": context}


def _text(value: Any) -> str | None:
    return value.strip()[:MAX_PARAMETER] if isinstance(value, str) and value.strip() else None


def _back(referer: str | None, redirect: str | None) -> web.StreamResponse:
    """303 to ``redirect`` when it stays on the referring page's site (no open redirect), else to the page."""
    target = None
    if referer and urlsplit(referer).scheme in ("http", "https"):
        target = referer
        if redirect:
            candidate = urljoin(referer, redirect)
            if urlsplit(candidate)[:2] == urlsplit(referer)[:2]:
                target = candidate
    if target is None:
        return web.Response(text=THANKS, content_type="text/html")
    return web.Response(status=303, headers={"Location": target})
