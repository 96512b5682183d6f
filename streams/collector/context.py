"""What every request handler of one collector shares, stored on the aiohttp application."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from streams.collector.config import CollectorSettings
from streams.collector.intake import Intake
from streams.rate_limits import RateLimiter


@dataclass(frozen=True)
class CollectorContext:
    config: CollectorSettings
    intake: Intake
    per_client: RateLimiter = field(init=False)  # requests per client address
    per_key: RateLimiter = field(init=False)  # requests per write key's source

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_client", RateLimiter(self.config.client_rate, self.config.client_burst))
        object.__setattr__(self, "per_key", RateLimiter(self.config.key_rate, self.config.key_burst))


CONTEXT = web.AppKey("leadstream_collector", CollectorContext)


def context_of(request: web.Request) -> CollectorContext:
    return request.app[CONTEXT]
