"""The collector's aiohttp application: routes, CORS, request metrics, start and stop."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scoring.signals import use_bot_patterns
from streams.collector import metrics
from streams.collector.config import CollectorSettings
from streams.collector.context import CONTEXT, CollectorContext, context_of
from streams.collector.forms import form
from streams.collector.intake import Intake
from streams.collector.limits import limit_clients
from streams.collector.pixel import pixel
from streams.collector.producer import RawProducer
from streams.collector.destinations import rudderstack_webhook, segment_webhook
from streams.collector.segment_api import (
    BEACON_BATCH, ENDPOINT_OF_ROUTE, SHORT_BATCH_PATH, SHORT_PATHS, SINGLE_TYPES, batch, native, single,
)
from streams.collector.snippet import snippet
from streams.config.environment import Settings
from streams.errors import TopicMismatch

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFLIGHT_MAX_AGE_S = 600
# Request headers a page may send: Segment's browser SDK adds X-Retry-Count on a retry; RudderStack's
# sends AnonymousId and SentAt on every call, and its Rsa-* headers on retries and recovered events.
ALLOWED_REQUEST_HEADERS = (
    "Content-Type", "Authorization", "X-Retry-Count", "AnonymousId", "SentAt", "Rsa-Recovered", "Rsa-Retry-Attempt",
    "Rsa-Since-Last-Attempt", "Rsa-Since-First-Attempt", "Rsa-Retry-Reason",
)


async def healthz(request: web.Request) -> web.Response:
    # Not ready while Kafka is out of reach, so a load balancer sends clients elsewhere meanwhile.
    ready = await context_of(request).intake.producer.reaches_kafka()
    return web.json_response({"ready": ready}, status=200 if ready else 503)


async def prometheus(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def accounting(request: web.Request) -> web.Response:
    return web.json_response(metrics.accounting())


def _endpoint(request: web.Request) -> str:
    route = request.match_info.route
    name = route.name if route is not None else None
    name = ENDPOINT_OF_ROUTE.get(name, name) if name else name  # the browser SDKs' other paths
    return name if name in metrics.ENDPOINTS else "other"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Counts and times every request; an unexpected failure is a 500, never a dead collector."""
    started, endpoint, status = time.perf_counter(), _endpoint(request), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception:  # noqa: BLE001
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response({"success": False, "error": "internal error"}, status=500)
    finally:
        metrics.REQUESTS.labels(endpoint=endpoint, status=str(status)).inc()
        metrics.REQUEST_SECONDS.labels(endpoint=endpoint).observe(time.perf_counter() - started)


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browsers on an allowed origin may call the API (and read its answers); listed origins with cookies."""
    origin = request.headers.get("Origin")
    config = context_of(request).config
    allowed = origin is not None and config.origin_allowed(origin)
    if request.method == "OPTIONS" and allowed:
        response: web.StreamResponse = web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_REQUEST_HEADERS),
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
        })
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # 404, 405, 413: the browser may read those too
            if allowed:
                _allow(exc, origin, config.any_origin)
            raise
    if allowed:
        _allow(response, origin, config.any_origin)
    return response


def _allow(response: web.StreamResponse, origin: str | None, any_origin: bool) -> None:
    """``*`` is answered as a literal ``*`` without credentials: a page on any site may send events, but
    never with the visitor's cookies or read an answer meant for a listed origin. A listed origin is
    echoed, with credentials."""
    if any_origin:
        response.headers["Access-Control-Allow-Origin"] = "*"
        return
    response.headers["Access-Control-Allow-Origin"] = origin or ""
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Vary"] = "Origin"


def web_app(context: CollectorContext) -> web.Application:
    app = web.Application(middlewares=[observe, cors, limit_clients], client_max_size=context.config.max_body_bytes)
    app[CONTEXT] = context
    app.router.add_get("/p.gif", pixel, name="pixel")
    for event_type in SINGLE_TYPES:
        app.router.add_post(f"/v1/{event_type}", single, name=event_type)
    for short in SHORT_PATHS:
        app.router.add_post(f"/v1/{short}", single, name=short)
    app.router.add_post("/v1/batch", batch, name="batch")
    app.router.add_post("/v1/import", batch)  # Segment's other name for it
    app.router.add_post(f"/v1/{SHORT_BATCH_PATH}", batch, name=SHORT_BATCH_PATH)  # analytics-next's batching
    app.router.add_post("/beacon/v1/batch", batch, name=BEACON_BATCH)  # RudderStack's SDK with useBeacon
    app.router.add_post("/v1/webhooks/segment", segment_webhook, name="segment_webhook")
    app.router.add_post("/v1/webhooks/rudderstack", rudderstack_webhook, name="rudderstack_webhook")
    app.router.add_post("/v1/events", native, name="events")
    app.router.add_post("/v1/form", form, name="form")
    app.router.add_get("/s.js", snippet, name="snippet")
    app.router.add_get("/healthz", healthz, name="healthz")
    app.router.add_get("/metrics", prometheus, name="metrics")
    app.router.add_get("/accounting", accounting, name="accounting")
    return app


class Collector:
    """One collector process's server: start it, and stop it gracefully (pixel events still flushed)."""

    def __init__(self, kafka: Settings, config: CollectorSettings) -> None:
        self.kafka = kafka
        self.config = config
        if kafka.bot_patterns:  # the same rule as the worker's, so a bot here is ignored there
            use_bot_patterns(kafka.bot_patterns)
        self.producer = RawProducer(kafka, idempotent=config.idempotent)
        self.intake = Intake(self.producer, kafka.max_event_bytes, config.max_rejections_listed,
                             config.max_pending_pixels)
        # No access log: it would write every client's whole IP address to disk.
        self._runner = web.AppRunner(web_app(CollectorContext(config, self.intake)), access_log=None)

    async def start(self, host: str, port: int) -> None:
        await _ensure_topics(self.kafka)
        await self.producer.start()
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()
        await self.intake.drain()
        await self.producer.stop()


async def _ensure_topics(kafka: Settings) -> None:
    """Create the topics with the right partition counts before producing: auto-creation would not."""
    from streams.contracts.topic_admin import ensure_topics

    try:
        await ensure_topics(kafka)
    except TopicMismatch:
        raise
    except Exception as exc:  # noqa: BLE001 — topics may be managed elsewhere, without admin rights for us
        log.warning("could not check or create the topics (%r); producing anyway", exc)


async def run_collector(kafka: Settings, config: CollectorSettings, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM."""
    collector = Collector(kafka, config)
    await collector.start(host, port)
    keys = f"write keys for {len(config.write_keys.secrets)} sources" if config.write_keys.required else "no write keys"
    print(f"collector listening on http://{host}:{port} → {collector.producer.topic} ({keys})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await collector.stop()
        print("collector stopped", flush=True)
