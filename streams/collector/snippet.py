"""GET /s.js: the small JS snippet that sends page views and form submits to this collector."""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import web

SNIPPET = "snippet.js"


@cache
def snippet_source() -> bytes:
    return resources.files("streams.collector").joinpath(SNIPPET).read_bytes()


async def snippet(request: web.Request) -> web.Response:
    # Cached briefly: a fixed snippet rolls out within minutes, and sites do not hammer the collector.
    return web.Response(body=snippet_source(), content_type="application/javascript", charset="utf-8",
                        headers={"Cache-Control": "public, max-age=300"})
