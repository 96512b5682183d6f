"""What every request handler of one collector shares, stored on the aiohttp application."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from streams.collector.config import CollectorSettings
from streams.collector.intake import Intake


@dataclass(frozen=True)
class CollectorContext:
    config: CollectorSettings
    intake: Intake


CONTEXT = web.AppKey("leadstream_collector", CollectorContext)


def context_of(request: web.Request) -> CollectorContext:
    return request.app[CONTEXT]
