"""Rate limits on the collector's event endpoints: token buckets per client address and per write key.

A request over its client's budget is answered 429 with ``Retry-After`` before anything is read;
one over its write key's, once the key is known. Health, metrics and accounting are never limited
(probes and Prometheus must always get through).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from streams.collector import metrics
from streams.collector.context import context_of
from streams.collector.hits import client_address
from streams.rate_limits import retry_after

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNLIMITED = frozenset({"healthz", "metrics", "accounting", "snippet"})
# Segment's and RudderStack's servers send every visitor's events from a few addresses: they are
# limited per destination (as a write key is) once authenticated, not as one client address.
SERVER_SENDERS = frozenset({"segment_webhook", "rudderstack_webhook"})


def too_many(limit: str, wait_s: float) -> web.Response:
    metrics.RATE_LIMITED.labels(limit=limit).inc()
    return web.json_response({"success": False, "error": f"too many requests ({limit}); retry later"},
                             status=429, headers={"Retry-After": retry_after(wait_s)})


def key_refusal(request: web.Request, source: str) -> web.Response | None:
    """429 when the write key ``source`` has spent its budget, else None."""
    wait = context_of(request).per_key.take(source)
    return too_many("write_key", wait) if wait else None


@web.middleware
async def limit_clients(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    if request.method == "OPTIONS" or (route is not None and route.name in UNLIMITED | SERVER_SENDERS):
        return await handler(request)
    context = context_of(request)
    wait = context.per_client.take(client_address(request, context.config))
    return too_many("client", wait) if wait else await handler(request)
