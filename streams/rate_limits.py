"""Token buckets, one per client or key, in bounded memory.

Shared by the collector (requests per client address and per write key) and the worker's board
(sign-in attempts per client address). A bucket holds up to ``burst`` tokens and gains ``rate``
a second; a request that finds it empty is told how long until the next token (``Retry-After``).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Keyed token buckets; ``rate`` 0 means no limit. At most ``max_keys`` buckets are kept.

    When full, the least recently used bucket is forgotten: a client spraying fresh addresses costs
    memory only up to that bound, and a forgotten bucket starts full again, as a new client's would.
    """

    def __init__(self, rate: float, burst: float, max_keys: int = DEFAULT_MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.max_keys, self.clock = rate, max(burst, 1.0), max_keys, clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def limited(self) -> bool:
        return self.rate > 0

    def take(self, key: str, cost: float = 1.0) -> float:
        """0 when ``key`` may go ahead (its tokens are spent); else the seconds until it may."""
        if not self.limited:
            return 0.0
        now = self.clock()
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self.rate

    def waiting(self, key: str) -> float:
        """Seconds until ``key`` has a token again, spending nothing (0 when it has one)."""
        bucket = self._buckets.get(key)
        if not self.limited or bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + (self.clock() - bucket.at) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
