"""What a request to the worker may do: its scope, from its bearer token or the board's cookie.

``read`` (``LEADSTREAM_API_TOKEN``): the board, lead reads, feedback. ``admin``
(``LEADSTREAM_ADMIN_TOKEN``): erasure, and anything else that changes data over HTTP; the admin
token reads too. Every comparison is constant-time. Without a read token reads are open (only
allowed on loopback or with LEADSTREAM_ALLOW_OPEN); without an admin token erasure over HTTP is off,
unless nothing at all is protected (a development worker).
"""

from __future__ import annotations

import hmac
from enum import Enum

from streams.config.web_access import ADMIN_TOKEN, WebAccess

UNAUTHORIZED = "missing or wrong bearer token"


class Scope(Enum):
    READ = "read"
    ADMIN = "admin"


def same_secret(expected: str | None, offered: str | None) -> bool:
    """Constant-time equality; never true for a missing side."""
    return expected is not None and offered is not None and hmac.compare_digest(expected.encode(), offered.encode())


def bearer(authorization: str | None) -> str | None:
    if authorization is None or not authorization.startswith("Bearer "):
        return None
    return authorization.removeprefix("Bearer ").strip()


def scope_of(access: WebAccess, authorization: str | None, signed_in: bool = False) -> Scope | None:
    """The scope the request's bearer token (or a valid board cookie, ``signed_in``) grants, if any."""
    token = bearer(authorization)
    if same_secret(access.admin_token, token):
        return Scope.ADMIN
    if same_secret(access.read_token, token) or signed_in:
        return Scope.READ
    return None


def refusal(access: WebAccess, needed: Scope, authorization: str | None,
            signed_in: bool = False) -> tuple[int, str] | None:
    """None when the request may go ahead; else (status, reason): 401 without a right token, 403 short of scope."""
    if needed is Scope.READ and access.reads_open or needed is Scope.ADMIN and access.admin_open:
        return None
    granted = scope_of(access, authorization, signed_in)
    if granted is Scope.ADMIN or granted is needed:
        return None
    if needed is Scope.ADMIN and access.admin_token is None:
        return 403, f"erasure over HTTP is off: set {ADMIN_TOKEN} and send it as the bearer token"
    if granted is None:
        return 401, UNAUTHORIZED
    return 403, f"this needs the admin token ({ADMIN_TOKEN})"
