"""Where alerts go: the console, or a webhook (Slack-compatible JSON) with retries.

Every webhook POST carries ``Idempotency-Key: <change_id>``: the same change always carries
the same key, however often it is sent, so a receiver can drop repeats. Connection errors,
timeouts, 5xx and 429 are retried with exponential backoff (``backoff_base_s · 2^(n-1)``,
capped), and a ``Retry-After`` is honoured up to ``max_retry_after_s``; any other status
outside 2xx (4xx, and 3xx: redirects are not followed) is final. A delivery that runs out of
attempts comes back failed, for the dead letters.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Protocol

import aiohttp
import orjson

from streams.alerting.change import Change
from streams.alerting.message import console_text, slack_message
from streams.alerting.metrics import ALERT_ATTEMPTS_FAILED
from streams.alerting.rules import Promotion

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 60.0
_ERROR_BODY_BYTES = 300


class Result(str, Enum):
    DELIVERED = "delivered"
    FAILED = "failed"  # give up: dead-letter it
    ABANDONED = "abandoned"  # stopped while waiting to retry: neither delivered nor failed; not committed


class FailureReason(str, Enum):
    """Why a delivery failed for good (the dead letter's ``reason``)."""

    REJECTED = "rejected"  # a status that is not retried (4xx other than 429, 3xx)
    RETRIES_EXHAUSTED = "retries_exhausted"


@dataclass(frozen=True)
class Delivery:
    result: Result
    attempts: int
    last_status: int | None = None
    last_error: str | None = None
    reason: FailureReason | None = None

    @property
    def delivered(self) -> bool:
        return self.result is Result.DELIVERED


class Sink(Protocol):
    name: str

    async def start(self) -> None: ...

    async def deliver(self, change: Change, promotion: Promotion, stop: asyncio.Event | None = None) -> Delivery: ...

    async def close(self) -> None: ...


class ConsoleSink:
    """Prints each alert to standard output (resolved per alert, so redirection applies)."""

    name = "console"

    async def start(self) -> None:
        pass

    async def deliver(self, change: Change, promotion: Promotion, stop: asyncio.Event | None = None) -> Delivery:
        print(console_text(change, promotion), file=sys.stdout, flush=True)
        return Delivery(Result.DELIVERED, attempts=1)

    async def close(self) -> None:
        pass


class WebhookSink:
    name = "webhook"

    def __init__(self, url: str, attempts: int = 4, backoff_base_s: float = 0.5, request_timeout_s: float = 10.0,
                 max_retry_after_s: float = 60.0) -> None:
        self._url = url
        self._attempts = attempts
        self._backoff_base_s = backoff_base_s
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._max_retry_after_s = max_retry_after_s
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(self, change: Change, promotion: Promotion, stop: asyncio.Event | None = None) -> Delivery:
        """POSTs the alert until it is accepted, refused for good, or out of attempts.

        When ``stop`` is set during a backoff pause the delivery is abandoned (not failed): the
        record stays uncommitted and is tried again by the next consumer. A request in flight
        is not cut short; it ends within ``request_timeout_s``.
        """
        assert self._session is not None, "WebhookSink.start() first"
        body = orjson.dumps(slack_message(change, promotion))
        headers = {"Content-Type": "application/json", "Idempotency-Key": change.change_id,
                   "User-Agent": "leadstream-alerts"}
        status: int | None = None
        error: str | None = None
        for attempt in range(1, self._attempts + 1):
            retry_after: float | None = None
            try:
                async with self._session.post(self._url, data=body, headers=headers, allow_redirects=False) as reply:
                    status = reply.status
                    if 200 <= status < 300:
                        return Delivery(Result.DELIVERED, attempt, last_status=status)
                    retry_after = retry_after_s(reply.headers.get("Retry-After"))
                    error = f"HTTP {status}: " + (await reply.content.read(_ERROR_BODY_BYTES)).decode(
                        "utf-8", "replace")
                failure = _status_failure(status)
            except TimeoutError:
                status, error, failure = None, f"no answer within {self._timeout.total:g} s", "timeout"
            except aiohttp.ClientError as exc:
                status, error, failure = None, self._redacted(f"{type(exc).__name__}: {exc}"), "connection"
            ALERT_ATTEMPTS_FAILED.labels(self.name, failure).inc()
            log.warning("alert %s attempt %d/%d failed: %s", change.change_id, attempt, self._attempts, error)
            if failure == "rejected":
                return Delivery(Result.FAILED, attempt, status, error, FailureReason.REJECTED)
            if attempt == self._attempts:
                break
            if await stopped_during(self._pause_s(attempt, retry_after), stop):
                return Delivery(Result.ABANDONED, attempt, status, error)
        return Delivery(Result.FAILED, self._attempts, status, error, FailureReason.RETRIES_EXHAUSTED)

    def _pause_s(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_retry_after_s)
        return min(self._backoff_base_s * 2 ** (attempt - 1), MAX_BACKOFF_S)

    def _redacted(self, text: str) -> str:
        """Webhook URLs are credentials (Slack's carry a secret path): keep them out of logs and files."""
        return text.replace(self._url, "<webhook-url>")


def _status_failure(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "rejected"


def retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - datetime.now(timezone.utc)).total_seconds(), 0.0)


async def stopped_during(seconds: float, stop: asyncio.Event | None) -> bool:
    """Waits ``seconds``; True as soon as ``stop`` is set."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
