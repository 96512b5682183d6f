"""Who may see the board.

Without ``LEADSTREAM_API_TOKEN`` everyone may (development). With it, a request needs the API's
``Authorization: Bearer <token>`` header, or the board's cookie. A browser cannot send a header
on its first load, so ``/board?token=<token>`` (once) or the sign-in form sets that cookie:
HttpOnly, SameSite=Strict, and not the token itself but a keyed hash of it, so the cookie never
reveals the API token; changing the token signs every browser out.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

COOKIE = "leadstream_board"
COOKIE_MAX_AGE_S = 12 * 3600  # a working day
_PURPOSE = b"leadstream board session v1"


def cookie_value(token: str) -> str:
    return hmac.new(token.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def token_matches(token: str, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(token.encode(), offered.encode())


def allowed(token: str | None, authorization: str | None, cookie: str | None) -> bool:
    """True when no token is configured, or the request carries the bearer token or the board cookie."""
    if token is None:
        return True
    if authorization is not None and authorization.startswith("Bearer "):
        if token_matches(token, authorization.removeprefix("Bearer ")):
            return True
    return cookie is not None and hmac.compare_digest(cookie.encode(), cookie_value(token).encode())


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a board path on this server, never another site."""
    if not target:
        return "/board"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/board") or "\\" in target:
        return "/board"
    return target
