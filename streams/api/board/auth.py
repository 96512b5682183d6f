"""Who may see the board.

Without ``LEADSTREAM_API_TOKEN`` everyone may (development, on loopback). With it, a request needs
the API's ``Authorization: Bearer <token>`` header (the read or the admin token), or the board's
cookie. A browser cannot send a header on its first load, so ``/board?token=<token>`` (once) or
the sign-in form sets that cookie: HttpOnly, SameSite=Strict, ``Secure`` behind TLS, and not the
token itself but its expiry time signed with a key derived from the token. The expiry sits inside
the signed value, so a copied cookie stops working when it says, whatever the browser does with
Max-Age; changing the token signs every browser out. Failed sign-ins are throttled per client.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

from streams.rate_limits import RateLimiter

COOKIE = "leadstream_board"
COOKIE_MAX_AGE_S = 12 * 3600  # a working day
_PURPOSE = b"leadstream board session v2"


def _signature(token: str, expires: int) -> str:
    key = hmac.new(token.encode(), _PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, str(expires).encode(), hashlib.sha256).hexdigest()


def cookie_value(token: str, now: float | None = None) -> str:
    """``<expiry, unix seconds>.<signature>``: valid until that moment."""
    expires = int(now if now is not None else time.time()) + COOKIE_MAX_AGE_S
    return f"{expires}.{_signature(token, expires)}"


def cookie_valid(token: str, cookie: str | None, now: float | None = None) -> bool:
    """The cookie was signed with this token and has not expired."""
    if not cookie or "." not in cookie:
        return False
    expires_text, _, signature = cookie.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if not hmac.compare_digest(signature.encode(), _signature(token, expires).encode()):
        return False
    return expires > (now if now is not None else time.time())


def token_matches(token: str, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(token.encode(), offered.encode())


class LoginThrottle:
    """Failed sign-ins per client address: ``per_minute`` of them, then 429 until the bucket refills.

    Only failures spend: a right token always gets in while the client still has attempts left.
    """

    def __init__(self, per_minute: float) -> None:
        self._failures = RateLimiter(rate=per_minute / 60.0, burst=per_minute)

    def wait_s(self, client: str) -> float:
        """Seconds the client must wait before trying again (0: it may try now)."""
        return self._failures.waiting(client)

    def failed(self, client: str) -> None:
        self._failures.take(client)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a board path on this server, never another site."""
    if not target:
        return "/board"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/board") or "\\" in target:
        return "/board"
    return target
