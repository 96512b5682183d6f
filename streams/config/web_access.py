"""Who may use the worker's HTTP server: its tokens and guards, from the environment, validated at start.

Two scopes: the read token (``LEADSTREAM_API_TOKEN``: the board, lead reads, feedback) and the
admin token (``LEADSTREAM_ADMIN_TOKEN``: erasure and anything else that changes data over HTTP).
A worker bound to an address other than loopback refuses to start without the read token, unless
``LEADSTREAM_ALLOW_OPEN=true`` says an open server is meant (and the worker says so loudly).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.config.variables import flag_from, number_from, refuse_placeholder
from streams.errors import ConfigError

MIN_TOKEN_LENGTH = 32
READ_TOKEN = "LEADSTREAM_API_TOKEN"
ADMIN_TOKEN = "LEADSTREAM_ADMIN_TOKEN"
ALLOW_OPEN = "LEADSTREAM_ALLOW_OPEN"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebAccess:
    read_token: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)
    allow_open: bool = False
    allowed_hosts: tuple[str, ...] = ()  # Host names accepted besides loopback's and the advertised one
    behind_tls: bool = False  # TLS terminates in front: the board's cookie is Secure
    login_attempts_per_minute: float = 5.0
    board_max_streams: int = 100  # open board event streams per worker; more are answered 503

    @property
    def reads_open(self) -> bool:
        return self.read_token is None

    @property
    def admin_open(self) -> bool:
        """Erasure without a token: only when nothing at all is protected (a development worker)."""
        return self.admin_token is None and self.read_token is None


def _token(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip() or None
    if value is not None:
        refuse_placeholder(name, value)
    if value is not None and len(value) < MIN_TOKEN_LENGTH:
        # Never echo the value: it is a secret, if a weak one.
        raise ConfigError(f"{name}: must be at least {MIN_TOKEN_LENGTH} characters, got {len(value)}"
                          " (make one with: openssl rand -hex 32)")
    return value


def _hosts(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    hosts = tuple(h.strip().strip("[]").lower().rstrip(".") for h in env.get(name, "").split(",") if h.strip())
    for host in hosts:
        if "/" in host or (":" in host and not _is_address(host)):
            raise ConfigError(f"{name}: expected host names without scheme or port, got {host!r}")
    return hosts


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def web_access_from(env: Mapping[str, str]) -> WebAccess:
    read, admin = _token(env, READ_TOKEN), _token(env, ADMIN_TOKEN)
    if read is not None and read == admin:
        raise ConfigError(f"{ADMIN_TOKEN}: must differ from {READ_TOKEN}, or the two scopes are one")
    return WebAccess(
        read_token=read,
        admin_token=admin,
        allow_open=flag_from(env, ALLOW_OPEN, False),
        allowed_hosts=_hosts(env, "LEADSTREAM_WEB_ALLOWED_HOSTS"),
        behind_tls=flag_from(env, "LEADSTREAM_WEB_BEHIND_TLS", False),
        login_attempts_per_minute=number_from(env, "LEADSTREAM_LOGIN_ATTEMPTS_PER_MINUTE", 5.0, 1.0),
        board_max_streams=number_from(env, "LEADSTREAM_BOARD_MAX_STREAMS", 100, 1, integer=True),
    )


def refuse_open_exposure(access: WebAccess, web_host: str, named_by: str = "LEADSTREAM_WEB_HOST") -> str | None:
    """Raise when a worker would serve leads to a network without a token; the warning to log when allowed.

    ``named_by``: where the address came from (the variable, or Faust's --web-bind option).
    """
    if is_loopback(web_host) or not access.reads_open:
        return None
    if not access.allow_open:
        raise ConfigError(
            f"{READ_TOKEN}: required when {named_by} ({web_host}) is not a loopback address: anyone who"
            f" can reach it could read every lead. Set {READ_TOKEN} (and {ADMIN_TOKEN} for erasure), at least"
            f" {MIN_TOKEN_LENGTH} characters each, or {ALLOW_OPEN}=true if an open server is really meant.")
    return (f"{ALLOW_OPEN}=true: the lead API, the board and erasure on {web_host} are OPEN to anyone who can"
            " reach this port. Every lead's e-mail, title and company can be read, and any lead erased.")
