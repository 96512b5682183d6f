"""GET /revisits: the leads due for another look (``scoring.revisit``) that nobody has acted on since.

Each worker lists its own partitions' share from its revisit queue (streams/worker/revisit_queue.py);
the worker asked merges every worker's, the longest waiting first, like GET /leads.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.web import Request, Response, View
from yarl import URL

from streams.api.lead_view import lead_document
from streams.api.leads import MAX_LIST, _error, _now, _refused, _same_node, worker_share, worker_urls
from streams.api.access import Scope
from streams.config.environment import scoring_model
from streams.worker.app import app
from streams.worker.tables import held_state
from streams.worker.wiring import worker_context

DEFAULT_LIMIT = 50


def _limit(request: Request) -> int | str:
    try:
        limit = int(request.query.get("limit", str(DEFAULT_LIMIT)))
    except ValueError:
        return "limit must be a whole number"
    return limit if 1 <= limit <= MAX_LIST else f"limit must be from 1 to {MAX_LIST}"


def _local_queue(limit: int) -> list[dict[str, Any]]:
    """This worker's leads awaiting a revisit, the longest waiting first, as GET /leads/{id} shows them."""
    now, model = _now(), scoring_model()
    listed = []
    for key, _ in worker_context.revisit_queue.longest_waiting(limit):
        state = held_state(key)
        if state is not None:
            listed.append(lead_document(state, model, now))
    return listed


def _waiting_since(document: dict[str, Any]) -> tuple[str, str]:
    return document["revisit"]["due_at"] or "", document["lead_id"]


def _checked(view: View, request: Request) -> int | Response:
    if (refused := _refused(view, request, Scope.READ)) is not None:
        return refused
    limit = _limit(request)
    return _error(view, 400, limit) if isinstance(limit, str) else limit


@app.page("/revisits")
class RevisitsView(View):
    async def get(self, request: Request) -> Response:
        """Every worker's leads awaiting a revisit, merged: the longest waiting first."""
        limit = _checked(self, request)
        if not isinstance(limit, int):
            return limit
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        workers = worker_urls()
        answers = await asyncio.gather(*(self._ask(URL(worker), limit, headers) for worker in sorted(workers)))
        if any(answer is None for answer in answers):
            return _error(self, 503, "a worker did not answer; the list would be incomplete")
        merged = sorted((lead for answer in answers for lead in answer), key=_waiting_since)[:limit]
        return self.json({"leads": merged, "workers": len(workers), "limit": limit})

    async def _ask(self, worker: URL, limit: int, headers: dict[str, str]) -> list[dict[str, Any]] | None:
        if _same_node(worker):
            return _local_queue(limit)
        return await worker_share(worker, "/_local/revisits", {"limit": str(limit)}, headers)


@app.page("/_local/revisits")
class LocalRevisitsView(View):
    async def get(self, request: Request) -> Response:
        """One worker's share of GET /revisits (used by the merge)."""
        limit = _checked(self, request)
        if not isinstance(limit, int):
            return limit
        return self.json({"leads": _local_queue(limit)})
