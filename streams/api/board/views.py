"""The lead board on every worker's web server: pages, the live feed, and who may see them.

The board is a client of the lead API: its numbers come from the same calls an API user makes
(GET /leads merged over every worker, GET /leads/{id}/history from the lead's owner, every
worker's /stats), so what it shows is what the API answers. Live updates come from the
qualification topic (streams/api/board/feed.py), pushed to the page as server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from yarl import URL
from aiohttp.web import StreamResponse
from faust.web import Request, Response, View

from scoring.model_loading import default_model_text
from streams.worker.app import app
from streams.api.access import UNAUTHORIZED, Scope, refusal
from streams.api.board import auth, pages
from streams.api.board.revisit_list import revisit_section
from streams.api.board.model_tables import model_page, shadow_page
from streams.api.board.feed import (
    LEAD_ERASED, Closed, Full, Hub, QualificationFeed, SeenChanges, TransitionCounter, server_sent_event,
)
from streams.config.environment import scoring_model, settings
from streams.api.leads import worker_urls
from streams.api.web_guard import same_origin
from streams.errors import HistoryError
from streams.ops.model_comparison import compare
from streams.rate_limits import retry_after
from streams.worker import metrics
from streams.worker.topics import qualification_topic

log = logging.getLogger(__name__)

HOT_LIMIT = 50
REVISIT_LIMIT = 50
FUNNEL_EVERY_S = 5.0  # also without changes: new anonymous leads move the counts without one
KEEPALIVE_S = 15.0
FEED_READY_WAIT_S = 10.0
WRITE_TIMEOUT_S = 10.0  # a browser that takes no data for this long is dropped, not waited on
STREAMS_FULL_RETRY_S = 5.0
CALL_TIMEOUT = aiohttp.ClientTimeout(total=10)
STATIC = {
    name: (resources.files("streams.api.board").joinpath(f"static/{name}").read_bytes(), content_type)
    for name, content_type in (("board.css", "text/css"), ("board.js", "text/javascript"))
}

hub = Hub(max_streams=settings().web.board_max_streams, on_drop=metrics.BOARD_STREAMS_DROPPED.inc)
metrics.BOARD_STREAMS.set_function(lambda: hub.listeners)
transitions = TransitionCounter()
seen = SeenChanges()
funnel_moved = asyncio.Event()
_feed: QualificationFeed | None = None


# --- calls to the lead API (this worker's own, which routes to the others) ---------------------

def _api_headers() -> dict[str, str]:
    token = settings().api_token
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _get_json(url: str) -> tuple[int, Any]:
    try:
        async with app.http_client.get(url, headers=_api_headers(), timeout=CALL_TIMEOUT) as response:
            return response.status, await response.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        # The path can name a lead (/leads/<id>): only the worker it asked is logged.
        log.info("board: %s did not answer: %s", URL(url).origin(), type(exc).__name__)
        return 0, None


def _me() -> str:
    return str(app.conf.canonical_url).rstrip("/")


async def merged_stats() -> dict[str, Any] | None:
    """Every worker's /stats summed: the funnel, as the API tells it. None if a worker is silent."""
    urls = sorted(worker_urls())
    answers = await asyncio.gather(*(_get_json(url.rstrip("/") + "/stats") for url in urls))
    if any(status != 200 for status, _ in answers):
        return None
    merged: dict[str, Any] = {"leads": 0, "leads_per_stage": {}, "leads_per_temperature": {}, "workers": len(urls),
                              "anonymous_visitors_held": 0}
    for _, stats in answers:
        merged["leads"] += stats["leads"]
        merged["anonymous_visitors_held"] += stats.get("anonymous_visitors_held", 0)
        for part in ("leads_per_stage", "leads_per_temperature"):
            for name, count in stats[part].items():
                merged[part][name] = merged[part].get(name, 0) + count
    return merged


async def hottest() -> list[dict[str, Any]] | None:
    """The hottest hot leads across all workers (GET /leads?temperature=hot: the lead index's hot band)."""
    status, body = await _get_json(f"{_me()}/leads?temperature=hot&limit={HOT_LIMIT}")
    if status != 200:
        return None
    return [pages.hot_lead_from_document(d) for d in body["leads"]]


async def revisits_html() -> str:
    """The revisit queue across all workers (GET /revisits), as the overview's section."""
    status, body = await _get_json(f"{_me()}/revisits?limit={REVISIT_LIMIT}")
    return revisit_section(body["leads"] if status == 200 else None, REVISIT_LIMIT)


async def funnel_html() -> str:
    return pages.funnel_fragment(await merged_stats(), transitions.per_minute(), transitions.last_minute(),
                                 transitions.by_move())


# --- the live feed ---------------------------------------------------------------------------

def on_record(record: dict[str, Any]) -> None:
    """One change (or erasure notice) from the qualification topic, as every open board should see it."""
    funnel_moved.set()
    lead_id = record["lead_id"]
    if record.get("kind") == LEAD_ERASED:
        hub.publish(server_sent_event("hot-remove", orjson.dumps({"lead_id": lead_id})))
        hub.publish(server_sent_event("lead-erased", orjson.dumps({"lead_id": lead_id})), lead_id=lead_id)
        return
    if not seen.first_time(record["change_id"]):
        return  # re-emitted for a redelivered event: shown once
    transitions.add(record)
    hub.publish(server_sent_event("lead-moved", orjson.dumps({
        "lead_id": lead_id, "notice": pages.move_notice(record),
    })), lead_id=lead_id)
    was_hot, is_hot = record["from_temperature"] == "hot", record["to_temperature"] == "hot"
    if is_hot:
        lead = pages.hot_lead_from_change(record)
        announce = f"{lead['lead_id']} ({lead['account'] or 'no company'}) turned hot, score {lead['score']:.0f}"
        event = "hot-update" if was_hot else "hot-add"
        hub.publish(server_sent_event(event, orjson.dumps({
            "lead_id": lead["lead_id"], "row": pages.hot_row(lead, fresh=not was_hot),
            "announce": "" if was_hot else announce,
        })))
    elif was_hot:
        hub.publish(server_sent_event("hot-remove", orjson.dumps({"lead_id": record["lead_id"]})))


async def _publish_funnel() -> None:
    """While anyone watches: the funnel after each burst of changes, and every few seconds anyway."""
    while True:
        await hub.joined.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(funnel_moved.wait(), FUNNEL_EVERY_S)
        funnel_moved.clear()
        await asyncio.sleep(0.25)  # let a burst of changes land first
        if hub.overview_listeners:
            hub.publish(server_sent_event("funnel", await funnel_html()))


@app.task
async def run_board_feed() -> None:
    global _feed
    config = settings()
    _feed = QualificationFeed(qualification_topic.get_topic_name(), config.bootstrap_servers,
                              config.security.client_kwargs(), on_record)
    try:
        await asyncio.gather(_feed.run(), _publish_funnel())
    finally:
        hub.close()  # open pages end their streams, so the web server stops without waiting


# --- who may look ------------------------------------------------------------------------------

def _without_token(request: Request) -> str:
    query = [(k, v) for k, v in request.query.items() if k != "token"]
    return request.path + (f"?{urlencode(query)}" if query else "")


def _signed_in(view: View, request: Request, target: str) -> Response:
    response = view.html("", status=303, headers={"Location": target, "Cache-Control": "no-store"})
    config = settings()
    assert config.api_token is not None
    response.set_cookie(auth.COOKIE, auth.cookie_value(config.api_token), max_age=auth.COOKIE_MAX_AGE_S,
                        path="/board", httponly=True, samesite="Strict",
                        secure=config.web.behind_tls or request.secure)
    return response


def _throttled(view: View, request: Request) -> Response | None:
    """429 while this client has used up its failed sign-ins (it is not even checked meanwhile)."""
    wait = login_throttle().wait_s(request.remote or "")
    if not wait:
        return None
    return view.html(pages.message_page("Too many attempts", "Too many wrong tokens: try again in a minute."),
                     status=429, headers={"Retry-After": retry_after(wait), "Cache-Control": "no-store"})


def _guard(view: View, request: Request, page: bool = True) -> Response | None:
    """None when the request may see the board; otherwise the answer (sign-in, 401, or 429)."""
    config = settings()
    token = config.api_token
    if token is None:
        return None
    signed_in = auth.cookie_valid(token, request.cookies.get(auth.COOKIE))
    if refusal(config.web, Scope.READ, request.headers.get("Authorization"), signed_in) is None:
        return None
    offered = request.query.get("token")
    if offered is not None:
        if (throttled := _throttled(view, request)) is not None:
            return throttled
        if auth.token_matches(token, offered):
            return _signed_in(view, request, _without_token(request))  # the token leaves the address bar
        login_throttle().failed(request.remote or "")
    if not page:
        return view.json({"error": UNAUTHORIZED}, status=401)
    return view.html(pages.login_page(auth.safe_next(_without_token(request)), failed=offered is not None),
                     status=401, headers={"Cache-Control": "no-store"})


@cache
def login_throttle() -> auth.LoginThrottle:
    return auth.LoginThrottle(settings().web.login_attempts_per_minute)


def _html(view: View, html: str, status: int = 200) -> Response:
    return view.html(html, status=status, headers={"Cache-Control": "no-store"})


# --- pages ----------------------------------------------------------------------------------------

@app.page("/board")
class BoardView(View):
    async def get(self, request: Request) -> Response:
        """Funnel and hot leads, live; the leads due for another look."""
        if (refused := _guard(self, request)) is not None:
            return refused
        funnel, hot, revisits = await asyncio.gather(funnel_html(), hottest(), revisits_html())
        return _html(self, pages.overview(funnel, hot, HOT_LIMIT, revisits))


@app.page("/board/events")
class BoardEventsView(View):
    async def get(self, request: Request) -> Any:
        """Server-sent events: the hot list and funnel on connect, then every change as it happens.

        With ``?lead=<id>`` (a lead page): only that lead's moves and erasure.
        """
        if (refused := _guard(self, request, page=False)) is not None:
            return refused
        lead_id = request.query.get("lead") or None
        try:
            subscription = hub.join(lead_id)  # before the stream starts, so a full worker can still say 503
        except Full:
            metrics.BOARD_STREAMS_REFUSED.inc()
            return self.json({"error": f"this worker serves {hub.max_streams} board event streams already"
                                       " (LEADSTREAM_BOARD_MAX_STREAMS); retry later"},
                             status=503, headers={"Retry-After": retry_after(STREAMS_FULL_RETRY_S)})
        response = StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        try:
            await response.prepare(request)
            if _feed is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(_feed.ready.wait(), FEED_READY_WAIT_S)
            if lead_id is not None:
                await _write(response, server_sent_event("following", orjson.dumps({"lead_id": lead_id})))
            else:
                # Subscribed first, then the snapshot: a change in between is applied twice, never missed.
                funnel, hot = await asyncio.gather(funnel_html(), hottest())
                await _write(response, server_sent_event("funnel", funnel))
                await _write(response, server_sent_event("hot", pages.hot_rows(hot or [])))
            await self._stream(request, response, subscription)
        except (ConnectionResetError, asyncio.CancelledError, Closed):
            pass  # the browser left or fell behind, or the worker is stopping
        finally:
            hub.leave(subscription)
        return response

    async def _stream(self, request: Request, response: StreamResponse, subscription: Any) -> None:
        quiet = 0.0
        while not self.app.should_stop:
            if request.transport is None or request.transport.is_closing():
                return  # the browser left: free its slot now, not at the next keep-alive
            message = await subscription.next(timeout=1.0)
            if message is None:
                quiet += 1.0
                if quiet >= KEEPALIVE_S:
                    await _write(response, b": keepalive\n\n")
                    quiet = 0.0
                continue
            quiet = 0.0
            await _write(response, message)


async def _write(response: StreamResponse, message: bytes) -> None:
    """Raises Closed when the browser takes nothing for WRITE_TIMEOUT_S: its socket buffer must not grow without bound."""
    try:
        await asyncio.wait_for(response.write(message), WRITE_TIMEOUT_S)
    except asyncio.TimeoutError:
        metrics.BOARD_STREAMS_DROPPED.inc()
        raise Closed from None


@app.page("/board/leads/{lead_id}")
class BoardLeadView(View):
    async def get(self, request: Request, lead_id: str) -> Response:
        """One lead: timeline, score over time, criteria, account, today's contributions."""
        if (refused := _guard(self, request)) is not None:
            return refused
        status, document = await _get_json(f"{_me()}/leads/{quote(lead_id, safe='')}/history")
        if status == 404:
            return _html(self, pages.message_page("Unknown lead", f"No lead {lead_id!r} is held."), status=404)
        if status != 200:
            reason = document.get("error") if isinstance(document, dict) else "no answer"
            return _html(self, pages.message_page("Lead not available", f"The lead API said: {reason}"), status=503)
        return _html(self, pages.lead_page(document, scoring_model()))


@app.page("/board/find")
class BoardFindView(View):
    async def get(self, request: Request) -> Response:
        """The header's lead search: on to the lead's page."""
        if (refused := _guard(self, request)) is not None:
            return refused
        lead_id = request.query.get("lead_id", "").strip()
        target = f"/board/leads/{quote(lead_id, safe='')}" if lead_id else "/board"
        return self.html("", status=303, headers={"Location": target})


@app.page("/board/model")
class BoardModelView(View):
    async def get(self, request: Request) -> Response:
        """The active scoring model as tables."""
        if (refused := _guard(self, request)) is not None:
            return refused
        path = settings().model_path
        return _html(self, model_page(scoring_model(), str(path) if path else "the shipped default model"))


@app.page("/board/model/shadow")
class BoardShadowView(View):
    async def get(self, request: Request) -> Response:
        """The live and the shadow model side by side over a window, read from their topics and the outcomes."""
        if (refused := _guard(self, request)) is not None:
            return refused
        since, until = request.query.get("since", "").strip(), request.query.get("until", "").strip()
        try:
            found = await compare(settings(), since=since or None, until=until or None)
        except HistoryError as exc:
            return _html(self, shadow_page(None, since, until, str(exc)))
        return _html(self, shadow_page(found, since, until))


@app.page("/board/model.toml")
class BoardModelFileView(View):
    async def get(self, request: Request) -> Response:
        if (refused := _guard(self, request)) is not None:
            return refused
        path = settings().model_path
        text = path.read_text("utf-8") if path else default_model_text()
        return self.text(text, content_type="text/plain", headers={"Cache-Control": "no-store"})


@app.page("/board/login")
class BoardLoginView(View):
    async def get(self, request: Request) -> Response:
        return _html(self, pages.login_page(auth.safe_next(request.query.get("next")), failed=False))

    async def post(self, request: Request) -> Response:
        """The sign-in form: a form post, so it must come from this server's own pages (no login CSRF)."""
        if not same_origin(request):
            return _html(self, pages.message_page("Sign-in refused", "Sign in from the board's own page."),
                         status=403)
        if (throttled := _throttled(self, request)) is not None:
            return throttled
        form = await request.post()
        token, offered = settings().api_token, form.get("token")
        target = auth.safe_next(str(form.get("next") or ""))
        if token is None:
            return self.html("", status=303, headers={"Location": target})
        if isinstance(offered, str) and auth.token_matches(token, offered):
            return _signed_in(self, request, target)
        login_throttle().failed(request.remote or "")
        return _html(self, pages.login_page(target, failed=True), status=401)


@app.page("/board/static/{name}")
class BoardStaticView(View):
    async def get(self, request: Request, name: str) -> Response:
        """The stylesheet and script, shipped in the package (no CDN: the board works offline)."""
        if name not in STATIC:
            return self.text("not found", status=404)
        body, content_type = STATIC[name]
        return self.bytes(body, content_type=content_type, headers={"Cache-Control": "max-age=300"})
