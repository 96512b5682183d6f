"""One CRM request until it has a final answer: paced, 429 and Retry-After honoured, transient errors retried.

Every request waits its turn under the API's documented rate (a token bucket, so no rolling window
ever sees more than ``requests_per_10s``), one at a time. Connection errors, timeouts, 5xx and 429
are transient: retried with exponential backoff capped at ``max_backoff_s`` (a ``Retry-After`` is
honoured up to ``max_retry_after_s``), for as long as it takes: an outage delays the writes, it
never turns them into dead letters, and their offsets stay uncommitted meanwhile. A 401 is an
expired or revoked token: :class:`TokenRejected`, at once. Every other answer is final and goes
back to the caller to read.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from streams.alerting.sinks import retry_after_s, stopped_during
from streams.crm.errors import TokenRejected, WriteAbandoned
from streams.crm.metrics import CRM_FAILED_ATTEMPTS, CRM_REQUESTS
from streams.crm.options import TOKEN_FILE_VARIABLE, TOKEN_VARIABLE, CrmOptions
from streams.rate_limits import RateLimiter

log = logging.getLogger(__name__)

RATE_WINDOW_S = 10.0
_ERROR_TEXT_BYTES = 500
# Salesforce's daily API allocation, once spent, answers 403 REQUEST_LIMIT_EXCEEDED: it comes back, so wait.
_LIMIT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the JSON answer, or its text when it is not JSON

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ApiCaller:
    def __init__(self, options: CrmOptions, stop: asyncio.Event | None = None) -> None:
        self.crm = options.crm
        self._base_url = options.base_url
        self._token = options.token
        self._stop = stop or asyncio.Event()
        self._backoff_base_s = options.backoff_base_s
        self._max_backoff_s = options.max_backoff_s
        self._max_retry_after_s = options.max_retry_after_s
        self._timeout = aiohttp.ClientTimeout(total=options.request_timeout_s)
        # A bucket of a tenth of the limit, refilled at 90 % of the rate: at most the limit in any 10 s.
        limit = options.requests_per_10s
        self._pacer = RateLimiter(rate=0.9 * limit / RATE_WINDOW_S, burst=max(1.0, limit / 10))
        self._session: aiohttp.ClientSession | None = None
        self._one_at_a_time = asyncio.Lock()

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, path: str, body: Any = None, operation: str = "write") -> Reply:
        """The first final answer to ``method path``; raises TokenRejected (401) or WriteAbandoned (stopped)."""
        assert self._session is not None, "ApiCaller.start() first"
        data = orjson.dumps(body) if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "User-Agent": "leadstream-crm"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        attempt = 0
        async with self._one_at_a_time:
            while True:
                attempt += 1
                await self._pace()
                retry_after: float | None = None
                try:
                    async with self._session.request(method, self._base_url + path, data=data, headers=headers,
                                                     allow_redirects=False) as answer:
                        reply = Reply(answer.status, await _body(answer))
                        retry_after = retry_after_s(answer.headers.get("Retry-After"))
                    CRM_REQUESTS.labels(self.crm, operation, str(reply.status)).inc()
                    failure = self._transient(reply)
                    if failure is None:
                        if reply.status == 401:
                            raise TokenRejected(self._token_message(reply))
                        return reply
                    error = f"HTTP {reply.status}: {_short(reply.body)}"
                except TimeoutError:
                    failure, error = "timeout", f"no answer within {self._timeout.total:g} s"
                except aiohttp.ClientError as exc:
                    failure, error = "connection", f"{type(exc).__name__}: {exc}"
                CRM_FAILED_ATTEMPTS.labels(self.crm, failure).inc()
                pause = self._pause_s(attempt, retry_after)
                log.warning("crm: %s %s attempt %d failed (%s); again in %.1f s", method, path, attempt, error, pause)
                if await stopped_during(pause, self._stop):
                    raise WriteAbandoned(f"stopped while waiting to retry {method} {path} ({error})")

    def _transient(self, reply: Reply) -> str | None:
        if reply.status == 429:
            return "rate_limited"
        if reply.status >= 500:
            return "server_error"
        if reply.status == 403 and _error_codes(reply.body) & _LIMIT_CODES:
            return "rate_limited"
        return None

    def _pause_s(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_retry_after_s)
        return min(self._backoff_base_s * 2 ** (attempt - 1), self._max_backoff_s)

    async def _pace(self) -> None:
        while (wait := self._pacer.take(self.crm)) > 0:
            if await stopped_during(wait, self._stop):
                raise WriteAbandoned("stopped while waiting for the API's rate limit")

    def _token_message(self, reply: Reply) -> str:
        return (f"{self.crm} refused the token (HTTP 401: {_short(reply.body)}): it expired or was revoked."
                f" Put a valid one in {TOKEN_VARIABLE} or the file {TOKEN_FILE_VARIABLE} names, then start again;"
                f" nothing was committed past the last completed write")


async def _body(answer: aiohttp.ClientResponse) -> Any:
    raw = await answer.read()
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return raw[:_ERROR_TEXT_BYTES].decode("utf-8", "replace")


def _error_codes(body: Any) -> set[str]:
    """Salesforce's error codes in an error array ([{"message", "errorCode"}])."""
    items = body if isinstance(body, list) else [body]
    return {str(item.get("errorCode")) for item in items if isinstance(item, dict) and item.get("errorCode")}


def _short(body: Any) -> str:
    text = body if isinstance(body, str) else orjson.dumps(body).decode()
    return text[:_ERROR_TEXT_BYTES]

