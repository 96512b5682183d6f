"""The collector's settings from environment variables, validated at start (errors name the variable)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from streams.collector.write_keys import WriteKeys, parse_write_keys
from streams.config.variables import number_from
from streams.errors import ConfigError

DEFAULT_PORT = 8080
# Segment's own HTTP API accepts 500 KB per batch and 32 KB per event; the event limit is
# LEADSTREAM_MAX_EVENT_BYTES, shared with the worker, so what the collector accepts the worker reads.
DEFAULT_MAX_BODY_BYTES = 512 * 1024
TRUE, FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class CollectorSettings:
    write_keys: WriteKeys  # empty: the API is open (fine behind your own gateway)
    max_body_bytes: int
    allowed_origins: tuple[str, ...]  # browsers on these origins may call the API; ("*",): any
    trust_forwarded: bool  # behind a load balancer: read the client's address from X-Forwarded-For
    port: int
    # Kafka's idempotent producer: no duplicate from the producer's own retries. Brokers without
    # it (the embedded Tansu) need it off; the worker still deduplicates by messageId.
    idempotent: bool = True

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.allowed_origins or origin.rstrip("/") in self.allowed_origins


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in TRUE | FALSE:
        raise ConfigError(f"{name}: expected true or false, got {raw!r}")
    return value in TRUE


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "*").strip() or "*"
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"{name}: expected * or origins like https://www.example.com, got {origin!r}")
    return origins


def collector_settings_from(env: Mapping[str, str]) -> CollectorSettings:
    return CollectorSettings(
        write_keys=parse_write_keys(env.get("LEADSTREAM_COLLECTOR_WRITE_KEYS", ""), "LEADSTREAM_COLLECTOR_WRITE_KEYS"),
        max_body_bytes=number_from(env, "LEADSTREAM_COLLECTOR_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, integer=True),
        allowed_origins=_origins(env, "LEADSTREAM_COLLECTOR_ALLOWED_ORIGINS"),
        trust_forwarded=_flag(env, "LEADSTREAM_COLLECTOR_TRUST_FORWARDED", False),
        port=number_from(env, "LEADSTREAM_COLLECTOR_PORT", DEFAULT_PORT, 0, integer=True),
        idempotent=_flag(env, "LEADSTREAM_COLLECTOR_IDEMPOTENT", True),
    )


@cache
def collector_settings() -> CollectorSettings:
    return collector_settings_from(os.environ)
