"""What a request tells about its sender: address (truncated), consent, and the visitor cookie."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from aiohttp import web

from streams.collector.config import CollectorSettings
from streams.collector.consent import request_consent
from streams.collector.edge import Hit
from streams.contracts.privacy import truncate_ip

VISITOR_COOKIE = "ls_vid"
VISITOR_COOKIE_MAX_AGE_S = 365 * 86_400
_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def client_address(request: web.Request, config: CollectorSettings) -> str:
    """The client's whole address (held in memory only, for rate limits). Behind a load balancer, the
    last X-Forwarded-For entry is the one it saw (earlier entries are whatever the client claimed)."""
    address = request.remote or ""
    if config.trust_forwarded and (forwarded := request.headers.get("X-Forwarded-For")):
        address = forwarded.split(",")[-1].strip()
    return address


def client_ip(request: web.Request, config: CollectorSettings) -> str | None:
    """The client's address, truncated: what an event may carry."""
    address = client_address(request, config)
    return truncate_ip(address) if address else None


def is_secure(request: web.Request, config: CollectorSettings) -> bool:
    if config.trust_forwarded and request.headers.get("X-Forwarded-Proto", "").lower() == "https":
        return True
    return request.secure


def hit_of(request: web.Request, config: CollectorSettings, defaults: dict[str, Any] | None = None) -> Hit:
    return Hit(received_at=config.clock.at_wall(time.time()), client_ip=client_ip(request, config),
               consent=request_consent(request.headers, request.query), defaults=defaults, policy=config.consent)


def visitor_cookie(request: web.Request) -> str | None:
    value = request.cookies.get(VISITOR_COOKIE)
    return value if value and _VISITOR_ID.fullmatch(value) else None


def new_visitor_id() -> str:
    return uuid.uuid4().hex


def set_visitor_cookie(response: web.StreamResponse, visitor_id: str, secure: bool) -> None:
    """First-party (the collector answers on the site's own domain), a year long, never read by scripts."""
    response.set_cookie(VISITOR_COOKIE, visitor_id, max_age=VISITOR_COOKIE_MAX_AGE_S, path="/", httponly=True,
                        samesite="Lax", secure=secure)


def forget_visitor_cookie(response: web.StreamResponse) -> None:
    """A visitor who withdrew consent keeps no id of ours."""
    response.del_cookie(VISITOR_COOKIE, path="/")
