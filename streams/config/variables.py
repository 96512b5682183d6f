"""Reading one environment variable, validated, with an error that names the variable.

Shared by every service's settings: the worker's (environment.py) and the collector's.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from streams.errors import ConfigError


# What every secret in .env.example says in place of one: a copied file left as it is would
# otherwise start with a token anyone can read in this repository.
PLACEHOLDER_MARK = "replace-with"


def refuse_placeholder(name: str, secret: str) -> None:
    if PLACEHOLDER_MARK in secret.lower():
        raise ConfigError(f"{name}: still the placeholder from .env.example; make a secret with: openssl rand -hex 32")


def text_from(env: Mapping[str, str], name: str, default: str) -> str:
    """The variable ``name``, stripped, else ``default``; empty is refused."""
    value = env.get(name, default).strip()
    if not value:
        raise ConfigError(f"{name}: must not be empty")
    return value


def number_from(env: Mapping[str, str], name: str, default: float, minimum: float, integer: bool = False,
                error: type[Exception] = ConfigError):
    """The variable ``name`` as a number (a whole one if ``integer``) ≥ ``minimum``, else ``default``."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return int(default) if integer else default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise error(f"{name}: expected {kind} ≥ {minimum:g}, got {raw!r}") from None
    if value < minimum:
        raise error(f"{name}: expected a value ≥ {minimum:g}, got {raw!r}")
    return value


_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off", ""})


def flag_from(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The variable ``name`` as true or false (1/0, yes/no, on/off too), else ``default``."""
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def text_or_file(env: Mapping[str, str], name: str, file_name: str,
                 error: type[Exception] = ConfigError) -> str | None:
    """The variable ``name``, or the text of the file ``file_name`` names (a secrets mount), never both.

    None when neither is set; an unreadable or empty file is an error naming ``file_name`` (never the text).
    """
    direct, path = env.get(name, "").strip(), env.get(file_name, "").strip()
    if direct and path:
        raise error(f"{name}, {file_name}: set one of them, not both")
    if path:
        try:
            direct = Path(path).read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise error(f"{file_name}: cannot read {path}: {exc.__class__.__name__}") from None
        if not direct:
            raise error(f"{file_name}: {path} is empty")
    return direct or None
