"""The lead API on every worker's web server.

GET /leads/{id}, DELETE /leads/{id} and POST /leads/{id}/feedback are answered by the worker
that actively owns the lead's partition; any other worker forwards the request there (Faust's
router knows who owns what), so the answer never comes from a standby copy.
GET /leads?stage=&temperature=&limit= asks every worker for its own hottest leads (ranked by the
lead index, streams/worker/lead_index.py) and merges them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
import orjson
from faust.web import Request, Response, View
from yarl import URL

from scoring import LeadState, Stage, Temperature, Verdict
from streams.contracts import command_records
from streams.worker.app import app
from streams.config.environment import scoring_model, settings
from streams.worker.history_draft import history_in
from streams.api.access import Scope, refusal
from streams.api.lead_view import history_document, hotness, lead_document, visitor_document
from streams.contracts.partitioning import partition_for
from streams.worker import metrics
from streams.worker.lead_index import half_lives
from streams.worker.stitching import visitor_state
from streams.worker.tables import erasures_table, held_state, leads_table
from streams.worker.wiring import active_partitions, worker_context

ROUTED_HEADER = "X-Leadstream-Routed"
SERVED_BY_HEADER = "X-Leadstream-Served-By"
ERASURE_WAIT_S = 10.0
MAX_LIST = 1000


def _now() -> float:
    """The worker's clock (LEADSTREAM_CLOCK): a sales verdict or an erasure happens at the time its scores are read."""
    return settings().clock.now()


# A forwarded request waits this long for the owning worker before the caller is told to retry.
FORWARD_TIMEOUT_S = 10.0


def _error(view: View, status: int, message: str, **details: Any) -> Response:
    return view.json({"error": message, **details}, status=status)


def _refused(view: View, request: Request, needed: Scope) -> Response | None:
    """None when the request's token grants ``needed``; else the 401 or 403 answer."""
    refused = refusal(settings().web, needed, request.headers.get("Authorization"))
    return None if refused is None else _error(view, *refused)


def _me() -> str:
    return str(app.conf.canonical_url)


def _same_node(url: URL) -> bool:
    mine = URL(_me())
    return (url.host, url.port) == (mine.host, mine.port)


async def _forward(view: View, request: Request, owner: URL) -> Response:
    if request.headers.get(ROUTED_HEADER):
        # Forwarded to us, yet we do not own it: a rebalance moved it meanwhile.
        return _error(view, 503, "the lead's partition is moving between workers; retry")
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
    headers[ROUTED_HEADER] = _me()
    target = owner.with_path(request.path).with_query(request.query)
    body = await request.read()  # cached by aiohttp, so a view may have read it already
    try:
        async with app.http_client.request(request.method, target, headers=headers, data=body,
                                           timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)) as response:
            return view.bytes(await response.read(), content_type=response.content_type, status=response.status,
                              headers={SERVED_BY_HEADER: response.headers.get(SERVED_BY_HEADER, str(owner))})
    except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
        # The owner stopped (or hangs): its partitions move once the group notices, within the session timeout.
        return view.json({"error": "the worker owning the lead's partition does not answer; retry"}, status=503,
                         headers={"Retry-After": str(round(settings().session_timeout_s))})


async def _owner_or_forward(view: View, request: Request, lead_id: str,
                            needed: Scope = Scope.READ) -> Response | None:
    """None when this worker owns the lead; otherwise the owner's answer (or why there is none)."""
    if (refused := _refused(view, request, needed)) is not None:
        return refused
    owner = owner_of(lead_id)
    if owner is None:
        return _error(view, 503, "no worker owns the lead's partition yet; retry")
    return None if _same_node(owner) else await _forward(view, request, owner)


def owner_of(lead_id: str) -> URL | None:
    """The web address of the worker actively owning the lead's partition, from the group's assignment."""
    partition = partition_for(lead_id.encode(), settings().partitions)
    changelog = leads_table.changelog_topic.get_topic_name()
    for url, topics in app.assignor.changelog_distribution.items():
        if partition in topics.get(changelog, ()):
            return URL(url)
    return None


def worker_urls() -> set[str]:
    """Every worker's web address, this one's included."""
    return set(app.assignor.changelog_distribution) | {_me()}


def _served(view: View, body: dict[str, Any], status: int = 200) -> Response:
    return view.json(body, status=status, headers={SERVED_BY_HEADER: _me()})


def _state(lead_id: str) -> LeadState | None:
    return held_state(lead_id.encode())


@app.page("/leads/{lead_id}")
class LeadView(View):
    async def get(self, request: Request, lead_id: str) -> Response:
        if (routed := await _owner_or_forward(self, request, lead_id)) is not None:
            return routed
        state = _state(lead_id)
        if state is None:
            visitor = visitor_state(worker_context, lead_id.encode())
            if visitor is not None:  # an anonymous visitor, not a lead yet: say what waits for it
                return _served(self, visitor_document(visitor, settings().hold_limits().ttl_s))
            return _error(self, 404, "unknown lead", lead_id=lead_id)
        return _served(self, lead_document(state, scoring_model(), _now()))

    async def delete(self, request: Request, lead_id: str) -> Response:
        """Right to be forgotten, by lead id, e-mail or visitor id: every store, and downstream, forgets it.

        An id nothing knows is recorded too, so that later events for it are ignored (docs/privacy.md).
        """
        if (routed := await _owner_or_forward(self, request, lead_id, Scope.ADMIN)) is not None:
            return routed
        from streams.contracts.lead_event_records import erasure_key
        from streams.contracts.segment import id_too_long
        if (problem := id_too_long("id", lead_id)) is not None:
            return _error(self, 400, problem)
        key, marker = lead_id.encode(), erasure_key(lead_id.encode(), settings().partitions)
        if marker in erasures_table:
            return _served(self, {"lead_id": lead_id, "already_erased": True,
                                  "erased": orjson.loads(erasures_table[marker])})
        # The erasure runs in the stream, in order with the id's events, on this worker.
        await worker_context.outbox.send(worker_context.topics.signals, key,
                                         command_records.encode_command(command_records.ERASE, lead_id, _now()))
        deadline = time.monotonic() + ERASURE_WAIT_S
        while marker not in erasures_table:
            if time.monotonic() > deadline:
                return _error(self, 504, "erasure accepted but not yet applied; repeat the request to check")
            await asyncio.sleep(0.05)
        return _served(self, {"lead_id": lead_id, "erased": orjson.loads(erasures_table[marker])})


@app.page("/leads/{lead_id}/history")
class LeadHistoryView(View):
    async def get(self, request: Request, lead_id: str) -> Response:
        """The lead with its timeline (latest events and moves) and its scores over time, up to now."""
        if (routed := await _owner_or_forward(self, request, lead_id)) is not None:
            return routed
        state = _state(lead_id)
        if state is None:
            return _error(self, 404, "unknown lead", lead_id=lead_id)
        history = history_in(leads_table.get(lead_id.encode()), state)
        return _served(self, history_document(state, history, scoring_model(), _now()))


@app.page("/leads/{lead_id}/feedback")
class FeedbackView(View):
    async def post(self, request: Request, lead_id: str) -> Response:
        """Sales verdict: accepted, rejected (with a reason) or recycle."""
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(self, 400, "the body must be JSON: {\"verdict\": \"accepted|rejected|recycle\"}")
        problem = _feedback_problem(body)
        if problem:
            return _error(self, 400, problem)
        if (routed := await _owner_or_forward(self, request, lead_id)) is not None:
            return routed
        if _state(lead_id) is None:
            return _error(self, 404, "unknown lead", lead_id=lead_id)
        feedback_id = uuid.uuid4().hex
        await worker_context.outbox.send(worker_context.topics.signals, lead_id.encode(), command_records.encode_command(
            command_records.FEEDBACK, lead_id, _now(), feedback_id=feedback_id, verdict=body["verdict"],
            reason=body.get("reason"), by=body.get("by"),
        ))
        return _served(self, {"lead_id": lead_id, "feedback_id": feedback_id, "verdict": body["verdict"],
                              "status": "accepted for processing"}, status=202)


def _feedback_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    verdicts = ", ".join(v.value for v in Verdict)
    if body.get("verdict") not in {v.value for v in Verdict}:
        return f"verdict must be one of: {verdicts}"
    if body["verdict"] == Verdict.REJECTED.value and not str(body.get("reason") or "").strip():
        return "a rejection needs a reason"
    for field, limit in (("reason", 500), ("by", 100)):
        value = body.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return f"{field} must be a string of at most {limit} characters"
    return None


def _list_query(request: Request) -> tuple[str | None, int, str | None] | str:
    stage = request.query.get("stage") or None
    if stage is not None and stage not in {s.value for s in Stage}:
        return f"stage must be one of: {', '.join(s.value for s in Stage)}"
    temperature = request.query.get("temperature") or None
    if temperature is not None and temperature not in {t.value for t in Temperature}:
        return f"temperature must be one of: {', '.join(t.value for t in Temperature)}"
    try:
        limit = int(request.query.get("limit", "20"))
    except ValueError:
        return "limit must be a whole number"
    if not 1 <= limit <= MAX_LIST:
        return f"limit must be from 1 to {MAX_LIST}"
    return stage, limit, temperature


def _checked_list_query(view: View, request: Request) -> tuple[str | None, int, str | None] | Response:
    """The list's (stage, limit, temperature), or the 401/400 answer when the request may not have it."""
    if (refused := _refused(view, request, Scope.READ)) is not None:
        return refused
    query = _list_query(request)
    return _error(view, 400, query) if isinstance(query, str) else query


def _local_hottest(stage: str | None, limit: int, temperature: str | None = None) -> list[dict[str, Any]]:
    """This worker's own leads (active partitions only), hottest first, ranked by the lead index.

    Only the leads the index cannot rule out are decoded (docs/design.md §4): about ``limit``.
    """
    now, model = _now(), scoring_model()

    def decode(key: bytes) -> tuple[float, dict[str, Any]] | None:
        metrics.LIST_LEADS_DECODED.inc()
        state = held_state(key)
        if state is None:
            return None
        document = lead_document(state, model, now)
        return document["score"]["total"], document

    return worker_context.lead_index.ranked(active_partitions(leads_table), stage, temperature, limit, now,
                                            half_lives(model), decode)


@app.page("/leads")
class LeadsView(View):
    async def get(self, request: Request) -> Response:
        """The hottest leads across all workers, merged."""
        query = _checked_list_query(self, request)
        if not isinstance(query, tuple):
            return query
        stage, limit, temperature = query
        workers = worker_urls()
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        answers = await asyncio.gather(*(
            self._ask(URL(worker), stage, limit, temperature, headers) for worker in sorted(workers)
        ))
        if any(answer is None for answer in answers):
            return _error(self, 503, "a worker did not answer; the list would be incomplete")
        merged = sorted((lead for answer in answers for lead in answer), key=hotness, reverse=True)[:limit]
        return self.json({"leads": merged, "workers": len(workers), "stage": stage, "limit": limit,
                          "temperature": temperature})

    async def _ask(self, worker: URL, stage: str | None, limit: int, temperature: str | None,
                   headers: dict[str, str]):
        if _same_node(worker):
            return _local_hottest(stage, limit, temperature)
        query = {"limit": str(limit), **({"stage": stage} if stage else {}),
                 **({"temperature": temperature} if temperature else {})}
        return await worker_share(worker, "/_local/leads", query, headers)


async def worker_share(worker: URL, path: str, query: dict[str, str],
                       headers: dict[str, str]) -> list[dict[str, Any]] | None:
    """Another worker's share of a merged list (its ``/_local/...`` answer); None if it did not answer in 5 s."""
    try:
        async with app.http_client.get(worker.with_path(path).with_query(query), headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=5)) as response:
            return (await response.json(content_type=None))["leads"] if response.status == 200 else None
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return None


@app.page("/_local/leads")
class LocalLeadsView(View):
    async def get(self, request: Request) -> Response:
        """One worker's share of GET /leads (used by the merge)."""
        query = _checked_list_query(self, request)
        if not isinstance(query, tuple):
            return query
        return self.json({"leads": _local_hottest(*query)})

