"""Guards on every request to the worker's web server, before any view runs.

- **Host allow-list.** On loopback (or with ``LEADSTREAM_WEB_ALLOWED_HOSTS``) a request must name
  this server in its ``Host`` header: a page on ``evil.example`` whose name is re-pointed at
  127.0.0.1 (DNS rebinding) would otherwise read an open development worker from the browser.
- **JSON for changes.** A ``POST``, ``PUT`` or ``PATCH`` must say ``Content-Type: application/json``
  (415 otherwise): a browser sends that cross-site only after a preflight the worker never grants,
  so a page elsewhere cannot post a ``text/plain`` or form body in an operator's name. The board's
  sign-in form is the one form post, and it must come from the board's own pages (``same_origin``).
- **Headers.** Every answer carries a Content-Security-Policy (nothing but this server's own
  script, styles and images), ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and
  ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from yarl import URL

from streams.config.environment import Settings, settings
from streams.config.web_access import LOOPBACK_NAMES, is_loopback, refuse_open_exposure
from streams.errors import ConfigError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FORM_POSTS = frozenset({"/board/login"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH"})
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def accepted_hosts(config: Settings) -> frozenset[str] | None:
    """The Host names this server answers to; None when any is (bound to a network, no list set)."""
    access = config.web
    if not access.allowed_hosts and not is_loopback(config.web_host):
        return None
    advertised = URL(config.advertised_url).host or ""
    own = {config.web_host.strip("[]").lower(), advertised.lower()} - {"0.0.0.0", "::", ""}
    return frozenset(LOOPBACK_NAMES | own | set(access.allowed_hosts))


def host_name(host_header: str | None) -> str | None:
    if not host_header:
        return None
    try:
        name = URL(f"http://{host_header}").host
    except ValueError:
        return None
    return name.lower().rstrip(".") if name else None


def same_origin(request: web.Request) -> bool:
    """A browser's form post from this server's own pages (a request without Origin or Fetch headers passes).

    Sec-Fetch-Site first: under ``Referrer-Policy: no-referrer`` a browser sends ``Origin: null`` even
    for a form on the same page's origin, so the Origin header decides only where Sec-Fetch-Site is absent.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin != "null" and URL(origin).raw_authority.lower() == request.host.lower()
    return True


def _refuse(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def guard_middleware(config: Callable[[], Settings] = settings) -> Any:
    """The Host and Content-Type checks, as an aiohttp middleware reading the settings per request."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        hosts = accepted_hosts(config())
        if hosts is not None and host_name(request.headers.get("Host")) not in hosts:
            return _refuse(421, "this server does not answer to that Host name (LEADSTREAM_WEB_ALLOWED_HOSTS)")
        if (request.method in STATE_CHANGING and request.path not in FORM_POSTS
                and request.content_type != "application/json"):
            return _refuse(415, "a request that changes anything needs Content-Type: application/json")
        return await handler(request)

    return guard


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def install(app: Any) -> None:
    """Put the guards in front of every view of the Faust app's web server, and check its real address."""
    web_app = app.web.web_app
    web_app.middlewares.append(guard_middleware())
    web_app.on_response_prepare.append(security_headers)

    @app.before_first_start
    async def check_bound_address() -> None:
        # Faust's --web-bind/--web-host options can move the server after the command checked the settings.
        try:
            warning = refuse_open_exposure(settings().web, str(app.conf.web_bind), "the web server's address")
        except ConfigError as exc:  # the command checks first; a bind set another way still gets its reason logged
            log.critical("leadstream: %s", exc)
            raise
        if warning is not None:
            log.warning("!!! %s", warning)
