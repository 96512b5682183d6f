"""The collector's settings from environment variables, validated at start (errors name the variable)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from streams.collector.webhook_auth import DestinationSecrets, destination_secrets_from
from streams.collector.write_keys import SIGNING_KEY_LENGTH, WriteKeys, parse_write_keys
from streams.config.clock import Clock, clock_from
from streams.config.variables import number_from
from streams.contracts.consent import OPT_OUT, ConsentPolicy, consent_policy_from
from streams.errors import ConfigError

DEFAULT_PORT = 8080
# Segment's own HTTP API accepts 500 KB per batch and 32 KB per event; the event limit is
# LEADSTREAM_MAX_EVENT_BYTES, shared with the worker, so what the collector accepts the worker reads.
DEFAULT_MAX_BODY_BYTES = 512 * 1024
# Segment's batch limit; reading more in one request would hold the event loop for seconds.
DEFAULT_MAX_BATCH_EVENTS = 500
DEFAULT_MAX_REJECTIONS_LISTED = 20
DEFAULT_MAX_PENDING_PIXELS = 10_000  # pixel events admitted but not yet confirmed by Kafka
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
    pixel_keys: WriteKeys = WriteKeys()  # keys that sign pixel URLs carrying identity or a track event
    max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS
    max_rejections_listed: int = DEFAULT_MAX_REJECTIONS_LISTED
    max_pending_pixels: int = DEFAULT_MAX_PENDING_PIXELS
    # Token buckets: requests a second and burst, per client address and per write key; rate 0 is no limit.
    client_rate: float = 50.0
    client_burst: float = 200.0
    key_rate: float = 500.0
    key_burst: float = 2000.0
    consent: ConsentPolicy = OPT_OUT  # LEADSTREAM_CONSENT: opt-out (the default) or opt-in
    destinations: DestinationSecrets = DestinationSecrets()  # Segment's and RudderStack's webhook destinations
    # LEADSTREAM_CLOCK, as the workers': a demo's scaled clock stamps receipts (and bounds the skew) on demo time.
    clock: Clock = Clock()

    def origin_allowed(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/") in self.allowed_origins

    @property
    def any_origin(self) -> bool:
        """``*``: any page may call the API, answered with a literal ``*`` and never with credentials."""
        return "*" in self.allowed_origins


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
        pixel_keys=parse_write_keys(env.get("LEADSTREAM_COLLECTOR_PIXEL_KEYS", ""), "LEADSTREAM_COLLECTOR_PIXEL_KEYS",
                                    min_length=SIGNING_KEY_LENGTH),
        max_batch_events=number_from(env, "LEADSTREAM_COLLECTOR_MAX_BATCH_EVENTS", DEFAULT_MAX_BATCH_EVENTS, 1,
                                     integer=True),
        max_rejections_listed=number_from(env, "LEADSTREAM_COLLECTOR_MAX_REJECTIONS_LISTED",
                                          DEFAULT_MAX_REJECTIONS_LISTED, 1, integer=True),
        max_pending_pixels=number_from(env, "LEADSTREAM_COLLECTOR_MAX_PENDING_PIXELS", DEFAULT_MAX_PENDING_PIXELS, 1,
                                       integer=True),
        client_rate=number_from(env, "LEADSTREAM_COLLECTOR_CLIENT_RATE", 50.0, 0),
        client_burst=number_from(env, "LEADSTREAM_COLLECTOR_CLIENT_BURST", 200.0, 1),
        key_rate=number_from(env, "LEADSTREAM_COLLECTOR_WRITE_KEY_RATE", 500.0, 0),
        key_burst=number_from(env, "LEADSTREAM_COLLECTOR_WRITE_KEY_BURST", 2000.0, 1),
        consent=consent_policy_from(env),
        destinations=destination_secrets_from(env),
        clock=clock_from(env.get("LEADSTREAM_CLOCK", "wall")),
    )


@cache
def collector_settings() -> CollectorSettings:
    return collector_settings_from(os.environ)
